//! Health as Agave defines it (rpc-spec §6), with the upstream as "the cluster": ok unless the
//! replica's confirmed slot is more than `health_check_slot_distance` behind the upstream's.

use {
    super::{MethodContext, Methods},
    crate::{rpc::server::registry::PathFuture, state::ReplicaState},
    axum::http::StatusCode,
    std::sync::Arc,
};

/// `GET /health`: `ok`, `behind` or `unknown`, always HTTP 200 as Agave answers.
pub(crate) fn register(methods: &mut Methods) {
    methods.add_path("/health", health_path);
}

fn health_path(ctx: Arc<MethodContext>) -> PathFuture {
    let health = check(&ctx.state, ctx.config.health_check_slot_distance);
    Box::pin(async move { (StatusCode::OK, health.as_str().to_string()) })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    Ok,
    Behind {
        num_slots: u64,
    },
    /// An upstream is configured but has reported no confirmed slot yet.
    Unknown,
}

impl Health {
    /// The `/health` body.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Behind { .. } => "behind",
            Health::Unknown => "unknown",
        }
    }
}

/// Without an upstream the replica serves its snapshot and is healthy.
pub(crate) fn check(state: &ReplicaState, distance: u64) -> Health {
    let Some(upstream) = state.upstream() else {
        return Health::Ok;
    };
    if upstream.confirmed_slot == 0 {
        return Health::Unknown;
    }
    let Some(mine) = state.confirmed_slot() else {
        return Health::Unknown;
    };
    if mine >= upstream.confirmed_slot.saturating_sub(distance) {
        Health::Ok
    } else {
        Health::Behind {
            num_slots: upstream.confirmed_slot.saturating_sub(mine),
        }
    }
}
