//! The accounts store: rooted state in RocksDB with secondary indexes, node metadata, and one
//! atomic write batch per root commit.

mod account;
pub mod bulk;
mod cf;
pub mod check;
pub mod delta_log;
mod index;
mod index_health;
mod meta;
mod view;
pub mod workload;

pub use {
    account::{Account, AccountRef, AccountUpdate, encode_into},
    index::{IndexConfig, IndexEntries, IndexKind, entry_key, is_token_program, token_delegate},
    index_health::{IndexCheck, IndexCounts},
    meta::{BootstrapBank, SCHEMA_VERSION, SlotMeta, SnapshotOrigin},
    snapshot_tools::archive::{BankFields, stakes::EpochStakes},
    view::StoreView,
};
use {
    foldhash::HashMap as FastMap,
    rocksdb::{Cache, ColumnFamily, DB, WriteBatch, WriteOptions},
    snapshot_tools::archive::{
        LtHash,
        lt_hash::{lt_hash_bytes, lt_hash_from_bytes},
        lt_hash_checksum, lt_hash_sum,
    },
    solana_clock::Slot,
    solana_hash::Hash,
    solana_pubkey::Pubkey,
    std::{
        path::{Path, PathBuf},
        sync::{Mutex, RwLock},
    },
};

/// Below this many updates in a slot, hashing on the calling thread is faster than fanning out.
/// Work on at least this many accounts (reads, lattice hashes) is split across both cores.
pub const PARALLEL_HASH_THRESHOLD: usize = 256;

/// About 30 minutes of slots: enough for a new replica to fetch a snapshot, load it and catch up.
pub const DEFAULT_DELTA_LOG_RETENTION_SLOTS: u64 = 4_500;

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub indexes: IndexConfig,
    pub block_cache_bytes: usize,
    pub background_jobs: i32,
    /// fsync the WAL on every commit (survives power loss, not only process kills).
    pub sync_writes: bool,
    /// Rooted slots kept in the delta log for downstream replicas (0 keeps none).
    pub delta_log_retention_slots: u64,
}

/// Rooted slot metadata kept at least this long (the blockhash queue needs 300).
const MIN_SLOT_META_RETENTION: u64 = 1_000;

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            indexes: IndexConfig::default(),
            block_cache_bytes: 256 << 20,
            background_jobs: 2,
            sync_writes: false,
            delta_log_retention_slots: DEFAULT_DELTA_LOG_RETENTION_SLOTS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("RocksDB at {}: {source}", .path.display())]
    Db {
        path: PathBuf,
        source: rocksdb::Error,
    },
    #[error("store at {} has schema version {found}; this build reads version {SCHEMA_VERSION}", .path.display())]
    Schema { path: PathBuf, found: u32 },
    #[error("corrupt {what} in the store at {}", .path.display())]
    Corrupt { path: PathBuf, what: String },
    #[error(
        "slot {slot}: accounts lattice hash after applying is {computed}, upstream says {expected}"
    )]
    LtHashMismatch {
        slot: Slot,
        computed: Hash,
        expected: Hash,
    },
    #[error("slot {slot} cannot be committed on top of root {root}")]
    SlotOrder { slot: Slot, root: Slot },
    #[error("the store at {} holds no bootstrapped state", .path.display())]
    NotBootstrapped { path: PathBuf },
}

/// The rooted state's summary, kept in memory and in the `meta` column family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootState {
    pub slot: Slot,
    pub lt_hash: LtHash,
    pub capitalization: u64,
    pub accounts: u64,
}

impl RootState {
    pub fn lt_hash_checksum(&self) -> Hash {
        lt_hash_checksum(&self.lt_hash)
    }
}

