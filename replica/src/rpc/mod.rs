//! Agave-compatible JSON-RPC over HTTP for the account-read subset.
//!
//! Three layers, each importing only those below it:
//! - [`methods`]: the methods, grouped by what they read, registered in the server's registry;
//! - `read`: what methods read with (commitment → bank, sysvars, encodings, filters, token
//!   helpers, index-routed scans), shared with PubSub;
//! - `server`: HTTP, the JSON-RPC envelope, params, registry, replies, errors, metrics,
//!   fallback and the blocking pools; it never names a method.

mod methods;
mod read;
mod server;

pub use server::config::{
    DEFAULT_BLOCKING_THREADS, DEFAULT_BODY_TIMEOUT_SECS, DEFAULT_HEADER_TIMEOUT_SECS,
    DEFAULT_HEALTH_CHECK_SLOT_DISTANCE, DEFAULT_MAX_CONCURRENT_SCANS, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_MULTIPLE_ACCOUNTS, DEFAULT_MAX_REQUEST_BODY_SIZE, DEFAULT_POINT_READ_QUEUE,
    DEFAULT_POINT_READ_THREADS, DEFAULT_SCAN_RESULTS_LIMIT_MB, DEFAULT_SCAN_TIMEOUT_SECS,
    DEFAULT_WRITE_TIMEOUT_SECS, RpcArgs, RpcConfig,
};
use {
    crate::state::ReplicaState,
    methods::{MethodContext, Methods, point_reads::PointReads},
    server::{
        Server, fallback::Fallback, listener::ListenerLimits, metrics::RpcMetrics, pool::Pools,
    },
    solana_hash::Hash,
    std::{net::SocketAddr, str::FromStr, sync::Arc},
    tokio_util::sync::CancellationToken,
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
    /// Binds `config.bind` and serves until `cancel` fires.
    pub async fn spawn(
        state: Arc<ReplicaState>,
        config: RpcConfig,
        registry: &prometheus::Registry,
        cancel: CancellationToken,
    ) -> Result<Self, RpcStartError> {
        let bind = config.bind.ok_or(RpcStartError::NoBind)?;
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
            state.clone(),
            methods::NodeVersion::current().solana_core,
            config.point_read_threads,
            config.point_read_queue,
            metrics.point_read_queue_len.clone(),
        )
        .map_err(RpcStartError::Readers)?;
        let pools = Pools::new(
            &config,
            metrics.blocking_queue_len.clone(),
            metrics.scans_streamed.clone(),
        );
        let app = Arc::new(MethodContext::new(
            state,
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
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|source| RpcStartError::Bind { addr: bind, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| RpcStartError::Bind { addr: bind, source })?;
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
