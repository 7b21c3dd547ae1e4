//! Turns the validator's notifications into whole banks: per slot, the final version of every
//! account the bank wrote, its blockhash, parent and commitment. No I/O: the service feeds it
//! [`Event`]s and shed marks, then takes [`RootOutcome`]s (to persist) and the confirmed view.
//!
//! # How notifications map to banks
//!
//! For one bank Agave notifies, in this order on the replaying thread: the sysvar writes of
//! `Bank::new_from_parent`, `CreatedBank`, the transactions' writes, the freeze-time writes
//! (fees, rent), then `notify_block_metadata` (blockhash, parent, height, time) once the bank is
//! frozen, then statuses from other threads in any order (`Processed`, `Confirmed` — sometimes
//! never —, `Rooted` for each slot of a newly rooted chain, or `Dead`).
//!
//! Account notifications carry the slot but not the bank. A slot normally has one bank; it has a
//! second one only when a duplicate block is dumped and the other version replayed. We resolve
//! writes to banks as follows, and call a slot *ambiguous* (never served; see below) whenever that
//! is not certain:
//! - writes before the block metadata belong to the bank being replayed; the metadata seals it;
//! - a write after the seal, a second `CreatedBank`, a second metadata with another blockhash or
//!   a conflicting parent means a second bank: the slot is ambiguous;
//! - after `Dead`, the dead bank's writes (which all precede `Dead` on its replay thread) are
//!   discarded and a later write starts a fresh bank for the slot: that resolution is safe.
//!
//! A bank is also untrusted if it may have started before the plugin was loaded: it is trusted
//! when it was first seen after `notify_end_of_startup` (plugin loaded with the validator), or
//! when the plugin saw its parent being frozen (a bank is created only from a frozen parent).
//!
//! Consequence (documented limitation): banks replayed from the local ledger while the
//! validator starts (before `replay_stage` runs) are notified without block metadata, so if such
//! a bank is rooted later it cannot be served and the first available slot moves past it;
//! replicas that were behind it re-bootstrap once after a validator restart. Nothing is ever
//! served partially.
//!
//! # Commitment
//!
//! `Confirmed` confirms the slot and its known ancestors; `Rooted` roots the chain from the
//! slot down to the previous root (each inferred status counts in
//! `geyser_missed_slot_status_total`). Slots not descending from the new root are pruned
//! (abandoned forks); dead banks are dropped. Statuses may arrive in any order; stale ones are
//! ignored.
//!
//! # Never a silent gap
//!
//! A rooted slot that is shed, ambiguous, untrusted, lacks metadata, or whose parent was never
//! seen becomes a [`RootOutcome::Lost`]: the delta log moves its first available slot past it, so
//! replicas behind it re-bootstrap instead of applying a chain with a hole.

use {
    crate::{
        handoff::{EVENT_OVERHEAD_BYTES, Event, StatusKind},
        metrics::Metrics,
    },
    replication_proto::{AccountRecord, Hash, Pubkey, Slot, SlotInfo, SlotStatus},
    std::{
        collections::{BTreeMap, BTreeSet, HashMap},
        sync::Arc,
    },
};

mod outcome;
pub use outcome::{ConfirmedSlot, Incomplete, LostReason, RootOutcome, RootedSlot, tombstone};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BlockMeta {
    blockhash: Hash,
    block_height: Option<u64>,
    block_time: Option<i64>,
    executed_transaction_count: Option<u64>,
}

/// What block metadata says besides the blockhash.
#[derive(Clone, Copy, Debug)]
struct BlockMetaFields {
    block_height: Option<u64>,
    block_time: Option<i64>,
    executed_transaction_count: Option<u64>,
}

#[derive(Debug, Default)]
struct SlotEntry {
    parent: Option<Slot>,
    /// Writes of the open (unsealed) bank: pubkey → (write_version, record).
    accounts: HashMap<Pubkey, (u64, AccountRecord)>,
    /// Bytes held for this slot.
    bytes: usize,
    meta: Option<BlockMeta>,
    /// Sealed records, sorted by pubkey.
    records: Option<Arc<[AccountRecord]>>,
    created_banks: u32,
    confirmed: bool,
    rooted_explicitly: bool,
    incomplete: Option<Incomplete>,
    dead: bool,
    /// First seen after the end of startup.
    seen_after_startup: bool,
}

impl SlotEntry {
    fn is_complete(&self) -> bool {
        self.meta.is_some() && self.records.is_some() && self.incomplete.is_none() && !self.dead
    }
}

