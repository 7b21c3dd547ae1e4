//! `replica run`: bootstrap on first start, then keep the store current and serve it.

use {
    crate::{
        bootstrap,
        config::ReplicaConfig,
        rpc::{RpcArgs, RpcServer},
        serve::ReplicaSource,
        snapshot,
        state::ReplicaState,
        store::{IndexKind, bulk::BulkLoadOptions},
        sync::{self, SyncConfig, SyncExit},
    },
    anyhow::Context,
    replication_proto::transport::{
        ClientAllowlist, ReplicationServer, ReplicationServerConfig, Upstream,
    },
    serde::Serialize,
    snapshot_tools::fetch::{FetchConfig, FetchError, fetch_best},
    solana_keypair::Keypair,
    solana_pubkey::Pubkey,
    std::time::Duration,
    std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc},
    tokio_util::sync::CancellationToken,
};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// TOML configuration file; flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory for the replica's store and state.
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    /// Snapshot archive to bootstrap from on first start: the full archive, then optionally
    /// an incremental archive on top of it.
    #[arg(long = "snapshot")]
    pub snapshots: Vec<PathBuf>,
    /// Tracker to bootstrap through when the ledger holds no store, and when the upstream can no
    /// longer bring the store forward (repeatable; e.g. `http://tracker:8458`).
    #[arg(long = "tracker")]
    pub trackers: Vec<String>,
    /// Write an incremental snapshot archive every N slots (and a full one every
    /// --full-snapshot-interval-slots, by default 10 × N).
    #[arg(long)]
    pub snapshot_interval_slots: Option<u64>,
    /// Write a full snapshot archive every N slots.
    #[arg(long)]
    pub full_snapshot_interval_slots: Option<u64>,
    #[arg(long)]
    pub maximum_full_snapshots_to_retain: Option<usize>,
    #[arg(long)]
    pub maximum_incremental_snapshots_to_retain: Option<usize>,
    /// Directory of the replica's own (and fetched) archives; default `<ledger>/snapshots`.
    #[arg(long = "snapshots")]
    pub snapshots_dir: Option<PathBuf>,
    /// `zstd` or `lz4`.
    #[arg(long, value_parser = ["zstd", "lz4"])]
    pub snapshot_archive_format: Option<String>,
    /// Load the snapshot even if its lattice hash does not verify.
    #[arg(long)]
    pub no_verify: bool,
    /// Node identity keypair file (replication TLS identity, getIdentity).
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
    /// Upstream to replicate from, as `addr=pubkey` (repeatable, in order of preference).
    #[arg(long = "upstream")]
    pub upstreams: Vec<String>,
    /// Serve downstream replicas on this UDP address (port 0 picks a free port).
    #[arg(long)]
    pub replication_bind: Option<SocketAddr>,
    /// Identity allowed to replicate from this node (repeatable; none allows any identity).
    #[arg(long = "allowed-replica")]
    pub allowed_replicas: Vec<String>,
    /// Rooted slots kept for downstream replicas.
    #[arg(long)]
    pub delta_log_retention_slots: Option<u64>,
    /// Serve Prometheus metrics on this address.
    #[arg(long)]
    pub metrics_bind: Option<SocketAddr>,
    /// Written as JSON once the replica is ready.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
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
        if !self.upstreams.is_empty() {
            config.replication.upstreams = self.upstreams.clone();
        }
        if self.replication_bind.is_some() {
            config.replication.bind = self.replication_bind;
        }
        if !self.allowed_replicas.is_empty() {
            config.replication.allowed_replicas = self.allowed_replicas.clone();
        }
        if let Some(slots) = self.delta_log_retention_slots {
            config.store.delta_log_retention_slots = slots;
        }
        Ok(config)
    }
}

/// Written to `--ready-file` once every listener is up.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReadyInfo {
    root_slot: u64,
    accounts_lt_hash: String,
    accounts: u64,
    capitalization: u64,
    identity: String,
    rpc: Option<SocketAddr>,
    replication: Option<SocketAddr>,
    metrics: Option<SocketAddr>,
}

/// The node identity: the keypair file if given, else a random one for this run.
fn load_identity(config: &ReplicaConfig) -> anyhow::Result<Keypair> {
    match &config.identity {
        Some(path) => replication_proto::transport::load_identity(path)
            .with_context(|| format!("reading identity keypair {}", path.display())),
        None => {
            anyhow::ensure!(
                config.replication.upstreams.is_empty() && config.replication.bind.is_none(),
                "replication needs --identity <keypair file>"
            );
            let keypair = Keypair::new();
            tracing::warn!(identity = %replication_proto::transport::identity_pubkey(&keypair), "no --identity given; using a random identity for this run");
            Ok(keypair)
        }
    }
}

