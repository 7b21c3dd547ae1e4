//! `replica run`: bootstrap on first start, then keep the store current and serve it.

use {
    crate::{
        bootstrap,
        config::ReplicaConfig,
        rpc::{RpcArgs, RpcServer},
        serve::ReplicaSource,
        state::ReplicaState,
        store::{IndexKind, bulk::BulkLoadOptions},
        sync::{self, SyncConfig},
    },
    anyhow::Context,
    replication_proto::transport::{
        ClientAllowlist, ReplicationServer, ReplicationServerConfig, Upstream,
    },
    serde::Serialize,
    solana_keypair::Keypair,
    solana_pubkey::Pubkey,
    std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc},
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
            config.snapshots = self.snapshots.clone();
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

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let store_config = config.store_config()?;
    if args.check {
        println!("{}", toml::to_string_pretty(&config)?);
        return Ok(ExitCode::SUCCESS);
    }
    let ledger = config.ledger.clone().context("--ledger is required")?;
    let keypair = load_identity(&config)?;
    let identity = replication_proto::transport::identity_pubkey(&keypair);
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
    let load_options = BulkLoadOptions {
        verify: config.verify_snapshot,
        sort_memory: config.store.sort_memory_mb << 20,
        ..BulkLoadOptions::default()
    };
    let (store, _how) =
        bootstrap::open_or_load(&ledger, &config.snapshots, &store_config, &load_options)?;
    if args.exit_after_bootstrap {
        if let Some(path) = &config.ready_file {
            write_ready(path, &store, identity, Listeners::default())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let state = Arc::new(ReplicaState::new(Arc::new(store), identity, None)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("replica")
        .build()?;
    runtime.block_on(serve(config, state, Arc::new(keypair), upstreams, allowed))?;
    Ok(ExitCode::SUCCESS)
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
    config: ReplicaConfig,
    state: Arc<ReplicaState>,
    keypair: Arc<Keypair>,
    upstreams: Vec<Upstream>,
    allowed: Vec<Pubkey>,
) -> anyhow::Result<()> {
    let cancel = common::shutdown::token_on_signal();
    let registry = prometheus::Registry::new();
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
            let allowlist = if allowed.is_empty() {
                tracing::warn!(
                    "no --allowed-replica given: any identity may replicate from this node"
                );
                ClientAllowlist::AllowAny
            } else {
                ClientAllowlist::Only(allowed.into_iter().collect())
            };
            let mut server_config =
                ReplicationServerConfig::new(keypair.insecure_clone(), bind, allowlist);
            server_config.identity = keypair.clone();
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
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(cancel.cancelled_owned())
                .await;
        });
    }
    let sync = (!upstreams.is_empty()).then(|| {
        tokio::spawn(sync::run(
            state.clone(),
            keypair.clone(),
            SyncConfig::new(upstreams),
            cancel.clone(),
        ))
    });
    if let Some(path) = &config.ready_file {
        write_ready(path, state.store(), *state.identity(), listeners)?;
    }
    tracing::info!(rpc = ?listeners.rpc, replication = ?listeners.replication, metrics = ?listeners.metrics, "replica running");
    cancel.cancelled().await;
    let shutdown = async {
        if let Some(sync) = sync {
            let _ = sync.await;
        }
        if let Some(rpc) = rpc {
            rpc.join().await;
        }
        if let Some(server) = replication {
            server.join().await;
        }
    };
    if tokio::time::timeout(std::time::Duration::from_secs(10), shutdown)
        .await
        .is_err()
    {
        tracing::warn!("shutdown timed out");
    }
    tracing::info!("stopped");
    Ok(())
}
