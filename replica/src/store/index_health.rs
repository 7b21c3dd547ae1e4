//! Whether the secondary indexes can be trusted, and rebuilding them when they cannot. The meta
//! record keeps the entries of each index family, updated in the same atomic batch as every
//! change; a rebuild first removes the record of a complete index (durably) and writes it back
//! only once the new indexes are complete, so a rebuild killed at any moment leaves a store
//! whose indexes are rebuilt on the next open, whatever flags it is opened with.

use {
    super::{AccountRef, AccountsStore, IndexKind, StoreError, cf, entry_key, meta},
    rocksdb::{ColumnFamily, ReadOptions, WriteBatch, WriteOptions},
    solana_pubkey::Pubkey,
};

/// Entries per index family, indexed by `IndexKind as usize`.
pub type IndexCounts = [u64; 4];

/// Entries written per batch while rebuilding.
const REBUILD_BATCH_ENTRIES: usize = 100_000;

/// What the open-time check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexCheck {
    /// The indexes were built with this configuration and hold the recorded entries.
    Complete,
    /// They must be rebuilt: why.
    Rebuild(String),
}

pub(super) fn write_index_counts(
    batch: &mut WriteBatch,
    meta_cf: &ColumnFamily,
    counts: &IndexCounts,
) {
    batch.put_cf(
        meta_cf,
        meta::keys::INDEX_COUNTS,
        bincode::serialize(counts).expect("index counts serialize"),
    );
}

impl AccountsStore {
    pub(super) fn recorded_index_counts(&self) -> Result<Option<IndexCounts>, StoreError> {
        self.meta_bincode(meta::keys::INDEX_COUNTS, "index entry counts")
    }

    /// Counts the entries of every index family (keys only, one thread per family).
    pub fn count_index_entries(&self) -> Result<IndexCounts, StoreError> {
        let results: Vec<Result<u64, StoreError>> = std::thread::scope(|scope| {
            let tasks: Vec<_> = IndexKind::ALL
                .into_iter()
                .map(|kind| {
                    scope.spawn(move || {
                        let mut options = ReadOptions::default();
                        options.fill_cache(false);
                        let mut iterator = self
                            .db()
                            .raw_iterator_cf_opt(self.cf(kind.cf_name()), options);
                        iterator.seek_to_first();
                        let mut entries = 0u64;
                        while iterator.valid() {
                            entries += 1;
                            iterator.next();
                        }
                        iterator.status().map_err(self.db_error())?;
                        Ok(entries)
                    })
                })
                .collect();
            tasks
                .into_iter()
                .map(|task| task.join().expect("index counter panicked"))
                .collect()
        });
        let mut counts = IndexCounts::default();
        for (slot, result) in counts.iter_mut().zip(results) {
            *slot = result?;
        }
        Ok(counts)
    }

    /// The open-time check: the indexes were built with this store's configuration, the build
    /// completed, and each family holds the entries its meta record says.
    pub fn check_indexes(&self) -> Result<IndexCheck, StoreError> {
        match self.built_index_config()? {
            Some(built) if built == self.config().indexes => {}
            Some(_) => {
                return Ok(IndexCheck::Rebuild(
                    "the account index configuration changed".to_string(),
                ));
            }
            None => {
                return Ok(IndexCheck::Rebuild(
                    "the indexes are not known to be complete (an index rebuild was interrupted)"
                        .to_string(),
                ));
            }
        }
        let Some(recorded) = *self.index_counts.lock().expect("index counts lock") else {
            return Ok(IndexCheck::Rebuild(
                "the store records no index entry counts".to_string(),
            ));
        };
        let found = self.count_index_entries()?;
        for kind in IndexKind::ALL {
            let (recorded, found) = (recorded[kind as usize], found[kind as usize]);
            if recorded != found {
                return Ok(IndexCheck::Rebuild(format!(
                    "the {} index holds {found} entries, its record says {recorded}",
                    kind.cf_name()
                )));
            }
        }
        Ok(IndexCheck::Complete)
    }

    /// Rebuilds every index from the accounts with this store's configuration. Crash-safe: the
    /// record of complete indexes is removed (synced) before anything is deleted and written
    /// back (synced) only after the last entry.
    pub fn rebuild_indexes(&self) -> Result<u64, StoreError> {
        let _guard = self.commit_lock.lock().expect("commit lock");
        let meta_cf = self.cf(cf::META);
        let mut synced = WriteOptions::default();
        synced.set_sync(true);
        let mut intent = WriteBatch::default();
        intent.delete_cf(meta_cf, meta::keys::INDEX_CONFIG);
        intent.delete_cf(meta_cf, meta::keys::INDEX_COUNTS);
        self.db()
            .write_opt(intent, &synced)
            .map_err(self.db_error())?;
        *self.index_counts.lock().expect("index counts lock") = None;
        for kind in IndexKind::ALL {
            self.db()
                .delete_range_cf(self.cf(kind.cf_name()), &[0u8; 0][..], &[0xffu8; 65][..])
                .map_err(self.db_error())?;
        }
        let mut counts = IndexCounts::default();
        let mut batch = WriteBatch::default();
        let mut iterator = self.db().raw_iterator_cf(self.cf(cf::ACCOUNTS));
        iterator.seek_to_first();
        while iterator.valid() {
            let pubkey = Pubkey::try_from(iterator.key().expect("valid"))
                .map_err(|_| self.corrupt("account key"))?;
            let account = AccountRef::decode(iterator.value().expect("valid"))
                .ok_or_else(|| self.corrupt("account record"))?;
            let entries = self
                .config()
                .indexes
                .entries(&account.owner(), account.data());
            for (kind, key) in IndexKind::ALL.into_iter().zip(entries) {
                if let Some(key) = key {
                    batch.put_cf(self.cf(kind.cf_name()), entry_key(&key, &pubkey), []);
                    counts[kind as usize] += 1;
                }
            }
            if batch.len() >= REBUILD_BATCH_ENTRIES {
                self.db()
                    .write(std::mem::take(&mut batch))
                    .map_err(self.db_error())?;
            }
            iterator.next();
        }
        iterator.status().map_err(self.db_error())?;
        self.db().write(batch).map_err(self.db_error())?;
        let mut complete = WriteBatch::default();
        complete.put_cf(
            meta_cf,
            meta::keys::INDEX_CONFIG,
            bincode::serialize(&self.config().indexes).expect("index config serializes"),
        );
        write_index_counts(&mut complete, meta_cf, &counts);
        self.db()
            .write_opt(complete, &synced)
            .map_err(self.db_error())?;
        *self.index_counts.lock().expect("index counts lock") = Some(counts);
        Ok(counts.iter().sum())
    }
}
