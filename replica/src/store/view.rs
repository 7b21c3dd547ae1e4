//! Consistent reads of the rooted state: every read of a view sees the same root, even while
//! commits land.

use {
    super::{Account, AccountRef, AccountsStore, IndexKind, StoreError, cf, meta},
    rocksdb::{DB, ReadOptions, SnapshotWithThreadMode},
    solana_clock::Slot,
    solana_pubkey::Pubkey,
    std::ops::ControlFlow,
};

/// Accounts fetched per multi-get while walking an index.
const INDEX_FETCH_BATCH: usize = 256;
/// Threads that read a large index scan's accounts ahead of its visit.
const READ_AHEAD_THREADS: usize = 2;

/// Stored account records read ahead of their visit: each pubkey with its record's range in
/// `bytes`.
struct ReadBatch {
    records: Vec<(Pubkey, std::ops::Range<usize>)>,
    bytes: Vec<u8>,
}

impl ReadBatch {
    fn visit(
        &self,
        store: &AccountsStore,
        visit: &mut impl FnMut(&Pubkey, AccountRef<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, StoreError> {
        for (pubkey, range) in &self.records {
            let account = AccountRef::decode(&self.bytes[range.clone()])
                .ok_or_else(|| store.corrupt("account record"))?;
            if visit(pubkey, account).is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}

pub struct StoreView<'a> {
    store: &'a AccountsStore,
    snapshot: SnapshotWithThreadMode<'a, DB>,
}

impl std::fmt::Debug for StoreView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreView")
            .field("store", &self.store.path())
            .finish_non_exhaustive()
    }
}

impl<'a> StoreView<'a> {
    pub(super) fn new(store: &'a AccountsStore) -> Self {
        Self {
            store,
            snapshot: store.db().snapshot(),
        }
    }

    fn read_options(&self) -> ReadOptions {
        let mut options = ReadOptions::default();
        options.set_snapshot(&self.snapshot);
        options
    }

    pub fn store(&self) -> &'a AccountsStore {
        self.store
    }

    /// The root slot this view reads.
    pub fn root_slot(&self) -> Result<Slot, StoreError> {
        let bytes = self
            .snapshot
            .get_cf(self.store.cf(cf::META), meta::keys::ROOT_SLOT)
            .map_err(self.store.db_error())?
            .ok_or_else(|| StoreError::NotBootstrapped {
                path: self.store.path().to_path_buf(),
            })?;
        super::u64_value(&bytes).ok_or_else(|| self.store.corrupt("root slot"))
    }

    /// The root summary (slot, lattice hash, capitalization, accounts) this view reads.
    pub fn root_state(&self) -> Result<super::RootState, StoreError> {
        let read = |key: &[u8], what: &str| -> Result<Vec<u8>, StoreError> {
            self.snapshot
                .get_cf(self.store.cf(cf::META), key)
                .map_err(self.store.db_error())?
                .ok_or_else(|| self.store.corrupt(what))
        };
        let number = |key: &[u8], what: &str| -> Result<u64, StoreError> {
            super::u64_value(&read(key, what)?).ok_or_else(|| self.store.corrupt(what))
        };
        Ok(super::RootState {
            slot: self.root_slot()?,
            lt_hash: snapshot_tools::archive::lt_hash::lt_hash_from_bytes(&read(
                meta::keys::LT_HASH,
                "accounts lattice hash",
            )?)
            .ok_or_else(|| self.store.corrupt("accounts lattice hash"))?,
            capitalization: number(meta::keys::CAPITALIZATION, "capitalization")?,
            accounts: number(meta::keys::ACCOUNT_COUNT, "account count")?,
        })
    }

    /// A retained delta-log slot's header, as of this view.
    pub fn delta_slot(
        &self,
        slot: Slot,
    ) -> Result<Option<super::delta_log::DeltaSlotHeader>, StoreError> {
        self.snapshot
            .get_cf(
                self.store.cf(cf::DELTA_LOG),
                super::delta_log::header_key(slot),
            )
            .map_err(self.store.db_error())?
            .map(|bytes| {
                super::delta_log::decode_header(&bytes)
                    .ok_or_else(|| self.store.corrupt("delta-log header"))
            })
            .transpose()
    }

    /// One chunk of a retained slot's records, as of this view.
    pub fn delta_chunk(
        &self,
        slot: Slot,
        chunk: u32,
    ) -> Result<Option<Vec<super::delta_log::DeltaRecord>>, StoreError> {
        self.snapshot
            .get_cf(
                self.store.cf(cf::DELTA_LOG),
                super::delta_log::key(slot, chunk),
            )
            .map_err(self.store.db_error())?
            .map(|bytes| {
                super::delta_log::decode_chunk(&bytes)
                    .ok_or_else(|| self.store.corrupt("delta-log chunk"))
            })
            .transpose()
    }

