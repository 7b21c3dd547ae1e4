//! Archives on disk and the JSON shapes of Blockdaemon's solana-cluster API.
//!
//! A [`Catalog`] lists archive directories (and each one's `remote/`, where Agave keeps
//! downloaded archives) and keeps only archives: regular files (no symlinks) whose names parse
//! as archive names and that start like an archive (see [`scan`]: compression magic, size,
//! first tar header); a `remote/` symlink leading outside the directories is not followed.
//! `tmp-*` staging files never parse as archive names. Chains are built like Blockdaemon's:
//! every archive is a head, an incremental needs a full at its base slot.

pub mod scan;

use {
    crate::archive::{ArchiveName, Slot},
    serde::{Deserialize, Serialize},
    solana_hash::Hash,
    std::{cmp::Ordering, io, path::PathBuf, time::SystemTime},
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
    /// The listed directories, resolved (see [`roots`](Self::roots)).
    roots: Vec<PathBuf>,
}

impl Catalog {
    /// Lists `dirs` and, for each, its `remote/` subdirectory, once (a long-running lister
    /// keeps a [`scan::ArchiveScanner`], which remembers its verdicts). A missing `remote/` is
    /// fine; a directory that cannot be listed is an error. The first copy of a name wins.
    pub fn scan(dirs: &[PathBuf]) -> Result<Self, CatalogError> {
        scan::ArchiveScanner::new(dirs)
            .scan()
            .map(|outcome| outcome.catalog)
    }

    pub fn archives(&self) -> &[LocalArchive] {
        &self.archives
    }

