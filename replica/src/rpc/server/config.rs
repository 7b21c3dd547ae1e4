//! The `[rpc]` configuration section and the `replica run` flags that override it.
//! Defaults live here, once, as `DEFAULT_*` constants.

use {
    serde::{Deserialize, Serialize},
    std::net::SocketAddr,
};

/// Agave's `MAX_MULTIPLE_ACCOUNTS` (`--rpc-max-multiple-accounts`).
pub const DEFAULT_MAX_MULTIPLE_ACCOUNTS: usize = 100;
/// Agave's `MAX_REQUEST_BODY_SIZE`, 50 KiB (`--rpc-max-request-body-size`).
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: usize = 50 * 1024;
/// Agave's `--health-check-slot-distance` default since 2.0.
pub const DEFAULT_HEALTH_CHECK_SLOT_DISTANCE: u64 = 128;
/// Scan results accumulated per request before -32012, in MiB, counted as Agave counts them
/// (data length + 96 bytes per account). Agave's default is unlimited; a replica serves scans
/// to anyone, so it caps them: 1 GiB is about 4 M token accounts (~4 M × 261 B), far more
/// than any indexed query returns, and bounds the pubkey list a streamed response keeps
/// (32 B per match, ≤ 350 MB). 0 means no limit.
pub const DEFAULT_SCAN_RESULTS_LIMIT_MB: u64 = 1024;
/// Blocking store reads in flight at once (point reads, small scans); more wait.
pub const DEFAULT_BLOCKING_THREADS: usize = 16;
/// Reader threads for point reads (getAccountInfo, getMultipleAccounts, getBalance): each takes
/// queued requests in batches and answers them from one snapshot.
pub const DEFAULT_POINT_READ_THREADS: usize = 2;
/// Point reads queued before callers wait (backpressure, ~1 ms of work at full rate).
pub const DEFAULT_POINT_READ_QUEUE: usize = 4096;
/// Scans (getProgramAccounts, token scans, getLargestAccounts, getSupply) in flight at once;
/// each holds a RocksDB snapshot and a thread until its response is written.
pub const DEFAULT_MAX_CONCURRENT_SCANS: usize = 4;

/// Seconds without a new confirmed slot (or an answer from the upstream) after which health is
/// `unknown`: slots come every ~400 ms.
pub const DEFAULT_HEALTH_MAX_SLOT_AGE_SECS: u64 = 5;
/// Open HTTP connections at once; further clients wait in the listen backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Seconds a client has to send a request's headers; also how long an idle keep-alive
/// connection stays open.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 30;
/// Seconds a client has to send a request's body.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 30;
/// Seconds a response may wait for a client that reads nothing before the connection is cut.
pub const DEFAULT_WRITE_TIMEOUT_SECS: u64 = 30;
/// Seconds a scan may read before it is aborted with -32012 (0: no limit).
pub const DEFAULT_SCAN_TIMEOUT_SECS: u64 = 120;

/// Agave's `--rpc-pubsub-max-active-subscriptions` default.
pub const DEFAULT_PUBSUB_MAX_ACTIVE_SUBSCRIPTIONS: usize = 1_000_000;
/// Notifications queued for one PubSub connection before it counts as too slow and is
/// disconnected.
pub const DEFAULT_PUBSUB_QUEUE_CAPACITY_ITEMS: usize = 100_000;
/// Bytes of notifications queued for one PubSub connection before it is disconnected.
pub const DEFAULT_PUBSUB_QUEUE_CAPACITY_BYTES: usize = 16 * 1024 * 1024;
/// Bytes of notifications queued over all PubSub connections; past it, a connection that is
/// behind is disconnected rather than queued for.
pub const DEFAULT_PUBSUB_MAX_QUEUED_BYTES: usize = 1024 * 1024 * 1024;
/// Open PubSub WebSocket connections at once; more are refused.
pub const DEFAULT_PUBSUB_MAX_CONNECTIONS: usize = 4096;

