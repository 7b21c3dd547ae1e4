//! Agave-compatible JSON-RPC over HTTP for the account-read subset, and Agave's PubSub over
//! WebSocket.
//!
//! Three layers, each importing only those below it:
//! - [`methods`]: the methods, grouped by what they read, registered in the server's registry;
//!   beside them `pubsub`: subscriptions, the notifications built from the slot feed, and
//!   their WebSocket server (on jsonrpsee);
//! - `read`: what methods read with (commitment → bank, sysvars, encodings, filters, token
//!   helpers, index-routed scans), shared with PubSub;
//! - `server`: HTTP, the JSON-RPC envelope, params, registry, replies, errors, metrics,
//!   fallback and the blocking pools; it never names a method.

mod methods;
mod pubsub;
mod read;
mod server;

use {
    crate::state::ServedState,
    methods::{MethodContext, Methods, point_reads::PointReads},
    server::{
        Server, fallback::Fallback, listener::ListenerLimits, metrics::RpcMetrics, pool::Pools,
    },
    solana_hash::Hash,
    std::{net::SocketAddr, str::FromStr, sync::Arc},
    tokio_util::sync::CancellationToken,
};
pub use {
    pubsub::{PubSubServer, PubSubStartError},
    server::config::{
        DEFAULT_BLOCKING_THREADS, DEFAULT_BODY_TIMEOUT_SECS, DEFAULT_HEADER_TIMEOUT_SECS,
        DEFAULT_HEALTH_CHECK_SLOT_DISTANCE, DEFAULT_HEALTH_MAX_SLOT_AGE_SECS,
        DEFAULT_MAX_CONCURRENT_SCANS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_MULTIPLE_ACCOUNTS,
        DEFAULT_MAX_REQUEST_BODY_SIZE, DEFAULT_POINT_READ_QUEUE, DEFAULT_POINT_READ_THREADS,
        DEFAULT_PUBSUB_MAX_ACTIVE_SUBSCRIPTIONS, DEFAULT_PUBSUB_MAX_CONNECTIONS,
        DEFAULT_PUBSUB_MAX_QUEUED_BYTES, DEFAULT_PUBSUB_QUEUE_CAPACITY_BYTES,
        DEFAULT_PUBSUB_QUEUE_CAPACITY_ITEMS, DEFAULT_SCAN_RESULTS_LIMIT_MB,
        DEFAULT_SCAN_TIMEOUT_SECS, DEFAULT_WRITE_TIMEOUT_SECS, PubSubConfig, RpcArgs, RpcConfig,
    },
};

/// Why the JSON-RPC server could not start.
#[derive(Debug, thiserror::Error)]
pub enum RpcStartError {
    #[error("no JSON-RPC bind address")]
    NoBind,
    #[error("--genesis-hash {hash}: {reason}")]
    GenesisHash { hash: String, reason: String },
    #[error("--rpc-fallback: {0}")]
    Fallback(String),
    #[error("starting the point reader threads: {0}")]
    Readers(std::io::Error),
    #[error("binding JSON-RPC on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running JSON-RPC server.
#[derive(Debug)]
pub struct RpcServer {
    pub local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl RpcServer {
    /// Binds the JSON-RPC address (done before any long start-up work, so an address in use is
    /// reported at once).
    pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, RpcStartError> {
        let bind_error = |source| RpcStartError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        Ok(listener)
    }

    /// Binds `config.bind` and serves `served` until `cancel` fires.
    pub async fn spawn(
        served: Arc<ServedState>,
        config: RpcConfig,
        registry: &prometheus::Registry,
        cancel: CancellationToken,
    ) -> Result<Self, RpcStartError> {
        let listener = Self::bind(config.bind.ok_or(RpcStartError::NoBind)?)?;
        Self::spawn_on(listener, served, config, registry, cancel)
    }

    /// Serves `served` on a bound listener until `cancel` fires. Must be called within a tokio
    /// runtime.
    pub fn spawn_on(
        listener: std::net::TcpListener,
        served: Arc<ServedState>,
        config: RpcConfig,
        registry: &prometheus::Registry,
        cancel: CancellationToken,
    ) -> Result<Self, RpcStartError> {
        let addr = listener
            .local_addr()
            .ok()
            .or(config.bind)
            .ok_or(RpcStartError::NoBind)?;
        let genesis_hash = config
            .genesis_hash
            .as_deref()
            .map(|hash| {
                Hash::from_str(hash).map_err(|error| RpcStartError::GenesisHash {
                    hash: hash.to_string(),
                    reason: error.to_string(),
                })
            })
            .transpose()?;
        let fallback = config
            .fallback
            .as_deref()
            .map(Fallback::new)
            .transpose()
            .map_err(|error| RpcStartError::Fallback(error.to_string()))?;
        let mut methods = Methods::default();
        methods::register(&mut methods, config.legacy_rpc);
        let metrics = RpcMetrics::new(registry);
        let (reads, readers) = PointReads::start(
            served.clone(),
            methods::NodeVersion::current().solana_core,
            config.point_read_threads,
            config.point_read_queue,
            metrics.point_read_queue_len.clone(),
        )
        .map_err(RpcStartError::Readers)?;
        let pools = Pools::new(
            &config,
            metrics.blocking_queue_len.clone(),
            metrics.scans_in_progress.clone(),
            metrics.scans_streamed.clone(),
        );
        let app = Arc::new(MethodContext::new(
            served,
            config.clone(),
            genesis_hash,
            reads,
            pools,
        ));
        let server = Arc::new(Server {
            registry: methods,
            app,
            config,
            metrics,
            fallback,
        });
        let bind_error = |source| RpcStartError::Bind { addr, source };
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(bind_error)?;
        let limits = ListenerLimits {
            max_connections: server.config.max_connections,
            header_timeout: server.config.header_timeout(),
            write_timeout: server.config.write_timeout(),
        };
        let connections = server.metrics.connections.clone();
        let router = server::http::router(server);
        let task = tokio::spawn(server::listener::serve(
            listener,
            router,
            limits,
            connections,
            cancel,
        ));
        tracing::info!(%local_addr, "JSON-RPC listening");
        Ok(Self {
            local_addr,
            task,
            readers,
        })
    }

    /// Waits for the server to stop (after `cancel`) and its reader threads to end.
    pub async fn join(self) {
        let _ = self.task.await;
        // The readers end once the last handle to their queue (held by the server) is gone.
        let _ = tokio::task::spawn_blocking(move || {
            for reader in self.readers {
                let _ = reader.join();
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests;
