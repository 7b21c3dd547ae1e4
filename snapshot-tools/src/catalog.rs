//! Archives on disk and the JSON shapes of Blockdaemon's solana-cluster API.
//!
//! A [`Catalog`] lists archive directories (and each one's `remote/`, where Agave keeps
//! downloaded archives) and keeps only complete archives: regular files (no symlinks) whose
//! names parse as archive names, that are not empty and that start with their compression's
//! magic bytes. `tmp-*` staging files never parse as archive names. Chains are built like
//! Blockdaemon's: every archive is a head, an incremental needs a full at its base slot.

use {
    crate::archive::{ArchiveFormat, ArchiveName, Slot},
    serde::{Deserialize, Serialize},
    solana_hash::Hash,
    std::{
        cmp::Ordering,
        collections::HashSet,
        fs::File,
        io::{self, Read},
        path::{Path, PathBuf},
        time::SystemTime,
    },
};

/// One archive file (`SnapshotFile` in Blockdaemon's API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotFile {
    pub file_name: String,
    /// The slot of this archive (for an incremental, its own slot).
    pub slot: Slot,
    /// The base slot of an incremental; absent (0) for a full archive.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub base_slot: Slot,
    /// Base58 hash from the file name.
    pub hash: String,
    /// The extension with its leading dot, e.g. `.tar.zst`.
    pub ext: String,
    /// Modification time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mod_time: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

fn is_zero(value: &Slot) -> bool {
    *value == 0
}

impl SnapshotFile {
    pub fn new(name: &ArchiveName, size: Option<u64>, modified: Option<SystemTime>) -> Self {
        Self {
            file_name: name.to_string(),
            slot: name.slot,
            base_slot: name.base_slot().unwrap_or(0),
            hash: name.hash.to_string(),
            ext: format!(".{}", name.format.extension()),
            mod_time: modified.map(rfc3339),
            size,
        }
    }

    /// The archive name, checked to be exactly the file name (so it is safe as a path
    /// component) and consistent with the other fields.
    pub fn archive_name(&self) -> Result<ArchiveName, CatalogError> {
        let name: ArchiveName = self
            .file_name
            .parse()
            .map_err(|_| CatalogError::BadFile(self.file_name.clone()))?;
        if name.to_string() != self.file_name
            || name.slot != self.slot
            || name.base_slot().unwrap_or(0) != self.base_slot
        {
            return Err(CatalogError::BadFile(self.file_name.clone()));
        }
        Ok(name)
    }
}

/// A loadable chain, head first: `[incremental, full]` or `[full]` (`SnapshotInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub slot: Slot,
    pub hash: String,
    pub files: Vec<SnapshotFile>,
    /// Sum of the file sizes.
    #[serde(default)]
    pub size: u64,
}

/// The names of a chain as parsed and checked from a [`SnapshotInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainNames {
    pub full: ArchiveName,
    pub full_size: Option<u64>,
    pub incremental: Option<(ArchiveName, Option<u64>)>,
}

impl ChainNames {
    pub fn head(&self) -> &ArchiveName {
        self.incremental
            .as_ref()
            .map_or(&self.full, |(name, _)| name)
    }
}

impl SnapshotInfo {
    /// Checks the chain's shape: one full, optionally preceded by one incremental on it.
    /// Chained incrementals (which Agave never writes) are rejected.
    pub fn chain_names(&self) -> Result<ChainNames, CatalogError> {
        let bad = || CatalogError::BadChain(self.slot);
        let names = self
            .files
            .iter()
            .map(|file| Ok((file.archive_name()?, file.size)))
            .collect::<Result<Vec<_>, CatalogError>>()?;
        let chain = match names.as_slice() {
            [(full, size)] if full.is_full() => ChainNames {
                full: *full,
                full_size: *size,
                incremental: None,
            },
            [(incremental, incremental_size), (full, size)]
                if full.is_full() && incremental.base_slot() == Some(full.slot) =>
            {
                ChainNames {
                    full: *full,
                    full_size: *size,
                    incremental: Some((*incremental, *incremental_size)),
                }
            }
            _ => return Err(bad()),
        };
        if chain.head().slot != self.slot || chain.head().hash.to_string() != self.hash {
            return Err(bad());
        }
        Ok(chain)
    }
}

