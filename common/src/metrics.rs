//! The Prometheus `/metrics` endpoint over a registry.

use {
    axum::{Router, extract::State, http::header, response::IntoResponse, routing::get},
    prometheus::{Encoder, Registry, TextEncoder},
};

/// The registry in Prometheus text format.
pub fn encode(registry: &Registry) -> String {
    let mut buffer = Vec::new();
    let encoder = TextEncoder::new();
    // Encoding into a Vec fails only on invalid metric families, which the registry rejects.
    let _ = encoder.encode(&registry.gather(), &mut buffer);
    String::from_utf8(buffer).unwrap_or_default()
}

async fn serve_metrics(State(registry): State<Registry>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            TextEncoder::new().format_type().to_string(),
        )],
        encode(&registry),
    )
}

/// A router serving `GET /metrics` from `registry`; merge it into a service's router.
pub fn router<S>(registry: Registry) -> Router<S> {
    Router::new()
        .route("/metrics", get(serve_metrics))
        .with_state(registry)
}

/// A running `/metrics` endpoint.
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `addr` (port 0 picks a free port) and serves `registry` on the current tokio
    /// runtime (call it inside one, or under `Runtime::enter`) until `cancel` fires.
    pub fn spawn(
        addr: std::net::SocketAddr,
        registry: Registry,
        cancel: tokio_util::sync::CancellationToken,
    ) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let router: Router = router(registry);
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(cancel.cancelled_owned())
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "metrics endpoint failed");
            }
        });
        tracing::info!(%local_addr, "metrics endpoint listening");
        Ok(Self { local_addr, task })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local_addr
    }

    /// Waits for the endpoint to stop (after its `cancel` fired).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}