    /// The configured directories of the scan, resolved: a listed archive is served only if
    /// its directory still resolves inside one of them ([`scan::resolved_inside`]).
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
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

/// RFC 3339 in UTC with seconds, as Go's `time.Time` marshals.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use {
        super::{scan::ArchiveScanner, *},
        crate::archive::{ArchiveFormat, ArchiveKind, ArchiveWriter, LtHash, SnapshotManifest},
        std::{path::Path, sync::OnceLock},
    };

    fn hash(seed: u8) -> Hash {
        Hash::new_from_array([seed; 32])
    }

    fn touch(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The bytes of a small valid archive of each format (names in these tests do not carry
    /// the real hash; listing never reads further than the first tar header).
    fn archive_bytes(format: ArchiveFormat) -> &'static [u8] {
        static ZSTD: OnceLock<Vec<u8>> = OnceLock::new();
        static LZ4: OnceLock<Vec<u8>> = OnceLock::new();
        let cell = if format == ArchiveFormat::TarZstd {
            &ZSTD
        } else {
            &LZ4
        };
        cell.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = ArchiveWriter::new(dir.path(), ArchiveKind::Full, 3, format)
                .finish(SnapshotManifest::new(3, 2, 0), &LtHash::identity())
                .unwrap();
            std::fs::read(path).unwrap()
        })
    }

    #[test]
    fn lists_complete_archives_and_builds_chains() {
        let zstd = archive_bytes(ArchiveFormat::TarZstd);
        let lz4 = archive_bytes(ArchiveFormat::TarLz4);
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().to_path_buf();
        std::fs::create_dir(ledger.join("remote")).unwrap();
        let other = tempfile::tempdir().unwrap();
        let full100 = ArchiveName::full(100, hash(1), ArchiveFormat::TarZstd);
        let full50 = ArchiveName::full(50, hash(2), ArchiveFormat::TarLz4);
        let incr = ArchiveName::incremental(100, 200, hash(3), ArchiveFormat::TarZstd);
        let orphan = ArchiveName::incremental(99, 300, hash(4), ArchiveFormat::TarZstd);
        touch(&ledger, &full100.to_string(), zstd);
        touch(&ledger.join("remote"), &full50.to_string(), lz4);
        touch(other.path(), &incr.to_string(), zstd);
        touch(&ledger, &orphan.to_string(), zstd);
        // Ignored: staging files, empty files, wrong magic, symlinks, other names.
        touch(&ledger, &format!("tmp-{full100}"), zstd);
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
        assert_eq!(infos[0].size, 2 * zstd.len() as u64);
        assert_eq!(infos[2].files[0].ext, ".tar.lz4");
        let chain = infos[0].chain_names().unwrap();
        assert_eq!(chain.full, full100);
        assert_eq!(chain.incremental.unwrap().0, incr);
        assert!(catalog.get(&incr.to_string()).is_some());
        assert!(catalog.get(&format!("tmp-{full100}")).is_none());
    }

    #[test]
    fn files_that_only_look_like_archives_are_not_listed_and_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().to_path_buf();
        let good = ArchiveName::full(10, hash(1), ArchiveFormat::TarZstd);
        touch(
            &ledger,
            &good.to_string(),
            archive_bytes(ArchiveFormat::TarZstd),
        );
        // 19 bytes starting with the zstd magic, named as the newest full archive.
        let junk = ArchiveName::full(99, hash(2), ArchiveFormat::TarZstd);
        let mut bytes = vec![0x28, 0xb5, 0x2f, 0xfd];
        bytes.resize(19, 0);
        let junk_path = touch(&ledger, &junk.to_string(), &bytes);
        // An lz4 archive under a .tar.zst name, and a valid zstd stream that is no tar.
        let swapped = ArchiveName::full(98, hash(3), ArchiveFormat::TarZstd);
        touch(
            &ledger,
            &swapped.to_string(),
            archive_bytes(ArchiveFormat::TarLz4),
        );
        let not_tar = ArchiveName::full(97, hash(4), ArchiveFormat::TarZstd);
        let text: Vec<u8> = (0..3000u32).flat_map(|i| i.to_le_bytes()).collect();
        touch(
            &ledger,
            &not_tar.to_string(),
            &zstd::stream::encode_all(&text[..], 1).unwrap(),
        );

        let mut scanner = ArchiveScanner::new(std::slice::from_ref(&ledger));
        let outcome = scanner.scan().unwrap();
        let names: Vec<_> = outcome.catalog.archives().iter().map(|a| a.name).collect();
        assert_eq!(names, vec![good]);
        assert_eq!(outcome.catalog.best_full().unwrap().name, good);
        let mut reasons: Vec<_> = outcome
            .rejected
            .iter()
            .map(|rejected| rejected.error.reason())
            .collect();
        reasons.sort();
        assert_eq!(reasons, vec!["header", "magic", "size"]);
        assert_eq!(outcome.rejected_files, 3);
        // A second scan reuses the verdicts: nothing new to report.
        let outcome = scanner.scan().unwrap();
        assert!(outcome.rejected.is_empty());
        assert_eq!(outcome.rejected_files, 3);
        // A file that changes is judged again: the junk becomes a real archive.
        std::fs::write(&junk_path, archive_bytes(ArchiveFormat::TarZstd)).unwrap();
        let outcome = scanner.scan().unwrap();
        assert_eq!(outcome.catalog.best_full().unwrap().name, junk);
        assert_eq!(outcome.rejected_files, 2);
    }

    #[test]
    fn a_remote_symlink_is_followed_only_inside_the_archive_directories() {
        let zstd = archive_bytes(ArchiveFormat::TarZstd);
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("ledger");
        let snapshots = dir.path().join("snapshots");
        let outside = dir.path().join("outside");
        for path in [&ledger, &snapshots, &outside] {
            std::fs::create_dir_all(path).unwrap();
        }
        let secret = ArchiveName::full(500, hash(9), ArchiveFormat::TarZstd);
        touch(&outside, &secret.to_string(), zstd);
        let inside = ArchiveName::full(400, hash(8), ArchiveFormat::TarZstd);
        std::fs::create_dir_all(snapshots.join("downloads")).unwrap();
        touch(&snapshots.join("downloads"), &inside.to_string(), zstd);
        // The ledger's remote/ leads outside; the snapshots dir's remote/ leads inside.
        std::os::unix::fs::symlink(&outside, ledger.join("remote")).unwrap();
        std::os::unix::fs::symlink(snapshots.join("downloads"), snapshots.join("remote")).unwrap();

        let mut scanner = ArchiveScanner::new(&[ledger.clone(), snapshots.clone()]);
        let outcome = scanner.scan().unwrap();
        let names: Vec<_> = outcome.catalog.archives().iter().map(|a| a.name).collect();
        assert_eq!(names, vec![inside]);
        assert_eq!(outcome.refused_dirs.len(), 1);
        assert_eq!(outcome.refused_dirs[0].path, ledger.join("remote"));
        assert!(outcome.catalog.get(&secret.to_string()).is_none());
        // Reported once.
        assert!(scanner.scan().unwrap().refused_dirs.is_empty());
        // The served path is the resolved one, and checked again before serving.
        let roots = scanner.roots().unwrap();
        let listed = &outcome.catalog.archives()[0].path;
        assert_eq!(scan::resolved_inside(listed, &roots).unwrap(), *listed);
        let through_link = ledger.join("remote").join(secret.to_string());
        assert!(scan::resolved_inside(&through_link, &roots).is_err());
        // A dangling remote/ is refused too, not an error.
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::os::unix::fs::symlink(dir.path().join("nowhere"), other.join("remote")).unwrap();
        let outcome = ArchiveScanner::new(&[other]).scan().unwrap();
        assert!(outcome.catalog.is_empty());
        assert_eq!(outcome.refused_dirs[0].target, None);
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