    pub fn get(&self, pubkey: &Pubkey) -> Result<Option<Account>, StoreError> {
        let value = self
            .store
            .db()
            .get_pinned_cf_opt(self.store.cf(cf::ACCOUNTS), pubkey, &self.read_options())
            .map_err(self.store.db_error())?;
        value
            .map(|bytes| {
                AccountRef::decode(&bytes)
                    .map(|account| account.to_account())
                    .ok_or_else(|| self.store.corrupt("account record"))
            })
            .transpose()
    }

    /// Calls `visit` with each of `pubkeys` (in order) and its account, if any.
    pub fn for_each_of(
        &self,
        pubkeys: &[Pubkey],
        mut visit: impl FnMut(&Pubkey, Option<AccountRef<'_>>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let options = self.read_options();
        let values = self.store.db().batched_multi_get_cf_opt(
            self.store.cf(cf::ACCOUNTS),
            pubkeys.iter().map(|pubkey| pubkey.as_ref()),
            false,
            &options,
        );
        for (pubkey, value) in pubkeys.iter().zip(values) {
            let value = value.map_err(self.store.db_error())?;
            let account = match &value {
                Some(bytes) => Some(
                    AccountRef::decode(bytes)
                        .ok_or_else(|| self.store.corrupt("account record"))?,
                ),
                None => None,
            };
            if visit(pubkey, account).is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Whether `kind` is kept by this store.
    pub fn has_index(&self, kind: IndexKind) -> bool {
        self.store.config().indexes.is_enabled(kind)
    }

    fn index_iterator(
        &self,
        kind: IndexKind,
        key: &Pubkey,
    ) -> rocksdb::DBRawIteratorWithThreadMode<'a, DB> {
        let mut options = self.read_options();
        options.set_prefix_same_as_start(true);
        let mut iterator = self
            .store
            .db()
            .raw_iterator_cf_opt(self.store.cf(kind.cf_name()), options);
        iterator.seek(key);
        iterator
    }

    /// Moves up to `limit` pubkeys indexed under `key` from the iterator into `out`; returns
    /// whether the index may hold more.
    fn next_index_batch(
        &self,
        iterator: &mut rocksdb::DBRawIteratorWithThreadMode<'a, DB>,
        key: &Pubkey,
        out: &mut Vec<Pubkey>,
        limit: usize,
    ) -> Result<bool, StoreError> {
        out.clear();
        while out.len() < limit {
            if !iterator.valid() {
                iterator.status().map_err(self.store.db_error())?;
                return Ok(false);
            }
            let entry = iterator.key().expect("valid iterator has a key");
            if entry.len() != 64 || &entry[..32] != key.as_ref() {
                return Ok(false);
            }
            out.push(
                Pubkey::try_from(&entry[32..]).map_err(|_| self.store.corrupt("index entry"))?,
            );
            iterator.next();
        }
        Ok(true)
    }

    /// Pubkeys indexed under `key` in `kind`, in pubkey order, until `visit` breaks.
    pub fn index_keys(
        &self,
        kind: IndexKind,
        key: &Pubkey,
        mut visit: impl FnMut(Pubkey) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let mut iterator = self.index_iterator(kind, key);
        let mut batch = Vec::with_capacity(INDEX_FETCH_BATCH);
        loop {
            let more = self.next_index_batch(&mut iterator, key, &mut batch, INDEX_FETCH_BATCH)?;
            for pubkey in batch.drain(..) {
                if visit(pubkey).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
            if !more {
                return Ok(ControlFlow::Continue(()));
            }
        }
    }

    /// Accounts indexed under `key` in `kind`, in pubkey order, until `visit` breaks.
    pub fn index_scan(
        &self,
        kind: IndexKind,
        key: &Pubkey,
        mut visit: impl FnMut(&Pubkey, AccountRef<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let mut iterator = self.index_iterator(kind, key);
        let mut batch = Vec::with_capacity(INDEX_FETCH_BATCH);
        let more = self.next_index_batch(&mut iterator, key, &mut batch, INDEX_FETCH_BATCH)?;
        if !more {
            return self.visit_present(&batch, &mut visit);
        }
        drop(iterator);
        // More than one batch: the accounts are random reads, most of a large scan's time, so
        // two threads read alternate batches while this one visits them in order. Each reads
        // at most one batch ahead, so a visitor that waits (a slow client, its turn at the
        // scan pool) holds them too.
        std::thread::scope(|scope| {
            let mut receivers = Vec::with_capacity(READ_AHEAD_THREADS);
            for reader in 0..READ_AHEAD_THREADS {
                let (sender, receiver) = std::sync::mpsc::sync_channel(1);
                let spawned = std::thread::Builder::new()
                    .name("scan-read-ahead".into())
                    .spawn_scoped(scope, move || {
                        self.read_alternate(kind, key, reader, &sender)
                    });
                if spawned.is_err() {
                    // No thread to be had: read in place (the readers started stop when
                    // their receivers go).
                    drop(receivers);
                    return self.index_scan_in_place(kind, key, visit);
                }
                receivers.push(receiver);
            }
            for turn in 0.. {
                let Ok(read) = receivers[turn % READ_AHEAD_THREADS].recv() else {
                    break;
                };
                let flow = read?.visit(self.store, &mut visit)?;
                if flow.is_break() {
                    return Ok(flow);
                }
            }
            Ok(ControlFlow::Continue(()))
        })
    }

    /// Walks the index under `key` and reads every [`READ_AHEAD_THREADS`]th batch of its
    /// accounts, starting with batch `reader`, into `sender`; stops after the last batch, at
    /// an error (sent), or when nobody receives. Hangs up without sending once past the end.
    fn read_alternate(
        &self,
        kind: IndexKind,
        key: &Pubkey,
        reader: usize,
        sender: &std::sync::mpsc::SyncSender<Result<ReadBatch, StoreError>>,
    ) {
        let mut iterator = self.index_iterator(kind, key);
        let mut batch = Vec::with_capacity(INDEX_FETCH_BATCH);
        for number in 0.. {
            let more =
                match self.next_index_batch(&mut iterator, key, &mut batch, INDEX_FETCH_BATCH) {
                    Ok(more) => more,
                    Err(error) => {
                        let _ = sender.send(Err(error));
                        return;
                    }
                };
            if number % READ_AHEAD_THREADS == reader && !batch.is_empty() {
                let read = self.read_batch(&batch);
                let failed = read.is_err();
                if sender.send(read).is_err() || failed {
                    return;
                }
            }
            if !more {
                return;
            }
        }
    }

    /// [`Self::index_scan`] on the calling thread alone.
    fn index_scan_in_place(
        &self,
        kind: IndexKind,
        key: &Pubkey,
        mut visit: impl FnMut(&Pubkey, AccountRef<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let mut iterator = self.index_iterator(kind, key);
        let mut batch = Vec::with_capacity(INDEX_FETCH_BATCH);
        loop {
            let more = self.next_index_batch(&mut iterator, key, &mut batch, INDEX_FETCH_BATCH)?;
            let flow = self.visit_present(&batch, &mut visit)?;
            if flow.is_break() || !more {
                return Ok(flow);
            }
        }
    }

    /// Visits those of `pubkeys` that have an account. Within one snapshot every index entry
    /// has its account; a missing one is skipped, never invented.
    fn visit_present(
        &self,
        pubkeys: &[Pubkey],
        visit: &mut impl FnMut(&Pubkey, AccountRef<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, StoreError> {
        self.for_each_of(pubkeys, |pubkey, account| match account {
            Some(account) => visit(pubkey, account),
            None => ControlFlow::Continue(()),
        })
    }

    /// The stored records of `pubkeys`, copied out so another thread can visit them.
    fn read_batch(&self, pubkeys: &[Pubkey]) -> Result<ReadBatch, StoreError> {
        let mut read = ReadBatch {
            records: Vec::with_capacity(pubkeys.len()),
            bytes: Vec::with_capacity(pubkeys.len() * 256),
        };
        let values = self.store.db().batched_multi_get_cf_opt(
            self.store.cf(cf::ACCOUNTS),
            pubkeys.iter().map(|pubkey| pubkey.as_ref()),
            false,
            &self.read_options(),
        );
        for (pubkey, value) in pubkeys.iter().zip(values) {
            if let Some(value) = value.map_err(self.store.db_error())? {
                let start = read.bytes.len();
                read.bytes.extend_from_slice(&value);
                read.records.push((*pubkey, start..read.bytes.len()));
            }
        }
        Ok(read)
    }

    /// Every account, in pubkey order, until `visit` breaks.
    pub fn scan(
        &self,
        mut visit: impl FnMut(&Pubkey, AccountRef<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let mut iterator = self
            .store
            .db()
            .raw_iterator_cf_opt(self.store.cf(cf::ACCOUNTS), self.read_options());
        iterator.seek_to_first();
        while iterator.valid() {
            let pubkey = Pubkey::try_from(iterator.key().expect("valid"))
                .map_err(|_| self.store.corrupt("account key"))?;
            let account = AccountRef::decode(iterator.value().expect("valid"))
                .ok_or_else(|| self.store.corrupt("account record"))?;
            if visit(&pubkey, account).is_break() {
                return Ok(ControlFlow::Break(()));
            }
            iterator.next();
        }
        iterator.status().map_err(self.store.db_error())?;
        Ok(ControlFlow::Continue(()))
    }
}
