//! The replica node's lifecycle: bootstrap (from archives or through the trackers), serving
//! (JSON-RPC, downstream replication, metrics, own snapshots) while following the upstreams,
//! a new bootstrap when the upstreams can no longer bring the store forward, and shutdown with
//! every task joined.

pub mod bootstrap;
mod etcd_upstream;

use {
    crate::{
        config::{ConfigError, ReplicaConfig},
        rpc::{RpcServer, RpcStartError},
        serve::ReplicaSource,
        snapshot,
        state::ReplicaState,
        store::{AccountsStore, StoreConfig, StoreError, bulk::BulkLoadOptions},
        sync::{self, SyncConfig, SyncExit},
    },
    bootstrap::BootstrapError,
    common::metrics::MetricsServer,
    replication_proto::transport::{
        ClientAllowlist, IdentityError, ReplicationServer, ReplicationServerConfig, Upstream,
    },
    serde::Serialize,
    snapshot_tools::fetch::{FetchConfig, FetchError, fetch_best},
    solana_clock::Slot,
    solana_keypair::Keypair,
    solana_pubkey::Pubkey,
    std::{
        net::SocketAddr,
        path::{Path, PathBuf},
        sync::Arc,
        time::Duration,
    },
    tokio::task::JoinHandle,
    tokio_util::sync::CancellationToken,
};

/// Pause between attempts to fetch a newer snapshot for a new bootstrap.
const REBOOTSTRAP_RETRY: Duration = Duration::from_secs(10);
/// How long shutdown waits for the node's tasks before giving up on them.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the store gauges are refreshed.
const METRICS_REFRESH: Duration = Duration::from_secs(1);

