//! The HTTP endpoint of both ends: `/metrics` (Prometheus) and `/health`.

use {
    crate::{metrics::Health, unix_nanos},
    axum::{Router, extract::State, http::StatusCode, routing::get},
    prometheus::Registry,
    std::{io, net::SocketAddr, sync::Arc},
    tokio::{net::TcpListener, task::JoinHandle},
    tokio_util::sync::CancellationToken,
};

async fn health_handler(State(health): State<Arc<Health>>) -> (StatusCode, String) {
    match health.check(unix_nanos()) {
        Ok(idle) => (
            StatusCode::OK,
            format!("ok: last packet {:.1} s ago\n", idle as f64 * 1e-9),
        ),
        Err(idle) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("idle: no packet for {:.1} s\n", idle as f64 * 1e-9),
        ),
    }
}

/// Binds `addr` and serves `/metrics` and `/health` until `cancel`. Returns the bound address
/// and the server task (to be awaited on shutdown).
pub async fn spawn(
    addr: SocketAddr,
    registry: Registry,
    health: Arc<Health>,
    cancel: CancellationToken,
) -> io::Result<(SocketAddr, JoinHandle<io::Result<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let router = Router::new()
        .route("/health", get(health_handler))
        .with_state(health)
        .merge(common::metrics::router(registry));
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { cancel.cancelled().await })
            .await
    });
    Ok((bound, task))
}
