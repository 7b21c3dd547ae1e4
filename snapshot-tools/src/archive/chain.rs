//! A snapshot chain (a full archive and optionally an incremental on top of it) read into the
//! merged account state: highest slot wins, a zero-lamport winner is a deletion.
//!
//! One thread decompresses and walks the archives; the calling thread hashes every version into
//! the lattice hash and feeds an external sort keyed by (pubkey, slot descending). The merge then
//! yields each pubkey's winner in pubkey order, and superseded live versions are mixed back out
//! of the lattice hash, so the result is the hash of the final state with bounded memory.

use {
    super::{
        check::{ManifestCheckError, check_capitalization},
        lt_hash::{LtHash, account_lt_hash, lt_hash_checksum},
        manifest::SnapshotManifest,
        name::{ArchiveKind, ArchiveName, NameError, Slot},
        reader::{
            ArchiveContents, ArchiveError, ArchiveErrorKind, ArchiveLimits, ArchiveVisitor,
            read_archive_counted,
        },
        storage::StoredAccount,
    },
    crate::sort::ExternalSorter,
    solana_hash::Hash,
    solana_pubkey::Pubkey,
    std::{
        io,
        path::{Path, PathBuf},
        sync::{
            Arc,
            atomic::{AtomicU64, Ordering},
            mpsc,
        },
    },
};

/// A full archive and an optional incremental whose base is the full's slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotChain {
    pub full: PathBuf,
    pub full_name: ArchiveName,
    pub incremental: Option<(PathBuf, ArchiveName)>,
}

impl SnapshotChain {
    pub fn new(full: &Path, incremental: Option<&Path>) -> Result<Self, ChainError> {
        let full_name = ArchiveName::from_path(full).map_err(|error| ChainError::Name {
            path: full.to_path_buf(),
            error,
        })?;
        if !full_name.is_full() {
            return Err(ChainError::Chain(format!(
                "{} is not a full snapshot archive",
                full.display()
            )));
        }
        let incremental = match incremental {
            None => None,
            Some(path) => {
                let name = ArchiveName::from_path(path).map_err(|error| ChainError::Name {
                    path: path.to_path_buf(),
                    error,
                })?;
                match name.kind {
                    ArchiveKind::Full => {
                        return Err(ChainError::Chain(format!(
                            "{} is not an incremental snapshot archive",
                            path.display()
                        )));
                    }
                    ArchiveKind::Incremental { base_slot } if base_slot != full_name.slot => {
                        return Err(ChainError::Chain(format!(
                            "incremental {} has base slot {base_slot}, but the full snapshot is at slot {}",
                            path.display(),
                            full_name.slot
                        )));
                    }
                    ArchiveKind::Incremental { .. } => Some((path.to_path_buf(), name)),
                }
            }
        };
        Ok(Self {
            full: full.to_path_buf(),
            full_name,
            incremental,
        })
    }

    /// Parses a list of one or two archive paths in either order.
    pub fn from_paths(paths: &[PathBuf]) -> Result<Self, ChainError> {
        let mut fulls = Vec::new();
        let mut incrementals = Vec::new();
        for path in paths {
            let name = ArchiveName::from_path(path).map_err(|error| ChainError::Name {
                path: path.clone(),
                error,
            })?;
            if name.is_full() {
                fulls.push(path)
            } else {
                incrementals.push(path)
            }
        }
        match (fulls.as_slice(), incrementals.as_slice()) {
            ([full], []) => Self::new(full, None),
            ([full], [incremental]) => Self::new(full, Some(incremental)),
            _ => Err(ChainError::Chain(
                "expected one full snapshot archive and at most one incremental".to_string(),
            )),
        }
    }

    /// The name of the newest archive: the incremental if there is one.
    pub fn head(&self) -> &ArchiveName {
        self.incremental
            .as_ref()
            .map_or(&self.full_name, |(_, name)| name)
    }

    pub fn paths(&self) -> Vec<&Path> {
        let mut paths = vec![self.full.as_path()];
        paths.extend(self.incremental.as_ref().map(|(path, _)| path.as_path()));
        paths
    }
}