/// The collector's state.
#[derive(Debug)]
pub struct Collector {
    slots: BTreeMap<Slot, SlotEntry>,
    /// Newest root handled (persisted or lost); nothing at or below it is collected.
    last_root: Option<Slot>,
    /// Slots whose freeze (block metadata) was seen since load, at or above the root.
    frozen_seen: BTreeSet<Slot>,
    startup_done: bool,
    outcomes: Vec<RootOutcome>,
    buffered_bytes: usize,
    max_buffered_bytes: usize,
    dirty: bool,
    metrics: Metrics,
}

impl Collector {
    /// A collector resuming after `last_root` (the delta log's newest root, if any), holding at
    /// most `max_buffered_bytes` of unrooted writes.
    pub fn new(last_root: Option<Slot>, max_buffered_bytes: usize, metrics: Metrics) -> Self {
        Self {
            slots: BTreeMap::new(),
            last_root,
            frozen_seen: BTreeSet::new(),
            startup_done: false,
            outcomes: Vec::new(),
            buffered_bytes: 0,
            max_buffered_bytes,
            dirty: false,
            metrics,
        }
    }

    /// The newest root handled.
    pub fn last_root(&self) -> Option<Slot> {
        self.last_root
    }

    /// Slots held in memory (not yet rooted).
    pub fn slots_buffered(&self) -> usize {
        self.slots.len()
    }