/// The `[pubsub]` section: Agave's PubSub (WebSocket subscriptions) beside JSON-RPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PubSubConfig {
    /// Serve PubSub whenever JSON-RPC is served.
    pub enabled: bool,
    /// Address of the WebSocket listener; default the JSON-RPC address with its port + 1 (a
    /// free port when JSON-RPC's port is 0), as Agave does.
    pub bind: Option<SocketAddr>,
    /// Subscriptions open at once over all connections; more are refused.
    pub max_active_subscriptions: usize,
    /// Notifications queued for one connection before it is disconnected as too slow.
    pub queue_capacity_items: usize,
    /// Bytes of notifications queued for one connection before it is disconnected.
    pub queue_capacity_bytes: usize,
    /// Bytes of notifications queued over all connections.
    pub max_queued_bytes: usize,
    /// Open WebSocket connections at once.
    pub max_connections: usize,
}

impl Default for PubSubConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: None,
            max_active_subscriptions: DEFAULT_PUBSUB_MAX_ACTIVE_SUBSCRIPTIONS,
            queue_capacity_items: DEFAULT_PUBSUB_QUEUE_CAPACITY_ITEMS,
            queue_capacity_bytes: DEFAULT_PUBSUB_QUEUE_CAPACITY_BYTES,
            max_queued_bytes: DEFAULT_PUBSUB_MAX_QUEUED_BYTES,
            max_connections: DEFAULT_PUBSUB_MAX_CONNECTIONS,
        }
    }
}

impl PubSubConfig {
    /// Where PubSub listens given the JSON-RPC address: none without JSON-RPC or when
    /// disabled.
    pub fn resolve_bind(&self, rpc: Option<SocketAddr>) -> Option<SocketAddr> {
        if !self.enabled {
            return None;
        }
        self.bind.or_else(|| {
            rpc.map(|mut addr| {
                if addr.port() != 0 {
                    addr.set_port(addr.port().saturating_add(1));
                }
                addr
            })
        })
    }
}

/// The `[rpc]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpcConfig {
    /// Address of the JSON-RPC HTTP listener; none disables JSON-RPC.
    pub bind: Option<SocketAddr>,
    /// Most pubkeys one getMultipleAccounts call may ask for.
    pub max_multiple_accounts: usize,
    /// Largest request body accepted (bytes); larger bodies get 413.
    pub max_request_body_size: usize,
    /// `/health` and getHealth report `behind` beyond this many slots behind the upstream.
    pub health_check_slot_distance: u64,
    /// `/health` and getHealth report `unknown` when no new confirmed slot arrived (or the
    /// upstream did not answer) for this many seconds.
    pub health_max_slot_age_secs: u64,
    /// A JSON-RPC node whose confirmed slot is the cluster's for health (`behind` beyond the
    /// slot distance); without it, the upstream and the trackers' newest snapshot serve.
    pub health_reference: Option<String>,
    /// Per-request scan result limit in MiB (0: none).
    pub accounts_index_scan_results_limit_mb: u64,
    /// Blocking store reads in flight at once.
    pub blocking_threads: usize,
    /// Reader threads for point reads.
    pub point_read_threads: usize,
    /// Point reads queued for the reader threads before callers wait.
    pub point_read_queue: usize,
    /// Scans in flight at once.
    pub max_concurrent_scans: usize,
    /// Full node that answers methods outside the account subset (blocks, transactions,
    /// sendTransaction, …); without it they get -32601.
    pub fallback: Option<String>,
    /// Serve the methods Agave removed in 2.0 (getRecentBlockhash, getFees,
    /// getFeeCalculatorForBlockhash, getFeeRateGovernor, getStakeActivation).
    pub legacy_rpc: bool,
    /// The cluster's genesis hash (base58) for getGenesisHash; a snapshot does not carry it.
    pub genesis_hash: Option<String>,
    /// Compress responses with gzip when the client accepts it.
    pub gzip: bool,
    /// Open HTTP connections at once.
    pub max_connections: usize,
    /// Seconds to receive a request's headers (and idle keep-alive time).
    pub header_timeout_secs: u64,
    /// Seconds to receive a request's body.
    pub body_timeout_secs: u64,
    /// Seconds a response waits for a client that reads nothing before the connection is cut.
    pub write_timeout_secs: u64,
    /// Seconds a scan may read before it is aborted (0: no limit).
    pub scan_timeout_secs: u64,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            bind: None,
            max_multiple_accounts: DEFAULT_MAX_MULTIPLE_ACCOUNTS,
            max_request_body_size: DEFAULT_MAX_REQUEST_BODY_SIZE,
            health_check_slot_distance: DEFAULT_HEALTH_CHECK_SLOT_DISTANCE,
            health_max_slot_age_secs: DEFAULT_HEALTH_MAX_SLOT_AGE_SECS,
            health_reference: None,
            accounts_index_scan_results_limit_mb: DEFAULT_SCAN_RESULTS_LIMIT_MB,
            blocking_threads: DEFAULT_BLOCKING_THREADS,
            point_read_threads: DEFAULT_POINT_READ_THREADS,
            point_read_queue: DEFAULT_POINT_READ_QUEUE,
            max_concurrent_scans: DEFAULT_MAX_CONCURRENT_SCANS,
            fallback: None,
            legacy_rpc: false,
            genesis_hash: None,
            gzip: true,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout_secs: DEFAULT_HEADER_TIMEOUT_SECS,
            body_timeout_secs: DEFAULT_BODY_TIMEOUT_SECS,
            write_timeout_secs: DEFAULT_WRITE_TIMEOUT_SECS,
            scan_timeout_secs: DEFAULT_SCAN_TIMEOUT_SECS,
        }
    }
}