#[derive(Debug, Clone)]
pub struct ChainOptions {
    /// Where run files of the external sort go.
    pub temp_dir: PathBuf,
    /// Memory for sort runs, in bytes.
    pub sort_memory: usize,
    pub limits: ArchiveLimits,
    /// Counts stored versions as they are read, for progress reporting from another thread.
    pub versions_read: Arc<AtomicU64>,
    /// Counts archive (compressed) bytes read, for progress reporting against the archives'
    /// sizes.
    pub bytes_read: Arc<AtomicU64>,
    /// Fail as soon as the head archive's manifest is read if it fails
    /// [`SnapshotManifest::validate`] (Agave's load checks that need only the manifest), before
    /// any of its accounts. The capitalization check needs every account:
    /// [`ChainSummary::check_manifest`].
    pub validate_manifest: bool,
}

impl ChainOptions {
    pub fn new(temp_dir: &Path) -> Self {
        Self {
            temp_dir: temp_dir.to_path_buf(),
            sort_memory: DEFAULT_SORT_MEMORY,
            limits: ArchiveLimits::default(),
            versions_read: Arc::default(),
            bytes_read: Arc::default(),
            validate_manifest: true,
        }
    }
}

/// Sized so that a 5 M account load stays well under 2 GiB resident.
pub const DEFAULT_SORT_MEMORY: usize = 512 << 20;

/// One live account of the merged state.
#[derive(Debug, Clone, Copy)]
pub struct AccountRecord<'a> {
    pub pubkey: Pubkey,
    /// The slot the winning version was written in.
    pub slot: Slot,
    pub lamports: u64,
    pub rent_epoch: u64,
    pub owner: Pubkey,
    pub executable: bool,
    pub data: &'a [u8],
}

#[derive(Debug, Clone)]
pub struct ChainSummary {
    pub full: ArchiveContents,
    pub incremental: Option<ArchiveContents>,
    /// Storage entries read (every version, tombstones included).
    pub stored_versions: u64,
    pub live_accounts: u64,
    /// Pubkeys whose winning version has zero lamports.
    pub deleted_accounts: u64,
    /// Lamports of the live accounts (saturating; see `lamports_overflowed`).
    pub lamports: u64,
    /// The live accounts hold more than `u64::MAX` lamports (Agave panics on such a snapshot).
    pub lamports_overflowed: bool,
    pub data_bytes: u64,
    pub lt_hash: LtHash,
    pub sort_runs: usize,
}

impl ChainSummary {
    pub fn head(&self) -> &ArchiveContents {
        self.incremental.as_ref().unwrap_or(&self.full)
    }

    pub fn manifest(&self) -> &SnapshotManifest {
        &self.head().manifest
    }

    pub fn lt_hash_checksum(&self) -> Hash {
        lt_hash_checksum(&self.lt_hash)
    }

    /// The checks Agave's loader makes on the head manifest ([`SnapshotManifest::validate`]) and
    /// its capitalization against the lamports of the merged accounts
    /// ([`check_capitalization`]). Independent of [`verify`](Self::verify): a load that skips
    /// the lattice hash still runs these.
    pub fn check_manifest(&self) -> Result<(), ManifestCheckError> {
        let manifest = self.manifest();
        manifest.validate()?;
        if self.lamports_overflowed {
            return Err(ManifestCheckError::Capitalization {
                manifest: manifest.capitalization,
                accounts: u64::MAX,
            });
        }
        check_capitalization(manifest, self.lamports)
    }

