//! What replicas are served: the [`SlotSource`] over the delta log (rooted slots, from disk or
//! from the recent-slot cache) and the collector's confirmed slots (from memory).
//!
//! The collector thread publishes each change as a [`ViewUpdate`]; every publication bumps the
//! sequence number long-polls wait on. Requests for a slot before the first available slot
//! (retention, or a lost rooted slot) get `SlotUnavailable`, so the replica re-bootstraps.

use {
    crate::{
        collector::{ConfirmedSlot, RootedSlot},
        delta_log::{DeltaLog, FileSlotRecords},
    },
    replication_proto::{
        AccountRecord, Hash, Slot, SlotConfirmations, SlotHeader, SlotInfo, SlotRecords,
        SlotSource, SourceError, source::SharedSlotRecords,
    },
    std::{
        collections::BTreeMap,
        path::PathBuf,
        sync::{Arc, Mutex, MutexGuard},
    },
    tokio::sync::watch,
};

/// Supplies the full-state accounts lattice-hash checksum after a bank, for the slot trailer.
/// The real plugin has none (it never sees the whole state); the simulator does.
pub trait AccountsLtHashSource: Send + Sync + std::fmt::Debug {
    /// The checksum (blake3 of the lattice hash) after bank (`slot`, `blockhash`), if known.
    fn accounts_lt_hash(&self, slot: Slot, blockhash: &Hash) -> Option<Hash>;
}

/// One publication of the collector thread.
#[derive(Debug, Default)]
pub struct ViewUpdate {
    /// Slots persisted to the delta log (also kept in the recent-slot cache).
    pub rooted: Vec<RootedSlot>,
    /// Slots deleted from the delta log.
    pub removed: Vec<Slot>,
    /// The delta log's first available slot.
    pub first_available_slot: Slot,
    /// The new confirmed view, when it changed.
    pub confirmed: Option<Vec<ConfirmedSlot>>,
}

#[derive(Debug)]
struct ViewState {
    seq: u64,
    first_available_slot: Slot,
    rooted: BTreeMap<Slot, SlotInfo>,
    recent: BTreeMap<Slot, (Hash, Arc<[AccountRecord]>)>,
    confirmed: Vec<ConfirmedSlot>,
}

/// The served state, shared by the collector thread (writer) and the server (readers).
#[derive(Debug)]
pub struct SlotView {
    state: Mutex<ViewState>,
    seq_tx: watch::Sender<u64>,
    slots_dir: PathBuf,
    memory_rooted_slots: usize,
    lt_hashes: Option<Arc<dyn AccountsLtHashSource>>,
}

