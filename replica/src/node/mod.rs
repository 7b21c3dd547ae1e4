//! The replica node's lifecycle. Every listener is bound first (an address in use is reported
//! before any long work); then the store is opened or bootstrapped (from archives, or through
//! the trackers and the S3 mirror); then the node serves it (JSON-RPC, downstream replication,
//! metrics) while following its upstreams, writing its own archives, and checking its state
//! against the validator's snapshots. When the upstreams can no longer bring the store forward,
//! or a snapshot contradicts it, a new store loads beside the served one and replaces it in one
//! step; a failed load keeps the old one. Every task is joined on shutdown.

pub mod bootstrap;
mod etcd_upstream;
mod reference;
mod verify;

use {
    crate::{
        config::{ConfigError, ReplicaConfig},
        health,
        rpc::{PubSubServer, PubSubStartError, RpcServer, RpcStartError},
        serve::ReplicaSource,
        snapshot,
        state::{BootstrapStatus, NodeStatus, ReplicaState, ServedState},
        store::{AccountsStore, StoreConfig, StoreError, bulk::BulkLoadOptions},
        sync::{self, SyncConfig, SyncExit},
    },
    bootstrap::BootstrapError,
    common::metrics::MetricsServer,
    replication_proto::transport::{
        ClientAllowlist, IdentityError, ReplicationServer, ReplicationServerConfig, Upstream,
    },
    serde::Serialize,
    snapshot_tools::{
        archive::ArchiveName,
        fetch::{FetchConfig, FetchError, MirrorSource, fetch_best},
        s3::S3Client,
    },
    solana_clock::Slot,
    solana_keypair::Keypair,
    solana_pubkey::Pubkey,
    std::{
        net::SocketAddr,
        path::{Path, PathBuf},
        sync::{
            Arc,
            atomic::{AtomicU64, Ordering},
        },
        time::Duration,
    },
    tokio::{sync::watch, task::JoinHandle},
    tokio_util::sync::CancellationToken,
};

