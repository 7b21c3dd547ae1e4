//! `GET /health`: `ok`, `behind` or `unknown` from [`crate::health`], always HTTP 200 as Agave
//! answers.

use {
    super::{MethodContext, Methods},
    crate::rpc::server::registry::PathFuture,
    axum::http::StatusCode,
    std::sync::Arc,
};

pub(crate) fn register(methods: &mut Methods) {
    methods.add_path("/health", health_path);
}

fn health_path(ctx: Arc<MethodContext>) -> PathFuture {
    let health = ctx.health();
    Box::pin(async move { (StatusCode::OK, health.as_str().to_string()) })
}