impl SlotView {
    /// A view of what `log` holds, keeping `memory_rooted_slots` recent rooted slots in memory.
    pub fn new(
        log: &DeltaLog,
        memory_rooted_slots: usize,
        lt_hashes: Option<Arc<dyn AccountsLtHashSource>>,
    ) -> Self {
        Self {
            state: Mutex::new(ViewState {
                seq: 1,
                first_available_slot: log.first_available_slot(),
                rooted: log.slots().map(|s| (s.info.slot, s.info.clone())).collect(),
                recent: BTreeMap::new(),
                confirmed: Vec::new(),
            }),
            seq_tx: watch::Sender::new(1),
            slots_dir: log.slots_dir().to_path_buf(),
            memory_rooted_slots,
            lt_hashes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, ViewState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes a change and wakes long-polls.
    pub fn apply(&self, update: ViewUpdate) {
        let mut state = self.lock();
        for slot in &update.removed {
            state.rooted.remove(slot);
            state.recent.remove(slot);
        }
        let first = update.first_available_slot;
        state.first_available_slot = first;
        state.rooted = state.rooted.split_off(&first);
        state.recent = state.recent.split_off(&first);
        for rooted in update.rooted {
            let slot = rooted.info.slot;
            if slot < first {
                continue;
            }
            state
                .recent
                .insert(slot, (rooted.info.blockhash, rooted.records));
            state.rooted.insert(slot, rooted.info);
        }
        while state.recent.len() > self.memory_rooted_slots {
            state.recent.pop_first();
        }
        if let Some(confirmed) = update.confirmed {
            state.confirmed = confirmed;
        }
        if let Some(root) = state.rooted.keys().next_back().copied() {
            state.confirmed.retain(|c| c.info.slot > root);
        }
        state.seq += 1;
        let seq = state.seq;
        drop(state);
        self.seq_tx.send_replace(seq);
    }

    /// The first available slot.
    pub fn first_available_slot(&self) -> Slot {
        self.lock().first_available_slot
    }

    fn lt_hash(&self, slot: Slot, blockhash: &Hash) -> Option<Hash> {
        self.lt_hashes
            .as_ref()
            .and_then(|source| source.accounts_lt_hash(slot, blockhash))
    }

    fn shared(
        &self,
        info: &SlotInfo,
        records: Arc<[AccountRecord]>,
    ) -> Result<Box<dyn SlotRecords>, SourceError> {
        let header = SlotHeader {
            slot: info.slot,
            blockhash: info.blockhash,
            parent: info.parent,
            record_count: records.len() as u64,
        };
        Ok(Box::new(SharedSlotRecords::new(
            header,
            records,
            self.lt_hash(info.slot, &info.blockhash),
        )))
    }
}

/// The [`SlotSource`] the plugin's replication server serves.
#[derive(Clone, Debug)]
pub struct PluginSource {
    view: Arc<SlotView>,
}

impl PluginSource {
    /// Serves `view`.
    pub fn new(view: Arc<SlotView>) -> Self {
        Self { view }
    }
}

impl SlotSource for PluginSource {
    fn confirmations(&self, last_replicated_slot: Slot) -> SlotConfirmations {
        let state = self.view.lock();
        let after = last_replicated_slot.saturating_add(1);
        let mut slots: Vec<SlotInfo> = state
            .rooted
            .range(after..)
            .map(|(_, info)| info.clone())
            .collect();
        slots.extend(
            state
                .confirmed
                .iter()
                .filter(|c| c.info.slot > last_replicated_slot)
                .map(|c| c.info.clone()),
        );
        SlotConfirmations {
            seq: state.seq,
            first_available_slot: state.first_available_slot,
            slots,
            fleet: None,
        }
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.view.seq_tx.subscribe()
    }

    fn slot_accounts(
        &self,
        slot: Slot,
        blockhash: &Hash,
    ) -> Result<Box<dyn SlotRecords>, SourceError> {
        let unknown = || SourceError::UnknownSlot {
            slot,
            blockhash: *blockhash,
        };
        let state = self.view.lock();
        let first_available_slot = state.first_available_slot;
        if slot < first_available_slot {
            return Err(SourceError::SlotUnavailable {
                first_available_slot,
            });
        }
        if let Some(confirmed) = state
            .confirmed
            .iter()
            .find(|c| c.info.slot == slot && c.info.blockhash == *blockhash)
        {
            let (info, records) = (confirmed.info.clone(), confirmed.records.clone());
            drop(state);
            return self.view.shared(&info, records);
        }
        let Some(info) = state.rooted.get(&slot).cloned() else {
            return Err(unknown());
        };
        if info.blockhash != *blockhash {
            return Err(unknown());
        }
        if let Some((_, records)) = state.recent.get(&slot) {
            let records = records.clone();
            drop(state);
            return self.view.shared(&info, records);
        }
        drop(state);
        let lt_hash = self.view.lt_hash(slot, blockhash);
        match FileSlotRecords::open(&self.view.slots_dir, slot, blockhash, lt_hash)? {
            Some(records) => Ok(Box::new(records)),
            // Deleted by retention since the lookup.
            None => Err(SourceError::SlotUnavailable {
                first_available_slot: self.view.first_available_slot().max(slot + 1),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        replication_proto::{Pubkey, SlotStatus},
    };

    fn rooted(slot: Slot) -> RootedSlot {
        RootedSlot {
            info: SlotInfo {
                slot,
                parent: slot - 1,
                blockhash: Hash::new_from_array([slot as u8; 32]),
                status: SlotStatus::Rooted,
                block_height: None,
                block_time: None,
                executed_transaction_count: None,
            },
            records: vec![AccountRecord {
                pubkey: Pubkey::new_unique(),
                lamports: slot,
                ..AccountRecord::default()
            }]
            .into(),
        }
    }

    fn drain(mut r: Box<dyn SlotRecords>) -> Vec<AccountRecord> {
        let mut out = Vec::new();
        while let Some(c) = r.next_chunk(1 << 20).unwrap() {
            out.extend(c);
        }
        out
    }

    #[derive(Debug)]
    struct Fixed;
    impl AccountsLtHashSource for Fixed {
        fn accounts_lt_hash(&self, slot: Slot, _: &Hash) -> Option<Hash> {
            Some(Hash::new_from_array([slot as u8; 32]))
        }
    }

    #[test]
    fn serves_memory_disk_confirmed_and_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = DeltaLog::open(dir.path()).unwrap();
        log.start_after(0).unwrap();
        let slots: Vec<RootedSlot> = (1..=4).map(rooted).collect();
        for s in &slots {
            log.append(s).unwrap();
        }
        let view = Arc::new(SlotView::new(&log, 2, Some(Arc::new(Fixed))));
        let source = PluginSource::new(view.clone());
        let rx = source.subscribe();
        view.apply(ViewUpdate {
            rooted: slots[2..].to_vec(), // 3 and 4 in memory
            removed: vec![],
            first_available_slot: 1,
            confirmed: Some(vec![ConfirmedSlot {
                info: SlotInfo {
                    status: SlotStatus::Confirmed,
                    ..rooted(5).info
                },
                records: rooted(5).records,
            }]),
        });
        assert!(rx.has_changed().unwrap());
        let c = source.confirmations(2);
        let listed: Vec<(Slot, SlotStatus)> = c.slots.iter().map(|s| (s.slot, s.status)).collect();
        assert_eq!(
            listed,
            [
                (3, SlotStatus::Rooted),
                (4, SlotStatus::Rooted),
                (5, SlotStatus::Confirmed)
            ]
        );
        assert_eq!(c.first_available_slot, 1);
        // From disk (slot 1) and memory (slot 4), with the lattice hash.
        for s in [&slots[0], &slots[3]] {
            let records = source
                .slot_accounts(s.info.slot, &s.info.blockhash)
                .unwrap();
            assert_eq!(
                records.accounts_lt_hash(),
                Some(Hash::new_from_array([s.info.slot as u8; 32]))
            );
            assert_eq!(drain(records), &s.records[..]);
        }
        assert_eq!(
            drain(source.slot_accounts(5, &rooted(5).info.blockhash).unwrap()).len(),
            1
        );
        assert!(matches!(
            source.slot_accounts(2, &Hash::new_unique()),
            Err(SourceError::UnknownSlot { .. })
        ));
        // Retention passes slot 2.
        let change = log.retain(2).unwrap();
        view.apply(ViewUpdate {
            removed: change.removed,
            first_available_slot: log.first_available_slot(),
            ..ViewUpdate::default()
        });
        assert_eq!(
            source.slot_accounts(1, &slots[0].info.blockhash).err(),
            Some(SourceError::SlotUnavailable {
                first_available_slot: 3
            })
        );
        assert_eq!(source.confirmations(0).first_available_slot, 3);
    }
}
