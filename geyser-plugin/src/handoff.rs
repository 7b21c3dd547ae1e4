//! The bounded hand-off between the validator's threads and the collector thread.
//!
//! A Geyser callback copies what it was given into an owned [`Event`] (outside any lock), then
//! [`Handoff::try_push`]es it: a push takes a mutex for a few dozen nanoseconds (a `VecDeque`
//! push and two counters) and never waits for room. When the queue is full (events or bytes),
//! the event is dropped, `geyser_records_dropped_total{stage="handoff"}` is counted, and the
//! event's slot is recorded as *shed* in the same critical section. The collector takes the shed
//! slots together with the queued events ([`Handoff::drain`]), so it can never see a later event
//! of a slot (say its `Rooted` status) without also learning that an earlier one was lost: a shed
//! slot is never served partially, it becomes unavailable (replicas re-bootstrap).

use {
    crate::metrics::Metrics,
    replication_proto::{AccountRecord, Hash, Slot},
    std::{
        collections::{BTreeSet, VecDeque},
        sync::{Condvar, Mutex, MutexGuard},
        time::Duration,
    },
};

/// Bytes counted for an event besides its account data.
pub const EVENT_OVERHEAD_BYTES: usize = 128;

/// Slot statuses as the validator reports them (the interface's `SlotStatus`, owned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusKind {
    /// Replayed (frozen) on the heaviest fork.
    Processed,
    /// Optimistically confirmed.
    Confirmed,
    /// Rooted.
    Rooted,
    /// The first shred of the slot arrived.
    FirstShredReceived,
    /// All shreds of the slot arrived.
    Completed,
    /// A bank was created for the slot.
    CreatedBank,
    /// The slot's bank failed replay.
    Dead,
}

/// One notification, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// An account write (`update_account`, not at startup).
    Account {
        /// The slot written in.
        slot: Slot,
        /// The validator's global write version: the highest one per pubkey wins in a slot.
        write_version: u64,
        /// The account after the write.
        record: AccountRecord,
    },
    /// Block metadata (`notify_block_metadata`), sent when the bank is frozen.
    BlockMeta {
        /// The slot.
        slot: Slot,
        /// Its parent, when the metadata version carries it.
        parent: Option<Slot>,
        /// The bank's blockhash; `None` if the validator sent an unparsable one.
        blockhash: Option<Hash>,
        /// Block height.
        block_height: Option<u64>,
        /// Block time (Unix seconds).
        block_time: Option<i64>,
        /// Transactions the bank executed (not in the oldest metadata version).
        executed_transaction_count: Option<u64>,
    },
    /// A slot status (`update_slot_status`).
    Status {
        /// The slot.
        slot: Slot,
        /// Its parent, when given.
        parent: Option<Slot>,
        /// The status.
        status: StatusKind,
    },
    /// The validator finished loading its snapshot (`notify_end_of_startup`): every bank seen
    /// from now on was created after the plugin was loaded.
    EndOfStartup,
}

impl Event {
    /// The slot the event belongs to.
    pub fn slot(&self) -> Slot {
        match self {
            Event::Account { slot, .. }
            | Event::BlockMeta { slot, .. }
            | Event::Status { slot, .. } => *slot,
            Event::EndOfStartup => 0,
        }
    }

    /// Bytes the event is counted for in the queue.
    pub fn cost(&self) -> usize {
        match self {
            Event::Account { record, .. } => EVENT_OVERHEAD_BYTES + record.data.len(),
            _ => EVENT_OVERHEAD_BYTES,
        }
    }
}

/// What the collector takes from the queue at once.
#[derive(Debug, Default)]
pub struct Drained {
    /// Events in push order.
    pub events: VecDeque<Event>,
    /// Slots with at least one dropped event since the previous drain.
    pub shed_slots: BTreeSet<Slot>,
}

#[derive(Debug, Default)]
struct State {
    events: VecDeque<Event>,
    bytes: usize,
    /// Events queued since the start.
    pushed: u64,
    shed_slots: BTreeSet<Slot>,
    closed: bool,
}

/// The bounded queue. Many producers (validator threads), one consumer (the collector).
#[derive(Debug)]
pub struct Handoff {
    state: Mutex<State>,
    ready: Condvar,
    max_events: usize,
    max_bytes: usize,
    metrics: Metrics,
}

/// Why an event was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// The queue was full; the event's slot is now shed.
    Full,
    /// The consumer has stopped.
    Closed,
}

