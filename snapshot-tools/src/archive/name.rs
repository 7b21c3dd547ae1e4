//! Agave snapshot archive file names.
//!
//! `snapshot-<SLOT>-<HASH>.<EXT>` and `incremental-snapshot-<BASE>-<SLOT>-<HASH>.<EXT>`, where
//! `HASH` is base58 of blake3 of the accounts lattice hash at `SLOT`.

pub use solana_clock::Slot;
use {
    solana_hash::Hash,
    std::{fmt, path::Path, str::FromStr},
};

/// Compression of an archive, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArchiveFormat {
    TarZstd,
    TarLz4,
    /// Written by validators before 1.18; recognised so that it gets a clear "unsupported".
    TarBzip2,
    TarGzip,
    Tar,
}

impl ArchiveFormat {
    pub const ALL: [ArchiveFormat; 5] = [
        ArchiveFormat::TarZstd,
        ArchiveFormat::TarLz4,
        ArchiveFormat::TarBzip2,
        ArchiveFormat::TarGzip,
        ArchiveFormat::Tar,
    ];

    /// The extension without a leading dot, e.g. `tar.zst`.
    pub const fn extension(self) -> &'static str {
        match self {
            ArchiveFormat::TarZstd => "tar.zst",
            ArchiveFormat::TarLz4 => "tar.lz4",
            ArchiveFormat::TarBzip2 => "tar.bz2",
            ArchiveFormat::TarGzip => "tar.gz",
            ArchiveFormat::Tar => "tar",
        }
    }

    /// Whether this crate can read archives of this format (current Agave writes only these).
    pub const fn is_supported(self) -> bool {
        matches!(self, ArchiveFormat::TarZstd | ArchiveFormat::TarLz4)
    }

    fn split_extension(name: &str) -> Option<(&str, ArchiveFormat)> {
        // Longest extensions first so that `.tar.zst` is not taken for `.tar`.
        Self::ALL.into_iter().find_map(|format| {
            let stem = name.strip_suffix(format.extension())?.strip_suffix('.')?;
            Some((stem, format))
        })
    }
}

impl fmt::Display for ArchiveFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArchiveKind {
    Full,
    Incremental { base_slot: Slot },
}

/// A parsed archive file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArchiveName {
    pub kind: ArchiveKind,
    pub slot: Slot,
    pub hash: Hash,
    pub format: ArchiveFormat,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// The name does not end in a known archive extension.
    #[error("`{0}` has no snapshot archive extension")]
    Extension(String),
    /// The stem is not `snapshot-<slot>-<hash>` or `incremental-snapshot-<base>-<slot>-<hash>`.
    #[error("`{0}` is not a snapshot archive name")]
    Pattern(String),
    /// The hash part is not base58 of 32 bytes.
    #[error("`{0}` has an invalid hash")]
    Hash(String),
    /// An incremental whose slot is not above its base slot.
    #[error("`{0}` has a slot that is not above its base slot")]
    SlotOrder(String),
}

impl ArchiveName {
    pub fn full(slot: Slot, hash: Hash, format: ArchiveFormat) -> Self {
        Self {
            kind: ArchiveKind::Full,
            slot,
            hash,
            format,
        }
    }

    pub fn incremental(base_slot: Slot, slot: Slot, hash: Hash, format: ArchiveFormat) -> Self {
        Self {
            kind: ArchiveKind::Incremental { base_slot },
            slot,
            hash,
            format,
        }
    }

    pub fn base_slot(&self) -> Option<Slot> {
        match self.kind {
            ArchiveKind::Full => None,
            ArchiveKind::Incremental { base_slot } => Some(base_slot),
        }
    }

    pub fn is_full(&self) -> bool {
        self.kind == ArchiveKind::Full
    }

    /// Parses the file name part of `path`.
    pub fn from_path(path: &Path) -> Result<Self, NameError> {
        let file_name = path
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| NameError::Pattern(path.display().to_string()))?;
        file_name.parse()
    }
}

