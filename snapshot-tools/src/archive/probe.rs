//! A cheap check that a file named like an archive is one, before it is listed or served:
//! the right compression magic for its extension, a plausible size, and a decompressed first
//! 512 bytes that hold a valid tar header for `version`, the entry Agave writes first. It
//! reads at most [`MAX_PROBE_INPUT`] compressed bytes and decompresses at most one block.
//! Reading the whole archive is `read_archive`'s job.

use {
    super::name::ArchiveFormat,
    std::{
        fs::File,
        io::{self, BufReader, Read},
        path::Path,
    },
};

/// Smaller files cannot be archives: a zstd or lz4 frame holding the tar headers and data of
/// `version`, the manifest and the status cache (at least 2.5 KiB of tar blocks, mostly
/// zeros) compresses to more than this. The smallest archive this crate writes (no accounts)
/// is 302 bytes (zstd) and 431 bytes (lz4); Agave's hold at least a genesis' accounts.
pub const MIN_ARCHIVE_BYTES: u64 = 128;

/// The most compressed bytes read to decompress the first tar block. A zstd block holds at
/// most 128 KiB and an lz4 frame block at most 4 MiB; the first block is where the first
/// header is.
pub const MAX_PROBE_INPUT: u64 = 8 << 20;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
const TAR_BLOCK: usize = 512;

/// Why a file is not taken for an archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// An extension Agave ≥ 3.0 neither writes nor reads.
    #[error("the .{0} format is not served (Agave ≥ 3.0 writes only .tar.zst and .tar.lz4)")]
    Format(ArchiveFormat),
    /// Too small to be an archive.
    #[error("{size} bytes is smaller than any archive ({MIN_ARCHIVE_BYTES} bytes at least)")]
    TooSmall { size: u64 },
    /// The file does not start with its format's frame magic.
    #[error("it does not start with the .{0} frame magic")]
    Magic(ArchiveFormat),
    /// The decompressed start is not the tar header of `version`.
    #[error("its first tar header is not Agave's `version` entry: {0}")]
    Header(String),
    /// The file could not be read.
    #[error("it cannot be read: {0}")]
    Read(String),
}

impl ProbeError {
    /// A short label, for the `reason` of a metric.
    pub fn reason(&self) -> &'static str {
        match self {
            ProbeError::Format(_) => "format",
            ProbeError::TooSmall { .. } => "size",
            ProbeError::Magic(_) => "magic",
            ProbeError::Header(_) => "header",
            ProbeError::Read(_) => "unreadable",
        }
    }
}

/// Checks that the file at `path`, of `format` and `size` bytes, starts like an archive.
pub fn probe_archive(path: &Path, format: ArchiveFormat, size: u64) -> Result<(), ProbeError> {
    let magic = match format {
        ArchiveFormat::TarZstd => ZSTD_MAGIC,
        ArchiveFormat::TarLz4 => LZ4_MAGIC,
        other => return Err(ProbeError::Format(other)),
    };
    if size < MIN_ARCHIVE_BYTES {
        return Err(ProbeError::TooSmall { size });
    }
    let read_error = |error: io::Error| ProbeError::Read(error.to_string());
    let mut file = File::open(path).map_err(read_error)?;
    let mut start = [0u8; 4];
    file.read_exact(&mut start).map_err(read_error)?;
    if start != magic {
        return Err(ProbeError::Magic(format));
    }
    let compressed = BufReader::new(io::Cursor::new(start).chain(file).take(MAX_PROBE_INPUT));
    let mut block = [0u8; TAR_BLOCK];
    let decompressed = match format {
        ArchiveFormat::TarZstd => zstd::stream::read::Decoder::with_buffer(compressed)
            .and_then(|mut decoder| decoder.read_exact(&mut block)),
        _ => lz4_flex::frame::FrameDecoder::new(compressed).read_exact(&mut block),
    };
    decompressed.map_err(|error| {
        ProbeError::Header(format!(
            "the first {TAR_BLOCK} bytes do not decompress: {error}"
        ))
    })?;
    check_version_header(&block).map_err(ProbeError::Header)
}

