//! Scanning methods (Agave's `rpc_accounts_scan`): getProgramAccounts,
//! getTokenAccountsByOwner, getTokenAccountsByDelegate, getTokenLargestAccounts,
//! getLargestAccounts, getSupply.

use {
    crate::rpc::{
        context::RpcContext,
        encoding::DataFormat,
        error::RpcError,
        filter, json,
        jsonrpc::Params,
        methods::{
            largest_accounts,
            program_accounts::{self, ListOptions, TokenAccountsFilter},
            supply, token,
        },
        params,
        registry::Methods,
        reply::Reply,
        scan::{ScanLimit, ScanQuery},
        view,
    },
    crate::store::IndexKind,
    solana_account_decoder::UiAccountEncoding,
    solana_account_decoder::parse_token::token_amount_to_ui_amount_v3,
    solana_commitment_config::CommitmentConfig,
    solana_pubkey::Pubkey,
    solana_rpc_client_types::{
        config::{
            RpcAccountInfoConfig, RpcLargestAccountsConfig, RpcProgramAccountsConfig,
            RpcSupplyConfig, RpcTokenAccountsFilter,
        },
        request::NUM_LARGEST_ACCOUNTS,
        response::{RpcAccountBalance, RpcSupply, RpcTokenAccountBalance},
    },
    std::{cmp::Reverse, collections::BinaryHeap, ops::ControlFlow, sync::Arc, time::Instant},
};

pub(crate) fn register(methods: &mut Methods) {
    methods.add("getProgramAccounts", |c, p| {
        Box::pin(get_program_accounts(c, p))
    });
    methods.add("getTokenAccountsByOwner", |c, p| {
        Box::pin(get_token_accounts(c, p, Holder::Owner))
    });
    methods.add("getTokenAccountsByDelegate", |c, p| {
        Box::pin(get_token_accounts(c, p, Holder::Delegate))
    });
    methods.add("getTokenLargestAccounts", |c, p| {
        Box::pin(get_token_largest_accounts(c, p))
    });
    methods.add("getLargestAccounts", |c, p| {
        Box::pin(get_largest_accounts(c, p))
    });
    methods.add("getSupply", |c, p| Box::pin(get_supply(c, p)));
}

async fn get_program_accounts(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let (program, config) = params::one_and_optional::<String, RpcProgramAccountsConfig>(params)?;
    let program = params::pubkey(&program)?;
    let (account_config, filters, with_context) = match config {
        Some(config) => (
            config.account_config,
            config.filters.unwrap_or_default(),
            config.with_context.unwrap_or_default(),
        ),
        None => (RpcAccountInfoConfig::default(), Vec::new(), false),
    };
    filter::verify(&filters)?;
    let format = DataFormat::new(
        account_config.encoding.unwrap_or(UiAccountEncoding::Binary),
        account_config.data_slice,
    );
    let limit = ScanLimit::new(ctx.config.scan_limit_bytes());
    let inner = ctx.clone();
    ctx.scan(move |state, streamer| {
        let bank = view::bank_with_config(
            state,
            account_config.commitment,
            account_config.min_context_slot,
        )?;
        let indexes = &state.store().config().indexes;
        let options = ListOptions {
            format,
            context: with_context.then(|| inner.api_version()),
            limit,
        };
        program_accounts::program_accounts(&bank, indexes, program, filters, options, streamer)
    })
    .await
}

#[derive(Debug, Clone, Copy)]
enum Holder {
    Owner,
    Delegate,
}