/// A chain as offered by one sidecar, as the tracker returns it (`SnapshotSource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotSource {
    #[serde(flatten)]
    pub info: SnapshotInfo,
    /// The sidecar, `host:port` as configured (or a full URL).
    pub target: String,
    /// Time of the scrape, RFC 3339.
    pub updated_at: String,
    /// Where to download from: `<scheme>://<target><api_path>` (our extension; absent from
    /// Blockdaemon's trackers, then `http://<target>` is meant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A directory could not be listed.
    #[error("listing {}: {error}", .dir.display())]
    List { dir: PathBuf, error: io::Error },
    /// A file entry whose name is not a canonical archive name or contradicts its fields.
    #[error("`{0}` is not a valid snapshot file entry")]
    BadFile(String),
    /// A chain that is not `[full]` or `[incremental, full]` with matching slots.
    #[error("the chain at slot {0} is not a full archive with an optional incremental on it")]
    BadChain(Slot),
}

/// An archive found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalArchive {
    pub name: ArchiveName,
    pub path: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
}

impl LocalArchive {
    pub fn snapshot_file(&self) -> SnapshotFile {
        SnapshotFile::new(&self.name, Some(self.size), Some(self.modified))
    }
}

/// A complete chain on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalChain<'a> {
    pub full: &'a LocalArchive,
    pub incremental: Option<&'a LocalArchive>,
}

impl LocalChain<'_> {
    pub fn head(&self) -> &LocalArchive {
        self.incremental.unwrap_or(self.full)
    }

    pub fn slot(&self) -> Slot {
        self.head().name.slot
    }

    pub fn info(&self) -> SnapshotInfo {
        let mut files = Vec::with_capacity(2);
        files.extend(self.incremental.map(LocalArchive::snapshot_file));
        files.push(self.full.snapshot_file());
        SnapshotInfo {
            slot: self.slot(),
            hash: self.head().name.hash.to_string(),
            size: files.iter().filter_map(|file| file.size).sum(),
            files,
        }
    }
}

/// The order "best first": slot descending; at equal slot a full before an incremental, a
/// higher base first; zstd before lz4; then the hash for a stable order.
pub fn best_first(a: &ArchiveName, b: &ArchiveName) -> Ordering {
    b.slot
        .cmp(&a.slot)
        .then_with(|| b.is_full().cmp(&a.is_full()))
        .then_with(|| b.base_slot().cmp(&a.base_slot()))
        .then_with(|| a.format.cmp(&b.format))
        .then_with(|| a.hash.as_ref().cmp(b.hash.as_ref()))
}

/// The archives of some directories, best first.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    archives: Vec<LocalArchive>,
}

impl Catalog {
    /// Lists `dirs` and, for each, its `remote/` subdirectory. A missing `remote/` is fine; a
    /// directory that cannot be listed is an error. The first copy of a name wins.
    pub fn scan(dirs: &[PathBuf]) -> Result<Self, CatalogError> {
        let mut archives = Vec::new();
        let mut seen = HashSet::new();
        for dir in dirs {
            list_dir(dir, &mut archives, &mut seen)?;
            match list_dir(&dir.join("remote"), &mut archives, &mut seen) {
                Err(CatalogError::List { error, .. })
                    if error.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
        archives.sort_by(|a, b| best_first(&a.name, &b.name));
        Ok(Self { archives })
    }

    pub fn archives(&self) -> &[LocalArchive] {
        &self.archives
    }

    pub fn is_empty(&self) -> bool {
        self.archives.is_empty()
    }

    /// The archive listed under exactly this file name.
    pub fn get(&self, file_name: &str) -> Option<&LocalArchive> {
        self.archives.iter().find(|archive| {
            archive.path.file_name().and_then(|name| name.to_str()) == Some(file_name)
        })
    }

    /// A full archive at this slot with this hash, in any format.
    pub fn full_with(&self, slot: Slot, hash: &Hash) -> Option<&LocalArchive> {
        self.archives.iter().find(|archive| {
            archive.name.is_full() && archive.name.slot == slot && archive.name.hash == *hash
        })
    }

    /// The highest full archive.
    pub fn best_full(&self) -> Option<&LocalArchive> {
        self.archives.iter().find(|archive| archive.name.is_full())
    }

    /// The highest incremental whose base is the highest full (what Agave serves as
    /// `/incremental-snapshot.tar.bz2`).
    pub fn best_incremental(&self) -> Option<&LocalArchive> {
        let full = self.best_full()?;
        self.archives
            .iter()
            .find(|archive| archive.name.base_slot() == Some(full.name.slot))
    }

    /// Every complete chain, best first.
    pub fn chains(&self) -> Vec<LocalChain<'_>> {
        self.archives
            .iter()
            .filter_map(|archive| match archive.name.base_slot() {
                None => Some(LocalChain {
                    full: archive,
                    incremental: None,
                }),
                Some(base) => self
                    .archives
                    .iter()
                    .find(|full| full.name.is_full() && full.name.slot == base)
                    .map(|full| LocalChain {
                        full,
                        incremental: Some(archive),
                    }),
            })
            .collect()
    }

    pub fn best_chain(&self) -> Option<LocalChain<'_>> {
        self.chains().into_iter().next()
    }

