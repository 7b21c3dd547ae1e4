//! Bank values (Agave's `rpc_bank` and parts of `rpc_full`): getMinimumBalanceForRentExemption,
//! getInflationGovernor, getInflationRate, getFeeForMessage, getStakeMinimumDelegation.

use {
    super::{MethodContext, Methods, fee, inflation, stake},
    crate::rpc::{
        read::{commitment, sysvars},
        server::{Params, Reply, RpcError, json, params},
    },
    solana_commitment_config::CommitmentConfig,
    solana_rpc_client_types::{config::RpcContextConfig, response::RpcInflationGovernor},
    std::sync::Arc,
};

/// `MAX_PERMITTED_DATA_LENGTH`, 10 MiB.
const MAX_PERMITTED_DATA_LENGTH: usize = 10 * 1024 * 1024;

pub(crate) fn register(methods: &mut Methods) {
    methods.add("getMinimumBalanceForRentExemption", |c, p| {
        Box::pin(get_minimum_balance_for_rent_exemption(c, p))
    });
    methods.add("getInflationGovernor", |c, p| {
        Box::pin(get_inflation_governor(c, p))
    });
    methods.add("getInflationRate", |c, p| {
        Box::pin(get_inflation_rate(c, p))
    });
    methods.add("getFeeForMessage", |c, p| {
        Box::pin(get_fee_for_message(c, p))
    });
    methods.add("getStakeMinimumDelegation", |c, p| {
        Box::pin(get_stake_minimum_delegation(c, p))
    });
}

async fn get_minimum_balance_for_rent_exemption(
    ctx: Arc<MethodContext>,
    params: Params,
) -> Result<Reply, RpcError> {
    let (data_len, commitment) = params::one_and_optional::<usize, CommitmentConfig>(params)?;
    if data_len > MAX_PERMITTED_DATA_LENGTH {
        return Err(RpcError::InvalidRequest);
    }
    ctx.blocking(move |state| {
        let bank = commitment::bank(state, commitment)?;
        let minimum = sysvars::rent(&bank)?.minimum_balance(data_len).max(1);
        Ok(json::to_sorted_vec(&minimum))
    })
    .await
    .map(Reply::json)
}

async fn get_inflation_governor(
    ctx: Arc<MethodContext>,
    params: Params,
) -> Result<Reply, RpcError> {
    let _commitment = params::optional::<CommitmentConfig>(params)?;
    let inflation = sysvars::bank_fields(&ctx.state())?.inflation;
    Ok(Reply::json(json::to_sorted_vec(&RpcInflationGovernor {
        initial: inflation.initial,
        terminal: inflation.terminal,
        taper: inflation.taper,
        foundation: inflation.foundation,
        foundation_term: inflation.foundation_term,
    })))
}

async fn get_inflation_rate(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    params::none(params)?;
    ctx.blocking(move |state| {
        let bank = commitment::bank(state, None)?;
        Ok(json::to_sorted_vec(&inflation::inflation_rate(
            state, &bank,
        )?))
    })
    .await
    .map(Reply::json)
}

async fn get_fee_for_message(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let (data, config) = params::one_and_optional::<String, RpcContextConfig>(params)?;
    let message = fee::decode(&data)?;
    let config = config.unwrap_or_default();
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = commitment::bank_with_config(state, config.commitment, config.min_context_slot)?;
        let fee = fee::fee_for_message(&bank, message)?;
        Ok(json::with_context(inner.api_version(), bank.slot(), &fee))
    })
    .await
    .map(Reply::json)
}

async fn get_stake_minimum_delegation(
    ctx: Arc<MethodContext>,
    params: Params,
) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcContextConfig>(params)?.unwrap_or_default();
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = commitment::bank_with_config(state, config.commitment, config.min_context_slot)?;
        let minimum = stake::minimum_delegation(&bank)?;
        Ok(json::with_context(
            inner.api_version(),
            bank.slot(),
            &minimum,
        ))
    })
    .await
    .map(Reply::json)
}
