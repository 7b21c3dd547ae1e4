//! Slots, blockhashes and node information (Agave's `rpc_minimal` and parts of `rpc_full`):
//! getSlot, getBlockHeight, getEpochInfo, getEpochSchedule, getLatestBlockhash,
//! isBlockhashValid, getBlockCommitment, getHealth, getVersion, getIdentity, getGenesisHash.

use {
    crate::rpc::{
        context::RpcContext,
        error::RpcError,
        health::{self, Health},
        json,
        jsonrpc::Params,
        params,
        registry::Methods,
        reply::Reply,
        view,
    },
    serde_json::json,
    solana_rpc_client_types::config::RpcContextConfig,
    std::sync::Arc,
};

/// Agave's `MAX_PROCESSING_AGE`: blockhashes valid for this many blocks after the newest.
const MAX_PROCESSING_AGE: u64 = 150;

pub(crate) fn register(methods: &mut Methods) {
    methods.add("getSlot", |c, p| Box::pin(get_slot(c, p)));
    methods.add("getBlockHeight", |c, p| Box::pin(get_block_height(c, p)));
    methods.add("getEpochInfo", |c, p| Box::pin(get_epoch_info(c, p)));
    methods.add("getEpochSchedule", |c, p| {
        Box::pin(get_epoch_schedule(c, p))
    });
    methods.add("getLatestBlockhash", |c, p| {
        Box::pin(get_latest_blockhash(c, p))
    });
    methods.add("isBlockhashValid", |c, p| {
        Box::pin(is_blockhash_valid(c, p))
    });
    methods.add("getBlockCommitment", |c, p| {
        Box::pin(get_block_commitment(c, p))
    });
    methods.add("getHealth", |c, p| Box::pin(get_health(c, p)));
    methods.add("getVersion", |c, p| Box::pin(get_version(c, p)));
    methods.add("getIdentity", |c, p| Box::pin(get_identity(c, p)));
    methods.add("getGenesisHash", |c, p| Box::pin(get_genesis_hash(c, p)));
}

async fn get_slot(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcContextConfig>(params)?.unwrap_or_default();
    ctx.blocking(move |state| {
        let bank = view::bank_with_config(state, config.commitment, config.min_context_slot)?;
        Ok(json::to_sorted_vec(&bank.slot()))
    })
    .await
    .map(Reply::json)
}

async fn get_block_height(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcContextConfig>(params)?.unwrap_or_default();
    ctx.blocking(move |state| {
        let bank = view::bank_with_config(state, config.commitment, config.min_context_slot)?;
        Ok(json::to_sorted_vec(&view::block_height(&bank)?))
    })
    .await
    .map(Reply::json)
}

async fn get_epoch_info(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcContextConfig>(params)?.unwrap_or_default();
    ctx.blocking(move |state| {
        let bank = view::bank_with_config(state, config.commitment, config.min_context_slot)?;
        let schedule = view::epoch_schedule(state, &bank)?;
        let slot = bank.slot();
        let (epoch, slot_index) = schedule.get_epoch_and_slot_index(slot);
        // The transaction count is known at the bootstrap snapshot's slot only.
        let snapshot_slot = state.store().snapshot_origin()?.map(|origin| origin.slot);
        let transaction_count = (snapshot_slot == Some(slot))
            .then(|| state.bank_info().map(|info| info.transaction_count))
            .flatten();
        Ok(json::to_sorted_vec(&json!({
            "absoluteSlot": slot,
            "blockHeight": view::block_height(&bank)?,
            "epoch": epoch,
            "slotIndex": slot_index,
            "slotsInEpoch": schedule.get_slots_in_epoch(epoch),
            "transactionCount": transaction_count,
        })))
    })
    .await
    .map(Reply::json)
}

async fn get_epoch_schedule(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    ctx.blocking(move |state| {
        let bank = view::bank(state, None)?;
        let schedule = view::epoch_schedule(state, &bank)?;
        Ok(json::to_sorted_vec(&json!({
            "firstNormalEpoch": schedule.first_normal_epoch,
            "firstNormalSlot": schedule.first_normal_slot,
            "leaderScheduleSlotOffset": schedule.leader_schedule_slot_offset,
            "slotsPerEpoch": schedule.slots_per_epoch,
            "warmup": schedule.warmup,
        })))
    })
    .await
    .map(Reply::json)
}

async fn get_latest_blockhash(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcContextConfig>(params)?.unwrap_or_default();
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = view::bank_with_config(state, config.commitment, config.min_context_slot)?;
        let value = json!({
            "blockhash": bank.meta().blockhash.to_string(),
            "lastValidBlockHeight": view::block_height(&bank)? + MAX_PROCESSING_AGE,
        });
        Ok(json::with_context(inner.api_version(), bank.slot(), &value))
    })
    .await
    .map(Reply::json)
}

async fn is_blockhash_valid(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let (blockhash, config) = params::one_and_optional::<String, RpcContextConfig>(params)?;
    let blockhash = params::hash(&blockhash)?;
    let config = config.unwrap_or_default();
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = view::bank_with_config(state, config.commitment, config.min_context_slot)?;
        // Valid for MAX_PROCESSING_AGE blocks after the newest (ages 0..=150).
        let recent = bank.recent_blockhashes(MAX_PROCESSING_AGE as usize + 1)?;
        let valid = recent.contains(&blockhash);
        Ok(json::with_context(inner.api_version(), bank.slot(), &valid))
    })
    .await
    .map(Reply::json)
}

async fn get_block_commitment(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let (_slot,) = params::tuple::<(u64,)>(params)?;
    ctx.blocking(move |state| {
        // The replica tracks no votes: no commitment array, and the total active stake of the
        // newest epoch the snapshot knows up to the confirmed view's epoch.
        let bank = view::bank(
            state,
            Some(solana_commitment_config::CommitmentConfig::confirmed()),
        )?;
        let epoch = view::epoch_schedule(state, &bank)?.get_epoch(bank.slot());
        let info = view::bank_info(state)?;
        let total_stake = info
            .epoch_total_stakes
            .iter()
            .filter(|(stakes_epoch, _)| *stakes_epoch <= epoch)
            .max_by_key(|(stakes_epoch, _)| *stakes_epoch)
            .map_or(0, |(_, stake)| *stake);
        Ok(json::to_sorted_vec(&json!({
            "commitment": null,
            "totalStake": total_stake,
        })))
    })
    .await
    .map(Reply::json)
}

async fn get_health(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    match health::check(&ctx.state, ctx.config.health_check_slot_distance) {
        Health::Ok => Ok(Reply::json(b"\"ok\"".to_vec())),
        Health::Behind { num_slots } => Err(RpcError::NodeUnhealthy {
            num_slots_behind: Some(num_slots),
        }),
        Health::Unknown => Err(RpcError::NodeUnhealthy {
            num_slots_behind: None,
        }),
    }
}

async fn get_version(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    Ok(Reply::json(json::to_sorted_vec(&json!({
        "feature-set": ctx.version.feature_set,
        "solana-core": ctx.version.solana_core,
    }))))
}

async fn get_identity(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    Ok(Reply::json(json::to_sorted_vec(&json!({
        "identity": ctx.state.identity().to_string(),
    }))))
}

async fn get_genesis_hash(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    let hash = ctx
        .genesis_hash
        .or_else(|| ctx.state.genesis_hash().copied())
        .ok_or_else(|| {
            RpcError::Unavailable(
                "genesis hash unknown: snapshots do not carry it; start the replica with \
                 --genesis-hash"
                    .to_string(),
            )
        })?;
    Ok(Reply::json(json::to_sorted_vec(&hash.to_string())))
}
