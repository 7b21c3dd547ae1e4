//! Writes archives in Agave's format: `version`, `snapshots/status_cache`, the manifest, then one
//! storage per slot; tar compressed with zstd or lz4; named after blake3 of the lattice hash.
//!
//! Storages are staged in temporary files beside the output so that the manifest, which lists
//! their lengths, can come first as Agave writes it. The archive appears under its final name
//! only when complete (written as `tmp-<name>`, then renamed).

use {
    super::{
        chain::AccountRecord,
        lt_hash::{LtHash, account_lt_hash, lt_hash_checksum},
        manifest::{SnapshotManifest, StorageEntry},
        name::{ArchiveFormat, ArchiveKind, ArchiveName, Slot},
        reader::SNAPSHOT_VERSION,
        storage::write_entry,
    },
    std::{
        collections::BTreeMap,
        fs::File,
        io::{self, BufWriter, Read, Seek, Write},
        path::{Path, PathBuf},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: {error}", .path.display())]
    Io { path: PathBuf, error: io::Error },
    #[error("account slot {slot} is outside the archive's range {range}")]
    SlotOutOfRange { slot: Slot, range: String },
    #[error("manifest slot {manifest} differs from archive slot {archive}")]
    ManifestSlot { manifest: Slot, archive: Slot },
}

#[derive(Debug)]
struct StagedStorage {
    writer: BufWriter<File>,
    path: tempfile::TempPath,
    buffer: Vec<u8>,
    len: u64,
}

/// Builds one archive.
#[derive(Debug)]
pub struct ArchiveWriter {
    dir: PathBuf,
    kind: ArchiveKind,
    slot: Slot,
    format: ArchiveFormat,
    zstd_level: i32,
    storages: BTreeMap<Slot, StagedStorage>,
    added_lt_hash: LtHash,
    accounts: u64,
    status_cache_roots: Vec<Slot>,
}

impl ArchiveWriter {
    /// An archive of `kind` at `slot` to be written into `dir`.
    pub fn new(dir: &Path, kind: ArchiveKind, slot: Slot, format: ArchiveFormat) -> Self {
        Self {
            dir: dir.to_path_buf(),
            kind,
            slot,
            format,
            zstd_level: 1,
            storages: BTreeMap::new(),
            added_lt_hash: LtHash::identity(),
            accounts: 0,
            status_cache_roots: Vec::new(),
        }
    }

    /// Roots the status cache lists (each with no transaction statuses); Agave requires the
    /// newest 300 roots of the bank's SlotHistory there. Default: none.
    pub fn with_status_cache_roots(mut self, roots: Vec<Slot>) -> Self {
        self.status_cache_roots = roots;
        self
    }

    pub fn with_zstd_level(mut self, level: i32) -> Self {
        self.zstd_level = level;
        self
    }

    fn io_error(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
        move |error| WriteError::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    /// Appends a version of an account to the storage of `account.slot`. A zero-lamport record
    /// is written as Agave writes a tombstone: the default account.
    pub fn push(&mut self, account: &AccountRecord<'_>) -> Result<(), WriteError> {
        let (low, high) = match self.kind {
            ArchiveKind::Full => (0, self.slot),
            ArchiveKind::Incremental { base_slot } => (base_slot + 1, self.slot),
        };
        if account.slot < low || account.slot > high {
            return Err(WriteError::SlotOutOfRange {
                slot: account.slot,
                range: format!("{low}..={high}"),
            });
        }
        if !self.storages.contains_key(&account.slot) {
            let file = tempfile::Builder::new()
                .prefix("tmp-storage-")
                .tempfile_in(&self.dir)
                .map_err(Self::io_error(&self.dir))?;
            let (file, path) = file.into_parts();
            self.storages.insert(
                account.slot,
                StagedStorage {
                    writer: BufWriter::with_capacity(1 << 20, file),
                    path,
                    buffer: Vec::new(),
                    len: 0,
                },
            );
        }
        let storage = self
            .storages
            .get_mut(&account.slot)
            .expect("inserted above");
        let buffer = &mut storage.buffer;
        buffer.clear();
        // Entries are 8-byte aligned relative to the storage start; the previous entry is not
        // padded until another one follows it.
        let padding = (storage.len.next_multiple_of(8) - storage.len) as usize;
        storage
            .writer
            .write_all(&[0u8; 8][..padding])
            .map_err(Self::io_error(&storage.path))?;
        storage.len += padding as u64;
        let deleted = account.lamports == 0;
        let empty = solana_pubkey::Pubkey::default();
        write_entry(
            buffer,
            0,
            &account.pubkey,
            account.lamports,
            if deleted { 0 } else { account.rent_epoch },
            if deleted { &empty } else { &account.owner },
            !deleted && account.executable,
            if deleted { &[] } else { account.data },
        );
        storage
            .writer
            .write_all(buffer)
            .map_err(Self::io_error(&storage.path))?;
        storage.len += buffer.len() as u64;
        if !deleted {
            self.added_lt_hash.mix_in(&account_lt_hash(
                &account.pubkey,
                account.lamports,
                account.data,
                account.executable,
                &account.owner,
            ));
        }
        self.accounts += 1;
        Ok(())
    }

    /// The lattice hash of the live versions pushed so far: the state hash of a full archive
    /// written with one version per account.
    pub fn pushed_lt_hash(&self) -> &LtHash {
        &self.added_lt_hash
    }

    pub fn pushed_accounts(&self) -> u64 {
        self.accounts
    }

    /// Writes the archive and returns its path. `state_lt_hash` is the lattice hash of the whole
    /// state at the archive's slot; it names the archive and goes into the manifest, whose
    /// storage list is filled in here.
    pub fn finish(
        self,
        mut manifest: SnapshotManifest,
        state_lt_hash: &LtHash,
    ) -> Result<PathBuf, WriteError> {
        if manifest.slot != self.slot {
            return Err(WriteError::ManifestSlot {
                manifest: manifest.slot,
                archive: self.slot,
            });
        }
        let hash = lt_hash_checksum(state_lt_hash);
        let name = ArchiveName {
            kind: self.kind,
            slot: self.slot,
            hash,
            format: self.format,
        };
        let final_path = self.dir.join(name.to_string());
        let temp_path = self.dir.join(format!("tmp-{name}"));

        let mut storages = Vec::with_capacity(self.storages.len());
        for (slot, mut storage) in self.storages {
            storage
                .writer
                .flush()
                .map_err(Self::io_error(&storage.path))?;
            let file = storage
                .writer
                .into_inner()
                .map_err(|error| WriteError::Io {
                    path: storage.path.to_path_buf(),
                    error: error.into_error(),
                })?;
            storages.push((
                StorageEntry {
                    slot,
                    id: slot,
                    len: storage.len,
                },
                file,
                storage.path,
            ));
        }
        manifest.storages = storages.iter().map(|(entry, _, _)| *entry).collect();
        manifest.accounts_lt_hash = Some(state_lt_hash.clone());
        let manifest_bytes = manifest.to_bytes();
        let status_cache = status_cache_bytes(&self.status_cache_roots);

        let output = File::create(&temp_path).map_err(Self::io_error(&temp_path))?;
        let output = BufWriter::with_capacity(1 << 20, output);
        let result = match self.format {
            ArchiveFormat::TarZstd => {
                let encoder = zstd::stream::write::Encoder::new(output, self.zstd_level)
                    .map_err(Self::io_error(&temp_path))?;
                write_tar(
                    encoder,
                    self.slot,
                    &manifest_bytes,
                    &status_cache,
                    &mut storages,
                )
                .and_then(|encoder| encoder.finish())
                .and_then(|mut output| output.flush())
            }
            ArchiveFormat::TarLz4 => {
                let encoder = lz4_flex::frame::FrameEncoder::new(output);
                write_tar(
                    encoder,
                    self.slot,
                    &manifest_bytes,
                    &status_cache,
                    &mut storages,
                )
                .and_then(|encoder| encoder.finish().map_err(io::Error::other))
                .and_then(|mut output| output.flush())
            }
            unsupported => Err(io::Error::other(format!(
                "cannot write .{unsupported} archives"
            ))),
        };
        if let Err(error) = result.and_then(|()| std::fs::rename(&temp_path, &final_path)) {
            let _ = std::fs::remove_file(&temp_path);
            return Err(WriteError::Io {
                path: temp_path,
                error,
            });
        }
        Ok(final_path)
    }
}

fn header(path: &str, size: u64, entry_type: tar::EntryType) -> io::Result<tar::Header> {
    let mut header = tar::Header::new_gnu();
    header.set_path(path)?;
    header.set_size(size);
    header.set_entry_type(entry_type);
    header.set_mode(if entry_type.is_dir() { 0o755 } else { 0o644 });
    header.set_mtime(0);
    header.set_cksum();
    Ok(header)
}

/// Agave's status cache (`Vec<(Slot, is_root, statuses)>`): each root with no statuses.
fn status_cache_bytes(roots: &[Slot]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + roots.len() * 17);
    bytes.extend_from_slice(&(roots.len() as u64).to_le_bytes());
    for root in roots {
        bytes.extend_from_slice(&root.to_le_bytes());
        bytes.push(1);
        bytes.extend_from_slice(&0u64.to_le_bytes());
    }
    bytes
}

fn write_tar<W: Write>(
    output: W,
    slot: Slot,
    manifest: &[u8],
    status_cache: &[u8],
    storages: &mut [(StorageEntry, File, tempfile::TempPath)],
) -> io::Result<W> {
    let mut builder = tar::Builder::new(output);
    let mut append = |path: &str, size: u64, entry_type, data: &mut dyn Read| {
        let header = header(path, size, entry_type)?;
        builder.append(&header, data)
    };
    append(
        "version",
        SNAPSHOT_VERSION.len() as u64,
        tar::EntryType::Regular,
        &mut SNAPSHOT_VERSION.as_bytes(),
    )?;
    append("snapshots/", 0, tar::EntryType::Directory, &mut io::empty())?;
    append(
        "snapshots/status_cache",
        status_cache.len() as u64,
        tar::EntryType::Regular,
        &mut &status_cache[..],
    )?;
    append(
        &format!("snapshots/{slot}/"),
        0,
        tar::EntryType::Directory,
        &mut io::empty(),
    )?;
    append(
        &format!("snapshots/{slot}/{slot}"),
        manifest.len() as u64,
        tar::EntryType::Regular,
        &mut &manifest[..],
    )?;
    for (entry, file, _) in storages.iter_mut() {
        file.rewind()?;
        append(
            &format!("accounts/{}.{}", entry.slot, entry.id),
            entry.len,
            tar::EntryType::Regular,
            &mut *file,
        )?;
    }
    builder.into_inner()
}
