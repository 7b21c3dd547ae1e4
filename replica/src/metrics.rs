//! The replica's Prometheus metrics. Names are prefixed `replica_` with unit suffixes; labels
//! never hold a pubkey, slot or peer. (JSON-RPC metrics live with the RPC server.)

use {
    crate::state::ReplicaState,
    prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Opts, Registry},
};

pub const ROOT_SLOT: &str = "replica_root_slot";
pub const CONFIRMED_SLOT: &str = "replica_confirmed_slot";
pub const UPSTREAM_CONFIRMED_SLOT: &str = "replica_upstream_confirmed_slot";
pub const SLOTS_BEHIND: &str = "replica_slots_behind_upstream";
pub const OVERLAY_SLOTS: &str = "replica_overlay_slots";
pub const ACCOUNTS: &str = "replica_accounts";
pub const COMMIT_SECONDS: &str = "replica_commit_seconds";
pub const SLOTS_COMMITTED: &str = "replica_slots_committed_total";
pub const ACCOUNTS_APPLIED: &str = "replica_accounts_applied_total";
pub const SLOTS_FETCHED: &str = "replica_slots_fetched_total";
pub const UPSTREAM_FAILURES: &str = "replica_upstream_failures_total";
pub const STORE_SST_BYTES: &str = "replica_store_sst_bytes";
pub const STORE_MEMTABLE_BYTES: &str = "replica_store_memtable_bytes";
pub const SNAPSHOTS_WRITTEN: &str = "replica_snapshot_archives_written_total";
pub const NEEDS_BOOTSTRAP: &str = "replica_needs_bootstrap";

/// Counters and histograms updated where things happen; gauges of state are refreshed from
/// [`ReplicaState`] when scraped.
#[derive(Debug, Clone)]
pub struct ReplicaMetrics {
    pub commit_seconds: Histogram,
    pub slots_committed: IntCounter,
    pub accounts_applied: IntCounter,
    pub slots_fetched: IntCounter,
    pub upstream_failures: IntCounter,
    pub snapshots_written: IntCounter,
    root_slot: IntGauge,
    confirmed_slot: IntGauge,
    upstream_confirmed_slot: IntGauge,
    slots_behind: IntGauge,
    overlay_slots: IntGauge,
    accounts: IntGauge,
    store_sst_bytes: IntGauge,
    store_memtable_bytes: IntGauge,
    needs_bootstrap: IntGauge,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: T,
) -> T {
    // A second replica state in one process (tests) registers again; keep the first.
    let _ = registry.register(Box::new(collector.clone()));
    collector
}

impl ReplicaMetrics {
    pub fn new(registry: &Registry) -> Self {
        let gauge = |name: &str, help: &str| {
            register(
                registry,
                IntGauge::with_opts(Opts::new(name, help)).expect("valid gauge"),
            )
        };
        let counter = |name: &str, help: &str| {
            register(
                registry,
                IntCounter::with_opts(Opts::new(name, help)).expect("valid counter"),
            )
        };
        Self {
            commit_seconds: register(
                registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        COMMIT_SECONDS,
                        "Time to commit a rooted chain to the store",
                    )
                    .buckets(
                        prometheus::exponential_buckets(0.0005, 2.0, 16).expect("valid buckets"),
                    ),
                )
                .expect("valid histogram"),
            ),
            slots_committed: counter(SLOTS_COMMITTED, "Rooted slots committed to the store"),
            accounts_applied: counter(ACCOUNTS_APPLIED, "Account writes and deletions committed"),
            slots_fetched: counter(SLOTS_FETCHED, "Confirmed slots fetched from the upstream"),
            upstream_failures: counter(
                UPSTREAM_FAILURES,
                "Upstream connections or exchanges that failed",
            ),
            snapshots_written: counter(SNAPSHOTS_WRITTEN, "Snapshot archives this replica wrote"),
            root_slot: gauge(ROOT_SLOT, "Slot of the rooted store"),
            confirmed_slot: gauge(CONFIRMED_SLOT, "Slot of the confirmed view"),
            upstream_confirmed_slot: gauge(
                UPSTREAM_CONFIRMED_SLOT,
                "Newest confirmed slot the upstream reported",
            ),
            slots_behind: gauge(
                SLOTS_BEHIND,
                "Upstream confirmed slot minus this replica's confirmed slot",
            ),
            overlay_slots: gauge(
                OVERLAY_SLOTS,
                "Confirmed slots held in memory above the root",
            ),
            accounts: gauge(ACCOUNTS, "Accounts in the rooted store"),
            store_sst_bytes: gauge(STORE_SST_BYTES, "Bytes of the store's SST files"),
            store_memtable_bytes: gauge(STORE_MEMTABLE_BYTES, "Bytes of the store's memtables"),
            needs_bootstrap: gauge(
                NEEDS_BOOTSTRAP,
                "1 when the upstream cannot bring this replica forward",
            ),
        }
    }

    /// Refreshes the state gauges (called before each scrape).
    pub fn refresh(&self, state: &ReplicaState) {
        let as_gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let root = state.root_slot().unwrap_or_default();
        let confirmed = state.confirmed_slot().unwrap_or(root);
        self.root_slot.set(as_gauge(root));
        self.confirmed_slot.set(as_gauge(confirmed));
        let upstream = state
            .upstream()
            .map(|upstream| upstream.confirmed_slot)
            .unwrap_or_default();
        self.upstream_confirmed_slot.set(as_gauge(upstream));
        self.slots_behind
            .set(as_gauge(upstream.saturating_sub(confirmed)));
        self.overlay_slots
            .set(state.overlay().read().expect("overlay lock").len() as i64);
        if let Some(root) = state.store().root() {
            self.accounts.set(as_gauge(root.accounts));
        }
        let (sst, memtables) = state.store().size_bytes();
        self.store_sst_bytes.set(as_gauge(sst));
        self.store_memtable_bytes.set(as_gauge(memtables));
        self.needs_bootstrap
            .set(i64::from(state.needs_bootstrap().is_some()));
    }
}