    /// Bytes held in memory.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered_bytes
    }

    /// Whether the confirmed view may have changed since the last call (and resets the flag).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Rooting outcomes since the last call, in order.
    pub fn take_outcomes(&mut self) -> Vec<RootOutcome> {
        std::mem::take(&mut self.outcomes)
    }

    /// The validator finished loading its snapshot: banks first seen from now on were created
    /// after the plugin was loaded.
    pub fn end_of_startup(&mut self) {
        self.startup_done = true;
    }

    fn is_old(&self, slot: Slot) -> bool {
        self.last_root.is_some_and(|root| slot <= root)
    }

    fn entry(&mut self, slot: Slot) -> &mut SlotEntry {
        let startup_done = self.startup_done;
        self.slots.entry(slot).or_insert_with(|| SlotEntry {
            seen_after_startup: startup_done,
            ..SlotEntry::default()
        })
    }

    /// Frees a slot's data and marks it unservable.
    fn mark_incomplete(&mut self, slot: Slot, why: Incomplete) {
        let entry = self.entry(slot);
        if entry.incomplete.is_none() {
            tracing::warn!(slot, reason = ?why, "slot cannot be served");
        }
        entry.incomplete.get_or_insert(why);
        entry.accounts = HashMap::new();
        entry.records = None;
        let freed = std::mem::take(&mut entry.bytes);
        self.buffered_bytes -= freed;
        self.dirty = true;
    }

    /// A fresh bank for a slot whose previous bank died.
    fn reset_dead(&mut self, slot: Slot) {
        let startup_done = self.startup_done;
        let entry = self.entry(slot);
        if entry.dead {
            let freed = entry.bytes;
            // A shed mark stays: the dropped event may have belonged to the new bank.
            *entry = SlotEntry {
                seen_after_startup: startup_done,
                incomplete: entry.incomplete,
                ..SlotEntry::default()
            };
            self.buffered_bytes -= freed;
            tracing::info!(slot, "new bank for a slot whose previous bank died");
        }
    }

    fn set_parent(&mut self, slot: Slot, parent: Option<Slot>) {
        let Some(parent) = parent else { return };
        let entry = self.entry(slot);
        match entry.parent {
            None => entry.parent = Some(parent),
            Some(known) if known == parent => {}
            Some(known) => {
                tracing::warn!(slot, known, parent, "conflicting parents: several banks");
                self.mark_incomplete(slot, Incomplete::MultipleBanks);
            }
        }
    }

    /// Some event of `slot` was dropped at the hand-off.
    pub fn shed(&mut self, slot: Slot) {
        if !self.is_old(slot) {
            self.mark_incomplete(slot, Incomplete::Shed);
        }
    }

    /// Applies one notification.
    pub fn apply(&mut self, event: Event) {
        if event == Event::EndOfStartup {
            self.end_of_startup();
            return;
        }
        let slot = event.slot();
        if self.is_old(slot) {
            // Replayed after a restart, or a late status: already handled.
            return;
        }
        match event {
            Event::Account {
                write_version,
                record,
                ..
            } => self.on_account(slot, write_version, record),
            Event::BlockMeta {
                parent,
                blockhash,
                block_height,
                block_time,
                executed_transaction_count,
                ..
            } => self.on_block_meta(
                slot,
                parent,
                blockhash,
                BlockMetaFields {
                    block_height,
                    block_time,
                    executed_transaction_count,
                },
            ),
            Event::Status { parent, status, .. } => self.on_status(slot, parent, status),
            Event::EndOfStartup => {}
        }
    }

    fn on_account(&mut self, slot: Slot, write_version: u64, record: AccountRecord) {
        self.reset_dead(slot);
        let entry = self.entry(slot);
        if entry.incomplete.is_some() {
            return;
        }
        if entry.meta.is_some() {
            // A write after the freeze: another bank of this slot is being replayed.
            self.mark_incomplete(slot, Incomplete::MultipleBanks);
            return;
        }
        let record = if record.lamports == 0 {
            tombstone(record.pubkey)
        } else {
            record
        };
        let cost = EVENT_OVERHEAD_BYTES + record.data.len();
        if self.buffered_bytes + cost > self.max_buffered_bytes {
            self.metrics.dropped_buffer.inc();
            self.mark_incomplete(slot, Incomplete::BufferFull);
            return;
        }
        let entry = self.entry(slot);
        let mut delta = cost as isize;
        match entry.accounts.get_mut(&record.pubkey) {
            Some((version, _)) if *version > write_version => return,
            Some(existing) => {
                delta -= (EVENT_OVERHEAD_BYTES + existing.1.data.len()) as isize;
                *existing = (write_version, record);
            }
            None => {
                entry
                    .accounts
                    .insert(record.pubkey, (write_version, record));
            }
        }
        entry.bytes = entry.bytes.saturating_add_signed(delta);
        self.buffered_bytes = self.buffered_bytes.saturating_add_signed(delta);
    }

    fn on_block_meta(
        &mut self,
        slot: Slot,
        parent: Option<Slot>,
        blockhash: Option<Hash>,
        fields: BlockMetaFields,
    ) {
        if self.entry(slot).dead {
            tracing::warn!(slot, "block metadata for a dead bank ignored");
            return;
        }
        self.set_parent(slot, parent);
        let Some(blockhash) = blockhash else {
            self.mark_incomplete(slot, Incomplete::BadMetadata);
            return;
        };
        let meta = BlockMeta {
            blockhash,
            block_height: fields.block_height,
            block_time: fields.block_time,
            executed_transaction_count: fields.executed_transaction_count,
        };
        let entry = self.entry(slot);
        match entry.meta {
            Some(known) if known.blockhash == blockhash => return,
            Some(_) => {
                self.mark_incomplete(slot, Incomplete::MultipleBanks);
                return;
            }
            None => entry.meta = Some(meta),
        }
        let (parent, seen_after_startup) = (entry.parent, entry.seen_after_startup);
        let parent_frozen = parent.is_some_and(|parent| self.frozen_seen.contains(&parent));
        let trusted = seen_after_startup || parent_frozen;
        self.frozen_seen.insert(slot);
        self.dirty = true;
        if !trusted {
            self.mark_incomplete(slot, Incomplete::Untrusted);
            return;
        }
        let entry = self.entry(slot);
        if entry.incomplete.is_none() {
            let mut records: Vec<AccountRecord> = std::mem::take(&mut entry.accounts)
                .into_values()
                .map(|(_, record)| record)
                .collect();
            records.sort_unstable_by_key(|a| a.pubkey);
            entry.records = Some(records.into());
        }
    }

    fn on_status(&mut self, slot: Slot, parent: Option<Slot>, status: StatusKind) {
        match status {
            StatusKind::CreatedBank => {
                self.reset_dead(slot);
                let entry = self.entry(slot);
                entry.created_banks += 1;
                if entry.created_banks > 1 {
                    self.mark_incomplete(slot, Incomplete::MultipleBanks);
                }
                self.set_parent(slot, parent);
            }
            StatusKind::Dead => {
                let entry = self.entry(slot);
                if !entry.dead {
                    entry.dead = true;
                    entry.confirmed = false;
                    entry.meta = None;
                    entry.records = None;
                    entry.accounts = HashMap::new();
                    entry.created_banks = 0;
                    let freed = std::mem::take(&mut entry.bytes);
                    self.buffered_bytes -= freed;
                    self.metrics.dead_slots.inc();
                    self.dirty = true;
                    tracing::info!(slot, "bank dead");
                }
            }
            StatusKind::Confirmed => {
                if !self.entry(slot).dead {
                    self.set_parent(slot, parent);
                    self.confirm(slot);
                }
            }
            StatusKind::Rooted => {
                self.set_parent(slot, parent);
                self.entry(slot).rooted_explicitly = true;
                self.root(slot);
            }
            StatusKind::Processed | StatusKind::FirstShredReceived | StatusKind::Completed => {
                if !self.entry(slot).dead {
                    self.set_parent(slot, parent);
                }
            }
        }
    }

    /// Confirms `slot` and its known ancestors above the root.
    fn confirm(&mut self, slot: Slot) {
        let mut current = slot;
        let mut explicit = true;
        loop {
            if self.is_old(current) {
                break;
            }
            let Some(entry) = self.slots.get_mut(&current) else {
                break;
            };
            if entry.confirmed {
                if !explicit {
                    break; // its ancestors were confirmed with it
                }
            } else {
                entry.confirmed = true;
                self.dirty = true;
                if !explicit {
                    self.metrics.missed_confirmed.inc();
                }
            }
            let Some(parent) = entry.parent else { break };
            current = parent;
            explicit = false;
        }
    }

    /// Roots `root` and its chain down to the previous root, then prunes abandoned forks.
    fn root(&mut self, root: Slot) {
        // Walk down to the previous root.
        let mut chain = vec![root];
        enum Base {
            Connected,
            /// The parent of the chain's lowest slot was never seen.
            Gap(Slot),
            /// The chain's lowest slot has no known parent.
            Unknown,
            /// The chain forks off below the previous root.
            Discontinuity,
        }
        let base = loop {
            let lowest = *chain.last().expect("chain is never empty");
            let Some(parent) = self.slots.get(&lowest).and_then(|e| e.parent) else {
                break Base::Unknown;
            };
            match self.last_root {
                Some(previous) if parent == previous => break Base::Connected,
                Some(previous) if parent < previous => break Base::Discontinuity,
                _ => {}
            }
            if self.slots.contains_key(&parent) {
                chain.push(parent);
            } else {
                break Base::Gap(parent);
            }
        };
        chain.reverse();

        match base {
            Base::Connected | Base::Unknown => {}
            Base::Gap(parent) if self.last_root.is_none() => {
                self.outcomes.push(RootOutcome::StartAfter(parent));
            }
            Base::Gap(parent) => {
                tracing::warn!(
                    root,
                    parent,
                    "rooted chain does not reach the previous root"
                );
                self.metrics.slots_unavailable.inc();
                self.outcomes.push(RootOutcome::Lost {
                    slot: parent,
                    reason: LostReason::Gap,
                });
            }
            Base::Discontinuity => {
                tracing::warn!(root, previous = ?self.last_root, "new root does not descend from the previous root");
                self.metrics.slots_unavailable.inc();
                self.outcomes.push(RootOutcome::Lost {
                    slot: root,
                    reason: LostReason::Discontinuity,
                });
                self.finish_root(root);
                return;
            }
        }

        for (index, slot) in chain.iter().copied().enumerate() {
            let Some(entry) = self.slots.remove(&slot) else {
                continue;
            };
            self.buffered_bytes -= entry.bytes;
            if !entry.rooted_explicitly {
                self.metrics.missed_rooted.inc();
            }
            if !entry.confirmed {
                self.metrics.missed_confirmed.inc();
            }
            let complete = match (entry.parent, entry.meta, entry.records) {
                (Some(parent), Some(meta), Some(records))
                    if !entry.dead && entry.incomplete.is_none() =>
                {
                    Ok((parent, meta, records))
                }
                _ if entry.dead => Err(LostReason::Dead),
                _ => Err(entry
                    .incomplete
                    .map_or(LostReason::NoMetadata, LostReason::Incomplete)),
            };
            match complete {
                Ok((parent, meta, records)) => {
                    self.outcomes.push(RootOutcome::Persist(RootedSlot {
                        info: SlotInfo {
                            slot,
                            parent,
                            blockhash: meta.blockhash,
                            status: SlotStatus::Rooted,
                            block_height: meta.block_height,
                            block_time: meta.block_time,
                            executed_transaction_count: meta.executed_transaction_count,
                        },
                        records,
                    }));
                }
                Err(reason) => {
                    debug_assert!(entry.parent.is_some() || index == 0);
                    self.lose(slot, reason);
                }
            }
        }
        self.finish_root(root);
    }

    fn lose(&mut self, slot: Slot, reason: LostReason) {
        tracing::warn!(
            slot,
            ?reason,
            "rooted slot unavailable: replicas behind it must re-bootstrap"
        );
        self.metrics.slots_unavailable.inc();
        self.outcomes.push(RootOutcome::Lost { slot, reason });
    }

    /// Sets the root and drops every slot that does not descend from it.
    fn finish_root(&mut self, root: Slot) {
        self.last_root = Some(root);
        self.dirty = true;
        self.frozen_seen = self.frozen_seen.split_off(&root);
        let newer = self.slots.split_off(&(root + 1));
        let abandoned = std::mem::replace(&mut self.slots, newer);
        for (slot, entry) in abandoned {
            self.buffered_bytes -= entry.bytes;
            self.count_pruned(slot, &entry);
        }
        // Keep slots > root whose ancestry reaches the root (or is not known yet).
        let mut dropped: BTreeSet<Slot> = BTreeSet::new();
        let slots: Vec<Slot> = self.slots.keys().copied().collect();
        for slot in slots {
            let parent = self.slots[&slot].parent;
            let keep = match parent {
                None => true,
                Some(parent) if parent == root => true,
                Some(parent) if parent < root => false,
                Some(parent) => !dropped.contains(&parent),
            };
            if !keep {
                dropped.insert(slot);
                let entry = self.slots.remove(&slot).expect("listed above");
                self.buffered_bytes -= entry.bytes;
                self.count_pruned(slot, &entry);
            }
        }
    }

    fn count_pruned(&self, slot: Slot, entry: &SlotEntry) {
        if !entry.dead {
            tracing::debug!(slot, "pruned slot of an abandoned fork");
            self.metrics.pruned_slots.inc();
        }
    }

    /// Confirmed banks above the root that can be served: complete, and whose every ancestor
    /// down to the root is complete too. Ascending by slot.
    pub fn confirmed_slots(&self) -> Vec<ConfirmedSlot> {
        let mut servable: BTreeSet<Slot> = BTreeSet::new();
        let mut out = Vec::new();
        for (&slot, entry) in &self.slots {
            let Some(parent) = entry.parent else { continue };
            if !entry.is_complete() {
                continue;
            }
            let parent_ok = match self.last_root {
                Some(root) if parent == root => true,
                Some(root) if parent < root => false,
                _ if self.slots.contains_key(&parent) => servable.contains(&parent),
                // Above an unknown parent: only on a fresh start (no root yet).
                _ => self.last_root.is_none(),
            };
            if !parent_ok {
                continue;
            }
            servable.insert(slot);
            if !entry.confirmed {
                continue;
            }
            let meta = entry.meta.expect("complete slots have metadata");
            out.push(ConfirmedSlot {
                info: SlotInfo {
                    slot,
                    parent,
                    blockhash: meta.blockhash,
                    status: SlotStatus::Confirmed,
                    block_height: meta.block_height,
                    block_time: meta.block_time,
                    executed_transaction_count: meta.executed_transaction_count,
                },
                records: entry.records.clone().expect("complete slots have records"),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(n: u8) -> Pubkey {
        Pubkey::new_from_array([n; 32])
    }

    fn hash(slot: Slot) -> Hash {
        Hash::new_from_array([slot as u8 + 100; 32])
    }

    fn write(slot: Slot, version: u64, key: u8, lamports: u64) -> Event {
        Event::Account {
            slot,
            write_version: version,
            record: AccountRecord {
                pubkey: pk(key),
                lamports,
                owner: pk(200),
                executable: false,
                rent_epoch: u64::MAX,
                data: vec![key; 3],
            },
        }
    }

    fn status(slot: Slot, parent: Option<Slot>, status: StatusKind) -> Event {
        Event::Status {
            slot,
            parent,
            status,
        }
    }

    fn meta(slot: Slot, parent: Slot) -> Event {
        Event::BlockMeta {
            slot,
            parent: Some(parent),
            blockhash: Some(hash(slot)),
            block_height: Some(slot),
            block_time: Some(1_700_000_000),
            executed_transaction_count: Some(slot % 7),
        }
    }

    /// A whole bank: writes, CreatedBank, metadata, Processed.
    fn bank(c: &mut Collector, slot: Slot, parent: Slot, writes: &[(u64, u8, u64)]) {
        for &(version, key, lamports) in writes {
            c.apply(write(slot, version, key, lamports));
        }
        c.apply(status(slot, Some(parent), StatusKind::CreatedBank));
        c.apply(meta(slot, parent));
        c.apply(status(slot, Some(parent), StatusKind::Processed));
    }

    fn collector() -> (Collector, Metrics) {
        let metrics = Metrics::new();
        let mut c = Collector::new(None, 1 << 30, metrics.clone());
        c.end_of_startup();
        (c, metrics)
    }

    fn persisted(outcomes: &[RootOutcome]) -> Vec<Slot> {
        outcomes
            .iter()
            .filter_map(|o| match o {
                RootOutcome::Persist(r) => Some(r.info.slot),
                _ => None,
            })
            .collect()
    }

    fn lost(outcomes: &[RootOutcome]) -> Vec<(Slot, LostReason)> {
        outcomes
            .iter()
            .filter_map(|o| match o {
                RootOutcome::Lost { slot, reason } => Some((*slot, *reason)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn highest_write_version_wins_and_closed_accounts_are_tombstones() {
        let (mut c, _) = collector();
        c.apply(write(11, 7, 1, 50));
        c.apply(write(11, 9, 1, 70));
        c.apply(write(11, 8, 1, 60)); // older version arriving late
        c.apply(write(11, 3, 2, 10));
        c.apply(write(11, 4, 2, 0)); // closed
        bank(&mut c, 11, 10, &[]);
        c.apply(status(11, Some(10), StatusKind::Rooted));
        let outcomes = c.take_outcomes();
        assert!(matches!(outcomes[0], RootOutcome::StartAfter(10)));
        let RootOutcome::Persist(rooted) = &outcomes[1] else {
            panic!("{outcomes:?}")
        };
        assert_eq!(rooted.info.blockhash, hash(11));
        // The block metadata's executed transaction count goes with the slot.
        assert_eq!(rooted.info.executed_transaction_count, Some(11 % 7));
        assert_eq!(rooted.records.len(), 2);
        assert_eq!(rooted.records[0].lamports, 70);
        assert_eq!(rooted.records[1], tombstone(pk(2)));
        assert_eq!(c.buffered_bytes(), 0);
    }

    #[test]
    fn statuses_in_any_order_and_missing_confirmed() {
        let (mut c, metrics) = collector();
        bank(&mut c, 1, 0, &[(1, 1, 5)]);
        bank(&mut c, 2, 1, &[(2, 1, 6)]);
        bank(&mut c, 3, 2, &[(3, 2, 7)]);
        // Slot 3 confirmed first: confirms 2 and 1 (never notified).
        c.apply(status(3, Some(2), StatusKind::Confirmed));
        let confirmed: Vec<Slot> = c.confirmed_slots().iter().map(|s| s.info.slot).collect();
        assert_eq!(confirmed, [1, 2, 3]);
        assert_eq!(metrics.missed_confirmed.get(), 2);
        // Late Confirmed for 1 changes nothing.
        c.apply(status(1, Some(0), StatusKind::Confirmed));
        // Rooted 2 before Rooted 1: roots 1 as well.
        c.apply(status(2, Some(1), StatusKind::Rooted));
        c.apply(status(1, Some(0), StatusKind::Rooted)); // stale
        let outcomes = c.take_outcomes();
        assert_eq!(persisted(&outcomes), [1, 2]);
        assert_eq!(metrics.missed_rooted.get(), 1);
        let confirmed: Vec<Slot> = c.confirmed_slots().iter().map(|s| s.info.slot).collect();
        assert_eq!(confirmed, [3]);
        // Rooted without any Confirmed for slot 4.
        bank(&mut c, 4, 3, &[]);
        c.apply(status(4, Some(3), StatusKind::Rooted));
        assert_eq!(persisted(&c.take_outcomes()), [3, 4]);
        assert_eq!(c.last_root(), Some(4));
        assert!(c.confirmed_slots().is_empty());
    }

    #[test]
    fn dead_and_abandoned_forks_are_dropped() {
        let (mut c, metrics) = collector();
        bank(&mut c, 1, 0, &[(1, 1, 5)]);
        // Slot 2 forks off 1 and dies mid-replay (no metadata).
        c.apply(write(2, 2, 9, 999));
        c.apply(status(2, Some(1), StatusKind::CreatedBank));
        c.apply(status(2, Some(1), StatusKind::Dead));
        // Slot 3 forks off 1 and is abandoned; slot 4 (child of 3) too.
        bank(&mut c, 3, 1, &[(3, 9, 888)]);
        bank(&mut c, 4, 3, &[(4, 9, 777)]);
        // The main chain: 5 on 1, 6 on 5.
        bank(&mut c, 5, 1, &[(5, 1, 6)]);
        bank(&mut c, 6, 5, &[(6, 2, 1)]);
        c.apply(status(6, Some(5), StatusKind::Rooted));
        let outcomes = c.take_outcomes();
        assert_eq!(persisted(&outcomes), [1, 5, 6]);
        assert!(lost(&outcomes).is_empty());
        for outcome in &outcomes {
            if let RootOutcome::Persist(r) = outcome {
                assert!(r.records.iter().all(|rec| rec.pubkey != pk(9)));
            }
        }
        assert_eq!(metrics.dead_slots.get(), 1);
        assert_eq!(metrics.pruned_slots.get(), 2);
        assert_eq!(c.slots_buffered(), 0);
        assert_eq!(c.buffered_bytes(), 0);
    }

    #[test]
    fn descendants_of_pruned_forks_above_the_root_are_dropped() {
        let (mut c, metrics) = collector();
        bank(&mut c, 1, 0, &[]);
        bank(&mut c, 2, 0, &[]); // sibling of 1
        bank(&mut c, 3, 2, &[]); // above the new root, on the abandoned fork
        bank(&mut c, 4, 1, &[]); // above the new root, on the main chain
        c.apply(status(1, Some(0), StatusKind::Rooted));
        assert_eq!(persisted(&c.take_outcomes()), [1]);
        assert_eq!(metrics.pruned_slots.get(), 2);
        c.apply(status(4, Some(1), StatusKind::Confirmed));
        let confirmed: Vec<Slot> = c.confirmed_slots().iter().map(|s| s.info.slot).collect();
        assert_eq!(confirmed, [4]);
    }

    #[test]
    fn new_bank_after_dead_is_resolved() {
        let (mut c, _) = collector();
        bank(&mut c, 1, 0, &[]);
        c.apply(write(2, 5, 1, 100));
        c.apply(status(2, Some(1), StatusKind::CreatedBank));
        c.apply(status(2, Some(1), StatusKind::Dead));
        // The other version of slot 2 is replayed.
        bank(&mut c, 2, 1, &[(9, 2, 200)]);
        c.apply(status(2, Some(1), StatusKind::Rooted));
        let outcomes = c.take_outcomes();
        let rooted: Vec<_> = outcomes
            .iter()
            .filter_map(|o| match o {
                RootOutcome::Persist(r) if r.info.slot == 2 => Some(r.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(rooted.len(), 1);
        assert_eq!(rooted[0].records.len(), 1);
        assert_eq!(rooted[0].records[0].pubkey, pk(2));
    }

    #[test]
    fn two_banks_for_one_slot_make_it_unavailable() {
        // A write after the seal.
        let (mut c, metrics) = collector();
        bank(&mut c, 1, 0, &[(1, 1, 5)]);
        bank(&mut c, 2, 1, &[(2, 1, 6)]);
        c.apply(write(2, 3, 1, 7));
        c.apply(status(2, Some(1), StatusKind::Confirmed));
        assert_eq!(
            c.confirmed_slots()
                .iter()
                .map(|s| s.info.slot)
                .collect::<Vec<_>>(),
            [1]
        );
        bank(&mut c, 3, 2, &[]);
        c.apply(status(3, Some(2), StatusKind::Rooted));
        let outcomes = c.take_outcomes();
        assert_eq!(persisted(&outcomes), [1, 3]);
        assert_eq!(
            lost(&outcomes),
            [(2, LostReason::Incomplete(Incomplete::MultipleBanks))]
        );
        assert_eq!(metrics.slots_unavailable.get(), 1);

        // A second CreatedBank; and a second blockhash.
        let (mut c, _) = collector();
        c.apply(status(5, Some(4), StatusKind::CreatedBank));
        c.apply(status(5, Some(4), StatusKind::CreatedBank));
        bank(&mut c, 6, 4, &[]);
        c.apply(Event::BlockMeta {
            slot: 6,
            parent: Some(4),
            blockhash: Some(Hash::new_unique()),
            block_height: None,
            block_time: None,
            executed_transaction_count: None,
        });
        c.apply(status(6, Some(4), StatusKind::Rooted));
        assert_eq!(
            lost(&c.take_outcomes()),
            [(6, LostReason::Incomplete(Incomplete::MultipleBanks))]
        );
    }

    #[test]
    fn shed_slots_are_never_served() {
        let (mut c, _) = collector();
        bank(&mut c, 1, 0, &[(1, 1, 1)]);
        c.shed(2);
        bank(&mut c, 2, 1, &[(2, 1, 2)]);
        bank(&mut c, 3, 2, &[(3, 1, 3)]);
        c.apply(status(3, Some(2), StatusKind::Confirmed));
        // 2 is shed: neither it nor its descendant 3 is listed.
        assert_eq!(
            c.confirmed_slots()
                .iter()
                .map(|s| s.info.slot)
                .collect::<Vec<_>>(),
            [1]
        );
        c.apply(status(3, Some(2), StatusKind::Rooted));
        let outcomes = c.take_outcomes();
        assert_eq!(persisted(&outcomes), [1, 3]);
        assert_eq!(
            lost(&outcomes),
            [(2, LostReason::Incomplete(Incomplete::Shed))]
        );
        // Old slots are not marked.
        c.shed(2);
        assert_eq!(c.slots_buffered(), 0);
    }

    #[test]
    fn buffer_budget_sheds_the_slot() {
        let metrics = Metrics::new();
        let mut c = Collector::new(None, 3 * (EVENT_OVERHEAD_BYTES + 3), metrics.clone());
        c.end_of_startup();
        bank(&mut c, 1, 0, &[(1, 1, 1), (2, 2, 1), (3, 3, 1), (4, 4, 1)]);
        c.apply(status(1, Some(0), StatusKind::Rooted));
        assert_eq!(
            lost(&c.take_outcomes()),
            [(1, LostReason::Incomplete(Incomplete::BufferFull))]
        );
        assert_eq!(metrics.dropped_buffer.get(), 1);
        assert_eq!(c.buffered_bytes(), 0);
    }

    #[test]
    fn resumes_after_the_delta_logs_root_and_detects_gaps() {
        let metrics = Metrics::new();
        let mut c = Collector::new(Some(10), 1 << 30, metrics.clone());
        c.end_of_startup();
        // Replayed after a restart: ignored.
        bank(&mut c, 9, 8, &[(1, 1, 1)]);
        c.apply(status(9, Some(8), StatusKind::Rooted));
        assert!(c.take_outcomes().is_empty());
        assert_eq!(c.slots_buffered(), 0);
        // Connected.
        bank(&mut c, 11, 10, &[(2, 1, 1)]);
        c.apply(status(11, Some(10), StatusKind::Rooted));
        assert_eq!(persisted(&c.take_outcomes()), [11]);
        // The validator jumped to a newer snapshot at 50: slots 12..=50 were never seen.
        bank(&mut c, 51, 50, &[(3, 1, 1)]);
        c.apply(status(51, Some(50), StatusKind::Rooted));
        let outcomes = c.take_outcomes();
        assert_eq!(lost(&outcomes), [(50, LostReason::Gap)]);
        assert_eq!(persisted(&outcomes), [51]);
        // A hard fork below the root.
        bank(&mut c, 60, 40, &[]);
        c.apply(status(60, Some(40), StatusKind::Rooted));
        assert_eq!(lost(&c.take_outcomes()), [(60, LostReason::Discontinuity)]);
    }

    #[test]
    fn startup_accounts_and_untrusted_first_banks() {
        // Loaded into a running validator (no end of startup): the first bank may be partial.
        let metrics = Metrics::new();
        let mut c = Collector::new(None, 1 << 30, metrics);
        bank(&mut c, 5, 4, &[(1, 1, 1)]);
        bank(&mut c, 6, 5, &[(2, 1, 2)]); // its parent's freeze was seen: trusted
        bank(&mut c, 7, 6, &[(3, 1, 3)]);
        c.apply(status(7, Some(6), StatusKind::Rooted));
        let outcomes = c.take_outcomes();
        assert!(matches!(outcomes[0], RootOutcome::StartAfter(4)));
        assert_eq!(
            lost(&outcomes),
            [(5, LostReason::Incomplete(Incomplete::Untrusted))]
        );
        assert_eq!(persisted(&outcomes), [6, 7]);
    }

    #[test]
    fn rooted_without_metadata_is_lost() {
        let (mut c, _) = collector();
        bank(&mut c, 1, 0, &[]);
        c.apply(write(2, 1, 1, 1));
        c.apply(status(2, Some(1), StatusKind::CreatedBank));
        bank(&mut c, 3, 2, &[]);
        c.apply(status(3, Some(2), StatusKind::Rooted));
        let outcomes = c.take_outcomes();
        assert_eq!(lost(&outcomes), [(2, LostReason::NoMetadata)]);
        assert_eq!(persisted(&outcomes), [1, 3]);
    }
}