    /// `GET /v1/snapshots`: every complete chain, best first.
    pub fn infos(&self) -> Vec<SnapshotInfo> {
        self.chains().iter().map(LocalChain::info).collect()
    }
}

/// The complete chains among archive names with optional sizes (e.g. a bucket listing),
/// best first, in the shape of `GET /v1/snapshots`.
pub fn chains_of(files: &[(ArchiveName, Option<u64>)]) -> Vec<SnapshotInfo> {
    let mut sorted: Vec<&(ArchiveName, Option<u64>)> = files.iter().collect();
    sorted.sort_by(|a, b| best_first(&a.0, &b.0));
    sorted
        .iter()
        .filter_map(|(name, size)| {
            let head = SnapshotFile::new(name, *size, None);
            let files = match name.base_slot() {
                None => vec![head],
                Some(base) => {
                    let (full, full_size) = sorted
                        .iter()
                        .find(|(full, _)| full.is_full() && full.slot == base)?;
                    vec![head, SnapshotFile::new(full, *full_size, None)]
                }
            };
            Some(SnapshotInfo {
                slot: name.slot,
                hash: name.hash.to_string(),
                size: files.iter().filter_map(|file| file.size).sum(),
                files,
            })
        })
        .collect()
}

fn list_dir(
    dir: &Path,
    archives: &mut Vec<LocalArchive>,
    seen: &mut HashSet<String>,
) -> Result<(), CatalogError> {
    let list_error = |error| CatalogError::List {
        dir: dir.to_path_buf(),
        error,
    };
    for entry in std::fs::read_dir(dir).map_err(list_error)? {
        let entry = entry.map_err(list_error)?;
        let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Ok(name) = file_name.parse::<ArchiveName>() else {
            continue;
        };
        // `file_type` does not follow symlinks: only regular files are served.
        if !entry.file_type().is_ok_and(|kind| kind.is_file()) || seen.contains(&file_name) {
            continue;
        }
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let path = entry.path();
        if metadata.len() == 0 || !has_magic(&path, name.format) {
            tracing::debug!(path = %path.display(), "skipping an incomplete archive");
            continue;
        }
        seen.insert(file_name);
        archives.push(LocalArchive {
            name,
            path,
            size: metadata.len(),
            modified: metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        });
    }
    Ok(())
}

/// Whether the file starts like a complete archive of its format would.
fn has_magic(path: &Path, format: ArchiveFormat) -> bool {
    let expected: &[u8] = match format {
        ArchiveFormat::TarZstd => &[0x28, 0xb5, 0x2f, 0xfd],
        ArchiveFormat::TarLz4 => &[0x04, 0x22, 0x4d, 0x18],
        ArchiveFormat::TarBzip2 => b"BZh",
        ArchiveFormat::TarGzip => &[0x1f, 0x8b],
        ArchiveFormat::Tar => &[],
    };
    let mut start = [0u8; 4];
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let start = &mut start[..expected.len()];
    file.read_exact(start).is_ok() && start == expected
}

