//! Errors of reading an archive: what went wrong ([`ArchiveErrorKind`]) and where
//! ([`ErrorLocation`]), for the file named in [`ArchiveError`].

use {
    super::{
        check::ManifestCheckError,
        manifest::ManifestError,
        name::{ArchiveFormat, NameError, Slot},
        reader::SNAPSHOT_VERSION,
        storage::StorageError,
    },
    std::{
        fmt, io,
        path::{Path, PathBuf},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveErrorKind {
    /// The file could not be opened (missing, no permission, ...).
    #[error("cannot open: {0}")]
    Open(io::Error),
    /// Reading the file failed (the disk, not the content).
    #[error("reading the file failed: {0}")]
    Read(io::Error),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("archive format .{0} is not supported (Agave ≥ 3.0 writes only .tar.zst and .tar.lz4)")]
    UnsupportedFormat(ArchiveFormat),
    /// The compressed stream does not decode: corrupt, or cut inside a compressed block.
    #[error("the .{format} stream is corrupt or truncated: {error}")]
    Decompress {
        format: ArchiveFormat,
        error: io::Error,
    },
    /// The decompressed stream ends before the tar archive does.
    #[error("the archive ends early (truncated)")]
    Truncated,
    /// The tar stream itself is invalid (e.g. a header checksum).
    #[error("invalid tar stream: {0}")]
    Tar(io::Error),
    #[error("more than {0} tar entries")]
    TooManyEntries(u64),
    #[error("unpacked size exceeds {0} bytes")]
    TooLarge(u64),
    #[error("entry `{path}` of type {entry_type} is not allowed in a snapshot archive")]
    UnexpectedEntry { path: String, entry_type: String },
    #[error("entry of {size} bytes exceeds the limit of {limit} bytes")]
    EntryTooLarge { size: u64, limit: u64 },
    #[error("duplicate entry `{0}`")]
    DuplicateEntry(String),
    #[error("unsupported snapshot version `{0}` (expected {SNAPSHOT_VERSION})")]
    Version(String),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The manifest fails a check Agave's loader makes.
    #[error(transparent)]
    ManifestCheck(Box<ManifestCheckError>),
    #[error("manifest is for slot {found}, archive name says {expected}")]
    ManifestSlot { expected: Slot, found: Slot },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("storage for slot {slot} is outside the archive's range {range}")]
    StorageSlot { slot: Slot, range: String },
    #[error("storage {slot}.{id} is not listed in the manifest")]
    UnlistedStorage { slot: Slot, id: u64 },
    #[error(
        "storage {slot}.{id}: manifest length {manifest_len} does not match entry length {entry_len}"
    )]
    StorageLength {
        slot: Slot,
        id: u64,
        manifest_len: u64,
        entry_len: u64,
    },
    #[error("archive ends without {0}")]
    Missing(String),
    #[error("rejected by the consumer: {0}")]
    Consumer(Box<dyn std::error::Error + Send + Sync>),
}

impl From<ManifestCheckError> for ArchiveErrorKind {
    fn from(error: ManifestCheckError) -> Self {
        ArchiveErrorKind::ManifestCheck(Box::new(error))
    }
}

impl ArchiveErrorKind {
    /// Whether the error says nothing about the archive's content: it could not be opened or
    /// read, or the consumer refused to go on. Everything else means the archive is invalid.
    pub fn is_io(&self) -> bool {
        matches!(
            self,
            ArchiveErrorKind::Open(_) | ArchiveErrorKind::Read(_) | ArchiveErrorKind::Consumer(_)
        )
    }
}

/// Where in an archive an error happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorLocation {
    /// The archive as a whole: opening it, its name, or what is missing at its end.
    Archive,
    /// Inside an entry: its path, the offset of its tar header in the decompressed stream, and
    /// the offset within the entry's data when known (storages: the account entry's start).
    Entry {
        path: String,
        header_at: u64,
        offset: Option<u64>,
    },
    /// Between entries: the tar header expected at this offset of the decompressed stream,
    /// after the entry named (if any came before).
    Header { at: u64, after: Option<String> },
}

impl fmt::Display for ErrorLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorLocation::Archive => Ok(()),
            ErrorLocation::Entry {
                path,
                header_at,
                offset: Some(offset),
            } => write!(
                f,
                "entry `{path}` at offset {offset} (its tar header at {header_at})"
            ),
            ErrorLocation::Entry {
                path,
                header_at,
                offset: None,
            } => write!(f, "entry `{path}` (tar header at {header_at})"),
            ErrorLocation::Header {
                at,
                after: Some(after),
            } => write!(f, "tar header at offset {at} (after entry `{after}`)"),
            ErrorLocation::Header { at, after: None } => {
                write!(f, "tar header at offset {at} (the first entry)")
            }
        }
    }
}

/// An archive error with the file, and the entry and offset it happened at.
#[derive(Debug)]
pub struct ArchiveError {
    pub path: PathBuf,
    pub location: ErrorLocation,
    pub kind: ArchiveErrorKind,
}

impl ArchiveError {
    /// An error about the archive as a whole.
    pub fn archive(path: &Path, kind: ArchiveErrorKind) -> Self {
        Self {
            path: path.to_path_buf(),
            location: ErrorLocation::Archive,
            kind,
        }
    }

    /// See [`ArchiveErrorKind::is_io`].
    pub fn is_io(&self) -> bool {
        self.kind.is_io()
    }
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            ErrorLocation::Archive => write!(f, "{}: {}", self.path.display(), self.kind),
            location => write!(f, "{}: {location}: {}", self.path.display(), self.kind),
        }
    }
}

// The kind is part of the message, so it is not also a `source`: `{:#}` prints it once.
impl std::error::Error for ArchiveError {}