/// A rooted slot to commit: its metadata and final account writes.
#[derive(Debug, Clone)]
pub struct SlotCommit<'a> {
    pub meta: SlotMeta,
    pub updates: &'a [AccountUpdate<'a>],
    /// Checked after applying the slot when the upstream knows it.
    pub expected_lt_hash: Option<Hash>,
    /// Each update's previous version (`None`: absent), in `updates` order, as the caller read
    /// it from the slot's parent bank. Saves the commit from reading them again; the versions
    /// must be those of the chain being committed (the lattice-hash check catches a mismatch).
    pub previous: Option<&'a [Option<Account>]>,
    /// The state's lattice hash after this slot, when the caller computed it from the same
    /// previous versions (the sync path does as the slot enters the overlay, checking it
    /// against the upstream's): the commit then does not hash the accounts again.
    pub lt_hash_after: Option<&'a LtHash>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitStats {
    pub slots: usize,
    pub updates: usize,
    pub index_puts: usize,
    pub index_deletes: usize,
    /// The lattice hash checksum after each committed slot.
    pub lt_hashes: Vec<(Slot, Hash)>,
}

#[derive(Debug)]
pub struct AccountsStore {
    db: DB,
    path: PathBuf,
    config: StoreConfig,
    root: RwLock<Option<RootState>>,
    /// Entries per index family as the meta record holds them (`None`: not known-complete).
    index_counts: Mutex<Option<IndexCounts>>,
    commit_lock: Mutex<()>,
}

