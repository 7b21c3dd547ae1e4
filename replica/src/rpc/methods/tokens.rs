//! Token values (Agave's `rpc_accounts` and `rpc_accounts_scan`): getTokenAccountBalance,
//! getTokenSupply, getTokenLargestAccounts.

use {
    super::{MethodContext, Methods},
    crate::{
        rpc::{
            read::{commitment, scan::ScanQuery, token},
            server::{Params, Reply, RpcError, json, params},
        },
        store::{IndexKind, is_token_program},
    },
    solana_account_decoder::parse_token::token_amount_to_ui_amount_v3,
    solana_commitment_config::CommitmentConfig,
    solana_pubkey::Pubkey,
    solana_rpc_client_types::{request::NUM_LARGEST_ACCOUNTS, response::RpcTokenAccountBalance},
    std::{cmp::Reverse, collections::BinaryHeap, ops::ControlFlow, sync::Arc},
};

pub(crate) fn register(methods: &mut Methods) {
    methods.add("getTokenAccountBalance", |c, p| {
        Box::pin(get_token_account_balance(c, p))
    });
    methods.add("getTokenSupply", |c, p| Box::pin(get_token_supply(c, p)));
    methods.add("getTokenLargestAccounts", |c, p| {
        Box::pin(get_token_largest_accounts(c, p))
    });
}

async fn get_token_account_balance(
    ctx: Arc<MethodContext>,
    params: Params,
) -> Result<Reply, RpcError> {
    let (pubkey, commitment) = params::one_and_optional::<String, CommitmentConfig>(params)?;
    let pubkey = params::pubkey(&pubkey)?;
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = commitment::bank(state, commitment)?;
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

async fn get_token_supply(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let (mint, commitment) = params::one_and_optional::<String, CommitmentConfig>(params)?;
    let mint = params::pubkey(&mint)?;
    let inner = ctx.clone();
    ctx.blocking(move |state| {
        let bank = commitment::bank(state, commitment)?;
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

async fn get_token_largest_accounts(
    ctx: Arc<MethodContext>,
    params: Params,
) -> Result<Reply, RpcError> {
    let (mint, commitment) = params::one_and_optional::<String, CommitmentConfig>(params)?;
    let mint = params::pubkey(&mint)?;
    // Only the 20 largest are kept, so the scan needs no result limit: where Agave (which
    // collects the mint's accounts first) would abort with -32012, this answers.
    let inner = ctx.clone();
    ctx.scan(move |state, streamer| {
        let bank = commitment::bank(state, commitment)?;
        let (owner, data) = token::mint_owner_and_data(&bank, &mint)?;
        if !is_token_program(&owner) {
            return Err(RpcError::invalid_param("not a Token mint"));
        }
        let indexes = &state.store().config().indexes;
        let query =
            ScanQuery::token_key(indexes, owner, IndexKind::SplTokenMint, mint, Vec::new())?;
        let mut heap: BinaryHeap<Reverse<(u64, Pubkey)>> =
            BinaryHeap::with_capacity(NUM_LARGEST_ACCOUNTS + 1);
        let _: ControlFlow<()> = query.for_each(
            &bank,
            || streamer.should_stop(),
            |pubkey, account| {
                let entry = (token::account_amount(account.data), *pubkey);
                if heap.len() >= NUM_LARGEST_ACCOUNTS {
                    match heap.peek() {
                        Some(Reverse(smallest)) if *smallest >= entry => {
                            return ControlFlow::Continue(());
                        }
                        _ => {
                            heap.pop();
                        }
                    }
                }
                heap.push(Reverse(entry));
                ControlFlow::Continue(())
            },
        )?;
        let balances: Vec<RpcTokenAccountBalance> = heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse((amount, address))| RpcTokenAccountBalance {
                address: address.to_string(),
                amount: token_amount_to_ui_amount_v3(amount, &data),
            })
            .collect();
        Ok(Reply::json(json::with_context(
            inner.api_version(),
            bank.slot(),
            &balances,
        )))
    })
    .await
}