impl RpcConfig {
    pub fn health_limits(&self) -> crate::health::HealthLimits {
        crate::health::HealthLimits {
            slot_distance: self.health_check_slot_distance,
            max_slot_age: std::time::Duration::from_secs(self.health_max_slot_age_secs.max(1)),
        }
    }

    pub fn header_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.header_timeout_secs.max(1))
    }

    pub fn body_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.body_timeout_secs.max(1))
    }

    pub fn write_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.write_timeout_secs.max(1))
    }

    pub fn scan_timeout(&self) -> Option<std::time::Duration> {
        (self.scan_timeout_secs > 0).then(|| std::time::Duration::from_secs(self.scan_timeout_secs))
    }

    /// The scan limit in bytes, if any.
    pub fn scan_limit_bytes(&self) -> Option<usize> {
        match self.accounts_index_scan_results_limit_mb {
            0 => None,
            mb => Some(usize::try_from(mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX)),
        }
    }
}

/// JSON-RPC flags of `replica run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RpcArgs {
    /// Serve JSON-RPC over HTTP on this address (port 0 picks a free port); default: no
    /// JSON-RPC.
    #[arg(long)]
    pub rpc_bind: Option<SocketAddr>,
    /// Most pubkeys per getMultipleAccounts call [default: 100].
    #[arg(long, value_name = "N")]
    pub rpc_max_multiple_accounts: Option<usize>,
    /// Largest request body in bytes; larger bodies get HTTP 413 [default: 51200].
    #[arg(long, value_name = "BYTES")]
    pub rpc_max_request_body_size: Option<usize>,
    /// Report `behind` beyond this many slots behind the upstream [default: 128].
    #[arg(long, value_name = "SLOTS")]
    pub health_check_slot_distance: Option<u64>,
    /// Report `unknown` when no new confirmed slot arrived, or the upstream did not answer,
    /// for this many seconds [default: 5].
    #[arg(long, value_name = "SECS")]
    pub health_max_slot_age: Option<u64>,
    /// A JSON-RPC node whose confirmed slot counts as the cluster's for health; default: the
    /// trackers' newest snapshot slot.
    #[arg(long, value_name = "URL")]
    pub health_reference: Option<String>,
    /// Abort a scan whose accumulated results exceed this many MiB with -32012, as Agave's
    /// flag of the same name; 0 disables the limit [default: 1024].
    #[arg(long, value_name = "MB")]
    pub accounts_index_scan_results_limit_mb: Option<u64>,
    /// Blocking store reads in flight at once [default: 16].
    #[arg(long, value_name = "N")]
    pub rpc_blocking_threads: Option<usize>,
    /// Scans in flight at once [default: 4].
    #[arg(long, value_name = "N")]
    pub rpc_max_concurrent_scans: Option<usize>,
    /// Reader threads for getAccountInfo, getMultipleAccounts and getBalance [default: 2].
    #[arg(long, value_name = "N")]
    pub rpc_point_read_threads: Option<usize>,
    /// Forward methods outside the account subset to this full node (http(s) URL); default:
    /// they get -32601 "Method not found".
    #[arg(long, value_name = "URL")]
    pub rpc_fallback: Option<String>,
    /// Serve the methods Agave removed in 2.0 with their last shapes.
    #[arg(long)]
    pub legacy_rpc: bool,
    /// The cluster's genesis hash (base58), answered by getGenesisHash; default: getGenesisHash
    /// answers an error (a snapshot does not carry it).
    #[arg(long, value_name = "HASH")]
    pub genesis_hash: Option<String>,
    /// Never compress responses (by default gzip when the client sends Accept-Encoding: gzip).
    #[arg(long)]
    pub rpc_no_gzip: bool,
    /// Open HTTP connections at once; more clients wait [default: 1024].
    #[arg(long, value_name = "N")]
    pub rpc_max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers, and that an idle keep-alive
    /// connection stays open [default: 30].
    #[arg(long, value_name = "SECS")]
    pub rpc_header_timeout_secs: Option<u64>,
    /// Seconds a client has to send a request's body [default: 30].
    #[arg(long, value_name = "SECS")]
    pub rpc_body_timeout_secs: Option<u64>,
    /// Seconds a response waits for a client that reads nothing before the connection is cut
    /// [default: 30].
    #[arg(long, value_name = "SECS")]
    pub rpc_write_timeout_secs: Option<u64>,
    /// Seconds a scan may read before it is aborted with -32012; 0 disables the limit
    /// [default: 120].
    #[arg(long, value_name = "SECS")]
    pub rpc_scan_timeout_secs: Option<u64>,
    /// Serve PubSub (WebSocket subscriptions) on this address; default the JSON-RPC port + 1
    /// (a free port when the JSON-RPC port is 0).
    #[arg(long, value_name = "ADDR")]
    pub rpc_pubsub_bind: Option<SocketAddr>,
    /// Serve no PubSub WebSocket.
    #[arg(long)]
    pub no_rpc_pubsub: bool,
    /// Subscriptions open at once over all connections; more get Agave's "subscription limit
    /// reached" error [default: 1000000].
    #[arg(long, value_name = "N")]
    pub rpc_pubsub_max_active_subscriptions: Option<usize>,
    /// Notifications queued for one connection before it is disconnected as too slow
    /// [default: 100000].
    #[arg(long, value_name = "N")]
    pub rpc_pubsub_queue_capacity_items: Option<usize>,
    /// Bytes of notifications queued for one connection before it is disconnected as too slow
    /// [default: 16777216].
    #[arg(long, value_name = "BYTES")]
    pub rpc_pubsub_queue_capacity_bytes: Option<usize>,
    /// Bytes of notifications queued over all connections; past it a connection that is
    /// behind is disconnected [default: 1073741824].
    #[arg(long, value_name = "BYTES")]
    pub rpc_pubsub_max_queued_bytes: Option<usize>,
    /// Open PubSub WebSocket connections at once; more are refused [default: 4096].
    #[arg(long, value_name = "N")]
    pub rpc_pubsub_max_connections: Option<usize>,
}