fn u64_value(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

impl AccountsStore {
    /// Opens (or creates, empty) the store at `path`.
    pub fn open(path: &Path, config: StoreConfig) -> Result<Self, StoreError> {
        let db_error = |source| StoreError::Db {
            path: path.to_path_buf(),
            source,
        };
        let cache = Cache::new_lru_cache(config.block_cache_bytes);
        let descriptors = cf::ALL
            .iter()
            .map(|name| rocksdb::ColumnFamilyDescriptor::new(*name, cf::cf_options(name, &cache)));
        let db =
            DB::open_cf_descriptors(&cf::db_options(config.background_jobs), path, descriptors)
                .map_err(db_error)?;
        let store = Self {
            db,
            path: path.to_path_buf(),
            config,
            root: RwLock::new(None),
            index_counts: Mutex::new(None),
            commit_lock: Mutex::new(()),
        };
        let meta = store.cf(cf::META);
        match store
            .db
            .get_cf(meta, meta::keys::SCHEMA_VERSION)
            .map_err(db_error)?
        {
            None => store
                .db
                .put_cf(
                    meta,
                    meta::keys::SCHEMA_VERSION,
                    SCHEMA_VERSION.to_le_bytes(),
                )
                .map_err(db_error)?,
            Some(bytes) => {
                let found = bytes
                    .as_slice()
                    .try_into()
                    .map(u32::from_le_bytes)
                    .map_err(|_| store.corrupt("schema version"))?;
                if found == 1 {
                    // Version 1 records still decode; new ones are written in version 2, so
                    // an older build must no longer open this store.
                    store
                        .db
                        .put_cf(
                            meta,
                            meta::keys::SCHEMA_VERSION,
                            SCHEMA_VERSION.to_le_bytes(),
                        )
                        .map_err(db_error)?;
                } else if found != SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        path: path.to_path_buf(),
                        found,
                    });
                }
            }
        }
        let root = store.read_root_state()?;
        *store.root.write().expect("root lock") = root;
        let counts = store.recorded_index_counts()?;
        *store.index_counts.lock().expect("index counts lock") = counts;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    pub(crate) fn db(&self) -> &DB {
        &self.db
    }

    pub(crate) fn cf(&self, name: &str) -> &ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is opened")
    }

    pub(crate) fn db_error(&self) -> impl Fn(rocksdb::Error) -> StoreError + '_ {
        |source| StoreError::Db {
            path: self.path.clone(),
            source,
        }
    }

    pub(crate) fn corrupt(&self, what: &str) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            what: what.to_string(),
        }
    }

    fn meta_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get_cf(self.cf(cf::META), key)
            .map_err(self.db_error())
    }

    fn read_root_state(&self) -> Result<Option<RootState>, StoreError> {
        let Some(slot) = self.meta_get(meta::keys::ROOT_SLOT)? else {
            return Ok(None);
        };
        let u64_of = |key: &[u8], what: &str| -> Result<u64, StoreError> {
            self.meta_get(key)?
                .as_deref()
                .and_then(u64_value)
                .ok_or_else(|| self.corrupt(what))
        };
        Ok(Some(RootState {
            slot: u64_value(&slot).ok_or_else(|| self.corrupt("root slot"))?,
            lt_hash: self
                .meta_get(meta::keys::LT_HASH)?
                .as_deref()
                .and_then(lt_hash_from_bytes)
                .ok_or_else(|| self.corrupt("accounts lattice hash"))?,
            capitalization: u64_of(meta::keys::CAPITALIZATION, "capitalization")?,
            accounts: u64_of(meta::keys::ACCOUNT_COUNT, "account count")?,
        }))
    }

    /// The rooted state, or `None` before bootstrap.
    pub fn root(&self) -> Option<RootState> {
        self.root.read().expect("root lock").clone()
    }

    pub fn root_slot(&self) -> Option<Slot> {
        self.root
            .read()
            .expect("root lock")
            .as_ref()
            .map(|root| root.slot)
    }

    fn meta_bincode<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        self.meta_get(key)?
            .map(|bytes| bincode::deserialize(&bytes).map_err(|_| self.corrupt(what)))
            .transpose()
    }

    pub fn bank_fields(&self) -> Result<Option<BankFields>, StoreError> {
        self.meta_bincode(meta::keys::BANK, "bank information")
    }

    pub fn bootstrap_bank(&self) -> Result<Option<meta::BootstrapBank>, StoreError> {
        self.meta_bincode(meta::keys::BOOTSTRAP_BANK, "bootstrap bank")
    }

    /// The bootstrap snapshot's epoch stakes (empty if the store did not keep them).
    pub fn bootstrap_epoch_stakes(&self) -> Result<Vec<EpochStakes>, StoreError> {
        Ok(self
            .meta_bincode(meta::keys::BOOTSTRAP_EPOCH_STAKES, "bootstrap epoch stakes")?
            .unwrap_or_default())
    }

    pub fn snapshot_origin(&self) -> Result<Option<SnapshotOrigin>, StoreError> {
        self.meta_bincode(meta::keys::SNAPSHOT, "snapshot origin")
    }

    /// The index configuration the indexes were built with.
    pub fn built_index_config(&self) -> Result<Option<IndexConfig>, StoreError> {
        self.meta_bincode(meta::keys::INDEX_CONFIG, "index configuration")
    }

    pub fn slot_meta(&self, slot: Slot) -> Result<Option<SlotMeta>, StoreError> {
        self.db
            .get_cf(self.cf(cf::SLOTS), meta::slot_key(slot))
            .map_err(self.db_error())?
            .map(|bytes| {
                meta::decode_versioned::<SlotMeta, meta::SlotMetaV1>(&bytes)
                    .ok_or_else(|| self.corrupt("slot metadata"))
            })
            .transpose()
    }

    /// Up to `limit` rooted slots, newest first.
    pub fn recent_slots(&self, limit: usize) -> Result<Vec<SlotMeta>, StoreError> {
        let mut slots = Vec::new();
        let mut iterator = self.db.raw_iterator_cf(self.cf(cf::SLOTS));
        iterator.seek_to_last();
        while iterator.valid() && slots.len() < limit {
            let value = iterator.value().expect("valid iterator has a value");
            slots.push(
                meta::decode_versioned::<SlotMeta, meta::SlotMetaV1>(value)
                    .ok_or_else(|| self.corrupt("slot metadata"))?,
            );
            iterator.prev();
        }
        iterator.status().map_err(self.db_error())?;
        Ok(slots)
    }

    /// A consistent read view of the rooted state.
    pub fn view(&self) -> StoreView<'_> {
        StoreView::new(self)
    }

    fn write_options(&self) -> WriteOptions {
        let mut options = WriteOptions::default();
        options.set_sync(self.config.sync_writes);
        options
    }

    /// Applies rooted slots, in order, in one atomic write batch: accounts, index entries that
    /// changed, slot metadata, and the root summary. Nothing is written if any slot fails its
    /// lattice-hash check.
    pub fn commit(&self, slots: &[SlotCommit<'_>]) -> Result<CommitStats, StoreError> {
        let _guard = self.commit_lock.lock().expect("commit lock");
        let mut index_counts = *self.index_counts.lock().expect("index counts lock");
        let mut root = self.root().ok_or_else(|| StoreError::NotBootstrapped {
            path: self.path.clone(),
        })?;
        let accounts_cf = self.cf(cf::ACCOUNTS);
        // Room for the accounts and the delta log up front: growing the batch copies it again
        // and again.
        let batch_bytes: usize = slots
            .iter()
            .flat_map(|commit| commit.updates)
            .map(|update| 2 * update.data.len() + 160)
            .sum();
        let mut batch = WriteBatch::with_capacity_bytes(batch_bytes);
        let mut stats = CommitStats::default();
        // Versions written earlier in this batch (None = deleted), which shadow the store.
        let mut written: FastMap<Pubkey, Option<Version<'_>>> = FastMap::default();
        let mut final_writes: FastMap<Pubkey, FinalWrite<'_>> = FastMap::default();
        let mut value = Vec::new();
        for commit in slots {
            let slot = commit.meta.slot;
            if slot <= root.slot {
                return Err(StoreError::SlotOrder {
                    slot,
                    root: root.slot,
                });
            }
            let updates = commit.updates;
            let known_previous = commit
                .previous
                .filter(|previous| previous.len() == updates.len());
            let unseen: Vec<&Pubkey> = if known_previous.is_some() {
                Vec::new()
            } else {
                updates
                    .iter()
                    .map(|update| &update.pubkey)
                    .filter(|pubkey| !written.contains_key(pubkey))
                    .collect()
            };
            // Reading the previous versions is most of a commit's latency; both halves run at once.
            let read = |pubkeys: &[&Pubkey]| {
                self.db.batched_multi_get_cf(
                    accounts_cf,
                    pubkeys.iter().map(|pubkey| pubkey.as_ref()),
                    false,
                )
            };
            let stored = if unseen.len() >= PARALLEL_HASH_THRESHOLD {
                let (first, second) = unseen.split_at(unseen.len() / 2);
                let (mut first, second) = rayon::join(|| read(first), || read(second));
                first.extend(second);
                first
            } else {
                read(&unseen)
            };
            let mut previous: FastMap<&Pubkey, Option<rocksdb::DBPinnableSlice<'_>>> =
                FastMap::with_capacity_and_hasher(unseen.len(), Default::default());
            for (pubkey, result) in unseen.into_iter().zip(stored) {
                previous.insert(pubkey, result.map_err(self.db_error())?);
            }
            // Each update's version before this slot: written earlier in this batch, given by
            // the caller, or read from the store.
            let mut before_slot: Vec<Option<Version<'_>>> = Vec::with_capacity(updates.len());
            for (index, update) in updates.iter().enumerate() {
                let version = match (written.get(&update.pubkey), known_previous) {
                    (Some(version), _) => *version,
                    (None, Some(known)) => known[index].as_ref().map(Version::from),
                    (None, None) => match previous
                        .get(&update.pubkey)
                        .and_then(|slice| slice.as_deref())
                    {
                        Some(bytes) => Some(Version::from(
                            AccountRef::decode(bytes)
                                .ok_or_else(|| self.corrupt("account record"))?,
                        )),
                        None => None,
                    },
                };
                before_slot.push(version);
            }
            // A stable sort by key puts a pubkey's writes in one slot side by side, the last one
            // last.
            let mut order: Vec<usize> = (0..updates.len()).collect();
            order.sort_by_key(|&index| updates[index].pubkey);
            // Each write, in key order, with its version before it: the previous write of the
            // same pubkey in this slot, else the version before the slot.
            let writes: Vec<(usize, Option<Version<'_>>)> = order
                .iter()
                .enumerate()
                .map(|(position, &index)| {
                    let update = &updates[index];
                    let replaced = match position
                        .checked_sub(1)
                        .map(|before| &updates[order[before]])
                    {
                        Some(before) if before.pubkey == update.pubkey => {
                            (!before.is_deletion()).then(|| Version::from(before))
                        }
                        _ => before_slot[index],
                    };
                    (index, replaced)
                })
                .collect();
            // Without the caller's hash, each replaced version out of the running hash and each
            // new one in.
            if commit.lt_hash_after.is_none() {
                let delta = lt_hash_sum(&writes, PARALLEL_HASH_THRESHOLD, |sum, (index, old)| {
                    let update = &updates[*index];
                    if let Some(old) = old {
                        sum.mix_out(&old.lt_hash(&update.pubkey));
                    }
                    sum.mix_in(&update.lt_hash());
                });
                root.lt_hash.mix_in(&delta);
            }
            for (index, old) in &writes {
                let index = *index;
                let update = &updates[index];
                if let Some(old) = old {
                    root.capitalization = root.capitalization.saturating_sub(old.lamports);
                }
                root.capitalization = root.capitalization.saturating_add(update.lamports);
                match (old.is_some(), update.is_deletion()) {
                    (false, false) => root.accounts += 1,
                    (true, true) => root.accounts -= 1,
                    _ => {}
                }
                let indexes = &self.config.indexes;
                final_writes
                    .entry(update.pubkey)
                    .and_modify(|write| {
                        write.slot = slot;
                        write.update = update;
                    })
                    .or_insert_with(|| FinalWrite {
                        entries_before: old.map(|old| indexes.entries(&old.owner, old.data)),
                        slot,
                        update,
                    });
                written.insert(
                    update.pubkey,
                    (!update.is_deletion()).then(|| Version::from(update)),
                );
            }
            root.slot = slot;
            if let Some(after) = commit.lt_hash_after {
                root.lt_hash = after.clone();
            }
            let checksum = lt_hash_checksum(&root.lt_hash);
            if let Some(expected) = commit.expected_lt_hash
                && expected != checksum
            {
                return Err(StoreError::LtHashMismatch {
                    slot,
                    computed: checksum,
                    expected,
                });
            }
            batch.put_cf(
                self.cf(cf::SLOTS),
                meta::slot_key(slot),
                bincode::serialize(&commit.meta).expect("slot metadata serializes"),
            );
            if self.config.delta_log_retention_slots > 0 {
                let delta_cf = self.cf(cf::DELTA_LOG);
                let chunks = delta_log::encode_chunks(updates);
                let header = delta_log::DeltaSlotHeader {
                    meta: commit.meta,
                    records: updates.len() as u64,
                    chunks: chunks.len() as u32,
                    accounts_lt_hash: checksum,
                };
                for (index, chunk) in chunks.iter().enumerate() {
                    batch.put_cf(delta_cf, delta_log::key(slot, index as u32), chunk);
                }
                batch.put_cf(
                    delta_cf,
                    delta_log::header_key(slot),
                    bincode::serialize(&header).expect("header serializes"),
                );
            }
            stats.slots += 1;
            stats.updates += updates.len();
            stats.lt_hashes.push((slot, checksum));
        }
        // Each account written once, at its last version in the batch, in key order: a
        // catch-up's many slots make one sorted run, so the memtable's skip list is searched
        // from the previous insert's position rather than from its top.
        let mut finals: Vec<(&Pubkey, &FinalWrite<'_>)> = final_writes.iter().collect();
        finals.sort_unstable_by_key(|(pubkey, _)| **pubkey);
        for (pubkey, write) in finals {
            let update = write.update;
            let new_entries = (!update.is_deletion())
                .then(|| self.config.indexes.entries(&update.owner, update.data));
            self.diff_index_entries(
                &mut batch,
                pubkey,
                write.entries_before,
                new_entries,
                &mut stats,
                index_counts.as_mut(),
            );
            if update.is_deletion() {
                batch.delete_cf(accounts_cf, pubkey);
            } else {
                value.clear();
                encode_into(
                    &mut value,
                    update.lamports,
                    update.rent_epoch,
                    &update.owner,
                    update.executable,
                    write.slot,
                    update.data,
                );
                batch.put_cf(accounts_cf, pubkey, &value);
            }
        }
        write_root_state(&mut batch, self.cf(cf::META), &root);
        if let Some(counts) = &index_counts {
            index_health::write_index_counts(&mut batch, self.cf(cf::META), counts);
        }
        self.prune_history(&mut batch, root.slot);
        self.db
            .write_opt(batch, &self.write_options())
            .map_err(self.db_error())?;
        *self.root.write().expect("root lock") = Some(root);
        *self.index_counts.lock().expect("index counts lock") = index_counts;
        Ok(stats)
    }

    /// Drops delta-log slots and slot metadata that fell out of retention.
    fn prune_history(&self, batch: &mut WriteBatch, root: Slot) {
        let retention = self.config.delta_log_retention_slots;
        let keep_from = root.saturating_sub(retention.max(1)) + 1;
        batch.delete_range_cf(
            self.cf(cf::DELTA_LOG),
            delta_log::key(0, 0),
            delta_log::key(keep_from, 0),
        );
        let keep_meta_from = root.saturating_sub(retention.max(MIN_SLOT_META_RETENTION)) + 1;
        batch.delete_range_cf(
            self.cf(cf::SLOTS),
            meta::slot_key(0),
            meta::slot_key(keep_meta_from),
        );
    }

    /// Bytes of SST files and of memtables, over all column families.
    pub fn size_bytes(&self) -> (u64, u64) {
        let property = |name: &str| -> u64 {
            cf::ALL
                .iter()
                .filter_map(|family| {
                    self.db
                        .property_int_value_cf(self.cf(family), name)
                        .ok()
                        .flatten()
                })
                .sum()
        };
        (
            property("rocksdb.total-sst-files-size"),
            property("rocksdb.cur-size-all-mem-tables"),
        )
    }

    /// The delta-log header of a rooted slot, if it is retained.
    pub fn delta_slot(&self, slot: Slot) -> Result<Option<delta_log::DeltaSlotHeader>, StoreError> {
        self.db
            .get_cf(self.cf(cf::DELTA_LOG), delta_log::header_key(slot))
            .map_err(self.db_error())?
            .map(|bytes| {
                delta_log::decode_header(&bytes).ok_or_else(|| self.corrupt("delta-log header"))
            })
            .transpose()
    }

    /// One chunk of a retained slot's records.
    pub fn delta_chunk(
        &self,
        slot: Slot,
        chunk: u32,
    ) -> Result<Option<Vec<delta_log::DeltaRecord>>, StoreError> {
        self.db
            .get_cf(self.cf(cf::DELTA_LOG), delta_log::key(slot, chunk))
            .map_err(self.db_error())?
            .map(|bytes| {
                delta_log::decode_chunk(&bytes).ok_or_else(|| self.corrupt("delta-log chunk"))
            })
            .transpose()
    }

    /// Headers of retained slots after `after`, ascending, at most `limit`.
    pub fn delta_slots_after(
        &self,
        after: Slot,
        limit: usize,
    ) -> Result<Vec<delta_log::DeltaSlotHeader>, StoreError> {
        let mut headers = Vec::new();
        let mut slot = after.saturating_add(1);
        let mut iterator = self.db.raw_iterator_cf(self.cf(cf::DELTA_LOG));
        while headers.len() < limit {
            iterator.seek(delta_log::header_key(slot));
            if !iterator.valid() {
                break;
            }
            let key = iterator.key().expect("valid");
            let Some(found) = delta_log::slot_of(key) else {
                break;
            };
            if key == delta_log::header_key(found) {
                let value = iterator.value().expect("valid");
                headers.push(
                    delta_log::decode_header(value)
                        .ok_or_else(|| self.corrupt("delta-log header"))?,
                );
                slot = found.saturating_add(1);
            } else {
                slot = found;
            }
        }
        iterator.status().map_err(self.db_error())?;
        Ok(headers)
    }

    /// The oldest retained delta-log slot.
    pub fn first_delta_slot(&self) -> Result<Option<Slot>, StoreError> {
        let mut iterator = self.db.raw_iterator_cf(self.cf(cf::DELTA_LOG));
        iterator.seek_to_first();
        if iterator.valid() {
            return Ok(iterator.key().and_then(delta_log::slot_of));
        }
        iterator.status().map_err(self.db_error())?;
        Ok(None)
    }

    fn diff_index_entries(
        &self,
        batch: &mut WriteBatch,
        pubkey: &Pubkey,
        old: Option<IndexEntries>,
        new: Option<IndexEntries>,
        stats: &mut CommitStats,
        mut counts: Option<&mut IndexCounts>,
    ) {
        let old = old.unwrap_or_default();
        let new = new.unwrap_or_default();
        for kind in IndexKind::ALL {
            let (old_key, new_key) = (old[kind as usize], new[kind as usize]);
            if old_key == new_key {
                continue;
            }
            let cf = self.cf(kind.cf_name());
            if let Some(old_key) = old_key {
                batch.delete_cf(cf, entry_key(&old_key, pubkey));
                stats.index_deletes += 1;
                if let Some(counts) = counts.as_deref_mut() {
                    counts[kind as usize] = counts[kind as usize].saturating_sub(1);
                }
            }
            if let Some(new_key) = new_key {
                batch.put_cf(cf, entry_key(&new_key, pubkey), []);
                stats.index_puts += 1;
                if let Some(counts) = counts.as_deref_mut() {
                    counts[kind as usize] += 1;
                }
            }
        }
    }
}

/// An account's last write in a commit batch, and its index entries before the batch (`None`:
/// it did not exist).
#[derive(Debug)]
struct FinalWrite<'a> {
    entries_before: Option<IndexEntries>,
    slot: Slot,
    update: &'a AccountUpdate<'a>,
}

/// The parts of an account version that the lattice hash and the indexes depend on.
#[derive(Debug, Clone, Copy)]
struct Version<'a> {
    lamports: u64,
    owner: Pubkey,
    executable: bool,
    data: &'a [u8],
}

