//! Slots, epochs and blockhashes (Agave's `rpc_minimal` and parts of `rpc_full`): getSlot,
//! getBlockHeight, getEpochInfo, getTransactionCount, getEpochSchedule, getLatestBlockhash,
//! isBlockhashValid, getBlockCommitment.

use {
    super::{MethodContext, Methods},
    crate::{
        bank::BankView,
        rpc::{
            read::{commitment, sysvars},
            server::{Params, Reply, RpcError, json, params},
        },
        state::ReplicaState,
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
    methods.add("getTransactionCount", |c, p| {
        Box::pin(get_transaction_count(c, p))
    });
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
}

async fn get_slot(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcContextConfig>(params)?.unwrap_or_default();
    ctx.blocking(move |state| {
        let bank = commitment::bank_with_config(state, config.commitment, config.min_context_slot)?;
        Ok(json::to_sorted_vec(&bank.slot()))
    })
    .await
    .map(Reply::json)
}

async fn get_block_height(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcContextConfig>(params)?.unwrap_or_default();
    ctx.blocking(move |state| {
        let bank = commitment::bank_with_config(state, config.commitment, config.min_context_slot)?;
        Ok(json::to_sorted_vec(&sysvars::block_height(&bank)?))
    })
    .await
    .map(Reply::json)
}

async fn get_epoch_info(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcContextConfig>(params)?.unwrap_or_default();
    ctx.blocking(move |state| {
        let bank = commitment::bank_with_config(state, config.commitment, config.min_context_slot)?;
        let schedule = sysvars::epoch_schedule(state, &bank)?;
        let slot = bank.slot();
        let (epoch, slot_index) = schedule.get_epoch_and_slot_index(slot);
        let transaction_count = transaction_count(state, &bank)?;
        Ok(json::to_sorted_vec(&json!({
            "absoluteSlot": slot,
            "blockHeight": sysvars::block_height(&bank)?,
            "epoch": epoch,
            "slotIndex": slot_index,
            "slotsInEpoch": schedule.get_slots_in_epoch(epoch),
            "transactionCount": transaction_count,
        })))
    })
    .await
    .map(Reply::json)
}

async fn get_transaction_count(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcContextConfig>(params)?.unwrap_or_default();
    ctx.blocking(move |state| {
        let bank = commitment::bank_with_config(state, config.commitment, config.min_context_slot)?;
        let count = transaction_count(state, &bank)?.ok_or_else(|| {
            RpcError::Unavailable(format!(
                "the transaction count at slot {} is unknown: its upstream did not send the \
                 executed transaction counts",
                bank.slot()
            ))
        })?;
        Ok(json::to_sorted_vec(&count))
    })
    .await
    .map(Reply::json)
}

/// Agave's `transaction_count` of `bank`: the snapshot's count plus every later slot's executed
/// count, when the upstreams sent them all.
fn transaction_count(state: &ReplicaState, bank: &BankView<'_>) -> Result<Option<u64>, RpcError> {
    if let Some(count) = bank.meta().transaction_count {
        return Ok(Some(count));
    }
    // A store bootstrapped before slots carried counts knows it at the snapshot's slot.
    let snapshot_slot = state.store().snapshot_origin()?.map(|origin| origin.slot);
    Ok((snapshot_slot == Some(bank.slot()))
        .then(|| state.bank_fields().map(|info| info.transaction_count))
        .flatten())
}

async fn get_epoch_schedule(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    ctx.blocking(move |state| {
        let bank = commitment::bank(state, None)?;
        let schedule = sysvars::epoch_schedule(state, &bank)?;
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

async fn get_latest_blockhash(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcContextConfig>(params)?.unwrap_or_default();
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = commitment::bank_with_config(state, config.commitment, config.min_context_slot)?;
        let value = json!({
            "blockhash": bank.meta().blockhash.to_string(),
            "lastValidBlockHeight": sysvars::block_height(&bank)? + MAX_PROCESSING_AGE,
        });
        Ok(json::with_context(inner.api_version(), bank.slot(), &value))
    })
    .await
    .map(Reply::json)
}

async fn is_blockhash_valid(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let (blockhash, config) = params::one_and_optional::<String, RpcContextConfig>(params)?;
    let blockhash = params::hash(&blockhash)?;
    let config = config.unwrap_or_default();
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = commitment::bank_with_config(state, config.commitment, config.min_context_slot)?;
        // Valid for MAX_PROCESSING_AGE blocks after the newest (ages 0..=150).
        let recent = bank.recent_blockhashes(MAX_PROCESSING_AGE as usize + 1)?;
        let valid = recent.contains(&blockhash);
        Ok(json::with_context(inner.api_version(), bank.slot(), &valid))
    })
    .await
    .map(Reply::json)
}

async fn get_block_commitment(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let (_slot,) = params::tuple::<(u64,)>(params)?;
    ctx.blocking(move |state| {
        // The replica tracks no votes: no commitment array, and the total active stake of the
        // newest epoch the snapshot knows up to the confirmed view's epoch.
        let bank = commitment::bank(
            state,
            Some(solana_commitment_config::CommitmentConfig::confirmed()),
        )?;
        let epoch = sysvars::epoch_schedule(state, &bank)?.get_epoch(bank.slot());
        let info = sysvars::bank_fields(state)?;
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
