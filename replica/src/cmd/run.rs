//! `replica run`: the node's arguments; [`Node`] does the rest.

use {
    crate::{config::ReplicaConfig, node::Node, rpc::RpcArgs, store::IndexKind},
    std::{net::SocketAddr, path::PathBuf, process::ExitCode},
};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// TOML configuration file; flags override it. Default: none (defaults and flags).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory for the replica's store and state (required, here or in the file).
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    /// Snapshot archive to bootstrap from on first start: the full archive, then optionally
    /// an incremental archive on top of it (repeatable; default: fetched through the
    /// trackers).
    #[arg(long = "snapshot")]
    pub snapshots: Vec<PathBuf>,
    /// Tracker to bootstrap through when the ledger holds no store, and when the upstream can no
    /// longer bring the store forward (repeatable; e.g. `http://tracker:8458`).
    #[arg(long = "tracker")]
    pub trackers: Vec<String>,
    /// Snapshot source whose archives verify this replica's state and bootstrap it: a tracker
    /// target as the tracker lists it, e.g. the sidecar beside a validator `10.0.0.10:13080`
    /// (repeatable; none: every source the trackers list).
    #[arg(long = "trusted-snapshot-source")]
    pub trusted_snapshot_sources: Vec<String>,
    /// Write an incremental snapshot archive every N slots (and a full one every
    /// --full-snapshot-interval-slots, by default 10 × N).
    #[arg(long)]
    pub snapshot_interval_slots: Option<u64>,
    /// Write a full snapshot archive every N slots [default: 10 × --snapshot-interval-slots;
    /// 0: none].
    #[arg(long)]
    pub full_snapshot_interval_slots: Option<u64>,
    /// Full snapshot archives of its own kept, oldest removed first (Agave's flag) [default:
    /// 2].
    #[arg(long)]
    pub maximum_full_snapshots_to_retain: Option<usize>,
    /// Incremental archives kept on the newest full (Agave's flag) [default: 4].
    #[arg(long)]
    pub maximum_incremental_snapshots_to_retain: Option<usize>,
    /// Directory of the replica's own (and fetched) archives; default `<ledger>/snapshots`.
    #[arg(long = "snapshots")]
    pub snapshots_dir: Option<PathBuf>,
    /// Archive compression of its own snapshots, `zstd` or `lz4` [default: zstd].
    #[arg(long, value_parser = ["zstd", "lz4"])]
    pub snapshot_archive_format: Option<String>,
    /// Load the snapshot even if its lattice hash does not verify.
    #[arg(long)]
    pub no_verify: bool,
    /// Node identity keypair file (replication TLS identity, getIdentity); default: a random
    /// identity for this run (refused with upstreams or --replication-bind).
    #[arg(long)]
    pub identity: Option<PathBuf>,
    /// Secondary index to keep (repeatable; default: all of them).
    #[arg(long = "account-index", value_enum)]
    pub account_indexes: Vec<IndexKind>,
    /// Key excluded from every secondary index (repeatable).
    #[arg(long = "account-index-exclude-key")]
    pub account_index_exclude_keys: Vec<String>,
    /// Index only these keys (repeatable; overrides exclusions).
    #[arg(long = "account-index-include-key")]
    pub account_index_include_keys: Vec<String>,
    #[command(flatten)]
    pub rpc: RpcArgs,
    #[command(flatten)]
    pub fleet: crate::fleet::FleetArgs,
    /// Upstream to replicate from, as `addr=pubkey` (repeatable, in order of preference).
    #[arg(long = "upstream")]
    pub upstreams: Vec<String>,
    /// Follow the upstream the active validator of this `failover` cluster publishes in etcd
    /// (switching within 2 s of a change; any --upstream stays as a fallback after it);
    /// default: only --upstream.
    #[arg(long, value_name = "CLUSTER")]
    pub upstream_from_etcd: Option<String>,
    /// etcd client URL for --upstream-from-etcd (repeatable).
    #[arg(long = "etcd-endpoint", value_name = "URL")]
    pub etcd_endpoints: Vec<String>,
    /// CA of etcd's certificates (with https:// endpoints); default: none (plain http://).
    #[arg(long, value_name = "PEM")]
    pub etcd_ca: Option<PathBuf>,
    /// Client certificate for etcd's client-certificate authentication; default: none.
    #[arg(long, value_name = "PEM")]
    pub etcd_cert: Option<PathBuf>,
    /// The client certificate's key; default: none (goes with --etcd-cert).
    #[arg(long, value_name = "PEM")]
    pub etcd_key: Option<PathBuf>,
    /// Seconds the preferred (first) upstream must answer again before the replica leaves the
    /// fallback it moved to [default: 30].
    #[arg(long, value_name = "SECS")]
    pub upstream_return_after_secs: Option<u64>,
    /// Serve downstream replicas on this UDP address (port 0 picks a free port); default: no
    /// downstream replicas.
    #[arg(long)]
    pub replication_bind: Option<SocketAddr>,
    /// Identity allowed to replicate from this node (repeatable; none allows any identity).
    #[arg(long = "allowed-replica")]
    pub allowed_replicas: Vec<String>,
    /// Rooted slots kept for downstream replicas and snapshot verification [default: 4500].
    #[arg(long)]
    pub delta_log_retention_slots: Option<u64>,
    /// Serve Prometheus metrics on this address; default: no metrics listener.
    #[arg(long)]
    pub metrics_bind: Option<SocketAddr>,
    /// Written as JSON (addresses, root slot, identity) once the replica serves; default:
    /// none.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// S3-compatible snapshot mirror to bootstrap from when no tracker source serves (goes
    /// with --s3-bucket; credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY);
    /// default: no mirror.
    #[arg(long)]
    pub s3_url: Option<String>,
    /// Mirror bucket (goes with --s3-url); default: no mirror.
    #[arg(long)]
    pub s3_bucket: Option<String>,
    /// Mirror key prefix (`mainnet` reads `mainnet/<file>`); default: none.
    #[arg(long)]
    pub s3_prefix: Option<String>,
    /// Mirror signing region [default: us-east-1].
    #[arg(long)]
    pub s3_region: Option<String>,
    /// Virtual-hosted-style mirror URLs (`<bucket>.<host>`) instead of path-style.
    #[arg(long)]
    pub s3_virtual_host: bool,
    /// Stop once the store is bootstrapped or reopened.
    #[arg(long)]
    pub exit_after_bootstrap: bool,
    /// Validate the configuration, print it, and exit.
    #[arg(long)]
    pub check: bool,
}