impl Version<'_> {
    fn lt_hash(&self, pubkey: &Pubkey) -> LtHash {
        snapshot_tools::archive::account_lt_hash(
            pubkey,
            self.lamports,
            self.data,
            self.executable,
            &self.owner,
        )
    }
}

impl<'a> From<AccountRef<'a>> for Version<'a> {
    fn from(account: AccountRef<'a>) -> Self {
        Self {
            lamports: account.lamports(),
            owner: account.owner(),
            executable: account.executable(),
            data: account.data(),
        }
    }
}

impl<'a> From<&'a Account> for Version<'a> {
    fn from(account: &'a Account) -> Self {
        Self {
            lamports: account.lamports,
            owner: account.owner,
            executable: account.executable,
            data: &account.data,
        }
    }
}

impl<'a> From<&AccountUpdate<'a>> for Version<'a> {
    fn from(update: &AccountUpdate<'a>) -> Self {
        Self {
            lamports: update.lamports,
            owner: update.owner,
            executable: update.executable,
            data: update.data,
        }
    }
}

impl Drop for AccountsStore {
    /// Flushes the memtables on a clean close, so the next open does not replay the WAL.
    fn drop(&mut self) {
        let families: Vec<&ColumnFamily> = cf::ALL.iter().map(|name| self.cf(name)).collect();
        if let Err(error) = self
            .db
            .flush_cfs_opt(&families, &rocksdb::FlushOptions::default())
        {
            tracing::warn!(%error, "flushing the store on close failed");
        }
    }
}

pub(crate) fn write_root_state(batch: &mut WriteBatch, meta_cf: &ColumnFamily, root: &RootState) {
    batch.put_cf(meta_cf, meta::keys::ROOT_SLOT, root.slot.to_le_bytes());
    batch.put_cf(meta_cf, meta::keys::LT_HASH, lt_hash_bytes(&root.lt_hash));
    batch.put_cf(
        meta_cf,
        meta::keys::CAPITALIZATION,
        root.capitalization.to_le_bytes(),
    );
    batch.put_cf(
        meta_cf,
        meta::keys::ACCOUNT_COUNT,
        root.accounts.to_le_bytes(),
    );
}
