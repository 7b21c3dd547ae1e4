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