/// Why the node stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("reading identity keypair {}: {source}", .path.display())]
    Identity {
        path: PathBuf,
        source: IdentityError,
    },
    #[error("replication needs --identity <keypair file>")]
    NoIdentity,
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error("fetching a snapshot: {0}")]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store has no root")]
    NoRoot,
    #[error("removing {}: {source}", .path.display())]
    RemoveStore {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Rpc(#[from] RpcStartError),
    #[error("serving replication on {addr}: {reason}")]
    Replication { addr: SocketAddr, reason: String },
    #[error("binding metrics on {addr}: {source}")]
    Metrics {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("writing ready file {}: {source}", .path.display())]
    ReadyFile {
        path: PathBuf,
        source: std::io::Error,
    },
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

#[derive(Debug, Default, Clone, Copy)]
struct Listeners {
    rpc: Option<SocketAddr>,
    replication: Option<SocketAddr>,
    metrics: Option<SocketAddr>,
}

/// Why serving ended.
enum ServeExit {
    Shutdown,
    /// Load these archives into a new store and start again.
    Rebootstrap(Vec<PathBuf>),
}

/// A replica node: its configuration, resolved.
#[derive(Debug)]
pub struct Node {
    config: ReplicaConfig,
    ledger: PathBuf,
    store_config: StoreConfig,
    keypair: Arc<Keypair>,
    identity: Pubkey,
    upstreams: Vec<Upstream>,
    allowed: Vec<Pubkey>,
}

impl Node {
    /// Checks the configuration and loads the identity.
    pub fn new(config: ReplicaConfig) -> Result<Self, NodeError> {
        let store_config = config.store_config()?;
        let ledger = config.ledger()?.to_path_buf();
        let upstreams = config.upstreams()?;
        let allowed = config.allowed_replicas()?;
        let keypair = Arc::new(load_identity(&config)?);
        let identity = replication_proto::transport::identity_pubkey(&keypair);
        Ok(Self {
            config,
            ledger,
            store_config,
            keypair,
            identity,
            upstreams,
            allowed,
        })
    }

    /// Opens the ledger's store, loading `archives` into it first if there is none.
    fn open_store(&self, archives: &[PathBuf]) -> Result<AccountsStore, NodeError> {
        let options = BulkLoadOptions {
            verify: self.config.verify_snapshot,
            sort_memory: self.config.store.sort_memory_mb << 20,
            ..BulkLoadOptions::default()
        };
        let (store, _how) =
            bootstrap::open_or_load(&self.ledger, archives, &self.store_config, &options)?;
        Ok(store)
    }

    /// Opens or loads the store and stops (writing the ready file, if any).
    pub fn bootstrap_only(&self) -> Result<(), NodeError> {
        let runtime = runtime()?;
        let cancel = runtime.block_on(async { common::shutdown::token_on_signal() });
        let Some(archives) = self.first_archives(&runtime, &cancel)? else {
            return Ok(());
        };
        let store = self.open_store(&archives)?;
        if let Some(path) = &self.config.ready_file {
            write_ready(path, &store, self.identity, Listeners::default())?;
        }
        Ok(())
    }

    /// Bootstraps, then serves until SIGINT or SIGTERM, bootstrapping again whenever the
    /// upstreams can no longer bring the store forward.
    pub fn run(self) -> Result<(), NodeError> {
        let runtime = runtime()?;
        let cancel = runtime.block_on(async { common::shutdown::token_on_signal() });
        let Some(mut archives) = self.first_archives(&runtime, &cancel)? else {
            return Ok(());
        };
        loop {
            let store = self.open_store(&archives)?;
            let state = Arc::new(ReplicaState::new(Arc::new(store), self.identity, None)?);
            match runtime.block_on(self.serve(state, cancel.child_token()))? {
                ServeExit::Shutdown => return Ok(()),
                ServeExit::Rebootstrap(fetched) => {
                    let store_path = bootstrap::store_path(&self.ledger);
                    tracing::warn!(store = %store_path.display(), "replacing the store with a new bootstrap");
                    std::fs::remove_dir_all(&store_path).map_err(|source| {
                        NodeError::RemoveStore {
                            path: store_path.clone(),
                            source,
                        }
                    })?;
                    archives = fetched;
                }
            }
        }
    }

    /// The archives of the first bootstrap: the configured ones, or (with no store yet and
    /// trackers configured) the best chain fetched through them. `None` if cancelled first.
    fn first_archives(
        &self,
        runtime: &tokio::runtime::Runtime,
        cancel: &CancellationToken,
    ) -> Result<Option<Vec<PathBuf>>, NodeError> {
        let archives = &self.config.snapshot_archives;
        if archives.is_empty()
            && !bootstrap::store_path(&self.ledger).exists()
            && !self.config.trackers.is_empty()
        {
            return runtime.block_on(self.fetch_newer(None, cancel));
        }
        Ok(Some(archives.clone()))
    }

    /// Fetches the best chain through the trackers into the snapshot directory; with `after`,
    /// only a chain newer than that slot counts. `None` if cancelled first.
    async fn fetch_newer(
        &self,
        after: Option<Slot>,
        cancel: &CancellationToken,
    ) -> Result<Option<Vec<PathBuf>>, NodeError> {
        let mut fetch = FetchConfig::new(self.config.snapshots.dir(&self.ledger));
        fetch.trackers = self.config.trackers.clone();
        fetch.min_slots = 1;
        fetch.sort_memory = self.config.store.sort_memory_mb << 20;
        // The load verifies the lattice hash as it reads; reading the chain twice would double
        // the bootstrap's cost.
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

    /// Serves `state` until cancelled or until a new bootstrap is needed; every task it starts
    /// is joined before it returns.
    async fn serve(
        &self,
        state: Arc<ReplicaState>,
        cancel: CancellationToken,
    ) -> Result<ServeExit, NodeError> {
        let mut services = Services::default();
        let result = self.start_services(&state, &cancel, &mut services).await;
        let exit = match result {
            Ok(listeners) => {
                if let Some(path) = &self.config.ready_file
                    && let Err(error) = write_ready(path, state.store(), self.identity, listeners)
                {
                    cancel.cancel();
                    services.join().await;
                    return Err(error);
                }
                tracing::info!(rpc = ?listeners.rpc, replication = ?listeners.replication, metrics = ?listeners.metrics, "replica running");
                self.follow(&state, &cancel, &mut services).await
            }
            Err(error) => Err(error),
        };
        cancel.cancel();
        services.join().await;
        tracing::info!("stopped");
        exit
    }

    async fn start_services(
        &self,
        state: &Arc<ReplicaState>,
        cancel: &CancellationToken,
        services: &mut Services,
    ) -> Result<Listeners, NodeError> {
        let config = &self.config;
        let registry = state.registry().clone();
        let mut listeners = Listeners::default();
        if config.rpc.bind.is_some() {
            let rpc =
                RpcServer::spawn(state.clone(), config.rpc.clone(), &registry, cancel.clone())
                    .await?;
            listeners.rpc = Some(rpc.local_addr);
            services.rpc = Some(rpc);
        }
        if let Some(bind) = config.replication.bind {
            let allowlist = if self.allowed.is_empty() {
                tracing::warn!(
                    "no --allowed-replica given: any identity may replicate from this node"
                );
                ClientAllowlist::AllowAny
            } else {
                ClientAllowlist::Only(self.allowed.iter().copied().collect())
            };
            let mut server_config =
                ReplicationServerConfig::new(self.keypair.insecure_clone(), bind, allowlist);
            server_config.identity = self.keypair.clone();
            let server = ReplicationServer::spawn(
                server_config,
                Arc::new(ReplicaSource::new(state.clone())),
                cancel.clone(),
            )
            .map_err(|error| NodeError::Replication {
                addr: bind,
                reason: error.to_string(),
            })?;
            listeners.replication = Some(server.local_addr());
            services.replication = Some(server);
        }
        if let Some(addr) = config.metrics_bind {
            let metrics = MetricsServer::spawn(addr, registry.clone(), cancel.clone())
                .map_err(|source| NodeError::Metrics { addr, source })?;
            listeners.metrics = Some(metrics.local_addr());
            services.metrics = Some(metrics);
            let (state, stop) = (state.clone(), cancel.clone());
            services.tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(METRICS_REFRESH);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tick.tick() => state.metrics().refresh(&state),
                    }
                }
            }));
        }
        if config.snapshots.enabled() {
            services.tasks.push(tokio::spawn(snapshot::run(
                state.clone(),
                config.snapshots.clone(),
                config.snapshots.dir(&self.ledger),
                cancel.clone(),
            )));
        }
        let mut sync_config = SyncConfig::new(self.upstreams.clone());
        if let Some((cluster, etcd)) = config.etcd_upstream()? {
            sync_config.updates = Some(etcd_upstream::spawn(
                cluster,
                etcd,
                self.upstreams.clone(),
                cancel.clone(),
                &mut services.tasks,
            ));
        }
        if !self.upstreams.is_empty() || sync_config.updates.is_some() {
            services.sync = Some(tokio::spawn(sync::run(
                state.clone(),
                self.keypair.clone(),
                sync_config,
                cancel.clone(),
            )));
        }
        Ok(listeners)
    }

    /// Waits for a shutdown, or for the sync task to say a new bootstrap is needed.
    async fn follow(
        &self,
        state: &Arc<ReplicaState>,
        cancel: &CancellationToken,
        services: &mut Services,
    ) -> Result<ServeExit, NodeError> {
        loop {
            let finished = match services.sync.as_mut() {
                Some(task) => tokio::select! {
                    _ = cancel.cancelled() => return Ok(ServeExit::Shutdown),
                    finished = task => finished,
                },
                None => {
                    cancel.cancelled().await;
                    return Ok(ServeExit::Shutdown);
                }
            };
            services.sync = None;
            match finished {
                Ok(SyncExit::NeedsBootstrap { reason }) if !self.config.trackers.is_empty() => {
                    tracing::warn!(%reason, "fetching a newer snapshot through the tracker while serving the current state");
                    let root = state.root_slot();
                    return Ok(match self.fetch_newer(root, cancel).await? {
                        Some(archives) => ServeExit::Rebootstrap(archives),
                        None => ServeExit::Shutdown,
                    });
                }
                Ok(SyncExit::NeedsBootstrap { reason }) => {
                    tracing::error!(%reason, "no --tracker to bootstrap again through; serving the current state until stopped");
                }
                Ok(SyncExit::Cancelled) => {}
                Err(error) => tracing::error!(%error, "the sync task failed"),
            }
        }
    }
}

