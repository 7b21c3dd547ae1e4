//! The HTTP endpoint of both ends: `/metrics` (Prometheus), `/health`, and on the forward side
//! `/slots` (per-slot statistics of the recent slots, JSON).

use {
    crate::{
        forward::slots::{SlotRow, SlotsView},
        metrics::Health,
        unix_nanos,
    },
    axum::{Json, Router, extract::State, http::StatusCode, routing::get},
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

async fn slots_handler(State(slots): State<SlotsView>) -> Json<Vec<SlotRow>> {
    let rows = slots.lock().map(|rows| rows.clone()).unwrap_or_default();
    Json(rows)
}

/// Binds `addr` and serves `/metrics`, `/health` and (given a view) `/slots` until `cancel`.
/// Returns the bound address and the server task (to be awaited on shutdown).
pub async fn spawn(
    addr: SocketAddr,
    registry: Registry,
    health: Arc<Health>,
    slots: Option<SlotsView>,
    cancel: CancellationToken,
) -> io::Result<(SocketAddr, JoinHandle<io::Result<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let mut router = Router::new()
        .route("/health", get(health_handler))
        .with_state(health)
        .merge(common::metrics::router(registry));
    if let Some(slots) = slots {
        router = router.merge(
            Router::new()
                .route("/slots", get(slots_handler))
                .with_state(slots),
        );
    }
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { cancel.cancelled().await })
            .await
    });
    Ok((bound, task))
}
