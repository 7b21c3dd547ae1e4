//! What the collector produces: rooted banks to persist, lost slots, confirmed banks to serve,
//! and why a slot cannot be served.

use {
    replication_proto::{AccountRecord, Pubkey, Slot, SlotInfo},
    std::sync::Arc,
};

/// Why a slot cannot be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incomplete {
    /// Some of its events were dropped at the hand-off.
    Shed,
    /// Its writes would have exceeded the memory budget.
    BufferFull,
    /// Writes of more than one bank may be mixed (duplicate block replayed).
    MultipleBanks,
    /// Its block metadata had an unparsable blockhash.
    BadMetadata,
    /// Its bank may have started before the plugin was loaded.
    Untrusted,
}

/// Why a rooted slot was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostReason {
    /// The slot itself could not be served.
    Incomplete(Incomplete),
    /// The slot was rooted without block metadata (its events never arrived).
    NoMetadata,
    /// Slots between the previous root and this chain were never seen (e.g. the validator
    /// restarted from a newer snapshot).
    Gap,
    /// The new root does not descend from the previous one (cluster restart on a hard fork).
    Discontinuity,
    /// The slot's bank was marked dead yet rooted (should not happen).
    Dead,
}

/// A rooted bank, ready to persist.
#[derive(Clone, Debug)]
pub struct RootedSlot {
    /// Its slot info (status [`SlotStatus::Rooted`]).
    pub info: SlotInfo,
    /// Its records, sorted by pubkey.
    pub records: Arc<[AccountRecord]>,
}

/// What rooting produced, in slot order.
#[derive(Clone, Debug)]
pub enum RootOutcome {
    /// First root since an empty delta log: replication starts after `slot` (the parent of the
    /// first chain), which becomes the first available slot's predecessor.
    StartAfter(Slot),
    /// A rooted bank to persist.
    Persist(RootedSlot),
    /// Every rooted slot up to `slot` is unavailable from now on.
    Lost {
        /// The newest lost slot.
        slot: Slot,
        /// Why.
        reason: LostReason,
    },
}

/// A confirmed (not yet rooted) bank that can be served from memory.
#[derive(Clone, Debug)]
pub struct ConfirmedSlot {
    /// Its slot info (status [`SlotStatus::Confirmed`]).
    pub info: SlotInfo,
    /// Its records, sorted by pubkey.
    pub records: Arc<[AccountRecord]>,
}

/// The canonical tombstone for a closed account: zero lamports, zeroed owner, no data.
pub fn tombstone(pubkey: Pubkey) -> AccountRecord {
    AccountRecord {
        pubkey,
        lamports: 0,
        owner: Pubkey::default(),
        executable: false,
        rent_epoch: 0,
        data: Vec::new(),
    }
}
