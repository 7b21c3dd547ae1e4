//! Point reads of accounts (Agave's `rpc_accounts` and getBalance): getAccountInfo,
//! getMultipleAccounts, getBalance, answered by the reader threads of [`point_reads`](super::point_reads).

use {
    super::{MethodContext, Methods, point_reads::PointRead},
    crate::rpc::{
        read::encoding::DataFormat,
        server::{Params, Reply, RpcError, params},
    },
    solana_account_decoder::UiAccountEncoding,
    solana_rpc_client_types::config::{RpcAccountInfoConfig, RpcContextConfig},
    std::sync::Arc,
};

pub(crate) fn register(methods: &mut Methods) {
    methods.add("getAccountInfo", |c, p| Box::pin(get_account_info(c, p)));
    methods.add("getMultipleAccounts", |c, p| {
        Box::pin(get_multiple_accounts(c, p))
    });
    methods.add("getBalance", |c, p| Box::pin(get_balance(c, p)));
}

async fn get_account_info(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
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

async fn get_multiple_accounts(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
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

async fn get_balance(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
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