/// What one serving period started; joined when it ends.
#[derive(Default)]
struct Services {
    rpc: Option<RpcServer>,
    replication: Option<ReplicationServer>,
    metrics: Option<MetricsServer>,
    sync: Option<JoinHandle<SyncExit>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Services {
    /// Waits (bounded) for everything to stop after the serving period's token was cancelled.
    async fn join(self) {
        let Self {
            rpc,
            replication,
            metrics,
            sync,
            tasks,
        } = self;
        let all = async {
            if let Some(sync) = sync {
                let _ = sync.await;
            }
            for task in tasks {
                let _ = task.await;
            }
            if let Some(rpc) = rpc {
                rpc.join().await;
            }
            if let Some(server) = replication {
                server.join().await;
            }
            if let Some(metrics) = metrics {
                metrics.join().await;
            }
        };
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, all).await.is_err() {
            tracing::warn!("shutdown timed out");
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, NodeError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("replica")
        .build()
        .map_err(NodeError::Runtime)
}

/// The node identity: the keypair file if given, else a random one for this run.
fn load_identity(config: &ReplicaConfig) -> Result<Keypair, NodeError> {
    match &config.identity {
        Some(path) => replication_proto::transport::load_identity(path).map_err(|source| {
            NodeError::Identity {
                path: path.clone(),
                source,
            }
        }),
        None => {
            if !config.replication.upstreams.is_empty() || config.replication.bind.is_some() {
                return Err(NodeError::NoIdentity);
            }
            let keypair = Keypair::new();
            tracing::warn!(identity = %replication_proto::transport::identity_pubkey(&keypair), "no --identity given; using a random identity for this run");
            Ok(keypair)
        }
    }
}

fn write_ready(
    path: &Path,
    store: &AccountsStore,
    identity: Pubkey,
    listeners: Listeners,
) -> Result<(), NodeError> {
    let root = store.root().ok_or(NodeError::NoRoot)?;
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
    .map_err(|source| NodeError::ReadyFile {
        path: path.to_path_buf(),
        source,
    })
}
