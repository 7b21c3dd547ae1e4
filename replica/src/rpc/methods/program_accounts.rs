//! getProgramAccounts and getTokenAccountsBy{Owner,Delegate}: Agave's routing onto the
//! secondary indexes, then the keyed-account list.

use {
    super::{MethodContext, Methods},
    crate::{
        bank::BankView,
        rpc::{
            read::{
                commitment,
                encoding::DataFormat,
                filter,
                scan::{self, ListResponse, ParseMode, ScanLimit, ScanQuery},
                token,
            },
            server::{Params, Reply, RpcError, params, reply::Streamer},
        },
        store::{IndexConfig, IndexKind, is_token_program},
    },
    solana_account_decoder::UiAccountEncoding,
    solana_pubkey::Pubkey,
    solana_rpc_client_types::{
        config::{RpcAccountInfoConfig, RpcProgramAccountsConfig, RpcTokenAccountsFilter},
        filter::RpcFilterType,
    },
    std::sync::Arc,
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
}

async fn get_program_accounts(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
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
        let bank = commitment::bank_with_config(
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
        program_accounts(&bank, indexes, program, filters, options, streamer)
    })
    .await
}

#[derive(Debug, Clone, Copy)]
enum Holder {
    Owner,
    Delegate,
}

async fn get_token_accounts(
    ctx: Arc<MethodContext>,
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
        let bank = commitment::bank_with_config(state, config.commitment, config.min_context_slot)?;
        let indexes = &state.store().config().indexes;
        let options = ListOptions {
            format,
            context: Some(inner.api_version()),
            limit,
        };
        match holder {
            Holder::Owner => {
                token_accounts_by_owner(&bank, indexes, key, filter, options, streamer)
            }
            Holder::Delegate => {
                token_accounts_by_delegate(&bank, indexes, key, filter, options, streamer)
            }
        }
    })
    .await
}

/// A token-accounts filter after its pubkey was checked (Agave's `TokenAccountsFilter`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum TokenAccountsFilter {
    Mint(Pubkey),
    ProgramId(Pubkey),
}

/// How a keyed-account list is answered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListOptions<'a> {
    pub(crate) format: DataFormat,
    /// `Some(api_version)`: wrapped in `{"context":…,"value":…}`.
    pub(crate) context: Option<&'a str>,
    pub(crate) limit: ScanLimit,
}

/// getProgramAccounts on a view, filters verified.
pub(crate) fn program_accounts(
    bank: &BankView<'_>,
    indexes: &IndexConfig,
    program: Pubkey,
    mut filters: Vec<RpcFilterType>,
    options: ListOptions<'_>,
    streamer: &mut Streamer,
) -> Result<Reply, RpcError> {
    let ListOptions {
        format,
        context,
        limit,
    } = options;
    filter::optimize(&mut filters);
    let query = if let Some(owner) = filter::token_owner(&program, &filters)? {
        ScanQuery::token_key(indexes, program, IndexKind::SplTokenOwner, owner, filters)?
    } else if let Some(mint) = filter::token_mint(&program, &filters)? {
        ScanQuery::token_key(indexes, program, IndexKind::SplTokenMint, mint, filters)?
    } else {
        ScanQuery::generic(indexes, program, filters)?
    };
    let mode = if is_token_program(&program) && format.is_json_parsed() {
        ParseMode::TokenList
    } else {
        ParseMode::Generic
    };
    let response = ListResponse {
        format,
        mode,
        context,
    };
    scan::keyed_accounts(bank, &query, &response, limit, streamer)
}

/// Agave's `get_token_program_id_and_mint`.
fn token_program_and_mint(
    bank: &BankView<'_>,
    filter: TokenAccountsFilter,
) -> Result<(Pubkey, Option<Pubkey>), RpcError> {
    match filter {
        TokenAccountsFilter::Mint(mint) => {
            let (owner, _) = token::mint_owner_and_data(bank, &mint)?;
            if !is_token_program(&owner) {
                return Err(RpcError::invalid_param("not a Token mint"));
            }
            Ok((owner, Some(mint)))
        }
        TokenAccountsFilter::ProgramId(program) => {
            if is_token_program(&program) {
                Ok((program, None))
            } else {
                Err(RpcError::invalid_param("unrecognized Token program id"))
            }
        }
    }
}

fn token_list_response<'a>(options: &ListOptions<'a>) -> ListResponse<'a> {
    ListResponse {
        format: options.format,
        mode: if options.format.is_json_parsed() {
            ParseMode::TokenList
        } else {
            ParseMode::Generic
        },
        context: options.context,
    }
}

/// getTokenAccountsByOwner: the by-owner path with an optional mint memcmp.
pub(crate) fn token_accounts_by_owner(
    bank: &BankView<'_>,
    indexes: &IndexConfig,
    owner: Pubkey,
    filter: TokenAccountsFilter,
    options: ListOptions<'_>,
    streamer: &mut Streamer,
) -> Result<Reply, RpcError> {
    let (program, mint) = token_program_and_mint(bank, filter)?;
    let filters = mint
        .map(|mint| {
            vec![filter::memcmp(
                filter::TOKEN_ACCOUNT_MINT_OFFSET,
                mint.as_ref(),
            )]
        })
        .unwrap_or_default();
    let query = ScanQuery::token_key(indexes, program, IndexKind::SplTokenOwner, owner, filters)?;
    let response = token_list_response(&options);
    scan::keyed_accounts(bank, &query, &response, options.limit, streamer)
}

/// getTokenAccountsByDelegate: Agave takes the by-mint path (with a mint) or the generic
/// program path; the replica reads its delegate index when it keeps one for this key, which
/// selects the same accounts.
pub(crate) fn token_accounts_by_delegate(
    bank: &BankView<'_>,
    indexes: &IndexConfig,
    delegate: Pubkey,
    filter: TokenAccountsFilter,
    options: ListOptions<'_>,
    streamer: &mut Streamer,
) -> Result<Reply, RpcError> {
    let (program, mint) = token_program_and_mint(bank, filter)?;
    let delegate_set = filter::memcmp(filter::TOKEN_ACCOUNT_DELEGATE_TAG_OFFSET, &[1, 0, 0, 0]);
    let query = if indexes.is_enabled(IndexKind::SplTokenDelegate) && indexes.include_key(&delegate)
    {
        // `token_key` adds tokenAccountState and the delegate memcmp.
        let mut filters = vec![delegate_set];
        if let Some(mint) = mint {
            filters.push(filter::memcmp(
                filter::TOKEN_ACCOUNT_MINT_OFFSET,
                mint.as_ref(),
            ));
        }
        ScanQuery::token_key(
            indexes,
            program,
            IndexKind::SplTokenDelegate,
            delegate,
            filters,
        )?
    } else {
        let mut filters = vec![
            delegate_set,
            filter::memcmp(filter::TOKEN_ACCOUNT_DELEGATE_OFFSET, delegate.as_ref()),
        ];
        match mint {
            Some(mint) => {
                ScanQuery::token_key(indexes, program, IndexKind::SplTokenMint, mint, filters)?
            }
            None => {
                filters.push(RpcFilterType::TokenAccountState);
                ScanQuery::generic(indexes, program, filters)?
            }
        }
    };
    let response = token_list_response(&options);
    scan::keyed_accounts(bank, &query, &response, options.limit, streamer)
}
