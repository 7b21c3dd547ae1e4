//! The replica's Prometheus metrics. Names are prefixed `replica_` with unit suffixes; labels
//! never hold a pubkey, slot or peer. (JSON-RPC metrics live with the RPC server.)

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Opts, Registry};

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
pub const HEALTH: &str = "replica_health";
pub const LAST_VERIFIED_SLOT: &str = "replica_last_verified_slot";
pub const SNAPSHOTS_VERIFIED: &str = "replica_snapshots_verified_total";
pub const SNAPSHOT_MISMATCHES: &str = "replica_snapshot_mismatches_total";
pub const BOOTSTRAPS: &str = "replica_bootstraps_total";
pub const BOOTSTRAP_FAILURES: &str = "replica_bootstrap_failures_total";

/// The state the gauges show, read each refresh.
#[derive(Debug, Clone, Copy, Default)]
pub struct GaugeValues {
    pub root: u64,
    pub confirmed: u64,
    pub upstream_confirmed: u64,
    pub overlay_slots: usize,
    pub accounts: Option<u64>,
    pub sst_bytes: u64,
    pub memtable_bytes: u64,
    pub needs_bootstrap: bool,
    /// 0 ok, 1 behind, 2 unknown.
    pub health: i64,
    pub last_verified_slot: Option<u64>,
}

/// Counters and histograms updated where things happen; gauges of state are refreshed from
/// [`GaugeValues`] every second.
#[derive(Debug, Clone)]
pub struct ReplicaMetrics {
    pub commit_seconds: Histogram,
    pub slots_committed: IntCounter,
    pub accounts_applied: IntCounter,
    pub slots_fetched: IntCounter,
    pub upstream_failures: IntCounter,
    pub snapshots_written: IntCounter,
    pub snapshots_verified: IntCounter,
    pub snapshot_mismatches: IntCounter,
    pub bootstraps: IntCounter,
    pub bootstrap_failures: IntCounter,
    root_slot: IntGauge,
    confirmed_slot: IntGauge,
    upstream_confirmed_slot: IntGauge,
    slots_behind: IntGauge,
    overlay_slots: IntGauge,
    accounts: IntGauge,
    store_sst_bytes: IntGauge,
    store_memtable_bytes: IntGauge,
    needs_bootstrap: IntGauge,
    health: IntGauge,
    last_verified_slot: IntGauge,
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
            snapshots_verified: counter(
                SNAPSHOTS_VERIFIED,
                "Validator snapshots whose hash matched this replica's state at their slot",
            ),
            snapshot_mismatches: counter(
                SNAPSHOT_MISMATCHES,
                "Validator snapshots whose hash did not match this replica's state at their slot",
            ),
            bootstraps: counter(BOOTSTRAPS, "Stores loaded from snapshot archives"),
            bootstrap_failures: counter(
                BOOTSTRAP_FAILURES,
                "Bootstraps that failed (the store in service was kept)",
            ),
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
            health: gauge(HEALTH, "What /health says: 0 ok, 1 behind, 2 unknown"),
            last_verified_slot: gauge(
                LAST_VERIFIED_SLOT,
                "Newest slot at which a validator snapshot confirmed this replica's state",
            ),
        }
    }

    /// Refreshes the state gauges.
    pub fn refresh(&self, values: &GaugeValues) {
        let as_gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.root_slot.set(as_gauge(values.root));
        self.confirmed_slot.set(as_gauge(values.confirmed));
        self.upstream_confirmed_slot
            .set(as_gauge(values.upstream_confirmed));
        self.slots_behind.set(as_gauge(
            values.upstream_confirmed.saturating_sub(values.confirmed),
        ));
        self.overlay_slots.set(values.overlay_slots as i64);
        if let Some(accounts) = values.accounts {
            self.accounts.set(as_gauge(accounts));
        }
        self.store_sst_bytes.set(as_gauge(values.sst_bytes));
        self.store_memtable_bytes
            .set(as_gauge(values.memtable_bytes));
        self.needs_bootstrap.set(i64::from(values.needs_bootstrap));
        self.health.set(values.health);
        if let Some(slot) = values.last_verified_slot {
            self.last_verified_slot.set(as_gauge(slot));
        }
    }
}