impl RpcArgs {
    pub fn apply_pubsub(&self, config: &mut PubSubConfig) {
        if self.rpc_pubsub_bind.is_some() {
            config.bind = self.rpc_pubsub_bind;
        }
        if self.no_rpc_pubsub {
            config.enabled = false;
        }
        for (target, flag) in [
            (
                &mut config.max_active_subscriptions,
                self.rpc_pubsub_max_active_subscriptions,
            ),
            (
                &mut config.queue_capacity_items,
                self.rpc_pubsub_queue_capacity_items,
            ),
            (
                &mut config.queue_capacity_bytes,
                self.rpc_pubsub_queue_capacity_bytes,
            ),
            (
                &mut config.max_queued_bytes,
                self.rpc_pubsub_max_queued_bytes,
            ),
            (&mut config.max_connections, self.rpc_pubsub_max_connections),
        ] {
            if let Some(value) = flag {
                *target = value;
            }
        }
    }

    pub fn apply(&self, config: &mut RpcConfig) {
        if let Some(bind) = self.rpc_bind {
            config.bind = Some(bind);
        }
        let set = |target: &mut usize, flag: Option<usize>| {
            if let Some(value) = flag {
                *target = value;
            }
        };
        set(
            &mut config.max_multiple_accounts,
            self.rpc_max_multiple_accounts,
        );
        set(
            &mut config.max_request_body_size,
            self.rpc_max_request_body_size,
        );
        set(&mut config.blocking_threads, self.rpc_blocking_threads);
        set(&mut config.point_read_threads, self.rpc_point_read_threads);
        set(
            &mut config.max_concurrent_scans,
            self.rpc_max_concurrent_scans,
        );
        if let Some(distance) = self.health_check_slot_distance {
            config.health_check_slot_distance = distance;
        }
        if let Some(age) = self.health_max_slot_age {
            config.health_max_slot_age_secs = age;
        }
        if self.health_reference.is_some() {
            config.health_reference.clone_from(&self.health_reference);
        }
        if let Some(limit) = self.accounts_index_scan_results_limit_mb {
            config.accounts_index_scan_results_limit_mb = limit;
        }
        if self.rpc_fallback.is_some() {
            config.fallback.clone_from(&self.rpc_fallback);
        }
        if self.legacy_rpc {
            config.legacy_rpc = true;
        }
        if self.genesis_hash.is_some() {
            config.genesis_hash.clone_from(&self.genesis_hash);
        }
        if self.rpc_no_gzip {
            config.gzip = false;
        }
        set(&mut config.max_connections, self.rpc_max_connections);
        let set_secs = |target: &mut u64, flag: Option<u64>| {
            if let Some(value) = flag {
                *target = value;
            }
        };
        set_secs(
            &mut config.header_timeout_secs,
            self.rpc_header_timeout_secs,
        );
        set_secs(&mut config.body_timeout_secs, self.rpc_body_timeout_secs);
        set_secs(&mut config.write_timeout_secs, self.rpc_write_timeout_secs);
        set_secs(&mut config.scan_timeout_secs, self.rpc_scan_timeout_secs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_section_and_no_flags_are_the_default() {
        let config: RpcConfig = toml::from_str("").unwrap();
        assert_eq!(config, RpcConfig::default());
        let mut config = RpcConfig::default();
        RpcArgs::default().apply(&mut config);
        assert_eq!(config, RpcConfig::default());
    }

    #[test]
    fn flags_override_the_file() {
        let mut config: RpcConfig =
            toml::from_str("max_multiple_accounts = 5\nlegacy_rpc = false\n").unwrap();
        let args = RpcArgs {
            rpc_max_multiple_accounts: Some(7),
            legacy_rpc: true,
            accounts_index_scan_results_limit_mb: Some(0),
            ..RpcArgs::default()
        };
        args.apply(&mut config);
        assert_eq!(config.max_multiple_accounts, 7);
        assert!(config.legacy_rpc);
        assert_eq!(config.scan_limit_bytes(), None);
        assert!(toml::from_str::<RpcConfig>("max_multiple = 5").is_err());
    }

    #[test]
    fn pubsub_listens_next_to_json_rpc_unless_told() {
        let config = PubSubConfig::default();
        let rpc: SocketAddr = "127.0.0.1:8899".parse().unwrap();
        assert_eq!(
            config.resolve_bind(Some(rpc)),
            Some("127.0.0.1:8900".parse().unwrap())
        );
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        assert_eq!(config.resolve_bind(Some(any)), Some(any));
        assert_eq!(config.resolve_bind(None), None);
        let mut config = PubSubConfig::default();
        RpcArgs {
            rpc_pubsub_bind: Some("0.0.0.0:9100".parse().unwrap()),
            rpc_pubsub_max_connections: Some(3),
            ..RpcArgs::default()
        }
        .apply_pubsub(&mut config);
        assert_eq!(
            config.resolve_bind(Some(rpc)),
            Some("0.0.0.0:9100".parse().unwrap())
        );
        assert_eq!(config.max_connections, 3);
        RpcArgs {
            no_rpc_pubsub: true,
            ..RpcArgs::default()
        }
        .apply_pubsub(&mut config);
        assert_eq!(config.resolve_bind(Some(rpc)), None);
    }
}
