//! The plugin's Prometheus metrics, on a registry of its own (a process may host several
//! plugin instances, e.g. a simulator and a test).
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `geyser_records_dropped_total` | counter | `stage` = `handoff` \| `buffer` | events shed: the hand-off queue was full, or a slot outgrew the memory budget |
//! | `geyser_shedding` | gauge | | 1 while events are being shed (set at each drop, cleared once the queue has drained) |
//! | `geyser_handoff_queue_len` | gauge | | events waiting in the hand-off queue |
//! | `geyser_handoff_queue_bytes` | gauge | | bytes waiting in the hand-off queue |
//! | `geyser_slots_buffered` | gauge | | slots held in memory that are not yet rooted |
//! | `geyser_buffered_bytes` | gauge | | bytes of those slots |
//! | `geyser_retained_slots` | gauge | | rooted slots in the delta log |
//! | `geyser_retained_bytes` | gauge | | bytes of the delta log on disk |
//! | `geyser_first_available_slot` | gauge | | oldest slot replicas can still stream |
//! | `geyser_last_rooted_slot` | gauge | | newest rooted slot |
//! | `geyser_slots_unavailable_total` | counter | | rooted slots that could not be served (shed, several banks, gap); each forces behind replicas to re-bootstrap |
//! | `geyser_missed_slot_status_total` | counter | `status` = `confirmed` \| `rooted` | statuses repaired: implied by a descendant instead of notified |
//! | `geyser_dead_slots_total` | counter | | banks marked dead |
//! | `geyser_pruned_slots_total` | counter | | banks dropped because their fork was abandoned |
//! | `geyser_startup_accounts_skipped_total` | counter | | snapshot-load account notifications skipped |
//! | `geyser_delta_log_errors_total` | counter | | failed delta-log writes or deletions |

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// `geyser_records_dropped_total`.
pub const RECORDS_DROPPED_TOTAL: &str = "geyser_records_dropped_total";
/// `geyser_shedding`.
pub const SHEDDING: &str = "geyser_shedding";
/// `geyser_handoff_queue_len`.
pub const HANDOFF_QUEUE_LEN: &str = "geyser_handoff_queue_len";
/// `geyser_handoff_queue_bytes`.
pub const HANDOFF_QUEUE_BYTES: &str = "geyser_handoff_queue_bytes";
/// `geyser_slots_buffered`.
pub const SLOTS_BUFFERED: &str = "geyser_slots_buffered";
/// `geyser_buffered_bytes`.
pub const BUFFERED_BYTES: &str = "geyser_buffered_bytes";
/// `geyser_retained_slots`.
pub const RETAINED_SLOTS: &str = "geyser_retained_slots";
/// `geyser_retained_bytes`.
pub const RETAINED_BYTES: &str = "geyser_retained_bytes";
/// `geyser_first_available_slot`.
pub const FIRST_AVAILABLE_SLOT: &str = "geyser_first_available_slot";
/// `geyser_last_rooted_slot`.
pub const LAST_ROOTED_SLOT: &str = "geyser_last_rooted_slot";
/// `geyser_slots_unavailable_total`.
pub const SLOTS_UNAVAILABLE_TOTAL: &str = "geyser_slots_unavailable_total";
/// `geyser_missed_slot_status_total`.
pub const MISSED_SLOT_STATUS_TOTAL: &str = "geyser_missed_slot_status_total";
/// `geyser_dead_slots_total`.
pub const DEAD_SLOTS_TOTAL: &str = "geyser_dead_slots_total";
/// `geyser_pruned_slots_total`.
pub const PRUNED_SLOTS_TOTAL: &str = "geyser_pruned_slots_total";
/// `geyser_startup_accounts_skipped_total`.
pub const STARTUP_ACCOUNTS_SKIPPED_TOTAL: &str = "geyser_startup_accounts_skipped_total";
/// `geyser_delta_log_errors_total`.
pub const DELTA_LOG_ERRORS_TOTAL: &str = "geyser_delta_log_errors_total";