/// Full snapshots per incremental interval when only `--snapshot-interval-slots` is given.
const DEFAULT_FULL_PER_INCREMENTAL: u64 = 10;
/// Pause between attempts to fetch a newer snapshot for a new bootstrap.
const REBOOTSTRAP_RETRY: Duration = Duration::from_secs(10);

/// What the node needs besides its configuration.
struct Node {
    config: ReplicaConfig,
    ledger: PathBuf,
    keypair: Arc<Keypair>,
    upstreams: Vec<Upstream>,
    allowed: Vec<Pubkey>,
}

/// Why serving ended.
enum ServeExit {
    Shutdown,
    /// Load these archives into a new store and start again.
    Rebootstrap(Vec<PathBuf>),
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let store_config = config.store_config()?;
    let ledger = config.ledger.clone().context("--ledger is required")?;
    let upstreams: Vec<Upstream> = config
        .replication
        .upstreams
        .iter()
        .map(|upstream| {
            upstream
                .parse()
                .map_err(|error: String| anyhow::anyhow!("--upstream {upstream}: {error}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let allowed: Vec<Pubkey> = config
        .replication
        .allowed_replicas
        .iter()
        .map(|key| {
            key.parse()
                .map_err(|error| anyhow::anyhow!("--allowed-replica {key}: {error}"))
        })
        .collect::<anyhow::Result<_>>()?;
    if args.check {
        println!("{}", toml::to_string_pretty(&config)?);
        return Ok(ExitCode::SUCCESS);
    }
    let keypair = Arc::new(load_identity(&config)?);
    let identity = replication_proto::transport::identity_pubkey(&keypair);
    let load_options = BulkLoadOptions {
        verify: config.verify_snapshot,
        sort_memory: config.store.sort_memory_mb << 20,
        ..BulkLoadOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("replica")
        .build()?;
    let cancel = runtime.block_on(async { common::shutdown::token_on_signal() });
    let node = Node {
        config,
        ledger,
        keypair,
        upstreams,
        allowed,
    };
    let mut archives = node.config.snapshot_archives.clone();
    loop {
        if archives.is_empty()
            && !bootstrap::store_path(&node.ledger).exists()
            && !node.config.trackers.is_empty()
        {
            match runtime.block_on(fetch_newer(&node, None, &cancel))? {
                Some(fetched) => archives = fetched,
                None => return Ok(ExitCode::SUCCESS),
            }
        }
        let (store, _how) =
            bootstrap::open_or_load(&node.ledger, &archives, &store_config, &load_options)?;
        if args.exit_after_bootstrap {
            if let Some(path) = &node.config.ready_file {
                write_ready(path, &store, identity, Listeners::default())?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        let state = Arc::new(ReplicaState::new(Arc::new(store), identity, None)?);
        match runtime.block_on(serve(&node, state, cancel.child_token()))? {
            ServeExit::Shutdown => return Ok(ExitCode::SUCCESS),
            ServeExit::Rebootstrap(fetched) => {
                let store_path = bootstrap::store_path(&node.ledger);
                tracing::warn!(store = %store_path.display(), "replacing the store with a new bootstrap");
                std::fs::remove_dir_all(&store_path)
                    .with_context(|| format!("removing {}", store_path.display()))?;
                archives = fetched;
            }
        }
    }
}

/// Fetches the best chain through the trackers into the snapshot directory; with `after`, only
/// a chain newer than that slot counts. `None` if cancelled first.
async fn fetch_newer(
    node: &Node,
    after: Option<u64>,
    cancel: &CancellationToken,
) -> anyhow::Result<Option<Vec<PathBuf>>> {
    let mut fetch = FetchConfig::new(node.config.snapshots.dir(&node.ledger));
    fetch.trackers = node.config.trackers.clone();
    fetch.min_slots = 1;
    fetch.sort_memory = node.config.store.sort_memory_mb << 20;
    // The load verifies the lattice hash as it reads; reading the chain twice would double the
    // bootstrap's cost.
    fetch.verify_hash = false;
    fetch.progress = true;
    loop {
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return Ok(None),
            outcome = fetch_best(&fetch) => outcome,
        };
        match outcome {
            Ok(outcome) if after.is_none_or(|after| outcome.snapshot().slot > after) => {
                let snapshot = outcome.snapshot();
                tracing::info!(slot = snapshot.slot, full = %snapshot.full.display(), incremental = ?snapshot.incremental, "snapshot chain ready for bootstrap");
                let mut paths = vec![snapshot.full.clone()];
                paths.extend(snapshot.incremental.clone());
                return Ok(Some(paths));
            }
            Ok(outcome) => {
                tracing::warn!(best = outcome.snapshot().slot, needed_after = ?after, "no snapshot new enough yet")
            }
            Err(error) if after.is_none() && matches!(error, FetchError::NoSource) => {
                return Err(error.into());
            }
            Err(error) => tracing::warn!(%error, "fetching a snapshot failed"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(None),
            _ = tokio::time::sleep(REBOOTSTRAP_RETRY) => {}
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Listeners {
    rpc: Option<SocketAddr>,
    replication: Option<SocketAddr>,
    metrics: Option<SocketAddr>,
}

fn write_ready(
    path: &std::path::Path,
    store: &crate::store::AccountsStore,
    identity: Pubkey,
    listeners: Listeners,
) -> anyhow::Result<()> {
    let root = store.root().context("store has no root")?;
    common::ready::write(
        path,
        &ReadyInfo {
            root_slot: root.slot,
            accounts_lt_hash: root.lt_hash_checksum().to_string(),
            accounts: root.accounts,
            capitalization: root.capitalization,
            identity: identity.to_string(),
            rpc: listeners.rpc,
            replication: listeners.replication,
            metrics: listeners.metrics,
        },
    )
    .with_context(|| format!("writing ready file {}", path.display()))
}

async fn serve(
    node: &Node,
    state: Arc<ReplicaState>,
    cancel: CancellationToken,
) -> anyhow::Result<ServeExit> {
    let config = &node.config;
    let registry = state.registry().clone();
    let mut listeners = Listeners::default();
    let rpc = match config.rpc.bind {
        Some(_) => Some(
            RpcServer::spawn(state.clone(), config.rpc.clone(), &registry, cancel.clone()).await?,
        ),
        None => None,
    };
    listeners.rpc = rpc.as_ref().map(|rpc| rpc.local_addr);
    let replication = match config.replication.bind {
        Some(bind) => {
            let allowlist = if node.allowed.is_empty() {
                tracing::warn!(
                    "no --allowed-replica given: any identity may replicate from this node"
                );
                ClientAllowlist::AllowAny
            } else {
                ClientAllowlist::Only(node.allowed.iter().copied().collect())
            };
            let mut server_config =
                ReplicationServerConfig::new(node.keypair.insecure_clone(), bind, allowlist);
            server_config.identity = node.keypair.clone();
            let server = ReplicationServer::spawn(
                server_config,
                Arc::new(ReplicaSource::new(state.clone())),
                cancel.clone(),
            )
            .with_context(|| format!("serving replication on {bind}"))?;
            listeners.replication = Some(server.local_addr());
            Some(server)
        }
        None => None,
    };
    if let Some(bind) = config.metrics_bind {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding metrics on {bind}"))?;
        listeners.metrics = Some(listener.local_addr()?);
        let router = common::metrics::router(registry.clone());
        let stop = cancel.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        let (state, stop) = (state.clone(), cancel.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => state.metrics().refresh(&state),
                }
            }
        });
    }
    let snapshots = config.snapshots.enabled().then(|| {
        tokio::spawn(snapshot::run(
            state.clone(),
            config.snapshots.clone(),
            config.snapshots.dir(&node.ledger),
            cancel.clone(),
        ))
    });
    let mut sync = (!node.upstreams.is_empty()).then(|| {
        tokio::spawn(sync::run(
            state.clone(),
            node.keypair.clone(),
            SyncConfig::new(node.upstreams.clone()),
            cancel.clone(),
        ))
    });
    if let Some(path) = &config.ready_file {
        write_ready(path, state.store(), *state.identity(), listeners)?;
    }
    tracing::info!(rpc = ?listeners.rpc, replication = ?listeners.replication, metrics = ?listeners.metrics, "replica running");

    let exit = loop {
        let finished = match sync.as_mut() {
            Some(task) => tokio::select! {
                _ = cancel.cancelled() => break ServeExit::Shutdown,
                finished = task => finished,
            },
            None => {
                cancel.cancelled().await;
                break ServeExit::Shutdown;
            }
        };
        sync = None;
        match finished {
            Ok(SyncExit::NeedsBootstrap { reason }) if !config.trackers.is_empty() => {
                tracing::warn!(%reason, "fetching a newer snapshot through the tracker while serving the current state");
                let root = state.root_slot();
                match fetch_newer(node, root, &cancel).await? {
                    Some(archives) => break ServeExit::Rebootstrap(archives),
                    None => break ServeExit::Shutdown,
                }
            }
            Ok(SyncExit::NeedsBootstrap { reason }) => {
                tracing::error!(%reason, "no --tracker to bootstrap again through; serving the current state until stopped");
            }
            Ok(SyncExit::Cancelled) => {}
            Err(error) => tracing::error!(%error, "the sync task failed"),
        }
    };
    cancel.cancel();
    let shutdown = async {
        if let Some(sync) = sync {
            let _ = sync.await;
        }
        if let Some(snapshots) = snapshots {
            let _ = snapshots.await;
        }
        if let Some(rpc) = rpc {
            rpc.join().await;
        }
        if let Some(server) = replication {
            server.join().await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .is_err()
    {
        tracing::warn!("shutdown timed out");
    }
    tracing::info!("stopped");
    Ok(exit)
}
