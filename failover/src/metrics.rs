//! The agent's Prometheus metrics, all prefixed `failover_`.

use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Gauge: 1 while this node is active and its validator holds the staked identity.
pub const ACTIVE: &str = "failover_active";
/// Gauge: this node's fencing token while active, else 0.
pub const FENCING_TOKEN: &str = "failover_fencing_token";
/// Counter by `reason`: switches of the validator to its unstaked identity.
pub const FENCES: &str = "failover_fences_total";
/// Counter by `result` (`ok`, `failed`): attempts to fence.
pub const FENCE_ATTEMPTS: &str = "failover_fence_attempts_total";
/// Counter: campaigns, and elections won.
pub const CAMPAIGNS: &str = "failover_campaigns_total";
pub const ELECTIONS_WON: &str = "failover_elections_won_total";
/// Counter: activations that failed (no valid tower, the validator refused the identity).
pub const ACTIVATION_FAILURES: &str = "failover_activation_failures_total";
/// Counter: towers pushed, and pushes etcd refused (the node was deposed).
pub const TOWER_PUSHES: &str = "failover_tower_pushes_total";
pub const TOWER_PUSHES_REFUSED: &str = "failover_tower_pushes_refused_total";
/// Gauge: the last vote slot of the newest tower this node wrote or adopted.
pub const TOWER_SLOT: &str = "failover_tower_slot";
/// Gauge: seconds since the last acknowledged keep-alive was sent.
pub const LEASE_AGE: &str = "failover_lease_age_seconds";
/// Counter by `op`: failed etcd requests.
pub const ETCD_ERRORS: &str = "failover_etcd_errors_total";
/// Gauge: 1 while the local health checks pass.
pub const HEALTHY: &str = "failover_healthy";

/// The agent's metrics, registered in one registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub active: IntGauge,
    pub fencing_token: IntGauge,
    pub fences: IntCounterVec,
    pub fence_attempts: IntCounterVec,
    pub campaigns: IntCounter,
    pub elections_won: IntCounter,
    pub activation_failures: IntCounter,
    pub tower_pushes: IntCounter,
    pub tower_pushes_refused: IntCounter,
    pub tower_slot: IntGauge,
    pub lease_age: Gauge,
    pub etcd_errors: IntCounterVec,
    pub healthy: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str| {
            let gauge = IntGauge::new(name, help).expect("valid metric");
            registry.register(Box::new(gauge.clone())).expect("unique");
            gauge
        };
        let counter = |name: &str, help: &str| {
            let counter = IntCounter::new(name, help).expect("valid metric");
            registry
                .register(Box::new(counter.clone()))
                .expect("unique");
            counter
        };
        let counter_vec = |name: &str, help: &str, label: &str| {
            let counter = IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid");
            registry
                .register(Box::new(counter.clone()))
                .expect("unique");
            counter
        };
        Self {
            active: gauge(ACTIVE, "1 while this node holds the staked identity"),
            fencing_token: gauge(FENCING_TOKEN, "fencing token while active"),
            fences: counter_vec(FENCES, "switches to the unstaked identity", "reason"),
            fence_attempts: counter_vec(FENCE_ATTEMPTS, "attempts to fence", "result"),
            campaigns: counter(CAMPAIGNS, "campaigns for the election"),
            elections_won: counter(ELECTIONS_WON, "elections won"),
            activation_failures: counter(ACTIVATION_FAILURES, "activations that failed"),
            tower_pushes: counter(TOWER_PUSHES, "towers pushed to etcd"),
            tower_pushes_refused: counter(TOWER_PUSHES_REFUSED, "tower pushes etcd refused"),
            tower_slot: gauge(TOWER_SLOT, "last vote slot of the newest tower"),
            lease_age: {
                let gauge = Gauge::new(LEASE_AGE, "seconds since the last acknowledged keep-alive")
                    .expect("valid metric");
                registry.register(Box::new(gauge.clone())).expect("unique");
                gauge
            },
            etcd_errors: counter_vec(ETCD_ERRORS, "failed etcd requests", "op"),
            healthy: gauge(HEALTHY, "1 while the health checks pass"),
            registry,
        }
    }
}