/// First pause between attempts to fetch a snapshot; doubles up to [`FETCH_RETRY_MAX`].
const FETCH_RETRY_MIN: Duration = Duration::from_secs(1);
const FETCH_RETRY_MAX: Duration = Duration::from_secs(10);
/// Pause after a failed new bootstrap before the next attempt.
const REBOOTSTRAP_RETRY: Duration = Duration::from_secs(10);
/// How long shutdown waits for the node's tasks before giving up on them.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the state gauges are refreshed.
const METRICS_REFRESH: Duration = Duration::from_secs(1);
/// How long a replaced store may stay in use by requests in flight before its directory goes.
const RETIRE_TIMEOUT: Duration = Duration::from_secs(120);

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
    #[error(transparent)]
    Rpc(#[from] RpcStartError),
    #[error(transparent)]
    PubSub(#[from] PubSubStartError),
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
    #[error("a bootstrap task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
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
    pubsub: Option<SocketAddr>,
    replication: Option<SocketAddr>,
    metrics: Option<SocketAddr>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Listeners {
    rpc: Option<SocketAddr>,
    pubsub: Option<SocketAddr>,
    replication: Option<SocketAddr>,
    metrics: Option<SocketAddr>,
}

/// The sockets bound before any long work.
#[derive(Debug, Default)]
struct Bound {
    rpc: Option<std::net::TcpListener>,
    pubsub: Option<std::net::TcpListener>,
    replication: Option<std::net::UdpSocket>,
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
    mirror: Option<MirrorSource>,
}

impl Node {
    /// Checks the configuration and loads the identity.
    pub fn new(config: ReplicaConfig) -> Result<Self, NodeError> {
        let store_config = config.store_config()?;
        let ledger = config.ledger()?.to_path_buf();
        let upstreams = config.upstreams()?;
        let allowed = config.allowed_replicas()?;
        let mirror = config.s3_location()?.map(|location| MirrorSource {
            location,
            credentials: S3Client::credentials_from_env(),
        });
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
            mirror,
        })
    }

    fn load_options(&self, progress: Option<Arc<AtomicU64>>) -> BulkLoadOptions {
        BulkLoadOptions {
            verify: self.config.verify_snapshot,
            sort_memory: self.config.store.sort_memory_mb << 20,
            progress_ppm: progress,
            ..BulkLoadOptions::default()
        }
    }

    /// Whether a new bootstrap can be fetched at all.
    fn can_fetch(&self) -> bool {
        !self.config.trackers.is_empty() || self.mirror.is_some()
    }

    /// Opens or loads the store and stops (writing the ready file, if any).
    pub fn bootstrap_only(&self) -> Result<(), NodeError> {
        let runtime = runtime()?;
        let cancel = runtime.block_on(async { common::shutdown::token_on_signal() });
        let Some(archives) = self.first_archives(&runtime, &cancel)? else {
            return Ok(());
        };
        let (store, _how) = bootstrap::open_or_load(
            &self.ledger,
            &archives,
            &self.store_config,
            &self.load_options(None),
        )?;
        if let Some(path) = &self.config.ready_file {
            write_ready(path, &store, self.identity, Listeners::default())?;
        }
        Ok(())
    }

    /// Binds every listener, bootstraps, then serves until SIGINT or SIGTERM.
    pub fn run(self) -> Result<(), NodeError> {
        let runtime = runtime()?;
        let cancel = runtime.block_on(async { common::shutdown::token_on_signal() });
        let status = Arc::new(NodeStatus::new(self.identity));
        status
            .fleet()
            .enable(self.config.fleet.clone(), status.registry());
        let bound = self.bind()?;
        let metrics = match self.config.metrics_bind {
            Some(addr) => {
                let _guard = runtime.enter();
                Some(
                    MetricsServer::spawn(addr, status.registry().clone(), cancel.clone())
                        .map_err(|source| NodeError::Metrics { addr, source })?,
                )
            }
            None => None,
        };
        let served = match self.first_state(&runtime, &status, &cancel) {
            Ok(Some(state)) => Arc::new(ServedState::new(state)),
            Ok(None) => {
                runtime.block_on(join_metrics(metrics));
                return Ok(());
            }
            Err(error) => {
                cancel.cancel();
                runtime.block_on(join_metrics(metrics));
                return Err(error);
            }
        };
        runtime.block_on(self.serve(served, bound, metrics, cancel))
    }

    /// Binds the JSON-RPC and replication sockets.
    fn bind(&self) -> Result<Bound, NodeError> {
        let rpc = self.config.rpc.bind.map(RpcServer::bind).transpose()?;
        let pubsub = self
            .config
            .pubsub
            .resolve_bind(self.config.rpc.bind)
            .map(PubSubServer::bind)
            .transpose()?;
        let replication = self
            .config
            .replication
            .bind
            .map(|addr| {
                std::net::UdpSocket::bind(addr).map_err(|error| NodeError::Replication {
                    addr,
                    reason: error.to_string(),
                })
            })
            .transpose()?;
        Ok(Bound {
            rpc,
            pubsub,
            replication,
        })
    }

    /// The store of the first serving period: reopened, or loaded from archives (fetched when
    /// none are configured). `None` if stopped first.
    fn first_state(
        &self,
        runtime: &tokio::runtime::Runtime,
        status: &Arc<NodeStatus>,
        cancel: &CancellationToken,
    ) -> Result<Option<Arc<ReplicaState>>, NodeError> {
        match bootstrap::remove_stale_stores(&self.ledger) {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(?removed, "removed stores that are not current");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot remove stores that are not current"),
        }
        let Some(archives) = self.first_archives(runtime, cancel)? else {
            return Ok(None);
        };
        let progress = Arc::new(AtomicU64::new(0));
        status.set_bootstrap(BootstrapStatus::Loading {
            slot: archives_slot(&archives).unwrap_or_default(),
            progress: 0.0,
        });
        let (ledger, store_config, options) = (
            self.ledger.clone(),
            self.store_config.clone(),
            self.load_options(Some(progress)),
        );
        // The load runs on its own thread so that a signal stops the node at once (an
        // interrupted load is cleaned up at the next start).
        let opened = runtime.block_on(async {
            let load = tokio::task::spawn_blocking(move || {
                bootstrap::open_or_load(&ledger, &archives, &store_config, &options)
            });
            tokio::select! {
                _ = cancel.cancelled() => None,
                opened = load => Some(opened),
            }
        });
        status.set_bootstrap(BootstrapStatus::Idle);
        let Some(opened) = opened else {
            return Ok(None);
        };
        let (store, _how) = opened??;
        let state = ReplicaState::with_node(Arc::new(store), status.clone(), None)?;
        Ok(Some(Arc::new(state)))
    }

    /// The archives of the first bootstrap: the configured ones, or (with no store yet and a
    /// tracker or mirror configured) the best chain fetched. `None` if cancelled first.
    fn first_archives(
        &self,
        runtime: &tokio::runtime::Runtime,
        cancel: &CancellationToken,
    ) -> Result<Option<Vec<PathBuf>>, NodeError> {
        let archives = &self.config.snapshot_archives;
        if archives.is_empty() && !bootstrap::store_path(&self.ledger).exists() && self.can_fetch()
        {
            return runtime.block_on(self.fetch_newer(None, cancel));
        }
        Ok(Some(archives.clone()))
    }

    /// Fetches the best chain through the trackers (or the S3 mirror) into the snapshot
    /// directory; with `after`, only a chain newer than that slot counts. `None` if cancelled
    /// first.
    async fn fetch_newer(
        &self,
        after: Option<Slot>,
        cancel: &CancellationToken,
    ) -> Result<Option<Vec<PathBuf>>, NodeError> {
        let mut fetch = FetchConfig::new(self.config.snapshots.dir(&self.ledger));
        fetch.trackers = self.config.trackers.clone();
        fetch.only_targets = self.config.trusted_snapshot_sources.clone();
        fetch.mirror = self.mirror.clone();
        fetch.min_slots = 1;
        fetch.sort_memory = self.config.store.sort_memory_mb << 20;
        // The load verifies the lattice hash as it reads; reading the chain twice would double
        // the bootstrap's cost.
        fetch.verify_hash = false;
        fetch.progress = true;
        let mut retry = FETCH_RETRY_MIN;
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
                    tracing::info!(best = outcome.snapshot().slot, needed_after = ?after, "no snapshot new enough yet")
                }
                Err(error) if after.is_none() && matches!(error, FetchError::NoSource) => {
                    return Err(error.into());
                }
                Err(error) => tracing::info!(%error, retry_in = ?retry, "no snapshot to fetch yet"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(None),
                _ = tokio::time::sleep(retry) => {}
            }
            retry = (retry * 2).min(FETCH_RETRY_MAX);
        }
    }

    /// Serves until cancelled, bootstrapping anew beside the served store when needed.
    async fn serve(
        &self,
        served: Arc<ServedState>,
        bound: Bound,
        metrics: Option<MetricsServer>,
        cancel: CancellationToken,
    ) -> Result<(), NodeError> {
        let status = served.load().node().clone();
        let mut services = Services {
            metrics,
            ..Services::default()
        };
        let started = self
            .start_services(&served, &status, bound, &cancel, &mut services)
            .and_then(|listeners| {
                if let Some(path) = &self.config.ready_file {
                    write_ready(path, served.load().store(), self.identity, listeners)?;
                }
                Ok(listeners)
            });
        let listeners = match started {
            Ok(listeners) => listeners,
            Err(error) => {
                cancel.cancel();
                services.join().await;
                return Err(error);
            }
        };
        tracing::info!(rpc = ?listeners.rpc, pubsub = ?listeners.pubsub, replication = ?listeners.replication, metrics = ?listeners.metrics, "replica running");
        loop {
            let state = served.load();
            let period = cancel.child_token();
            let mut tasks = self.start_period(&state, services.upstream_updates.as_ref(), &period);
            let next = tasks.next(&cancel).await;
            period.cancel();
            tasks.join().await;
            let (reason, after) = match next {
                Next::Shutdown => break,
                // The upstreams have moved past the store: only a newer snapshot helps.
                Next::PastRetention(reason) => (reason, state.root_slot()),
                // The store contradicts a validator snapshot: any verified snapshot replaces it.
                Next::Mismatch(mismatch) => {
                    self.remove_unverified_archives(&status);
                    (mismatch.reason, None)
                }
            };
            if !self.can_fetch() {
                tracing::error!(%reason, "no --tracker or S3 mirror to bootstrap again through; serving the current state until stopped");
                cancel.cancelled().await;
                break;
            }
            match self
                .rebootstrap(&served, &status, reason, after, &cancel)
                .await
            {
                Ok(true) => {
                    if let Some(path) = &self.config.ready_file
                        && let Err(error) =
                            write_ready(path, served.load().store(), self.identity, listeners)
                    {
                        tracing::warn!(%error, "cannot update the ready file");
                    }
                }
                Ok(false) => break,
                Err(error) => {
                    status.metrics().bootstrap_failures.inc();
                    tracing::error!(%error, retry_in = ?REBOOTSTRAP_RETRY, "the new bootstrap failed; serving the current store meanwhile");
                    status.set_bootstrap(BootstrapStatus::Failed {
                        reason: error.to_string(),
                    });
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(REBOOTSTRAP_RETRY) => {}
                    }
                }
            }
        }
        cancel.cancel();
        services.join().await;
        tracing::info!("stopped");
        Ok(())
    }

    /// Loads a new store beside the served one and makes it the served store. `Ok(false)` if
    /// cancelled first; on an error the served store stays.
    async fn rebootstrap(
        &self,
        served: &Arc<ServedState>,
        status: &Arc<NodeStatus>,
        reason: String,
        after: Option<Slot>,
        cancel: &CancellationToken,
    ) -> Result<bool, NodeError> {
        tracing::warn!(%reason, "bootstrapping anew beside the served store");
        status.set_bootstrap(BootstrapStatus::Fetching { reason });
        let Some(archives) = self.fetch_newer(after, cancel).await? else {
            return Ok(false);
        };
        let slot = archives_slot(&archives).unwrap_or_default();
        let path = bootstrap::next_store_path(&self.ledger, slot)?;
        let progress = Arc::new(AtomicU64::new(0));
        status.set_bootstrap(BootstrapStatus::Loading {
            slot,
            progress: 0.0,
        });
        let reporter = {
            let (status, progress) = (status.clone(), progress.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(500));
                loop {
                    tick.tick().await;
                    status.set_bootstrap(BootstrapStatus::Loading {
                        slot,
                        progress: progress.load(Ordering::Relaxed) as f64 / 1e6,
                    });
                }
            })
        };
        let load = {
            let (path, store_config) = (path.clone(), self.store_config.clone());
            let options = self.load_options(Some(progress));
            tokio::task::spawn_blocking(move || {
                bootstrap::load_into(&path, &archives, &store_config, &options)
            })
        };
        let loaded = tokio::select! {
            _ = cancel.cancelled() => None,
            loaded = load => Some(loaded),
        };
        reporter.abort();
        let Some(loaded) = loaded else {
            return Ok(false);
        };
        let store = match loaded? {
            Ok((store, _report)) => store,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&path);
                return Err(error.into());
            }
        };
        bootstrap::make_current(&self.ledger, &path)?;
        let state = Arc::new(ReplicaState::with_node(
            Arc::new(store),
            status.clone(),
            None,
        )?);
        let root = state.root_slot();
        let old = served.replace(state.clone());
        // Downstream replicas and waiting readers look again, now at the new store.
        state.notify_change();
        status.set_bootstrap(BootstrapStatus::Idle);
        status.update_verification(|verification| verification.mismatch = None);
        status.metrics().bootstraps.inc();
        tracing::info!(root_slot = ?root, "serving the new store");
        retire(old);
        Ok(true)
    }

    /// After a mismatch: removes the local archives newer than the last verified slot (this
    /// replica's own archives of a diverged state among them), so that the new bootstrap does
    /// not take one of them for the newest chain.
    fn remove_unverified_archives(&self, status: &NodeStatus) {
        let verified = status.verification().last_verified_slot.unwrap_or(0);
        let dir = self.config.snapshots.dir(&self.ledger);
        for dir in [dir.join("remote"), dir] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for path in entries.filter_map(|entry| Some(entry.ok()?.path())) {
                let Ok(name) = ArchiveName::from_path(&path) else {
                    continue;
                };
                if name.slot <= verified {
                    continue;
                }
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::warn!(archive = %path.display(), "removed an archive newer than the last verified slot")
                    }
                    Err(error) => {
                        tracing::warn!(archive = %path.display(), %error, "cannot remove an unverified archive")
                    }
                }
            }
        }
    }

    /// Starts the services that live as long as the node: JSON-RPC, downstream replication,
    /// the gauge refresher and the health reference.
    fn start_services(
        &self,
        served: &Arc<ServedState>,
        status: &Arc<NodeStatus>,
        bound: Bound,
        cancel: &CancellationToken,
        services: &mut Services,
    ) -> Result<Listeners, NodeError> {
        let config = &self.config;
        let registry = status.registry().clone();
        let mut listeners = Listeners {
            metrics: services.metrics.as_ref().map(MetricsServer::local_addr),
            ..Listeners::default()
        };
        if let Some(listener) = bound.rpc {
            let rpc = RpcServer::spawn_on(
                listener,
                served.clone(),
                config.rpc.clone(),
                &registry,
                cancel.clone(),
            )?;
            listeners.rpc = Some(rpc.local_addr);
            services.rpc = Some(rpc);
        }
        if let Some(listener) = bound.pubsub {
            let pubsub = PubSubServer::spawn_on(
                listener,
                served.clone(),
                config.pubsub.clone(),
                &registry,
                cancel.clone(),
            )?;
            listeners.pubsub = Some(pubsub.local_addr);
            services.pubsub = Some(pubsub);
        }
        if let Some(socket) = bound.replication {
            let addr = socket
                .local_addr()
                .ok()
                .or(config.replication.bind)
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
            let allowlist = if self.allowed.is_empty() {
                tracing::warn!(
                    "no --allowed-replica given: any identity may replicate from this node"
                );
                ClientAllowlist::AllowAny
            } else {
                ClientAllowlist::Only(self.allowed.iter().copied().collect())
            };
            let mut server_config =
                ReplicationServerConfig::new(self.keypair.insecure_clone(), addr, allowlist);
            server_config.identity = self.keypair.clone();
            let server = ReplicationServer::spawn_on(
                server_config,
                socket,
                Arc::new(ReplicaSource::new(served.clone())),
                cancel.clone(),
            )
            .map_err(|error| NodeError::Replication {
                addr,
                reason: error.to_string(),
            })?;
            listeners.replication = Some(server.local_addr());
            services.replication = Some(server);
        }
        let (refreshed, stop, limits) =
            (served.clone(), cancel.clone(), config.rpc.health_limits());
        services.tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(METRICS_REFRESH);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {
                        let state = refreshed.load();
                        let health = health::check(&state, limits);
                        state.metrics().refresh(&state.gauge_values(health.gauge()));
                    }
                }
            }
        }));
        services.tasks.push(tokio::spawn(reference::run(
            status.clone(),
            config.rpc.health_reference.clone(),
            config.trackers.clone(),
            cancel.clone(),
        )));
        if let Some((cluster, etcd)) = config.etcd_upstream()? {
            services.upstream_updates = Some(etcd_upstream::spawn(
                cluster,
                etcd,
                self.upstreams.clone(),
                cancel.clone(),
                &mut services.tasks,
            ));
        }
        Ok(listeners)
    }

    /// Starts what works on one store: following the upstreams, writing own archives, and the
    /// snapshot verification.
    fn start_period(
        &self,
        state: &Arc<ReplicaState>,
        upstream_updates: Option<&watch::Receiver<Vec<Upstream>>>,
        period: &CancellationToken,
    ) -> Period {
        let config = &self.config;
        let mut sync_config = SyncConfig::new(self.upstreams.clone());
        sync_config.updates = upstream_updates.cloned();
        sync_config.set_return_after(Duration::from_secs(config.replication.return_after_secs));
        Period {
            sync: (!self.upstreams.is_empty() || sync_config.updates.is_some()).then(|| {
                tokio::spawn(sync::run(
                    state.clone(),
                    self.keypair.clone(),
                    sync_config,
                    period.clone(),
                ))
            }),
            snapshots: config.snapshots.enabled().then(|| {
                tokio::spawn(snapshot::run(
                    state.clone(),
                    config.snapshots.clone(),
                    config.snapshots.dir(&self.ledger),
                    period.clone(),
                ))
            }),
            verify: Some(tokio::spawn(verify::run(
                state.clone(),
                config.trackers.clone(),
                config.trusted_snapshot_sources.clone(),
                period.clone(),
            ))),
        }
    }
}