impl RunArgs {
    /// The file's configuration (or the default) with flags applied on top.
    pub fn config(&self) -> anyhow::Result<ReplicaConfig> {
        let mut config = match &self.config {
            Some(path) => ReplicaConfig::from_file(path)?,
            None => ReplicaConfig::default(),
        };
        let set = |target: &mut Option<PathBuf>, flag: &Option<PathBuf>| {
            if flag.is_some() {
                target.clone_from(flag);
            }
        };
        set(&mut config.ledger, &self.ledger);
        set(&mut config.identity, &self.identity);
        set(&mut config.ready_file, &self.ready_file);
        if !self.snapshots.is_empty() {
            config.snapshot_archives = self.snapshots.clone();
        }
        if !self.trackers.is_empty() {
            config.trackers = self.trackers.clone();
        }
        if !self.trusted_snapshot_sources.is_empty() {
            config.trusted_snapshot_sources = self.trusted_snapshot_sources.clone();
        }
        if let Some(slots) = self.snapshot_interval_slots {
            config.snapshots.incremental_interval_slots = slots;
            if config.snapshots.full_interval_slots == 0 {
                config.snapshots.full_interval_slots =
                    slots.saturating_mul(DEFAULT_FULL_PER_INCREMENTAL);
            }
        }
        if let Some(slots) = self.full_snapshot_interval_slots {
            config.snapshots.full_interval_slots = slots;
        }
        if let Some(count) = self.maximum_full_snapshots_to_retain {
            config.snapshots.max_full_to_retain = count;
        }
        if let Some(count) = self.maximum_incremental_snapshots_to_retain {
            config.snapshots.max_incremental_to_retain = count;
        }
        if self.snapshots_dir.is_some() {
            config.snapshots.dir.clone_from(&self.snapshots_dir);
        }
        if let Some(format) = &self.snapshot_archive_format {
            config.snapshots.lz4 = format == "lz4";
        }
        if self.no_verify {
            config.verify_snapshot = false;
        }
        if !self.account_indexes.is_empty() {
            config.accounts_index.indexes = self.account_indexes.clone();
        }
        if !self.account_index_exclude_keys.is_empty() {
            config.accounts_index.exclude_keys = self.account_index_exclude_keys.clone();
        }
        if !self.account_index_include_keys.is_empty() {
            config.accounts_index.include_keys = self.account_index_include_keys.clone();
        }
        if self.metrics_bind.is_some() {
            config.metrics_bind = self.metrics_bind;
        }
        self.rpc.apply(&mut config.rpc);
        self.rpc.apply_pubsub(&mut config.pubsub);
        self.fleet.apply(&mut config.fleet);
        if !self.upstreams.is_empty() {
            config.replication.upstreams = self.upstreams.clone();
        }
        if let Some(secs) = self.upstream_return_after_secs {
            config.replication.return_after_secs = secs;
        }
        if self.replication_bind.is_some() {
            config.replication.bind = self.replication_bind;
        }
        let etcd = &mut config.replication.etcd;
        if self.upstream_from_etcd.is_some() {
            etcd.cluster.clone_from(&self.upstream_from_etcd);
        }
        if !self.etcd_endpoints.is_empty() {
            etcd.endpoints = self.etcd_endpoints.clone();
        }
        set(&mut etcd.ca, &self.etcd_ca);
        set(&mut etcd.cert, &self.etcd_cert);
        set(&mut etcd.key, &self.etcd_key);
        if !self.allowed_replicas.is_empty() {
            config.replication.allowed_replicas = self.allowed_replicas.clone();
        }
        if let Some(slots) = self.delta_log_retention_slots {
            config.store.delta_log_retention_slots = slots;
        }
        if self.s3_url.is_some() {
            config.s3.url.clone_from(&self.s3_url);
        }
        if self.s3_bucket.is_some() {
            config.s3.bucket.clone_from(&self.s3_bucket);
        }
        if let Some(prefix) = &self.s3_prefix {
            config.s3.prefix.clone_from(prefix);
        }
        if let Some(region) = &self.s3_region {
            config.s3.region.clone_from(region);
        }
        if self.s3_virtual_host {
            config.s3.virtual_host = true;
        }
        Ok(config)
    }
}

/// Full snapshots per incremental interval when only `--snapshot-interval-slots` is given.
const DEFAULT_FULL_PER_INCREMENTAL: u64 = 10;

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    // Validate everything a start would, before printing or starting.
    config.store_config()?;
    config.ledger()?;
    config.upstreams()?;
    config.etcd_upstream()?;
    config.allowed_replicas()?;
    config.s3_location()?;
    config
        .fleet
        .check()
        .map_err(|reason| anyhow::anyhow!("[fleet] {reason}"))?;
    if args.check {
        println!("{}", toml::to_string_pretty(&config)?);
        return Ok(ExitCode::SUCCESS);
    }
    let node = Node::new(config)?;
    if args.exit_after_bootstrap {
        node.bootstrap_only()?;
    } else {
        node.run()?;
    }
    Ok(ExitCode::SUCCESS)
}