/// Whether `block` is a valid tar header of a regular file `version` of at most 64 bytes.
pub fn check_version_header(block: &[u8; TAR_BLOCK]) -> Result<(), String> {
    let header = tar::Header::from_byte_slice(block);
    let stored = header
        .cksum()
        .map_err(|_| "the checksum field is not a number".to_string())?;
    // The checksum is the byte sum of the header with the checksum field as spaces.
    let computed: u32 = block
        .iter()
        .enumerate()
        .map(|(at, byte)| {
            if (148..156).contains(&at) {
                u32::from(b' ')
            } else {
                u32::from(*byte)
            }
        })
        .sum();
    if stored != computed {
        return Err(format!(
            "checksum {stored} does not match the header's {computed}"
        ));
    }
    let path = header.path_bytes();
    if path.as_ref() != b"version" {
        return Err(format!(
            "the first entry is `{}`",
            String::from_utf8_lossy(&path)
        ));
    }
    if !header.entry_type().is_file() {
        return Err(format!(
            "`version` is a {:?}, not a file",
            header.entry_type()
        ));
    }
    match header.size() {
        Ok(1..=64) => Ok(()),
        Ok(size) => Err(format!("`version` has {size} bytes")),
        Err(_) => Err("the size field is not a number".into()),
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::{
            archive::{ArchiveKind, ArchiveWriter, LtHash, SnapshotManifest},
            synthetic::SyntheticAccounts,
        },
        std::io::Write,
    };

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn zstd(bytes: &[u8]) -> Vec<u8> {
        zstd::stream::encode_all(bytes, 1).unwrap()
    }

    fn tar_of(path: &str, data: &[u8]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_path(path).unwrap();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, data).unwrap();
        // Padding so that the compressed result is above the size floor.
        let mut header = tar::Header::new_gnu();
        header.set_path("snapshots/status_cache").unwrap();
        let filler: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
        header.set_size(filler.len() as u64);
        header.set_cksum();
        builder.append(&header, &filler[..]).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn archives_this_crate_writes_pass_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        for format in [ArchiveFormat::TarZstd, ArchiveFormat::TarLz4] {
            // The smallest: no accounts at all.
            let empty = ArchiveWriter::new(dir.path(), ArchiveKind::Full, 5, format)
                .finish(SnapshotManifest::new(5, 4, 0), &LtHash::identity())
                .unwrap();
            let size = std::fs::metadata(&empty).unwrap().len();
            assert!(size >= MIN_ARCHIVE_BYTES, "{format}: {size} bytes");
            assert_eq!(probe_archive(&empty, format, size), Ok(()));
            let path = SyntheticAccounts::new(1)
                .write_archive(dir.path(), 500, 9, format)
                .unwrap();
            let size = std::fs::metadata(&path).unwrap().len();
            assert_eq!(probe_archive(&path, format, size), Ok(()));
        }
    }

    #[test]
    fn look_alikes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let zst = ArchiveFormat::TarZstd;
        // The 19-byte zstd-magic file the sidecar used to serve as the newest full.
        let mut tiny = ZSTD_MAGIC.to_vec();
        tiny.extend_from_slice(&[0; 15]);
        let path = write(dir.path(), "a", &tiny);
        assert_eq!(
            probe_archive(&path, zst, 19),
            Err(ProbeError::TooSmall { size: 19 })
        );
        // Big enough, right magic, garbage after it.
        let mut garbage = ZSTD_MAGIC.to_vec();
        garbage.extend((0..4000u32).map(|i| (i % 253) as u8));
        let path = write(dir.path(), "b", &garbage);
        assert!(matches!(
            probe_archive(&path, zst, garbage.len() as u64),
            Err(ProbeError::Header(_))
        ));
        // lz4 bytes under a .tar.zst name.
        let lz4 = write(dir.path(), "c", &[&LZ4_MAGIC[..], &[0; 200]].concat());
        assert_eq!(probe_archive(&lz4, zst, 204), Err(ProbeError::Magic(zst)));
        // A valid zstd stream of a tar whose first entry is not `version`.
        let other = zstd(&tar_of("accounts/1.1", b"12345"));
        let path = write(dir.path(), "d", &other);
        let error = probe_archive(&path, zst, other.len() as u64).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("the first entry is `accounts/1.1`"),
            "{error}"
        );
        // The right first entry passes; a flipped header byte breaks its checksum.
        let good = tar_of("version", b"1.2.0");
        let path = write(dir.path(), "e", &zstd(&good));
        assert_eq!(
            probe_archive(&path, zst, std::fs::metadata(&path).unwrap().len()),
            Ok(())
        );
        let mut flipped = good.clone();
        flipped[100] ^= 1;
        let path = write(dir.path(), "f", &zstd(&flipped));
        let error = probe_archive(&path, zst, std::fs::metadata(&path).unwrap().len()).unwrap_err();
        assert!(error.to_string().contains("checksum"), "{error}");
        // Truncated inside the first block.
        let cut = &zstd(&good)[..60];
        let mut file = std::fs::File::create(dir.path().join("g")).unwrap();
        file.write_all(cut).unwrap();
        file.write_all(&[0; 100]).unwrap();
        assert!(matches!(
            probe_archive(&dir.path().join("g"), zst, 160),
            Err(ProbeError::Header(_))
        ));
        // Formats Agave no longer reads.
        assert_eq!(
            probe_archive(&path, ArchiveFormat::TarBzip2, 1000),
            Err(ProbeError::Format(ArchiveFormat::TarBzip2))
        );
    }
}