    /// Checks the computed lattice hash against the archive name and the manifest.
    pub fn verify(&self) -> Result<(), VerifyError> {
        let computed = self.lt_hash_checksum();
        let head = self.head();
        if computed != head.name.hash {
            return Err(VerifyError::NameMismatch {
                name: head.name.to_string(),
                computed,
            });
        }
        match &head.manifest.accounts_lt_hash {
            None => Err(VerifyError::NoManifestHash {
                name: head.name.to_string(),
            }),
            Some(manifest_hash) if *manifest_hash != self.lt_hash => {
                Err(VerifyError::ManifestMismatch {
                    name: head.name.to_string(),
                    manifest: lt_hash_checksum(manifest_hash),
                    computed,
                })
            }
            Some(_) => Ok(()),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("{name}: the accounts hash to {computed}, not the hash in the file name")]
    NameMismatch { name: String, computed: Hash },
    #[error(
        "{name}: the manifest's lattice hash checksums to {manifest}, the accounts to {computed}"
    )]
    ManifestMismatch {
        name: String,
        manifest: Hash,
        computed: Hash,
    },
    #[error("{name}: the manifest carries no accounts lattice hash (archive older than Agave 3.0)")]
    NoManifestHash { name: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("{}: {error}", .path.display())]
    Name { path: PathBuf, error: NameError },
    #[error("{0}")]
    Chain(String),
    #[error(transparent)]
    Archive(#[from] Box<ArchiveError>),
    #[error("external sort in {}: {error}", .dir.display())]
    Sort { dir: PathBuf, error: io::Error },
    #[error("consumer failed: {0}")]
    Consumer(Box<dyn std::error::Error + Send + Sync>),
}

impl ChainError {
    /// Whether the error says nothing about the archives' content: a file could not be opened
    /// or read, the sort's temporary directory failed, or the consumer stopped. Every other
    /// error means the chain is invalid (names, chain, content).
    pub fn is_io(&self) -> bool {
        match self {
            ChainError::Archive(error) => error.is_io(),
            ChainError::Sort { .. } | ChainError::Consumer(_) => true,
            ChainError::Name { .. } | ChainError::Chain(_) => false,
        }
    }
}

/// Fixed part of a version in a hand-off batch: slot, write_version, pubkey, lamports,
/// rent_epoch, owner, executable, data_len.
const BATCH_HEADER: usize = 8 + 8 + 32 + 8 + 8 + 32 + 1 + 4;
const BATCH_BYTES: usize = 4 << 20;
const BATCHES_IN_FLIGHT: usize = 4;

/// Sort key: pubkey, then slot, write_version and read sequence, each descending, so a
/// pubkey's winner comes first.
const SORT_KEY_LEN: usize = 32 + 8 + 8 + 8;
/// Sort value: lamports, rent_epoch, owner, executable, data.
const SORT_VALUE_HEADER: usize = 8 + 8 + 32 + 1;

/// One version as laid out in a hand-off batch.
struct BatchRecord<'a> {
    slot: Slot,
    write_version: u64,
    pubkey: &'a [u8],
    lamports: u64,
    /// lamports, rent_epoch, owner, executable: the sort value's header.
    meta: &'a [u8],
    owner: Pubkey,
    executable: bool,
    data: &'a [u8],
}

impl BatchRecord<'_> {
    fn lt_hash(&self) -> LtHash {
        account_lt_hash(
            &pubkey_at(self.pubkey, 0),
            self.lamports,
            self.data,
            self.executable,
            &self.owner,
        )
    }
}

/// The versions of a hand-off batch, in order.
fn batch_records(batch: &[u8]) -> impl Iterator<Item = BatchRecord<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= batch.len() {
            return None;
        }
        let data_len =
            u32::from_le_bytes(batch[at + 97..at + 101].try_into().expect("4 bytes")) as usize;
        let record = BatchRecord {
            slot: u64_at(batch, at),
            write_version: u64_at(batch, at + 8),
            pubkey: &batch[at + 16..at + 48],
            lamports: u64_at(batch, at + 48),
            meta: &batch[at + 48..at + 48 + SORT_VALUE_HEADER],
            owner: pubkey_at(batch, at + 64),
            executable: batch[at + 96] == 1,
            data: &batch[at + BATCH_HEADER..at + BATCH_HEADER + data_len],
        };
        at += BATCH_HEADER + data_len;
        Some(record)
    })
}

