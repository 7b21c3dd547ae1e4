//! Streaming reader of Agave snapshot archives: decompresses and walks the tar without unpacking
//! to disk, with the entry whitelist and limits of Agave's hardened unpacker.

pub use super::{
    error::{ArchiveError, ArchiveErrorKind, ErrorLocation},
    stream::open_decompressed,
};
use {
    super::{
        manifest::{ManifestError, SnapshotManifest, StorageEntry},
        name::{ArchiveKind, ArchiveName, Slot},
        storage::{StorageError, StorageWalker, StoredAccount},
        stream::{Decompressed, open_tracked},
    },
    std::{
        cell::Cell,
        collections::{HashMap, HashSet},
        io::{self, Read},
        path::Path,
        rc::Rc,
        sync::{Arc, atomic::AtomicU64},
    },
};

/// The only snapshot version every Agave of recent years writes and reads.
pub const SNAPSHOT_VERSION: &str = "1.2.0";

/// Limits on what an archive may contain, checked before anything is allocated for it.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    pub max_entries: u64,
    pub max_total_size: u64,
    pub max_storage_size: u64,
    pub max_manifest_size: u64,
    pub max_status_cache_size: u64,
}

impl Default for ArchiveLimits {
    /// Agave's unpacker limits (5 M entries, 64 TiB apparent size, 16 GiB per storage) plus a
    /// manifest cap well above mainnet's few hundred MB.
    fn default() -> Self {
        Self {
            max_entries: 5_000_000,
            max_total_size: 64 << 40,
            max_storage_size: 16 << 30,
            max_manifest_size: 4 << 30,
            max_status_cache_size: 4 << 30,
        }
    }
}

/// Receives what an archive holds, in archive order.
pub trait ArchiveVisitor {
    /// Called once, when the manifest has been read.
    fn manifest(&mut self, _manifest: &SnapshotManifest) -> Result<(), ArchiveErrorKind> {
        Ok(())
    }

