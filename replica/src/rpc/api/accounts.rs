//! Account reads (Agave's `rpc_accounts` and getBalance): getAccountInfo, getMultipleAccounts,
//! getBalance, getTokenAccountBalance, getTokenSupply.

use {
    crate::rpc::{
        context::RpcContext, encoding::DataFormat, error::RpcError, json, jsonrpc::Params,
        methods::token, params, reads::PointRead, registry::Methods, reply::Reply, view,
    },
    solana_account_decoder::UiAccountEncoding,
    solana_commitment_config::CommitmentConfig,
    solana_rpc_client_types::config::{RpcAccountInfoConfig, RpcContextConfig},
    std::sync::Arc,
};

pub(crate) fn register(methods: &mut Methods) {
    methods.add("getAccountInfo", |c, p| Box::pin(get_account_info(c, p)));
    methods.add("getMultipleAccounts", |c, p| {
        Box::pin(get_multiple_accounts(c, p))
    });
    methods.add("getBalance", |c, p| Box::pin(get_balance(c, p)));
    methods.add("getTokenAccountBalance", |c, p| {
        Box::pin(get_token_account_balance(c, p))
    });
    methods.add("getTokenSupply", |c, p| Box::pin(get_token_supply(c, p)));
}

async fn get_account_info(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let (pubkey, config) = params::one_and_optional::<String, RpcAccountInfoConfig>(params)?;
    let pubkey = params::pubkey(&pubkey)?;
    let config = config.unwrap_or_default();
    let format = DataFormat::new(
        config.encoding.unwrap_or(UiAccountEncoding::Binary),
        config.data_slice,
    );
    ctx.reads
        .read(
            PointRead::Account(pubkey, format),
            config.commitment,
            config.min_context_slot,
        )
        .await
        .map(Reply::json)
}

async fn get_multiple_accounts(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let (pubkeys, config) = params::one_and_optional::<Vec<String>, RpcAccountInfoConfig>(params)?;
    let max = ctx.config.max_multiple_accounts;
    if pubkeys.len() > max {
        return Err(RpcError::InvalidParams(format!(
            "Too many inputs provided; max {max}"
        )));
    }
    let pubkeys = pubkeys
        .iter()
        .map(|pubkey| params::pubkey(pubkey))
        .collect::<Result<Vec<_>, _>>()?;
    let config = config.unwrap_or_default();
    let format = DataFormat::new(
        config.encoding.unwrap_or(UiAccountEncoding::Base64),
        config.data_slice,
    );
    ctx.reads
        .read(
            PointRead::Accounts(pubkeys, format),
            config.commitment,
            config.min_context_slot,
        )
        .await
        .map(Reply::json)
}

async fn get_balance(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let (pubkey, config) = params::one_and_optional::<String, RpcContextConfig>(params)?;
    let pubkey = params::pubkey(&pubkey)?;
    let config = config.unwrap_or_default();
    ctx.reads
        .read(
            PointRead::Balance(pubkey),
            config.commitment,
            config.min_context_slot,
        )
        .await
        .map(Reply::json)
}

async fn get_token_account_balance(
    ctx: Arc<RpcContext>,
    params: Params,
) -> Result<Reply, RpcError> {
    let (pubkey, commitment) = params::one_and_optional::<String, CommitmentConfig>(params)?;
    let pubkey = params::pubkey(&pubkey)?;
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = view::bank(state, commitment)?;
        let balance = token::account_balance(&bank, &pubkey)?;
        Ok(json::with_context(
            inner.api_version(),
            bank.slot(),
            &balance,
        ))
    })
    .await
    .map(Reply::json)
}

async fn get_token_supply(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let (mint, commitment) = params::one_and_optional::<String, CommitmentConfig>(params)?;
    let mint = params::pubkey(&mint)?;
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = view::bank(state, commitment)?;
        let supply = token::supply(&bank, &mint)?;
        Ok(json::with_context(
            inner.api_version(),
            bank.slot(),
            &supply,
        ))
    })
    .await
    .map(Reply::json)
}