/// The lattice hash of a batch's live versions.
fn batch_lt_hash(batch: &[u8]) -> LtHash {
    let mut sum = LtHash::identity();
    for record in batch_records(batch).filter(|record| record.lamports != 0) {
        sum.mix_in(&record.lt_hash());
    }
    sum
}

/// A hand-off batch, with the lattice hash of its live versions if the reader computed it.
type HandOff = (Vec<u8>, Option<LtHash>);

struct BatchingVisitor {
    batch: Vec<u8>,
    full: mpsc::SyncSender<HandOff>,
    empty: mpsc::Receiver<Vec<u8>>,
    /// Validate the manifest of the archive being read (the chain's head).
    validate_manifest: bool,
}

impl BatchingVisitor {
    fn flush(&mut self) -> Result<(), ArchiveErrorKind> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH_BYTES));
        let batch = std::mem::replace(&mut self.batch, next);
        let stopped = || ArchiveErrorKind::Consumer("the account consumer stopped".into());
        // Hashing costs more than decompressing and walking. When the consumer is behind, the
        // reader would only wait, so it hashes the batch itself; otherwise the consumer does.
        // Either thread can then be the bottleneck without the other idling.
        match self.full.try_send((batch, None)) {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Full((batch, _))) => {
                let lt_hash = batch_lt_hash(&batch);
                self.full
                    .send((batch, Some(lt_hash)))
                    .map_err(|_| stopped())
            }
            Err(mpsc::TrySendError::Disconnected(_)) => Err(stopped()),
        }
    }
}

impl ArchiveVisitor for BatchingVisitor {
    fn manifest(&mut self, manifest: &SnapshotManifest) -> Result<(), ArchiveErrorKind> {
        if self.validate_manifest {
            manifest.validate()?;
        }
        Ok(())
    }