fn parse_slot(text: &str) -> Option<Slot> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl FromStr for ArchiveName {
    type Err = NameError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let (stem, format) = ArchiveFormat::split_extension(name)
            .ok_or_else(|| NameError::Extension(name.to_string()))?;
        let pattern_error = || NameError::Pattern(name.to_string());
        let (kind, slot, hash_text) = if let Some(rest) = stem.strip_prefix("incremental-snapshot-")
        {
            let mut parts = rest.splitn(3, '-');
            let (Some(base), Some(slot), Some(hash)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(pattern_error());
            };
            let base_slot = parse_slot(base).ok_or_else(pattern_error)?;
            let slot = parse_slot(slot).ok_or_else(pattern_error)?;
            if slot <= base_slot {
                return Err(NameError::SlotOrder(name.to_string()));
            }
            (ArchiveKind::Incremental { base_slot }, slot, hash)
        } else if let Some(rest) = stem.strip_prefix("snapshot-") {
            let (slot, hash) = rest.split_once('-').ok_or_else(pattern_error)?;
            (
                ArchiveKind::Full,
                parse_slot(slot).ok_or_else(pattern_error)?,
                hash,
            )
        } else {
            return Err(pattern_error());
        };
        if hash_text.is_empty() || !hash_text.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            return Err(pattern_error());
        }
        let hash = parse_hash(hash_text).ok_or_else(|| NameError::Hash(name.to_string()))?;
        Ok(Self {
            kind,
            slot,
            hash,
            format,
        })
    }
}

/// Parses base58 of exactly 32 bytes.
pub fn parse_hash(text: &str) -> Option<Hash> {
    let mut bytes = [0u8; 32];
    match bs58::decode(text).onto(&mut bytes) {
        Ok(32) => Some(Hash::new_from_array(bytes)),
        _ => None,
    }
}

impl fmt::Display for ArchiveName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ArchiveKind::Full => write!(f, "snapshot-{}-{}.{}", self.slot, self.hash, self.format),
            ArchiveKind::Incremental { base_slot } => write!(
                f,
                "incremental-snapshot-{}-{}-{}.{}",
                base_slot, self.slot, self.hash, self.format
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "28uuGLSjbsLD59sj9bz76cpCtNeJncYMAEHZf5UqQqQj";

    #[test]
    fn parses_and_formats_full_and_incremental() {
        let full: ArchiveName = format!("snapshot-1-{HASH}.tar.zst").parse().unwrap();
        assert_eq!(full.kind, ArchiveKind::Full);
        assert_eq!(full.slot, 1);
        assert_eq!(full.format, ArchiveFormat::TarZstd);
        assert_eq!(full.to_string(), format!("snapshot-1-{HASH}.tar.zst"));

        let incremental: ArchiveName = format!("incremental-snapshot-100-200-{HASH}.tar.lz4")
            .parse()
            .unwrap();
        assert_eq!(incremental.base_slot(), Some(100));
        assert_eq!(incremental.slot, 200);
        assert_eq!(incremental.format, ArchiveFormat::TarLz4);
        assert_eq!(
            incremental.to_string(),
            format!("incremental-snapshot-100-200-{HASH}.tar.lz4")
        );
    }

    #[test]
    fn recognises_legacy_formats_as_unsupported() {
        for (ext, format) in [
            ("tar.bz2", ArchiveFormat::TarBzip2),
            ("tar.gz", ArchiveFormat::TarGzip),
            ("tar", ArchiveFormat::Tar),
        ] {
            let name: ArchiveName = format!("snapshot-5-{HASH}.{ext}").parse().unwrap();
            assert_eq!(name.format, format);
            assert!(!name.format.is_supported());
        }
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in [
            "snapshot-1.tar.zst".to_string(),
            format!("snapshot--{HASH}.tar.zst"),
            format!("snapshot-x1-{HASH}.tar.zst"),
            format!("snapshot-+1-{HASH}.tar.zst"),
            format!("snapshot-1-{HASH}.zip"),
            format!("tmp-snapshot-1-{HASH}.tar.zst"),
            format!("snapshot-1-../{HASH}.tar.zst"),
            "snapshot-1-0OIl.tar.zst".to_string(),
            "snapshot-1-abc.tar.zst".to_string(),
        ] {
            assert!(
                bad.parse::<ArchiveName>().is_err(),
                "{bad} should not parse"
            );
        }
        assert_eq!(
            format!("incremental-snapshot-5-5-{HASH}.tar.zst").parse::<ArchiveName>(),
            Err(NameError::SlotOrder(format!(
                "incremental-snapshot-5-5-{HASH}.tar.zst"
            )))
        );
    }
}