/// What ends a serving period.
enum Next {
    Shutdown,
    /// The upstreams no longer hold the slots after the store's root: why.
    PastRetention(String),
    /// The store disagrees with a validator snapshot.
    Mismatch(verify::Mismatch),
}

/// The tasks of one serving period.
struct Period {
    sync: Option<JoinHandle<SyncExit>>,
    snapshots: Option<JoinHandle<()>>,
    verify: Option<JoinHandle<Option<verify::Mismatch>>>,
}

impl Period {
    /// Waits for a shutdown, a sync that cannot go on, or a snapshot that contradicts the store.
    async fn next(&mut self, cancel: &CancellationToken) -> Next {
        loop {
            let sync = async {
                match self.sync.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            };
            let verify = async {
                match self.verify.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return Next::Shutdown,
                exit = sync => {
                    self.sync = None;
                    match exit {
                        Ok(SyncExit::NeedsBootstrap { reason }) => return Next::PastRetention(reason),
                        Ok(SyncExit::Cancelled) => return Next::Shutdown,
                        Err(error) => tracing::error!(%error, "the sync task failed"),
                    }
                }
                found = verify => {
                    self.verify = None;
                    match found {
                        Ok(Some(mismatch)) => return Next::Mismatch(mismatch),
                        Ok(None) => {}
                        Err(error) => tracing::error!(%error, "the snapshot verification task failed"),
                    }
                }
            }
        }
    }