/// RFC 3339 in UTC with seconds, as Go's `time.Time` marshals.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use {super::*, std::io::Write};

    fn hash(seed: u8) -> Hash {
        Hash::new_from_array([seed; 32])
    }

    fn touch(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        File::create(&path).unwrap().write_all(bytes).unwrap();
        path
    }

    const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd, 0];

    #[test]
    fn lists_complete_archives_and_builds_chains() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().to_path_buf();
        std::fs::create_dir(ledger.join("remote")).unwrap();
        let other = tempfile::tempdir().unwrap();
        let full100 = ArchiveName::full(100, hash(1), ArchiveFormat::TarZstd);
        let full50 = ArchiveName::full(50, hash(2), ArchiveFormat::TarLz4);
        let incr = ArchiveName::incremental(100, 200, hash(3), ArchiveFormat::TarZstd);
        let orphan = ArchiveName::incremental(99, 300, hash(4), ArchiveFormat::TarZstd);
        touch(&ledger, &full100.to_string(), ZSTD);
        touch(
            &ledger.join("remote"),
            &full50.to_string(),
            &[0x04, 0x22, 0x4d, 0x18, 1],
        );
        touch(other.path(), &incr.to_string(), ZSTD);
        touch(&ledger, &orphan.to_string(), ZSTD);
        // Ignored: staging files, empty files, wrong magic, symlinks, other names.
        touch(&ledger, &format!("tmp-{full100}"), ZSTD);
        touch(
            &ledger,
            &ArchiveName::full(400, hash(5), ArchiveFormat::TarZstd).to_string(),
            b"",
        );
        touch(
            &ledger,
            &ArchiveName::full(500, hash(6), ArchiveFormat::TarZstd).to_string(),
            b"garbage",
        );
        std::os::unix::fs::symlink(
            ledger.join(full100.to_string()),
            ledger.join(ArchiveName::full(600, hash(7), ArchiveFormat::TarZstd).to_string()),
        )
        .unwrap();
        touch(&ledger, "genesis.tar.bz2", b"BZh");

        let catalog = Catalog::scan(&[ledger.clone(), other.path().to_path_buf()]).unwrap();
        let names: Vec<_> = catalog.archives().iter().map(|a| a.name).collect();
        assert_eq!(names, vec![orphan, incr, full100, full50]);
        assert_eq!(catalog.best_full().unwrap().name, full100);
        assert_eq!(catalog.best_incremental().unwrap().name, incr);
        let infos = catalog.infos();
        assert_eq!(infos.len(), 3, "the orphan incremental is no chain");
        assert_eq!(infos[0].slot, 200);
        assert_eq!(infos[0].files.len(), 2);
        assert_eq!(infos[0].files[0].base_slot, 100);
        assert_eq!(infos[0].files[1].file_name, full100.to_string());
        assert_eq!(infos[0].size, 10);
        assert_eq!(infos[2].files[0].ext, ".tar.lz4");
        let chain = infos[0].chain_names().unwrap();
        assert_eq!(chain.full, full100);
        assert_eq!(chain.incremental.unwrap().0, incr);
        assert!(catalog.get(&incr.to_string()).is_some());
        assert!(catalog.get(&format!("tmp-{full100}")).is_none());
    }

    #[test]
    fn json_shapes_match_blockdaemon() {
        let full = ArchiveName::full(100, hash(1), ArchiveFormat::TarZstd);
        let file = SnapshotFile::new(&full, Some(1), Some(SystemTime::UNIX_EPOCH));
        let json = serde_json::to_value(&file).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "file_name": full.to_string(), "slot": 100, "hash": hash(1).to_string(),
                "ext": ".tar.zst", "mod_time": "1970-01-01T00:00:00Z", "size": 1
            })
        );
        let source = SnapshotSource {
            info: SnapshotInfo {
                slot: 100,
                hash: hash(1).to_string(),
                files: vec![file],
                size: 1,
            },
            target: "10.0.0.5:13080".into(),
            updated_at: "2024-07-24T04:20:18Z".into(),
            base_url: None,
        };
        let json = serde_json::to_value(&source).unwrap();
        assert_eq!(json["target"], "10.0.0.5:13080");
        assert_eq!(json["slot"], 100);
        assert!(json.get("base_url").is_none());
        let back: SnapshotSource = serde_json::from_value(json).unwrap();
        assert_eq!(back, source);
    }

    #[test]
    fn rejects_inconsistent_entries() {
        let full = ArchiveName::full(100, hash(1), ArchiveFormat::TarZstd);
        let mut file = SnapshotFile::new(&full, None, None);
        file.file_name = format!("../{full}");
        assert!(file.archive_name().is_err());
        let mut file = SnapshotFile::new(&full, None, None);
        file.slot = 7;
        assert!(file.archive_name().is_err());
        let info = SnapshotInfo {
            slot: 100,
            hash: hash(9).to_string(),
            files: vec![SnapshotFile::new(&full, None, None)],
            size: 0,
        };
        assert!(info.chain_names().is_err());
    }
}
