//! An archive's decompressed tar stream, read through recorders that keep the first error of
//! the file and of the decompressor apart, so that an error surfacing in tar, the manifest
//! decoder or a storage walk is attributed to the layer it began in.

use {
    super::{error::ArchiveErrorKind, name::ArchiveFormat},
    std::{
        fs::File,
        io::{self, BufReader, Read},
        path::Path,
        sync::{
            Arc, Mutex, PoisonError,
            atomic::{AtomicU64, Ordering},
        },
    },
};

/// The first error a reader in a stack of readers saw, so that an error surfacing at the top
/// (in tar, the manifest decoder or a storage walk) can be traced to the layer it came from.
#[derive(Debug, Clone, Default)]
pub(super) struct FirstError(Arc<Mutex<Option<io::Error>>>);

impl FirstError {
    fn record(&self, error: &io::Error) {
        let mut first = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if first.is_none() {
            *first = Some(io::Error::new(error.kind(), error.to_string()));
        }
    }

    pub(super) fn take(&self) -> Option<io::Error> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// A reader that records its first error in a [`FirstError`].
struct Recording<R> {
    inner: R,
    errors: FirstError,
    /// Bytes read through it, for progress reporting from another thread.
    read: Option<Arc<AtomicU64>>,
}

impl<R: Read> Read for Recording<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf).inspect_err(|error| {
            if error.kind() != io::ErrorKind::Interrupted {
                self.errors.record(error);
            }
        })?;
        if let Some(counter) = &self.read {
            counter.fetch_add(read as u64, Ordering::Relaxed);
        }
        Ok(read)
    }
}

/// An archive's decompressed tar stream, with the errors of the file and of the decompressor
/// kept apart.
pub(super) struct Decompressed {
    pub(super) stream: Box<dyn Read + Send>,
    pub(super) file_errors: FirstError,
    pub(super) decoder_errors: FirstError,
}

/// Opens the decompressed tar stream of an archive.
pub fn open_decompressed(
    path: &Path,
    format: ArchiveFormat,
) -> Result<Box<dyn Read + Send>, ArchiveErrorKind> {
    open_tracked(path, format, None).map(|decompressed| decompressed.stream)
}

/// Opens an archive's decompressed stream; `file_read` counts the archive bytes read.
pub(super) fn open_tracked(
    path: &Path,
    format: ArchiveFormat,
    file_read: Option<Arc<AtomicU64>>,
) -> Result<Decompressed, ArchiveErrorKind> {
    let file = File::open(path).map_err(ArchiveErrorKind::Open)?;
    let file_errors = FirstError::default();
    let file = BufReader::with_capacity(
        1 << 20,
        Recording {
            inner: file,
            errors: file_errors.clone(),
            read: file_read,
        },
    );
    let decoder: Box<dyn Read + Send> = match format {
        ArchiveFormat::TarZstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(file)
                .map_err(|error| ArchiveErrorKind::Decompress { format, error })?,
        ),
        ArchiveFormat::TarLz4 => Box::new(lz4_flex::frame::FrameDecoder::new(file)),
        unsupported => return Err(ArchiveErrorKind::UnsupportedFormat(unsupported)),
    };
    let decoder_errors = FirstError::default();
    Ok(Decompressed {
        stream: Box::new(Recording {
            inner: decoder,
            errors: decoder_errors.clone(),
            read: None,
        }),
        file_errors,
        decoder_errors,
    })
}
