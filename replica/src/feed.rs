//! What changed, slot by slot, as slots enter the confirmed view and as they are rooted: the
//! feed PubSub notifies from. Events come in slot order per kind, each slot confirmed before it
//! is rooted; the channel is bounded, and a consumer that falls behind is told how many events
//! it lost.

use {
    crate::bank::overlay::OverlaySlot,
    solana_clock::Slot,
    std::{sync::Arc, time::Instant},
    tokio::sync::broadcast,
};

/// Events kept for a consumer that is behind.
pub const FEED_CAPACITY: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotEventKind {
    /// The slot entered the confirmed view.
    Confirmed,
    /// The slot was rooted (committed to the store).
    Rooted,
}

/// One slot's change of commitment, with the accounts it wrote.
#[derive(Debug, Clone)]
pub struct SlotEvent {
    pub kind: SlotEventKind,
    pub slot: Arc<OverlaySlot>,
    /// The store's root when the event was published.
    pub root: Slot,
    /// When the slot entered the view this event announces.
    pub at: Instant,
}

impl SlotEvent {
    pub fn new(kind: SlotEventKind, slot: Arc<OverlaySlot>, root: Slot) -> Self {
        Self {
            kind,
            slot,
            root,
            at: Instant::now(),
        }
    }

    pub fn slot(&self) -> Slot {
        self.slot.meta.slot
    }
}

/// The sending side; cheap to clone.
pub type FeedSender = broadcast::Sender<Arc<SlotEvent>>;
