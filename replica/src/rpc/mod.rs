//! Agave-compatible JSON-RPC over HTTP for the account-read subset (rpc-spec.md).
//!
//! Layout: `http` (transport: paths, CORS, limits, gzip), `jsonrpc` (envelope), `params`
//! (binding), `registry` + `api/` (one namespace per file, merged), `methods/` (method bodies),
//! `view` (commitment, `minContextSlot`, sysvars), `encoding`, `filter`, `scan` (index routing,
//! streamed results), `reads` (batched point reads), `error` (the one place errors get their
//! codes), `config` (flags and the `[rpc]` section).

mod api;
mod config;
mod context;
mod encoding;
mod error;
mod fallback;
mod filter;
mod health;
mod http;
mod json;
mod jsonrpc;
mod methods;
mod metrics;
mod params;
mod reads;
mod registry;
mod reply;
mod scan;
mod view;

pub use config::{
    DEFAULT_BLOCKING_THREADS, DEFAULT_HEALTH_CHECK_SLOT_DISTANCE, DEFAULT_MAX_CONCURRENT_SCANS,
    DEFAULT_MAX_MULTIPLE_ACCOUNTS, DEFAULT_MAX_REQUEST_BODY_SIZE, DEFAULT_POINT_READ_QUEUE,
    DEFAULT_POINT_READ_THREADS, DEFAULT_SCAN_RESULTS_LIMIT_MB, RpcArgs, RpcConfig,
};
use {
    crate::state::ReplicaState,
    anyhow::Context,
    axum::serve::ListenerExt,
    context::RpcContext,
    solana_hash::Hash,
    std::{net::SocketAddr, str::FromStr, sync::Arc},
    tokio_util::sync::CancellationToken,
};

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
    ) -> anyhow::Result<Self> {
        let bind = config
            .bind
            .ok_or_else(|| anyhow::anyhow!("no RPC bind address"))?;
        let genesis_hash = config
            .genesis_hash
            .as_deref()
            .map(|hash| {
                Hash::from_str(hash)
                    .map_err(|error| anyhow::anyhow!("--genesis-hash {hash}: {error}"))
            })
            .transpose()?;
        let fallback = config
            .fallback
            .as_deref()
            .map(fallback::Fallback::new)
            .transpose()?;
        let mut methods = registry::Methods::default();
        api::register(&mut methods, config.legacy_rpc);
        let metrics = metrics::RpcMetrics::new(registry);
        let (reads, readers) = reads::PointReads::start(
            state.clone(),
            context::NodeVersion::current().solana_core,
            config.point_read_threads,
            config.point_read_queue,
            metrics.point_read_queue_len.clone(),
        )
        .context("starting the point reader threads")?;
        let ctx = Arc::new(RpcContext::new(
            state,
            config,
            methods,
            metrics,
            genesis_hash,
            fallback,
            reads,
        ));
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding JSON-RPC on {bind}"))?;
        let local_addr = listener.local_addr()?;
        let listener = listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "TCP_NODELAY");
            }
        });
        let router = http::router(ctx);
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(cancel.cancelled_owned())
                .await
            {
                tracing::error!(%error, "JSON-RPC server failed");
            }
        });
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