/// Every metric of one plugin instance.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// Events dropped at the hand-off (`stage="handoff"`).
    pub dropped_handoff: IntCounter,
    /// Writes dropped because a slot outgrew the buffer (`stage="buffer"`).
    pub dropped_buffer: IntCounter,
    /// See [`SHEDDING`].
    pub shedding: IntGauge,
    /// See [`HANDOFF_QUEUE_LEN`].
    pub handoff_queue_len: IntGauge,
    /// See [`HANDOFF_QUEUE_BYTES`].
    pub handoff_queue_bytes: IntGauge,
    /// See [`SLOTS_BUFFERED`].
    pub slots_buffered: IntGauge,
    /// See [`BUFFERED_BYTES`].
    pub buffered_bytes: IntGauge,
    /// See [`RETAINED_SLOTS`].
    pub retained_slots: IntGauge,
    /// See [`RETAINED_BYTES`].
    pub retained_bytes: IntGauge,
    /// See [`FIRST_AVAILABLE_SLOT`].
    pub first_available_slot: IntGauge,
    /// See [`LAST_ROOTED_SLOT`].
    pub last_rooted_slot: IntGauge,
    /// See [`SLOTS_UNAVAILABLE_TOTAL`].
    pub slots_unavailable: IntCounter,
    /// Confirmed statuses implied by a descendant.
    pub missed_confirmed: IntCounter,
    /// Rooted statuses implied by a descendant.
    pub missed_rooted: IntCounter,
    /// See [`DEAD_SLOTS_TOTAL`].
    pub dead_slots: IntCounter,
    /// See [`PRUNED_SLOTS_TOTAL`].
    pub pruned_slots: IntCounter,
    /// See [`STARTUP_ACCOUNTS_SKIPPED_TOTAL`].
    pub startup_skipped: IntCounter,
    /// See [`DELTA_LOG_ERRORS_TOTAL`].
    pub delta_log_errors: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric on a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let vec = |name: &str, help: &str, label: &str| {
            let v = IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric");
            registry
                .register(Box::new(v.clone()))
                .expect("unique metric");
            v
        };
        let dropped = vec(
            RECORDS_DROPPED_TOTAL,
            "Events shed: hand-off queue full (stage=handoff) or slot over the memory budget (stage=buffer)",
            "stage",
        );
        let missed = vec(
            MISSED_SLOT_STATUS_TOTAL,
            "Slot statuses implied by a descendant instead of notified",
            "status",
        );
        Self {
            dropped_handoff: dropped.with_label_values(&["handoff"]),
            dropped_buffer: dropped.with_label_values(&["buffer"]),
            shedding: gauge(SHEDDING, "1 while events are being shed"),
            handoff_queue_len: gauge(HANDOFF_QUEUE_LEN, "Events waiting in the hand-off queue"),
            handoff_queue_bytes: gauge(HANDOFF_QUEUE_BYTES, "Bytes waiting in the hand-off queue"),
            slots_buffered: gauge(
                SLOTS_BUFFERED,
                "Slots held in memory that are not yet rooted",
            ),
            buffered_bytes: gauge(BUFFERED_BYTES, "Bytes of slots held in memory"),
            retained_slots: gauge(RETAINED_SLOTS, "Rooted slots in the delta log"),
            retained_bytes: gauge(RETAINED_BYTES, "Bytes of the delta log on disk"),
            first_available_slot: gauge(
                FIRST_AVAILABLE_SLOT,
                "Oldest slot replicas can still stream",
            ),
            last_rooted_slot: gauge(LAST_ROOTED_SLOT, "Newest rooted slot"),
            slots_unavailable: counter(
                SLOTS_UNAVAILABLE_TOTAL,
                "Rooted slots that could not be served (shed, several banks, gap)",
            ),
            missed_confirmed: missed.with_label_values(&["confirmed"]),
            missed_rooted: missed.with_label_values(&["rooted"]),
            dead_slots: counter(DEAD_SLOTS_TOTAL, "Banks marked dead"),
            pruned_slots: counter(PRUNED_SLOTS_TOTAL, "Banks dropped with an abandoned fork"),
            startup_skipped: counter(
                STARTUP_ACCOUNTS_SKIPPED_TOTAL,
                "Snapshot-load account notifications skipped",
            ),
            delta_log_errors: counter(
                DELTA_LOG_ERRORS_TOTAL,
                "Failed delta-log writes or deletions",
            ),
            registry,
        }
    }

    /// The registry, for a `/metrics` endpoint.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The metrics in Prometheus text format.
    pub fn encode(&self) -> String {
        common::metrics::encode(&self.registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exported() {
        let metrics = Metrics::new();
        metrics.dropped_handoff.inc();
        metrics.missed_rooted.inc();
        metrics.missed_confirmed.inc();
        metrics.dropped_buffer.inc();
        let text = metrics.encode();
        for name in [
            RECORDS_DROPPED_TOTAL,
            SHEDDING,
            HANDOFF_QUEUE_LEN,
            HANDOFF_QUEUE_BYTES,
            SLOTS_BUFFERED,
            BUFFERED_BYTES,
            RETAINED_SLOTS,
            RETAINED_BYTES,
            FIRST_AVAILABLE_SLOT,
            LAST_ROOTED_SLOT,
            SLOTS_UNAVAILABLE_TOTAL,
            MISSED_SLOT_STATUS_TOTAL,
            DEAD_SLOTS_TOTAL,
            PRUNED_SLOTS_TOTAL,
            STARTUP_ACCOUNTS_SKIPPED_TOTAL,
            DELTA_LOG_ERRORS_TOTAL,
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
        assert!(text.contains(r#"geyser_records_dropped_total{stage="handoff"} 1"#));
    }
}
