//! The plugin's running parts, independent of the FFI edge: the hand-off queue, the collector
//! thread (collector → delta log → served view), the tokio runtime with the replication server
//! and the optional `/metrics` endpoint. Built by `on_load`, stopped by `on_unload`.

use {
    crate::{
        collector::{Collector, RootOutcome},
        config::PluginConfig,
        delta_log::{DeltaLog, DeltaLogError},
        handoff::Handoff,
        metrics::Metrics,
        serve::{AccountsLtHashSource, PluginSource, SlotView, ViewUpdate},
    },
    replication_proto::{
        Pubkey,
        transport::{ReplicationServer, ReplicationServerConfig, ServerError, load_identity},
    },
    std::{
        net::SocketAddr,
        sync::{
            Arc,
            atomic::{AtomicU64, Ordering},
            mpsc,
        },
        thread::JoinHandle,
        time::{Duration, Instant},
    },
    tokio_util::sync::CancellationToken,
};

/// How long the collector waits for events before checking for shutdown.
const COLLECTOR_POLL: Duration = Duration::from_millis(100);
/// Worker threads of the plugin's runtime: the server is I/O-bound; source reads are blocking.
const RUNTIME_WORKER_THREADS: usize = 2;
/// Blocking threads of the plugin's runtime (delta-log reads, bounded again by the server).
const RUNTIME_MAX_BLOCKING_THREADS: usize = 16;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The identity keypair could not be read.
    #[error("failed to load identity {}: {reason}", .path.display())]
    Identity {
        /// The keypair file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The delta log could not be opened.
    #[error("failed to open the delta log: {0}")]
    DeltaLog(#[from] DeltaLogError),
    /// The runtime or a thread could not be started.
    #[error("failed to start {what}: {source}")]
    Spawn {
        /// What.
        what: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The replication server could not start.
    #[error("failed to start the replication server: {0}")]
    Server(#[from] ServerError),
    /// The ready file could not be written.
    #[error("failed to write the ready file {}: {source}", .path.display())]
    ReadyFile {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The metrics endpoint could not bind.
    #[error("failed to bind the metrics endpoint {addr}: {source}")]
    MetricsBind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Extra wiring for in-process users (the simulator).
#[derive(Clone, Debug, Default)]
pub struct ServiceOptions {
    /// Supplies the trailers' full-state lattice hash (the real plugin has none).
    pub lt_hashes: Option<Arc<dyn AccountsLtHashSource>>,
}

/// The running plugin.
#[derive(Debug)]
pub struct ReplicationService {
    handoff: Arc<Handoff>,
    /// Events the collector has applied and published.
    processed: Arc<AtomicU64>,
    metrics: Metrics,
    view: Arc<SlotView>,
    local_addr: SocketAddr,
    identity: Pubkey,
    metrics_addr: Option<SocketAddr>,
    cancel: CancellationToken,
    runtime: Option<tokio::runtime::Runtime>,
    server: Option<ReplicationServer>,
    metrics_server: Option<common::metrics::MetricsServer>,
    collector: Option<JoinHandle<()>>,
}

impl ReplicationService {
    /// Opens the delta log, starts the collector thread, the runtime, the replication server
    /// and the metrics endpoint. Does not need (nor use) the caller's runtime.
    pub fn start(config: &PluginConfig, options: ServiceOptions) -> Result<Self, StartError> {
        let identity_key = load_identity(&config.identity).map_err(|e| StartError::Identity {
            path: config.identity.clone(),
            reason: e.to_string(),
        })?;
        let metrics = Metrics::new();
        let log = DeltaLog::open(&config.data_dir)?;
        let view = Arc::new(SlotView::new(
            &log,
            config.buffer.memory_rooted_slots,
            options.lt_hashes.clone(),
        ));
        let handoff = Arc::new(Handoff::new(
            config.handoff.max_events,
            config.handoff.max_bytes,
            metrics.clone(),
        ));
        let collector = Collector::new(log.last_root(), config.buffer.max_bytes, metrics.clone());
        metrics
            .first_available_slot
            .set(log.first_available_slot() as i64);
        metrics.retained_slots.set(log.retained_slots() as i64);
        metrics.retained_bytes.set(log.retained_bytes() as i64);
        tracing::info!(
            data_dir = %config.data_dir.display(),
            first_available_slot = log.first_available_slot(),
            last_root = ?log.last_root(),
            retained_slots = log.retained_slots(),
            "delta log opened"
        );

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_WORKER_THREADS)
            .max_blocking_threads(RUNTIME_MAX_BLOCKING_THREADS)
            .thread_name("geyser-rt")
            .enable_all()
            .build()
            .map_err(|source| StartError::Spawn {
                what: "the runtime",
                source,
            })?;
        let cancel = CancellationToken::new();

        // Bind the server before starting the collector, so a failed start leaves nothing behind.
        let server_config =
            ReplicationServerConfig::new(identity_key, config.bind, config.allowlist());
        let server = {
            let _guard = runtime.enter();
            ReplicationServer::spawn(
                server_config,
                Arc::new(PluginSource::new(view.clone())),
                cancel.clone(),
            )?
        };
        let metrics_server = match config.metrics_bind {
            Some(addr) => match spawn_metrics(&runtime, addr, &metrics, &cancel) {
                Ok(server) => Some(server),
                Err(error) => {
                    cancel.cancel();
                    shutdown_runtime(runtime, Some(server), None);
                    return Err(error);
                }
            },
            None => None,
        };
        let metrics_addr = metrics_server.as_ref().map(|server| server.local_addr());

        let processed = Arc::new(AtomicU64::new(0));
        let collector_thread = {
            let handoff = handoff.clone();
            let processed = processed.clone();
            let view = view.clone();
            let metrics = metrics.clone();
            let cancel = cancel.clone();
            let retention = config.retention_slots;
            std::thread::Builder::new()
                .name("geyser-collect".into())
                .spawn(move || {
                    let collector = CollectorLoop {
                        collector,
                        log,
                        view,
                        handoff,
                        metrics,
                        processed,
                        retention_slots: retention,
                    };
                    collector.run(&cancel)
                })
        };
        let collector_thread = match collector_thread {
            Ok(thread) => thread,
            Err(source) => {
                cancel.cancel();
                shutdown_runtime(runtime, Some(server), metrics_server);
                return Err(StartError::Spawn {
                    what: "the collector thread",
                    source,
                });
            }
        };
        let local_addr = server.local_addr();
        let identity = server.identity();
        let service = Self {
            handoff,
            processed,
            metrics,
            view,
            local_addr,
            identity,
            metrics_addr,
            cancel,
            runtime: Some(runtime),
            server: Some(server),
            metrics_server,
            collector: Some(collector_thread),
        };
        if let Some(path) = &config.ready_file {
            let ready = serde_json::json!({
                "replication": local_addr.to_string(),
                "identity": identity.to_string(),
                "metrics": metrics_addr.map(|a| a.to_string()),
            });
            if let Err(source) = common::ready::write(path, &ready) {
                service.shutdown(Duration::from_secs(5));
                return Err(StartError::ReadyFile {
                    path: path.clone(),
                    source,
                });
            }
        }
        Ok(service)
    }

    /// The hand-off queue the Geyser callbacks push into.
    pub fn handoff(&self) -> &Arc<Handoff> {
        &self.handoff
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The replication server's bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's identity.
    pub fn identity(&self) -> Pubkey {
        self.identity
    }

    /// The metrics endpoint's bound address, if enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The oldest slot replicas can stream.
    pub fn first_available_slot(&self) -> replication_proto::Slot {
        self.view.first_available_slot()
    }

    /// Waits until every event queued so far has been applied and published (or `timeout`
    /// passes; returns whether it got there). For tests and simulators, which need a quiescent
    /// plugin; never called on the validator's threads.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let target = self.handoff.pushed();
        let deadline = Instant::now() + timeout;
        while self.processed.load(Ordering::Acquire) < target {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    /// Stops everything: closes the hand-off, cancels the server, joins the collector thread
    /// and the runtime's tasks. Waits at most `timeout`, on a thread of its own (so it may be
    /// called from inside an async context); past it, stragglers are left running and logged.
    pub fn shutdown(mut self, timeout: Duration) {
        self.cancel.cancel();
        self.handoff.close();
        let collector = self.collector.take();
        let runtime = self.runtime.take();
        let server = self.server.take();
        let metrics_server = self.metrics_server.take();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let stopper = std::thread::Builder::new()
            .name("geyser-unload".into())
            .spawn(move || {
                if let Some(collector) = collector
                    && collector.join().is_err()
                {
                    tracing::error!("collector thread panicked");
                }
                if let Some(runtime) = runtime {
                    shutdown_runtime(runtime, server, metrics_server);
                }
                let _ = done_tx.send(());
            });
        match stopper {
            Ok(_) => {
                if done_rx.recv_timeout(timeout).is_err() {
                    tracing::error!(?timeout, "plugin did not stop in time");
                } else {
                    tracing::info!("replication plugin stopped");
                }
            }
            Err(error) => tracing::error!(%error, "failed to spawn the shutdown thread"),
        }
    }
}

impl Drop for ReplicationService {
    /// Without [`shutdown`](ReplicationService::shutdown): stops everything without waiting.
    fn drop(&mut self) {
        self.cancel.cancel();
        self.handoff.close();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn spawn_metrics(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    metrics: &Metrics,
    cancel: &CancellationToken,
) -> Result<common::metrics::MetricsServer, StartError> {
    let _guard = runtime.enter();
    common::metrics::MetricsServer::spawn(addr, metrics.registry().clone(), cancel.clone())
        .map_err(|source| StartError::MetricsBind { addr, source })
}

/// Joins the server and metrics tasks, then shuts the runtime down. Blocking; never call it
/// on a runtime thread.
fn shutdown_runtime(
    runtime: tokio::runtime::Runtime,
    server: Option<ReplicationServer>,
    metrics_server: Option<common::metrics::MetricsServer>,
) {
    runtime.block_on(async {
        if let Some(server) = server {
            server.join().await;
        }
        if let Some(metrics_server) = metrics_server {
            let _ = tokio::time::timeout(Duration::from_secs(2), metrics_server.join()).await;
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
}

/// The collector thread's state.
struct CollectorLoop {
    collector: Collector,
    log: DeltaLog,
    view: Arc<SlotView>,
    handoff: Arc<Handoff>,
    metrics: Metrics,
    processed: Arc<AtomicU64>,
    retention_slots: u64,
}

impl CollectorLoop {
    /// Drains the hand-off, applies events, persists rooted slots and publishes the served
    /// view, until cancelled.
    fn run(mut self, cancel: &CancellationToken) {
        let mut processed = 0u64;
        while !cancel.is_cancelled() {
            self.handoff.sample();
            let batch = self.handoff.drain(COLLECTOR_POLL);
            if batch.shed_slots.is_empty() {
                self.metrics.shedding.set(0);
            }
            if batch.events.is_empty() && batch.shed_slots.is_empty() {
                continue;
            }
            processed += batch.events.len() as u64;
            for slot in batch.shed_slots {
                self.collector.shed(slot);
            }
            for event in batch.events {
                self.collector.apply(event);
            }
            publish(
                &mut self.collector,
                &mut self.log,
                &self.view,
                &self.metrics,
                self.retention_slots,
            );
            self.processed.store(processed, Ordering::Release);
        }
    }
}

fn publish(
    collector: &mut Collector,
    log: &mut DeltaLog,
    view: &SlotView,
    metrics: &Metrics,
    retention_slots: u64,
) {
    let outcomes = collector.take_outcomes();
    let dirty = collector.take_dirty();
    if outcomes.is_empty() && !dirty {
        return;
    }
    let mut update = ViewUpdate::default();
    let failed = |error: DeltaLogError| {
        metrics.delta_log_errors.inc();
        tracing::error!(%error, "delta log failure");
    };
    let rooted_any = !outcomes.is_empty();
    for outcome in outcomes {
        match outcome {
            RootOutcome::StartAfter(slot) => {
                if let Err(error) = log.start_after(slot) {
                    failed(error);
                }
            }
            RootOutcome::Persist(rooted) => match log.append(&rooted) {
                Ok(_) => {
                    metrics.last_rooted_slot.set(rooted.info.slot as i64);
                    update.rooted.push(rooted);
                }
                Err(error) => {
                    let slot = rooted.info.slot;
                    failed(error);
                    metrics.slots_unavailable.inc();
                    // Not persisted: never served. Its replicas must re-bootstrap.
                    match log.lose(slot) {
                        Ok(change) => update.removed.extend(change.removed),
                        Err(error) => failed(error),
                    }
                }
            },
            RootOutcome::Lost { slot, .. } => {
                metrics.last_rooted_slot.set(slot as i64);
                match log.lose(slot) {
                    Ok(change) => update.removed.extend(change.removed),
                    Err(error) => failed(error),
                }
            }
        }
    }
    if rooted_any {
        match log.retain(retention_slots) {
            Ok(change) => update.removed.extend(change.removed),
            Err(error) => failed(error),
        }
    }
    update.first_available_slot = log.first_available_slot();
    if dirty {
        update.confirmed = Some(collector.confirmed_slots());
    }
    view.apply(update);
    metrics
        .slots_buffered
        .set(collector.slots_buffered() as i64);
    metrics
        .buffered_bytes
        .set(collector.buffered_bytes() as i64);
    metrics.retained_slots.set(log.retained_slots() as i64);
    metrics.retained_bytes.set(log.retained_bytes() as i64);
    metrics
        .first_available_slot
        .set(log.first_available_slot() as i64);
}