    /// Called for every storage entry (every version, tombstones included).
    fn account(&mut self, slot: Slot, account: &StoredAccount<'_>) -> Result<(), ArchiveErrorKind>;
}

/// What a completely read archive held.
#[derive(Debug, Clone)]
pub struct ArchiveContents {
    pub name: ArchiveName,
    pub manifest: SnapshotManifest,
    pub storages: u64,
    /// Storage entries walked (all versions, tombstones included).
    pub stored_accounts: u64,
    /// Bytes of decompressed tar stream.
    pub tar_bytes: u64,
}

/// Reads the archive at `path`, which must carry a valid archive name.
pub fn read_archive(
    path: &Path,
    limits: &ArchiveLimits,
    visitor: &mut impl ArchiveVisitor,
) -> Result<ArchiveContents, ArchiveError> {
    read_archive_counted(path, limits, visitor, None)
}

/// [`read_archive`], adding the archive (compressed) bytes read to `file_read` as it goes.
pub fn read_archive_counted(
    path: &Path,
    limits: &ArchiveLimits,
    visitor: &mut impl ArchiveVisitor,
    file_read: Option<Arc<AtomicU64>>,
) -> Result<ArchiveContents, ArchiveError> {
    let fail = |kind| ArchiveError::archive(path, kind);
    let name = ArchiveName::from_path(path).map_err(|error| fail(error.into()))?;
    if !name.format.is_supported() {
        return Err(fail(ArchiveErrorKind::UnsupportedFormat(name.format)));
    }
    let Decompressed {
        stream,
        file_errors,
        decoder_errors,
    } = open_tracked(path, name.format, file_read).map_err(fail)?;
    let mut walk = ArchiveWalk::new(path, name, limits);
    walk.run(stream, visitor)
        .and_then(|()| walk.finish())
        .map_err(|mut error| {
            // Whatever layer reported it, an error that began in the file or in the
            // decompressor is that error.
            if let Some(error_kind) = file_errors.take().map(ArchiveErrorKind::Read).or_else(|| {
                decoder_errors
                    .take()
                    .map(|error| ArchiveErrorKind::Decompress {
                        format: name.format,
                        error,
                    })
            }) {
                if !error.kind.is_io() || matches!(error.kind, ArchiveErrorKind::Read(_)) {
                    error.kind = error_kind;
                }
            } else if is_unexpected_eof(&error.kind) {
                error.kind = ArchiveErrorKind::Truncated;
            }
            error
        })
}

/// Whether an error kind is, underneath, the decompressed stream ending early.
fn is_unexpected_eof(kind: &ArchiveErrorKind) -> bool {
    let eof = |error: &io::Error| error.kind() == io::ErrorKind::UnexpectedEof;
    match kind {
        ArchiveErrorKind::Tar(error) => eof(error),
        ArchiveErrorKind::Storage(StorageError::Io { error, .. }) => eof(error),
        ArchiveErrorKind::Manifest(ManifestError::Malformed { error, .. }) => {
            matches!(&**error, bincode::ErrorKind::Io(error) if eof(error))
        }
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryRole {
    Version,
    Directory,
    StatusCache,
    Manifest { slot: Slot },
    Storage { slot: Slot, id: u64 },
}

fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Agave's whitelist: `version`, `accounts/`, `accounts/<slot>.<id>`, `snapshots/`,
/// `snapshots/status_cache`, `snapshots/<slot>/`, `snapshots/<slot>/<slot>`.
fn classify(path: &str, entry_type: tar::EntryType) -> Option<EntryRole> {
    let is_file = entry_type.is_file();
    if entry_type.is_dir() {
        let path = path.strip_suffix('/').unwrap_or(path);
        return match path.split_once('/') {
            None if path == "accounts" || path == "snapshots" => Some(EntryRole::Directory),
            Some(("snapshots", slot)) if parse_digits(slot).is_some() => Some(EntryRole::Directory),
            _ => None,
        };
    }
    match path.split('/').collect::<Vec<_>>().as_slice() {
        ["version"] if is_file => Some(EntryRole::Version),
        ["snapshots", "status_cache"] if is_file => Some(EntryRole::StatusCache),
        ["snapshots", dir, file] if is_file => {
            let slot = parse_digits(dir)?;
            (parse_digits(file)? == slot).then_some(EntryRole::Manifest { slot })
        }
        ["accounts", file] if is_file || entry_type.is_gnu_sparse() => {
            let (slot, id) = file.split_once('.')?;
            Some(EntryRole::Storage {
                slot: parse_digits(slot)?,
                id: parse_digits(id)?,
            })
        }
        _ => None,
    }
}

struct ArchiveWalk<'a> {
    path: &'a Path,
    name: ArchiveName,
    limits: &'a ArchiveLimits,
    entries: u64,
    total_size: u64,
    version_seen: bool,
    manifest: Option<SnapshotManifest>,
    manifest_lengths: HashMap<(Slot, u64), u64>,
    /// Storages walked, with the entry length they had.
    storages_seen: HashMap<(Slot, u64), u64>,
    stored_accounts: u64,
    tar_bytes: u64,
}

/// The last entry the walk saw: its path, header offset, and where its data (padded to the
/// 512-byte block) ends in the decompressed stream.
struct PreviousEntry {
    path: String,
    header_at: u64,
    data_end: u64,
}

const TAR_BLOCK: u64 = 512;

impl<'a> ArchiveWalk<'a> {
    fn new(path: &'a Path, name: ArchiveName, limits: &'a ArchiveLimits) -> Self {
        Self {
            path,
            name,
            limits,
            entries: 0,
            total_size: 0,
            version_seen: false,
            manifest: None,
            manifest_lengths: HashMap::new(),
            storages_seen: HashMap::new(),
            stored_accounts: 0,
            tar_bytes: 0,
        }
    }

    fn error(&self, location: ErrorLocation, kind: ArchiveErrorKind) -> ArchiveError {
        ArchiveError {
            path: self.path.to_path_buf(),
            location,
            kind,
        }
    }

    fn in_entry(
        &self,
        path: &str,
        header_at: u64,
        offset: Option<u64>,
        kind: ArchiveErrorKind,
    ) -> ArchiveError {
        self.error(
            ErrorLocation::Entry {
                path: path.to_string(),
                header_at,
                offset,
            },
            kind,
        )
    }

    fn slot_range(&self) -> (Slot, Slot) {
        match self.name.kind {
            ArchiveKind::Full => (0, self.name.slot),
            ArchiveKind::Incremental { base_slot } => (base_slot + 1, self.name.slot),
        }
    }

    /// Where a failure to produce the next entry happened: still inside the previous entry's
    /// data (which tar skips when we did not read it), or at the next header.
    fn next_header_location(
        &self,
        previous: Option<&PreviousEntry>,
        consumed: u64,
    ) -> ErrorLocation {
        match previous {
            Some(previous) if consumed < previous.data_end => ErrorLocation::Entry {
                path: previous.path.clone(),
                header_at: previous.header_at,
                offset: Some(consumed.saturating_sub(previous.header_at + TAR_BLOCK)),
            },
            Some(previous) => ErrorLocation::Header {
                at: previous.data_end,
                after: Some(previous.path.clone()),
            },
            None => ErrorLocation::Header { at: 0, after: None },
        }
    }

    fn run(
        &mut self,
        stream: impl Read,
        visitor: &mut impl ArchiveVisitor,
    ) -> Result<(), ArchiveError> {
        let consumed = Rc::new(Cell::new(0u64));
        let counted = CountingRead {
            inner: stream,
            count: consumed.clone(),
        };
        let mut archive = tar::Archive::new(counted);
        // Raw mode hands us GNU long-name and pax headers as entries, so they are rejected by
        // the whitelist instead of being buffered whole by the tar crate.
        let mut entries = archive
            .entries()
            .map_err(|error| {
                self.error(
                    self.next_header_location(None, 0),
                    ArchiveErrorKind::Tar(error),
                )
            })?
            .raw(true);
        let mut previous: Option<PreviousEntry> = None;
        loop {
            let next = entries.next();
            let Some(entry) = next else { break };
            let mut entry = entry.map_err(|error| {
                self.error(
                    self.next_header_location(previous.as_ref(), consumed.get()),
                    ArchiveErrorKind::Tar(error),
                )
            })?;
            self.entries += 1;
            let position = entry.raw_header_position();
            let entry_type = entry.header().entry_type();
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let size = entry.size();
            previous = Some(PreviousEntry {
                path: path.clone(),
                header_at: position,
                data_end: (position + TAR_BLOCK).saturating_add(size.next_multiple_of(TAR_BLOCK)),
            });
            if self.entries > self.limits.max_entries {
                return Err(self.in_entry(
                    &path,
                    position,
                    None,
                    ArchiveErrorKind::TooManyEntries(self.limits.max_entries),
                ));
            }
            self.total_size = self.total_size.saturating_add(size);
            if self.total_size > self.limits.max_total_size {
                return Err(self.in_entry(
                    &path,
                    position,
                    None,
                    ArchiveErrorKind::TooLarge(self.limits.max_total_size),
                ));
            }
            let role = classify(&path, entry_type).ok_or_else(|| {
                self.in_entry(
                    &path,
                    position,
                    None,
                    ArchiveErrorKind::UnexpectedEntry {
                        path: path.clone(),
                        entry_type: format!("{entry_type:?}"),
                    },
                )
            })?;
            self.visit_entry(role, &path, position, size, &mut entry, visitor)?;
        }
        self.tar_bytes = consumed.get();
        Ok(())
    }

    fn visit_entry(
        &mut self,
        role: EntryRole,
        path: &str,
        position: u64,
        size: u64,
        entry: &mut impl Read,
        visitor: &mut impl ArchiveVisitor,
    ) -> Result<(), ArchiveError> {
        let at = |walk: &Self, kind| walk.in_entry(path, position, None, kind);
        let check_size = |walk: &Self, limit: u64| {
            if size > limit {
                Err(at(walk, ArchiveErrorKind::EntryTooLarge { size, limit }))
            } else {
                Ok(())
            }
        };
        match role {
            EntryRole::Directory | EntryRole::StatusCache => {
                check_size(self, self.limits.max_status_cache_size)?;
            }
            EntryRole::Version => {
                if self.version_seen {
                    return Err(at(self, ArchiveErrorKind::DuplicateEntry(path.into())));
                }
                check_size(self, 64)?;
                let mut bytes = Vec::new();
                entry.take(64).read_to_end(&mut bytes).map_err(|error| {
                    let kind = if error.kind() == io::ErrorKind::UnexpectedEof {
                        ArchiveErrorKind::Truncated
                    } else {
                        ArchiveErrorKind::Tar(error)
                    };
                    at(self, kind)
                })?;
                if (bytes.len() as u64) < size {
                    return Err(at(self, ArchiveErrorKind::Truncated));
                }
                let text = String::from_utf8_lossy(&bytes);
                let version = text.trim();
                let version = version.strip_prefix(['v', 'V']).unwrap_or(version);
                if version != SNAPSHOT_VERSION {
                    return Err(at(self, ArchiveErrorKind::Version(text.trim().to_string())));
                }
                self.version_seen = true;
            }
            EntryRole::Manifest { slot } => {
                if self.manifest.is_some() {
                    return Err(at(self, ArchiveErrorKind::DuplicateEntry(path.into())));
                }
                if slot != self.name.slot {
                    return Err(at(
                        self,
                        ArchiveErrorKind::ManifestSlot {
                            expected: self.name.slot,
                            found: slot,
                        },
                    ));
                }
                check_size(self, self.limits.max_manifest_size)?;
                let manifest = SnapshotManifest::read_from(&mut *entry, size).map_err(|error| {
                    let offset = match &error {
                        ManifestError::Malformed { position, .. } => Some(*position),
                        _ => None,
                    };
                    self.in_entry(path, position, offset, error.into())
                })?;
                if manifest.slot != self.name.slot {
                    return Err(at(
                        self,
                        ArchiveErrorKind::ManifestSlot {
                            expected: self.name.slot,
                            found: manifest.slot,
                        },
                    ));
                }
                self.accept_manifest(manifest, path, position)?;
                visitor
                    .manifest(self.manifest.as_ref().expect("just set"))
                    .map_err(|kind| at(self, kind))?;
            }
            EntryRole::Storage { slot, id } => {
                let (low, high) = self.slot_range();
                if slot < low || slot > high {
                    return Err(at(
                        self,
                        ArchiveErrorKind::StorageSlot {
                            slot,
                            range: format!("{low}..={high}"),
                        },
                    ));
                }
                check_size(self, self.limits.max_storage_size)?;
                if self.storages_seen.insert((slot, id), size).is_some() {
                    return Err(at(self, ArchiveErrorKind::DuplicateEntry(path.into())));
                }
                let valid_len = match &self.manifest {
                    Some(_) => {
                        let manifest_len =
                            *self.manifest_lengths.get(&(slot, id)).ok_or_else(|| {
                                at(self, ArchiveErrorKind::UnlistedStorage { slot, id })
                            })?;
                        if manifest_len > size {
                            return Err(at(
                                self,
                                ArchiveErrorKind::StorageLength {
                                    slot,
                                    id,
                                    manifest_len,
                                    entry_len: size,
                                },
                            ));
                        }
                        manifest_len
                    }
                    // Agave writes the manifest first; if not, walk the entry as a 3.0+ archive
                    // (entry length = valid length) and check against the manifest later.
                    None => size,
                };
                let mut walker = StorageWalker::new(&mut *entry, valid_len);
                loop {
                    let account = match walker.next_account() {
                        Ok(Some(account)) => account,
                        Ok(None) => break,
                        Err(error) => {
                            return Err(self.in_entry(
                                path,
                                position,
                                Some(error.offset()),
                                error.into(),
                            ));
                        }
                    };
                    self.stored_accounts += 1;
                    visitor.account(slot, &account).map_err(|kind| {
                        self.in_entry(path, position, Some(account.offset), kind)
                    })?;
                }
            }
        }
        Ok(())
    }

    fn accept_manifest(
        &mut self,
        manifest: SnapshotManifest,
        path: &str,
        position: u64,
    ) -> Result<(), ArchiveError> {
        let at = |walk: &Self, kind| walk.in_entry(path, position, None, kind);
        let mut lengths = HashMap::with_capacity(manifest.storages.len());
        for StorageEntry { slot, id, len } in &manifest.storages {
            if lengths.insert((*slot, *id), *len).is_some() {
                return Err(at(
                    self,
                    ArchiveErrorKind::Manifest(ManifestError::Inconsistent(format!(
                        "storage {slot}.{id} listed twice"
                    ))),
                ));
            }
        }
        // Storages that came before the manifest were walked at their entry length.
        for (&(slot, id), &entry_len) in &self.storages_seen {
            match lengths.get(&(slot, id)) {
                None => {
                    return Err(at(self, ArchiveErrorKind::UnlistedStorage { slot, id }));
                }
                Some(&manifest_len) if manifest_len != entry_len => {
                    return Err(at(
                        self,
                        ArchiveErrorKind::StorageLength {
                            slot,
                            id,
                            manifest_len,
                            entry_len,
                        },
                    ));
                }
                Some(_) => {}
            }
        }
        self.manifest_lengths = lengths;
        self.manifest = Some(manifest);
        Ok(())
    }

    fn finish(&mut self) -> Result<ArchiveContents, ArchiveError> {
        if !self.version_seen {
            return Err(self.error(
                ErrorLocation::Archive,
                ArchiveErrorKind::Missing("the `version` file".into()),
            ));
        }
        let Some(manifest) = &self.manifest else {
            return Err(self.error(
                ErrorLocation::Archive,
                ArchiveErrorKind::Missing(format!(
                    "the manifest `snapshots/{0}/{0}`",
                    self.name.slot
                )),
            ));
        };
        let seen: HashSet<_> = self.storages_seen.keys().copied().collect();
        if let Some(missing) = manifest
            .storages
            .iter()
            .find(|entry| !seen.contains(&(entry.slot, entry.id)))
        {
            return Err(self.error(
                ErrorLocation::Archive,
                ArchiveErrorKind::Missing(format!(
                    "storage `accounts/{}.{}` listed in the manifest",
                    missing.slot, missing.id
                )),
            ));
        }
        Ok(ArchiveContents {
            name: self.name,
            manifest: self.manifest.take().expect("checked above"),
            storages: self.storages_seen.len() as u64,
            stored_accounts: self.stored_accounts,
            tar_bytes: self.tar_bytes,
        })
    }
}

/// Counts the bytes of the decompressed stream tar has consumed.
struct CountingRead<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for CountingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count.set(self.count.get() + read as u64);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitelist_matches_agave() {
        use tar::EntryType::{Directory as D, Regular as R, Symlink as L};
        assert_eq!(classify("version", R), Some(EntryRole::Version));
        assert_eq!(classify("accounts/", D), Some(EntryRole::Directory));
        assert_eq!(classify("snapshots/12/", D), Some(EntryRole::Directory));
        assert_eq!(
            classify("snapshots/status_cache", R),
            Some(EntryRole::StatusCache)
        );
        assert_eq!(
            classify("snapshots/12/12", R),
            Some(EntryRole::Manifest { slot: 12 })
        );
        assert_eq!(
            classify("accounts/12.3", R),
            Some(EntryRole::Storage { slot: 12, id: 3 })
        );
        for (path, kind) in [
            ("version", D),
            ("accounts/12.3", L),
            ("accounts/../12.3", R),
            ("/version", R),
            ("accounts/12", R),
            ("accounts/12.3.4", R),
            ("accounts/-1.3", R),
            ("snapshots/12/13", R),
            ("snapshots/x/x", R),
            ("snapshots/12/12/12", R),
            ("other", R),
            ("accounts/99999999999999999999999.1", R),
        ] {
            assert_eq!(classify(path, kind), None, "{path} {kind:?}");
        }
    }
}