    fn account(&mut self, slot: Slot, account: &StoredAccount<'_>) -> Result<(), ArchiveErrorKind> {
        let batch = &mut self.batch;
        batch.extend_from_slice(&slot.to_le_bytes());
        batch.extend_from_slice(&account.write_version.to_le_bytes());
        batch.extend_from_slice(account.pubkey.as_ref());
        batch.extend_from_slice(&account.lamports.to_le_bytes());
        batch.extend_from_slice(&account.rent_epoch.to_le_bytes());
        batch.extend_from_slice(account.owner.as_ref());
        batch.push(u8::from(account.executable));
        batch.extend_from_slice(&(account.data.len() as u32).to_le_bytes());
        batch.extend_from_slice(account.data);
        if self.batch.len() >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn pubkey_at(bytes: &[u8], at: usize) -> Pubkey {
    Pubkey::new_from_array(bytes[at..at + 32].try_into().expect("32 bytes"))
}

/// Reads the chain and calls `consumer` with each live account of the merged state, in pubkey
/// order.
pub fn read_chain(
    chain: &SnapshotChain,
    options: &ChainOptions,
    mut consumer: impl FnMut(&AccountRecord<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>>,
) -> Result<ChainSummary, ChainError> {
    let sort_error = |error| ChainError::Sort {
        dir: options.temp_dir.clone(),
        error,
    };
    let mut sorter = ExternalSorter::new(&options.temp_dir, options.sort_memory);
    let mut lt_hash = LtHash::identity();
    let (full_sender, full_receiver) = mpsc::sync_channel::<HandOff>(BATCHES_IN_FLIGHT);
    let (empty_sender, empty_receiver) = mpsc::sync_channel::<Vec<u8>>(BATCHES_IN_FLIGHT);

    let (contents, consumed) = std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("snap-read".into())
            .spawn_scoped(scope, || {
                let mut visitor = BatchingVisitor {
                    batch: Vec::with_capacity(BATCH_BYTES),
                    full: full_sender,
                    empty: empty_receiver,
                    validate_manifest: false,
                };
                let mut contents = Vec::new();
                let paths = chain.paths();
                for (index, path) in paths.iter().enumerate() {
                    // Agave takes the bank from the newest archive and checks only that one.
                    visitor.validate_manifest =
                        options.validate_manifest && index + 1 == paths.len();
                    contents.push(read_archive_counted(
                        path,
                        &options.limits,
                        &mut visitor,
                        Some(options.bytes_read.clone()),
                    )?);
                }
                visitor
                    .flush()
                    .map_err(|kind| ArchiveError::archive(chain.paths()[0], kind))?;
                Ok::<_, ArchiveError>(contents)
            })
            .expect("spawn the archive reader thread");

        let consumed = (|| {
            let mut key = [0u8; SORT_KEY_LEN];
            let mut value = Vec::with_capacity(1 << 16);
            let mut sequence = 0u64;
            for (batch, batch_hash) in full_receiver.iter() {
                match batch_hash {
                    Some(batch_hash) => lt_hash.mix_in(&batch_hash),
                    None => lt_hash.mix_in(&batch_lt_hash(&batch)),
                }
                for record in batch_records(&batch) {
                    key[..32].copy_from_slice(record.pubkey);
                    key[32..40].copy_from_slice(&(!record.slot).to_be_bytes());
                    key[40..48].copy_from_slice(&(!record.write_version).to_be_bytes());
                    key[48..56].copy_from_slice(&(!sequence).to_be_bytes());
                    sequence += 1;
                    value.clear();
                    value.extend_from_slice(record.meta);
                    value.extend_from_slice(record.data);
                    sorter.push(&key, &value).map_err(sort_error)?;
                }
                options.versions_read.store(sequence, Ordering::Relaxed);
                let mut batch = batch;
                batch.clear();
                let _ = empty_sender.try_send(batch);
            }
            Ok::<_, ChainError>(sequence)
        })();
        // Dropping the receiver stops a reader still running after a consumer failure.
        drop(full_receiver);
        let contents = reader.join().expect("archive reader thread panicked");
        (contents, consumed)
    });
    let contents = contents.map_err(Box::new)?;
    let stored_versions = consumed?;
    let sort_runs = sorter.spilled_runs();

    let mut sorted = sorter.finish().map_err(sort_error)?;
    let mut previous: Option<[u8; 32]> = None;
    let (mut live_accounts, mut deleted_accounts, mut lamports_total, mut data_bytes) =
        (0u64, 0u64, 0u64, 0u64);
    let mut lamports_overflowed = false;
    while let Some((key, value)) = sorted.next().map_err(sort_error)? {
        let pubkey_bytes: [u8; 32] = key[..32].try_into().expect("32 bytes");
        let record = AccountRecord {
            pubkey: Pubkey::new_from_array(pubkey_bytes),
            slot: !u64::from_be_bytes(key[32..40].try_into().expect("8 bytes")),
            lamports: u64_at(value, 0),
            rent_epoch: u64_at(value, 8),
            owner: pubkey_at(value, 16),
            executable: value[48] == 1,
            data: &value[SORT_VALUE_HEADER..],
        };
        if previous == Some(pubkey_bytes) {
            // A superseded version: its contribution was mixed in when it was read.
            if record.lamports != 0 {
                lt_hash.mix_out(&account_lt_hash(
                    &record.pubkey,
                    record.lamports,
                    record.data,
                    record.executable,
                    &record.owner,
                ));
            }
            continue;
        }
        previous = Some(pubkey_bytes);
        if record.lamports == 0 {
            deleted_accounts += 1;
            continue;
        }
        live_accounts += 1;
        match lamports_total.checked_add(record.lamports) {
            Some(total) => lamports_total = total,
            None => {
                lamports_total = u64::MAX;
                lamports_overflowed = true;
            }
        }
        data_bytes += record.data.len() as u64;
        consumer(&record).map_err(ChainError::Consumer)?;
    }

    let mut contents = contents.into_iter();
    let full = contents.next().expect("the full archive was read");
    Ok(ChainSummary {
        full,
        incremental: contents.next(),
        stored_versions,
        live_accounts,
        deleted_accounts,
        lamports: lamports_total,
        lamports_overflowed,
        data_bytes,
        lt_hash,
        sort_runs,
    })
}
