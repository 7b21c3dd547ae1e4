//! The replica's own extension: getReplicaStatus, so operators and tests can compare replicas
//! with each other and with their upstream.

use {
    crate::rpc::{
        context::RpcContext, error::RpcError, json, jsonrpc::Params, params, registry::Methods,
        reply::Reply,
    },
    serde_json::json,
    std::sync::Arc,
};

pub(crate) fn register(methods: &mut Methods) {
    methods.add("getReplicaStatus", |c, p| {
        Box::pin(get_replica_status(c, p))
    });
}

/// `{"accounts","accountsLtHash","confirmedSlot","rootSlot","slotsBehind","upstream"}`;
/// the last two are null without an upstream (or before it reported a slot).
async fn get_replica_status(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    let state = &ctx.state;
    let root = state
        .store()
        .root()
        .ok_or_else(|| RpcError::Unavailable("the store is not bootstrapped".to_string()))?;
    let confirmed_slot = state.confirmed_slot().unwrap_or(root.slot);
    let upstream = state.upstream();
    let slots_behind = upstream
        .as_ref()
        .filter(|upstream| upstream.confirmed_slot != 0)
        .map(|upstream| upstream.confirmed_slot.saturating_sub(confirmed_slot));
    Ok(Reply::json(json::to_sorted_vec(&json!({
        "accounts": root.accounts,
        "accountsLtHash": root.lt_hash_checksum().to_string(),
        "confirmedSlot": confirmed_slot,
        "rootSlot": root.slot,
        "slotsBehind": slots_behind,
        "upstream": upstream.map(|upstream| upstream.name),
    }))))
}
