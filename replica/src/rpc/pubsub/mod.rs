//! Agave's PubSub over WebSocket on jsonrpsee: `accountSubscribe`, `programSubscribe`,
//! `slotSubscribe`, `rootSubscribe` and their unsubscribe methods, notified from the node's
//! slot feed as slots enter the confirmed view and are rooted.
//!
//! - `params`: Agave's parameter binding and errors;
//! - `subscriptions`: the open subscriptions, indexed for the notifier;
//! - `notify`: the notifications one slot event causes;
//! - `outbox`: each connection's bounded queue and its drain into jsonrpsee;
//! - `methods`: the jsonrpsee module;
//! - `transport`: the listener, WebSocket upgrade and per-connection disconnect.

mod methods;
mod metrics;
mod notify;
mod outbox;
mod params;
mod subscriptions;
mod transport;

use {
    crate::{feed::SlotEvent, rpc::server::config::PubSubConfig, state::ServedState},
    metrics::PubSubMetrics,
    outbox::{Outbox, QueueLimits},
    std::{
        collections::HashMap,
        net::SocketAddr,
        sync::{Arc, Mutex, atomic::AtomicUsize},
    },
    subscriptions::Subscriptions,
    tokio::sync::broadcast::error::RecvError,
    tokio_util::sync::CancellationToken,
};

/// Why PubSub could not start.
#[derive(Debug, thiserror::Error)]
pub enum PubSubStartError {
    #[error("binding PubSub on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What the methods, the notifier and the transport share.
#[derive(Debug)]
pub(crate) struct PubSubShared {
    subscriptions: Subscriptions,
    connections: Mutex<HashMap<usize, Arc<Outbox>>>,
    limits: QueueLimits,
    metrics: PubSubMetrics,
}

impl PubSubShared {
    fn outbox(&self, connection: usize) -> Option<Arc<Outbox>> {
        self.connections
            .lock()
            .expect("connections lock")
            .get(&connection)
            .cloned()
    }

    /// Registers a connection's outbox and starts its drain task.
    fn open(&self, connection: usize, disconnect: CancellationToken) -> Arc<Outbox> {
        let outbox = Arc::new(Outbox::new(
            connection,
            disconnect,
            self.limits.clone(),
            self.metrics.clone(),
        ));
        self.connections
            .lock()
            .expect("connections lock")
            .insert(connection, outbox.clone());
        self.metrics.connections.inc();
        tokio::spawn(outbox.clone().drain());
        outbox
    }

    /// Forgets a closed connection and its subscriptions.
    fn close(&self, connection: usize) {
        let Some(outbox) = self
            .connections
            .lock()
            .expect("connections lock")
            .remove(&connection)
        else {
            return;
        };
        outbox.disconnected().cancel();
        for id in outbox.subscriptions() {
            self.remove(connection, id);
        }
        outbox.close();
        self.metrics.connections.dec();
    }
}

/// A running PubSub server.
#[derive(Debug)]
pub struct PubSubServer {
    pub local_addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl PubSubServer {
    /// Binds the PubSub address before any long start-up work.
    pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, PubSubStartError> {
        let bind_error = |source| PubSubStartError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        Ok(listener)
    }

    /// Serves subscriptions on a bound listener, notified from `served`'s node feed, until
    /// `cancel` fires. Must be called within a tokio runtime.
    pub fn spawn_on(
        listener: std::net::TcpListener,
        served: Arc<ServedState>,
        config: PubSubConfig,
        registry: &prometheus::Registry,
        cancel: CancellationToken,
    ) -> Result<Self, PubSubStartError> {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let bind_error = |source| PubSubStartError::Bind { addr, source };
        let listener = tokio::net::TcpListener::from_std(listener).map_err(bind_error)?;
        let metrics = PubSubMetrics::new(registry);
        let shared = Arc::new(PubSubShared {
            subscriptions: Subscriptions::new(config.max_active_subscriptions),
            connections: Mutex::default(),
            limits: QueueLimits {
                items: config.queue_capacity_items.max(1),
                bytes: config.queue_capacity_bytes.max(1),
                total: Arc::new(AtomicUsize::new(0)),
                max_total: config.max_queued_bytes.max(1),
            },
            metrics,
        });
        let feed = served.load().node().subscribe_feed();
        let notifier = tokio::spawn(run_notifier(feed, served, shared.clone(), cancel.clone()));
        let module = methods::module(shared.clone());
        let server = tokio::spawn(transport::serve(
            listener,
            shared,
            module.into(),
            config.max_connections.max(1),
            cancel,
        ));
        tracing::info!(local_addr = %addr, "PubSub listening");
        Ok(Self {
            local_addr: addr,
            tasks: vec![notifier, server],
        })
    }

    /// Waits for the server to stop (after `cancel`).
    pub async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Turns feed events into notifications, in order, off the async workers. When it falls so far
/// behind that the feed dropped events, every connection with a subscription is disconnected:
/// they missed notifications, and a client that reconnects sees a consistent stream again.
async fn run_notifier(
    mut feed: tokio::sync::broadcast::Receiver<Arc<SlotEvent>>,
    served: Arc<ServedState>,
    shared: Arc<PubSubShared>,
    cancel: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => return,
            event = feed.recv() => event,
        };
        match event {
            Ok(event) => {
                let (served, shared) = (served.clone(), shared.clone());
                let done = tokio::task::spawn_blocking(move || {
                    notify::notify(&shared.subscriptions, &served.load(), &event);
                })
                .await;
                if let Err(error) = done {
                    tracing::error!(%error, "PubSub notifier failed on a slot");
                }
            }
            Err(RecvError::Lagged(missed)) => {
                shared.metrics.lagged.inc();
                let outboxes = shared.subscriptions.outboxes();
                tracing::warn!(
                    missed_events = missed,
                    connections = outboxes.len(),
                    "PubSub notifier fell behind the slot feed; disconnecting its subscribers"
                );
                for outbox in outboxes {
                    outbox.disconnected().cancel();
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}
