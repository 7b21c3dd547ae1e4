//! Methods Agave removed in 2.0. By default they are -32601, as on Agave; `--legacy-rpc` serves
//! them with their last (1.18) shapes from replicated state.

use {
    super::{MethodContext, Methods, stake},
    crate::{
        bank::BankView,
        rpc::{
            read::{commitment, sysvars},
            server::{Params, Reply, RpcError, json, params},
        },
        state::ReplicaState,
    },
    serde_json::json,
    solana_commitment_config::CommitmentConfig,
    solana_hash::Hash,
    solana_rpc_client_types::config::RpcEpochConfig,
    std::sync::Arc,
};

/// Removed in Agave 2.0 (#1809, #1897); never forwarded to `--rpc-fallback`.
pub(crate) const REMOVED_METHODS: [&str; 5] = [
    "getRecentBlockhash",
    "getFees",
    "getFeeCalculatorForBlockhash",
    "getFeeRateGovernor",
    "getStakeActivation",
];

/// `MAX_RECENT_BLOCKHASHES`: the queue's max age.
const MAX_RECENT_BLOCKHASHES: u64 = 300;
const MAX_PROCESSING_AGE: u64 = 150;
/// `NUM_BLOCKHASH_CONFIRMATIONS` of `Bank::confirmed_last_blockhash`.
const NUM_BLOCKHASH_CONFIRMATIONS: usize = 3;

pub(crate) fn register(methods: &mut Methods) {
    methods.add("getRecentBlockhash", |c, p| {
        Box::pin(get_recent_blockhash(c, p))
    });
    methods.add("getFees", |c, p| Box::pin(get_fees(c, p)));
    methods.add("getFeeCalculatorForBlockhash", |c, p| {
        Box::pin(get_fee_calculator_for_blockhash(c, p))
    });
    methods.add("getFeeRateGovernor", |c, p| {
        Box::pin(get_fee_rate_governor(c, p))
    });
    methods.add("getStakeActivation", |c, p| {
        Box::pin(get_stake_activation(c, p))
    });
}

/// `Bank::confirmed_last_blockhash`: the blockhash of the 4th ancestor above the root (fewer
/// if the chain is shorter); the root's own for a rooted view.
fn confirmed_last_blockhash(bank: &BankView<'_>) -> Result<Hash, RpcError> {
    if bank.is_rooted() {
        return Ok(bank.meta().blockhash);
    }
    let mut parents: Vec<Hash> = bank
        .chain()
        .iter()
        .skip(1)
        .map(|slot| slot.meta.blockhash)
        .collect();
    let root = bank.store_view().store().slot_meta(bank.root_slot())?;
    parents.push(root.map(|meta| meta.blockhash).unwrap_or_default());
    let index = NUM_BLOCKHASH_CONFIRMATIONS.min(parents.len() - 1);
    Ok(parents[index])
}

/// The queue age of `hash` (0 = newest) and its lamports per signature.
fn queue_entry(
    state: &ReplicaState,
    bank: &BankView<'_>,
    hash: &Hash,
) -> Result<Option<(u64, u64)>, RpcError> {
    let recent = bank.recent_blockhashes(MAX_RECENT_BLOCKHASHES as usize + 1)?;
    let Some(age) = recent.iter().position(|recent| recent == hash) else {
        return Ok(None);
    };
    let info = sysvars::bank_fields(state)?;
    let lamports = info
        .blockhash_queue
        .entries
        .iter()
        .find(|entry| entry.hash == *hash)
        .map_or(info.lamports_per_signature, |entry| {
            entry.lamports_per_signature
        });
    Ok(Some((age as u64, lamports)))
}

fn unknown_blockhash() -> RpcError {
    RpcError::Unavailable("the bank's blockhash is not in its queue".to_string())
}

async fn get_recent_blockhash(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let commitment = params::optional::<CommitmentConfig>(params)?;
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = commitment::bank(state, commitment)?;
        let blockhash = confirmed_last_blockhash(&bank)?;
        let (_, lamports) = queue_entry(state, &bank, &blockhash)?.ok_or_else(unknown_blockhash)?;
        let value = json!({
            "blockhash": blockhash.to_string(),
            "feeCalculator": { "lamportsPerSignature": lamports },
        });
        Ok(json::with_context(inner.api_version(), bank.slot(), &value))
    })
    .await
    .map(Reply::json)
}

async fn get_fees(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let commitment = params::optional::<CommitmentConfig>(params)?;
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = commitment::bank(state, commitment)?;
        let blockhash = confirmed_last_blockhash(&bank)?;
        let (age, lamports) =
            queue_entry(state, &bank, &blockhash)?.ok_or_else(unknown_blockhash)?;
        let value = json!({
            "blockhash": blockhash.to_string(),
            "feeCalculator": { "lamportsPerSignature": lamports },
            "lastValidSlot": bank.slot() + MAX_RECENT_BLOCKHASHES - age,
            "lastValidBlockHeight": sysvars::block_height(&bank)? + MAX_PROCESSING_AGE - age,
        });
        Ok(json::with_context(inner.api_version(), bank.slot(), &value))
    })
    .await
    .map(Reply::json)
}

async fn get_fee_calculator_for_blockhash(
    ctx: Arc<MethodContext>,
    params: Params,
) -> Result<Reply, RpcError> {
    let (blockhash, commitment) = params::one_and_optional::<String, CommitmentConfig>(params)?;
    let blockhash = params::hash(&blockhash)?;
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = commitment::bank(state, commitment)?;
        let value = queue_entry(state, &bank, &blockhash)?
            .map(|(_, lamports)| json!({ "feeCalculator": { "lamportsPerSignature": lamports } }));
        Ok(json::with_context(inner.api_version(), bank.slot(), &value))
    })
    .await
    .map(Reply::json)
}

async fn get_fee_rate_governor(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = commitment::bank(state, None)?;
        let governor = sysvars::bank_fields(state)?.fee_rate_governor;
        let value = json!({
            "feeRateGovernor": {
                "burnPercent": governor.burn_percent,
                "maxLamportsPerSignature": governor.max_lamports_per_signature,
                "minLamportsPerSignature": governor.min_lamports_per_signature,
                "targetLamportsPerSignature": governor.target_lamports_per_signature,
                "targetSignaturesPerSlot": governor.target_signatures_per_slot,
            }
        });
        Ok(json::with_context(inner.api_version(), bank.slot(), &value))
    })
    .await
    .map(Reply::json)
}

async fn get_stake_activation(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let (pubkey, config) = params::one_and_optional::<String, RpcEpochConfig>(params)?;
    let pubkey = params::pubkey(&pubkey)?;
    let config = config.unwrap_or_default();
    ctx.blocking(move |state| {
        let bank = commitment::bank_with_config(state, config.commitment, config.min_context_slot)?;
        let activation = stake::activation(state, &bank, &pubkey, config.epoch)?;
        Ok(json::to_sorted_vec(&activation))
    })
    .await
    .map(Reply::json)
}