    async fn join(self) {
        let all = async {
            if let Some(sync) = self.sync {
                let _ = sync.await;
            }
            if let Some(snapshots) = self.snapshots {
                let _ = snapshots.await;
            }
            if let Some(verify) = self.verify {
                let _ = verify.await;
            }
        };
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, all).await.is_err() {
            tracing::warn!("a serving period's tasks did not stop in time");
        }
    }
}

/// What lives as long as the node; joined on shutdown.
#[derive(Default)]
struct Services {
    /// The upstream list as the etcd watch publishes it (`--upstream-from-etcd`).
    upstream_updates: Option<watch::Receiver<Vec<Upstream>>>,
    rpc: Option<RpcServer>,
    pubsub: Option<PubSubServer>,
    replication: Option<ReplicationServer>,
    metrics: Option<MetricsServer>,
    tasks: Vec<JoinHandle<()>>,
}

impl Services {
    /// Waits (bounded) for everything to stop after the node's token was cancelled.
    async fn join(self) {
        let Self {
            upstream_updates: _,
            rpc,
            pubsub,
            replication,
            metrics,
            tasks,
        } = self;
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
            if let Some(rpc) = rpc {
                rpc.join().await;
            }
            if let Some(pubsub) = pubsub {
                pubsub.join().await;
            }
            if let Some(server) = replication {
                server.join().await;
            }
            join_metrics(metrics).await;
        };
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, all).await.is_err() {
            tracing::warn!("shutdown timed out");
        }
    }
}