async fn get_token_accounts(
    ctx: Arc<RpcContext>,
    params: Params,
    holder: Holder,
) -> Result<Reply, RpcError> {
    let (key, filter, config) =
        params::two_and_optional::<String, RpcTokenAccountsFilter, RpcAccountInfoConfig>(params)?;
    let key = params::pubkey(&key)?;
    let filter = match filter {
        RpcTokenAccountsFilter::Mint(mint) => TokenAccountsFilter::Mint(params::pubkey(&mint)?),
        RpcTokenAccountsFilter::ProgramId(program) => {
            TokenAccountsFilter::ProgramId(params::pubkey(&program)?)
        }
    };
    let config = config.unwrap_or_default();
    let format = DataFormat::new(
        config.encoding.unwrap_or(UiAccountEncoding::Binary),
        config.data_slice,
    );
    let limit = ScanLimit::new(ctx.config.scan_limit_bytes());
    let inner = ctx.clone();
    ctx.scan(move |state, streamer| {
        let bank = view::bank_with_config(state, config.commitment, config.min_context_slot)?;
        let indexes = &state.store().config().indexes;
        let options = ListOptions {
            format,
            context: Some(inner.api_version()),
            limit,
        };
        match holder {
            Holder::Owner => program_accounts::token_accounts_by_owner(
                &bank, indexes, key, filter, options, streamer,
            ),
            Holder::Delegate => program_accounts::token_accounts_by_delegate(
                &bank, indexes, key, filter, options, streamer,
            ),
        }
    })
    .await
}

async fn get_token_largest_accounts(
    ctx: Arc<RpcContext>,
    params: Params,
) -> Result<Reply, RpcError> {
    let (mint, commitment) = params::one_and_optional::<String, CommitmentConfig>(params)?;
    let mint = params::pubkey(&mint)?;
    // Only the 20 largest are kept, so the scan needs no result limit: where Agave (which
    // collects the mint's accounts first) would abort with -32012, this answers.
    let inner = ctx.clone();
    ctx.scan(move |state, streamer| {
        let bank = view::bank(state, commitment)?;
        let (owner, data) = token::mint_owner_and_data(&bank, &mint)?;
        if !crate::store::is_token_program(&owner) {
            return Err(RpcError::invalid_param("not a Token mint"));
        }
        let indexes = &state.store().config().indexes;
        let query =
            ScanQuery::token_key(indexes, owner, IndexKind::SplTokenMint, mint, Vec::new())?;
        let mut heap: BinaryHeap<Reverse<(u64, Pubkey)>> =
            BinaryHeap::with_capacity(NUM_LARGEST_ACCOUNTS + 1);
        let _: ControlFlow<()> = query.for_each(
            &bank,
            || streamer.is_cancelled(),
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

async fn get_largest_accounts(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcLargestAccountsConfig>(params)?.unwrap_or_default();
    let filter = config.filter;
    let inner = ctx.clone();
    ctx.scan(move |state, streamer| {
        let now = Instant::now();
        let (slot, accounts) = match inner.largest_accounts.get(&filter, now) {
            Some(cached) => cached,
            None => {
                let bank = view::bank(state, config.commitment)?;
                let indexes = &state.store().config().indexes;
                let accounts = largest_accounts::largest_accounts(&bank, indexes, &filter, || {
                    streamer.is_cancelled()
                })?;
                inner
                    .largest_accounts
                    .set(filter.clone(), now, bank.slot(), accounts.clone());
                (bank.slot(), accounts)
            }
        };
        let balances: Vec<RpcAccountBalance> = accounts
            .into_iter()
            .map(|(address, lamports)| RpcAccountBalance {
                address: address.to_string(),
                lamports,
            })
            .collect();
        Ok(Reply::json(json::with_context(
            inner.api_version(),
            slot,
            &balances,
        )))
    })
    .await
}

async fn get_supply(ctx: Arc<RpcContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcSupplyConfig>(params)?.unwrap_or_default();
    let inner = ctx.clone();
    ctx.scan(move |state, streamer| {
        let bank = view::bank(state, config.commitment)?;
        let indexes = &state.store().config().indexes;
        let non_circulating = supply::non_circulating(&bank, indexes, || streamer.is_cancelled())?;
        let total = bank.capitalization();
        let supply = RpcSupply {
            total,
            circulating: total.saturating_sub(non_circulating.lamports),
            non_circulating: non_circulating.lamports,
            non_circulating_accounts: if config.exclude_non_circulating_accounts_list {
                Vec::new()
            } else {
                non_circulating
                    .accounts
                    .iter()
                    .map(Pubkey::to_string)
                    .collect()
            },
        };
        Ok(Reply::json(json::with_context(
            inner.api_version(),
            bank.slot(),
            &supply,
        )))
    })
    .await
}
