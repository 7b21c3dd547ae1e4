//! The node itself (Agave's `rpc_minimal`) and the replica's extension: getHealth, getVersion,
//! getIdentity, getGenesisHash, and getReplicaStatus, so operators and tests can compare
//! replicas with each other and with their upstream.

use {
    super::{MethodContext, Methods},
    crate::{
        health::Health,
        rpc::server::{Params, Reply, RpcError, json, params},
    },
    serde_json::json,
    std::sync::Arc,
};

pub(crate) fn register(methods: &mut Methods) {
    methods.add("getHealth", |c, p| Box::pin(get_health(c, p)));
    methods.add("getVersion", |c, p| Box::pin(get_version(c, p)));
    methods.add("getIdentity", |c, p| Box::pin(get_identity(c, p)));
    methods.add("getGenesisHash", |c, p| Box::pin(get_genesis_hash(c, p)));
    methods.add("getReplicaStatus", |c, p| {
        Box::pin(get_replica_status(c, p))
    });
}

async fn get_health(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    match ctx.health() {
        Health::Ok => Ok(Reply::json(b"\"ok\"".to_vec())),
        Health::Behind { num_slots } => Err(RpcError::NodeUnhealthy {
            num_slots_behind: Some(num_slots),
        }),
        Health::Unknown => Err(RpcError::NodeUnhealthy {
            num_slots_behind: None,
        }),
    }
}

async fn get_version(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    Ok(Reply::json(json::to_sorted_vec(&json!({
        "feature-set": ctx.version.feature_set,
        "solana-core": ctx.version.solana_core,
    }))))
}

async fn get_identity(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    Ok(Reply::json(json::to_sorted_vec(&json!({
        "identity": ctx.state().identity().to_string(),
    }))))
}

async fn get_genesis_hash(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    let hash = ctx
        .genesis_hash
        .or_else(|| ctx.state().genesis_hash().copied())
        .ok_or_else(|| {
            RpcError::Unavailable(
                "genesis hash unknown: snapshots do not carry it; start the replica with \
                 --genesis-hash"
                    .to_string(),
            )
        })?;
    Ok(Reply::json(json::to_sorted_vec(&hash.to_string())))
}

/// `{"accounts","accountsLtHash","bootstrap","confirmedSlot","fleet","health",
/// "lastVerifiedSlot","rootSlot","slotsBehind","upstream","upstreamSlot"}` (`fleet` is null
/// under local consistency); `slotsBehind`, `upstream` and
/// `upstreamSlot` are null without an upstream (or before it reported a slot),
/// `lastVerifiedSlot` before a validator snapshot confirmed the store.
async fn get_replica_status(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    let state = ctx.state();
    let root = state
        .store()
        .root()
        .ok_or_else(|| RpcError::Unavailable("the store is not bootstrapped".to_string()))?;
    let confirmed_slot = state.confirmed_slot().unwrap_or(root.slot);
    let upstream = state.upstream();
    let upstream_slot = upstream
        .as_ref()
        .map(|upstream| upstream.confirmed_slot)
        .filter(|slot| *slot != 0);
    let slots_behind = upstream_slot.map(|slot| slot.saturating_sub(confirmed_slot));
    let node = state.node();
    Ok(Reply::json(json::to_sorted_vec(&json!({
        "accounts": root.accounts,
        "accountsLtHash": root.lt_hash_checksum().to_string(),
        "bootstrap": node.bootstrap(),
        "confirmedSlot": confirmed_slot,
        "fleet": crate::fleet::status(&state),
        "health": ctx.health().as_str(),
        "lastVerifiedSlot": node.verification().last_verified_slot,
        "rootSlot": root.slot,
        "slotsBehind": slots_behind,
        "upstream": upstream.map(|upstream| upstream.name),
        "upstreamSlot": upstream_slot,
    }))))
}
