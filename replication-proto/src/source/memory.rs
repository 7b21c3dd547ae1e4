//! An in-memory [`SlotSource`], for tests, benchmarks and simulations.

use {
    super::{SharedSlotRecords, SlotRecords, SlotSource, SourceError},
    crate::message::{
        AccountRecord, Hash, Slot, SlotConfirmations, SlotHeader, SlotInfo, SlotStatus,
    },
    std::{
        collections::BTreeMap,
        sync::{Arc, Mutex, MutexGuard},
    },
    tokio::sync::watch,
};

#[derive(Debug)]
struct MemorySlot {
    info: SlotInfo,
    records: Arc<[AccountRecord]>,
    accounts_lt_hash: Option<Hash>,
}

#[derive(Debug, Default)]
struct Inner {
    seq: u64,
    first_available_slot: Slot,
    slots: BTreeMap<(Slot, Hash), MemorySlot>,
}

/// A [`SlotSource`] holding whole slots in memory. Every change bumps the sequence number.
#[derive(Debug)]
pub struct MemorySlotSource {
    inner: Mutex<Inner>,
    seq_tx: watch::Sender<u64>,
}

impl Default for MemorySlotSource {
    fn default() -> Self {
        Self::new()
    }
}

impl MemorySlotSource {
    /// An empty source at sequence number 0.
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            seq_tx: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bump(&self, inner: &mut Inner) {
        inner.seq += 1;
        self.seq_tx.send_replace(inner.seq);
    }

    /// Adds (or replaces) the bank `info.slot`/`info.blockhash` with its records.
    pub fn insert_slot(
        &self,
        info: SlotInfo,
        records: Vec<AccountRecord>,
        accounts_lt_hash: Option<Hash>,
    ) {
        let mut inner = self.lock();
        inner.slots.insert(
            (info.slot, info.blockhash),
            MemorySlot {
                info,
                records: records.into(),
                accounts_lt_hash,
            },
        );
        self.bump(&mut inner);
    }

    /// Changes a known bank's status; returns whether the bank exists.
    pub fn set_status(&self, slot: Slot, blockhash: Hash, status: SlotStatus) -> bool {
        let mut inner = self.lock();
        let Some(entry) = inner.slots.get_mut(&(slot, blockhash)) else {
            return false;
        };
        entry.info.status = status;
        self.bump(&mut inner);
        true
    }

    /// Forgets every slot before `slot` (retention), making them `SlotUnavailable`.
    pub fn set_first_available_slot(&self, slot: Slot) {
        let mut inner = self.lock();
        inner.first_available_slot = slot;
        inner.slots.retain(|(s, _), _| *s >= slot);
        self.bump(&mut inner);
    }

    /// The current change sequence number.
    pub fn seq(&self) -> u64 {
        self.lock().seq
    }
}

impl SlotSource for MemorySlotSource {
    fn confirmations(&self, last_replicated_slot: Slot) -> SlotConfirmations {
        let inner = self.lock();
        let slots = inner
            .slots
            .range((last_replicated_slot.saturating_add(1), Hash::default())..)
            .filter(|((slot, _), _)| *slot > last_replicated_slot)
            .map(|(_, s)| s.info.clone())
            .collect();
        SlotConfirmations {
            seq: inner.seq,
            first_available_slot: inner.first_available_slot,
            slots,
            fleet: None,
        }
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.seq_tx.subscribe()
    }

    fn slot_accounts(
        &self,
        slot: Slot,
        blockhash: &Hash,
    ) -> Result<Box<dyn SlotRecords>, SourceError> {
        let inner = self.lock();
        if slot < inner.first_available_slot {
            return Err(SourceError::SlotUnavailable {
                first_available_slot: inner.first_available_slot,
            });
        }
        let Some(entry) = inner.slots.get(&(slot, *blockhash)) else {
            return Err(SourceError::UnknownSlot {
                slot,
                blockhash: *blockhash,
            });
        };
        let header = SlotHeader {
            slot,
            blockhash: *blockhash,
            parent: entry.info.parent,
            record_count: entry.records.len() as u64,
        };
        Ok(Box::new(SharedSlotRecords::new(
            header,
            entry.records.clone(),
            entry.accounts_lt_hash,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(slot: Slot, blockhash: Hash) -> SlotInfo {
        SlotInfo {
            slot,
            parent: slot.saturating_sub(1),
            blockhash,
            status: SlotStatus::Confirmed,
            block_height: Some(slot),
            block_time: None,
            executed_transaction_count: None,
        }
    }

    #[test]
    fn confirmations_after_last_replicated_ascending() {
        let source = MemorySlotSource::new();
        let (a, b) = (Hash::new_unique(), Hash::new_unique());
        for slot in [5, 3, 4] {
            source.insert_slot(info(slot, a), vec![], None);
        }
        source.insert_slot(info(4, b), vec![], None);
        let c = source.confirmations(3);
        assert_eq!(c.seq, 4);
        let slots: Vec<Slot> = c.slots.iter().map(|s| s.slot).collect();
        assert_eq!(slots, [4, 4, 5]);
        crate::slot_stream::validate_confirmations(&c, 3).unwrap();

        let mut rx = source.subscribe();
        assert_eq!(*rx.borrow_and_update(), 4);
        assert!(source.set_status(5, a, SlotStatus::Rooted));
        assert!(rx.has_changed().unwrap());
        assert!(!source.set_status(6, a, SlotStatus::Rooted));
    }

    #[test]
    fn retention_makes_slots_unavailable() {
        let source = MemorySlotSource::new();
        let h = Hash::new_unique();
        source.insert_slot(info(10, h), vec![AccountRecord::default()], None);
        source.insert_slot(info(20, h), vec![], None);
        assert!(source.slot_accounts(10, &h).is_ok());
        source.set_first_available_slot(15);
        assert_eq!(
            source.slot_accounts(10, &h).err(),
            Some(SourceError::SlotUnavailable {
                first_available_slot: 15
            })
        );
        assert!(matches!(
            source.slot_accounts(20, &Hash::default()).err(),
            Some(SourceError::UnknownSlot { slot: 20, .. })
        ));
        assert_eq!(source.confirmations(0).first_available_slot, 15);
    }
}