async fn join_metrics(metrics: Option<MetricsServer>) {
    if let Some(metrics) = metrics {
        metrics.join().await;
    }
}

/// Closes a replaced store once no request holds it any more, then removes its directory.
fn retire(old: Arc<ReplicaState>) {
    let store = Arc::downgrade(old.store());
    let path = old.store().path().to_path_buf();
    drop(old);
    tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + RETIRE_TIMEOUT;
        while store.strong_count() > 0 {
            if std::time::Instant::now() > deadline {
                tracing::warn!(store = %path.display(), "the replaced store is still in use; it is removed at the next start");
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => tracing::info!(store = %path.display(), "removed the replaced store"),
            Err(error) => {
                tracing::warn!(store = %path.display(), %error, "cannot remove the replaced store")
            }
        }
    });
}

/// The slot of the newest archive of a chain.
fn archives_slot(archives: &[PathBuf]) -> Option<Slot> {
    archives
        .iter()
        .filter_map(|path| ArchiveName::from_path(path).ok())
        .map(|name| name.slot)
        .max()
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
            pubsub: listeners.pubsub,
            replication: listeners.replication,
            metrics: listeners.metrics,
        },
    )
    .map_err(|source| NodeError::ReadyFile {
        path: path.to_path_buf(),
        source,
    })
}
