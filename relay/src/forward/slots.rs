//! Per-slot statistics over the most recent `window` slots (bounded): shreds of each type,
//! bytes, highest data index, whether the last shred arrived, first and last arrival.

use {
    crate::shred::{ShredHeader, ShredType, Slot},
    serde::Serialize,
    std::{
        collections::BTreeMap,
        sync::{Arc, Mutex},
    },
};

/// The latest [`SlotStats::snapshot`], published by the forward loop about once a second for
/// `GET /slots`.
pub type SlotsView = Arc<Mutex<Vec<SlotRow>>>;

/// One slot of `GET /slots`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlotRow {
    /// The slot.
    pub slot: Slot,
    /// Its counts.
    #[serde(flatten)]
    pub counts: SlotCounts,
}

/// Default window: 64 slots (about 25 s at 400 ms slots).
pub const DEFAULT_SLOT_WINDOW: usize = 64;

/// Counts for one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SlotCounts {
    /// Data shreds forwarded.
    pub data: u32,
    /// Coding shreds forwarded.
    pub code: u32,
    /// Payload bytes forwarded.
    pub bytes: u64,
    /// Highest data shred index seen.
    pub max_data_index: Option<u32>,
    /// Index of the data shred marked last in slot, if it came.
    pub last_index: Option<u32>,
    /// First arrival, ns since the Unix epoch.
    pub first_ns: u64,
    /// Last arrival, ns since the Unix epoch.
    pub last_ns: u64,
}

impl SlotCounts {
    /// Data plus coding shreds.
    pub fn shreds(&self) -> u32 {
        self.data + self.code
    }
}

/// A slot that left the window, with its final counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetiredSlot {
    /// The slot.
    pub slot: Slot,
    /// Its counts.
    pub counts: SlotCounts,
}

/// The window.
#[derive(Debug)]
pub struct SlotStats {
    window: usize,
    slots: BTreeMap<Slot, SlotCounts>,
    latest: Option<Slot>,
}

impl SlotStats {
    /// An empty window of `window` slots (at least 1).
    pub fn new(window: usize) -> Self {
        Self {
            window: window.max(1),
            slots: BTreeMap::new(),
            latest: None,
        }
    }

    /// Highest slot recorded.
    pub fn latest(&self) -> Option<Slot> {
        self.latest
    }

    /// Records a forwarded shred of `bytes` bytes at `now_ns`; returns the slot pushed out of
    /// the window, if any. A shred of a slot older than the whole window is not tracked.
    pub fn record(
        &mut self,
        shred: &ShredHeader,
        bytes: usize,
        now_ns: u64,
    ) -> Option<RetiredSlot> {
        let full = self.slots.len() >= self.window;
        if full
            && self
                .slots
                .keys()
                .next()
                .is_some_and(|oldest| shred.slot < *oldest)
        {
            return None;
        }
        self.latest = Some(self.latest.map_or(shred.slot, |l| l.max(shred.slot)));
        let counts = self.slots.entry(shred.slot).or_insert(SlotCounts {
            first_ns: now_ns,
            ..SlotCounts::default()
        });
        counts.bytes += bytes as u64;
        counts.last_ns = counts.last_ns.max(now_ns);
        match shred.shred_type() {
            ShredType::Data => {
                counts.data += 1;
                counts.max_data_index = Some(
                    counts
                        .max_data_index
                        .map_or(shred.index, |m| m.max(shred.index)),
                );
                if shred.last_in_slot() {
                    counts.last_index = Some(shred.index);
                }
            }
            ShredType::Code => counts.code += 1,
        }
        if self.slots.len() > self.window {
            let (slot, counts) = self.slots.pop_first()?;
            return Some(RetiredSlot { slot, counts });
        }
        None
    }

    /// The window's slots, oldest first.
    pub fn snapshot(&self) -> Vec<(Slot, SlotCounts)> {
        self.slots
            .iter()
            .map(|(slot, counts)| (*slot, *counts))
            .collect()
    }

    /// The window's slots as `GET /slots` rows, newest first.
    pub fn rows(&self) -> Vec<SlotRow> {
        self.slots
            .iter()
            .rev()
            .map(|(slot, counts)| SlotRow {
                slot: *slot,
                counts: *counts,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::{
            shred::parse,
            testkit::{SHREDS_PER_SLOT, ShredSpec, build_shred},
        },
    };

    #[test]
    fn counts_per_slot_and_stays_bounded() {
        let mut stats = SlotStats::new(2);
        let mut retired = Vec::new();
        for n in 0..(4 * SHREDS_PER_SLOT) {
            let bytes = build_shred(&ShredSpec::nth(n, 50, 1));
            let header = parse(&bytes).unwrap();
            retired.extend(stats.record(&header, bytes.len(), n));
        }
        assert_eq!(stats.snapshot().len(), 2);
        assert_eq!(stats.latest(), Some(53));
        assert_eq!(retired.len(), 2);
        assert_eq!(retired[0].slot, 50);
        assert_eq!(retired[0].counts.data, 64);
        assert_eq!(retired[0].counts.code, 64);
        assert_eq!(retired[0].counts.last_index, Some(63));
        assert_eq!(retired[0].counts.max_data_index, Some(63));
        // An old slot's shred does not disturb the window.
        let old = parse(&build_shred(&ShredSpec::nth(0, 10, 1))).unwrap();
        assert_eq!(stats.record(&old, 1, 0), None);
        assert_eq!(stats.snapshot()[0].0, 52);
    }
}