impl Handoff {
    /// A queue holding at most `max_events` events and `max_bytes` bytes.
    pub fn new(max_events: usize, max_bytes: usize, metrics: Metrics) -> Self {
        Self {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            max_events: max_events.max(1),
            max_bytes: max_bytes.max(1),
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing inside the lock can panic half-way; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `event` or drops it; never waits.
    pub fn try_push(&self, event: Event) -> Result<(), PushError> {
        let cost = event.cost();
        let mut state = self.lock();
        if state.closed {
            return Err(PushError::Closed);
        }
        if state.events.len() >= self.max_events || state.bytes + cost > self.max_bytes {
            state.shed_slots.insert(event.slot());
            drop(state);
            self.metrics.dropped_handoff.inc();
            self.metrics.shedding.set(1);
            return Err(PushError::Full);
        }
        let was_empty = state.events.is_empty();
        state.events.push_back(event);
        state.bytes += cost;
        state.pushed += 1;
        drop(state);
        if was_empty {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Records that an event of `slot` was lost before it could be queued (e.g. unusable).
    pub fn mark_shed(&self, slot: Slot) {
        self.lock().shed_slots.insert(slot);
        self.metrics.dropped_handoff.inc();
        self.ready.notify_one();
    }

    /// Takes everything queued (and the shed slots), waiting up to `timeout` for something to
    /// arrive. Returns an empty batch on timeout or once closed.
    pub fn drain(&self, timeout: Duration) -> Drained {
        let mut state = self.lock();
        if state.events.is_empty() && state.shed_slots.is_empty() && !state.closed {
            state = self
                .ready
                .wait_timeout(state, timeout)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        let drained = Drained {
            events: std::mem::take(&mut state.events),
            shed_slots: std::mem::take(&mut state.shed_slots),
        };
        state.bytes = 0;
        drop(state);
        self.metrics.handoff_queue_len.set(0);
        self.metrics.handoff_queue_bytes.set(0);
        drained
    }

    /// Samples the queue depth into the gauges (the consumer calls this before draining).
    pub fn sample(&self) {
        let state = self.lock();
        let (len, bytes) = (state.events.len(), state.bytes);
        drop(state);
        self.metrics.handoff_queue_len.set(len as i64);
        self.metrics.handoff_queue_bytes.set(bytes as i64);
    }

    /// Events queued since the start (dropped ones excluded).
    pub fn pushed(&self) -> u64 {
        self.lock().pushed
    }

    /// Stops accepting events and wakes the consumer.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(slot: Slot, len: usize) -> Event {
        Event::Account {
            slot,
            write_version: 1,
            record: AccountRecord {
                lamports: 1,
                data: vec![0; len],
                ..AccountRecord::default()
            },
        }
    }

    #[test]
    fn full_queue_drops_and_sheds_the_slot() {
        let metrics = Metrics::new();
        let handoff = Handoff::new(2, 1 << 20, metrics.clone());
        handoff.try_push(account(5, 0)).unwrap();
        handoff.try_push(account(5, 0)).unwrap();
        assert_eq!(handoff.try_push(account(6, 0)), Err(PushError::Full));
        assert_eq!(metrics.dropped_handoff.get(), 1);
        assert_eq!(metrics.shedding.get(), 1);
        let drained = handoff.drain(Duration::ZERO);
        assert_eq!(drained.events.len(), 2);
        assert_eq!(drained.shed_slots.into_iter().collect::<Vec<_>>(), [6]);
        // Room again.
        handoff.try_push(account(7, 0)).unwrap();
    }

    #[test]
    fn byte_budget_applies() {
        let handoff = Handoff::new(100, 2 * EVENT_OVERHEAD_BYTES + 10, Metrics::new());
        handoff.try_push(account(1, 10)).unwrap();
        assert_eq!(handoff.try_push(account(1, 1)), Err(PushError::Full));
        handoff.sample();
        let drained = handoff.drain(Duration::ZERO);
        assert_eq!(drained.events.len(), 1);
        assert!(drained.shed_slots.contains(&1));
    }

    #[test]
    fn drain_waits_and_close_wakes() {
        let handoff = std::sync::Arc::new(Handoff::new(10, 1 << 20, Metrics::new()));
        let producer = {
            let handoff = handoff.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                handoff.try_push(account(1, 0)).unwrap();
            })
        };
        let drained = handoff.drain(Duration::from_secs(10));
        assert_eq!(drained.events.len(), 1);
        producer.join().unwrap();
        handoff.close();
        assert_eq!(handoff.try_push(account(1, 0)), Err(PushError::Closed));
        assert!(handoff.drain(Duration::from_secs(10)).events.is_empty());
    }
}
