//! Supply (getSupply, `/v0/circulating-supply`, `/v0/total-supply`) and the non-circulating
//! set as Agave 4.2.2's `calculate_non_circulating_supply` computes it: every listed address
//! (whether or not it exists), plus stake accounts whose lockup is in force at the view's Clock
//! or whose withdraw authority is listed.

use {
    super::{
        MethodContext, Methods,
        non_circulating::{NON_CIRCULATING_ACCOUNTS, WITHDRAW_AUTHORITIES},
    },
    crate::{
        bank::BankView,
        rpc::{
            read::{
                commitment,
                scan::{Route, ScanQuery},
                sysvars,
            },
            server::{Params, Reply, RpcError, json, params, registry::PathFuture},
        },
        store::{IndexConfig, IndexKind},
    },
    axum::http::StatusCode,
    solana_pubkey::Pubkey,
    solana_rpc_client_types::{config::RpcSupplyConfig, response::RpcSupply},
    solana_stake_interface::state::StakeStateV2,
    std::{collections::HashSet, ops::ControlFlow, sync::Arc},
};

pub(crate) fn register(methods: &mut Methods) {
    methods.add("getSupply", |c, p| Box::pin(get_supply(c, p)));
    methods.add_path("/v0/circulating-supply", |c| supply_in_sol(c, true));
    methods.add_path("/v0/total-supply", |c| supply_in_sol(c, false));
}

async fn get_supply(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcSupplyConfig>(params)?.unwrap_or_default();
    let inner = ctx.clone();
    ctx.scan(move |state, streamer| {
        let bank = commitment::bank(state, config.commitment)?;
        let indexes = &state.store().config().indexes;
        let non_circulating = non_circulating(&bank, indexes, || streamer.should_stop())?;
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

/// `/v0/circulating-supply` and `/v0/total-supply`: SOL of the rooted view, as text; 404
/// with an empty body when it cannot be computed.
fn supply_in_sol(ctx: Arc<MethodContext>, circulating: bool) -> PathFuture {
    Box::pin(async move {
        let lamports = ctx
            .blocking(move |state| {
                let bank = commitment::bank(state, None)?;
                let total = bank.capitalization();
                if !circulating {
                    return Ok(total);
                }
                let indexes = &state.store().config().indexes;
                let non_circulating = non_circulating(&bank, indexes, || None)?;
                Ok(total.saturating_sub(non_circulating.lamports))
            })
            .await;
        match lamports {
            Ok(lamports) => (StatusCode::OK, sol_text(lamports)),
            Err(_) => (StatusCode::NOT_FOUND, String::new()),
        }
    })
}

/// lamports / 1e9 as f64, nine decimals, trailing zeros and dot trimmed.
fn sol_text(lamports: u64) -> String {
    let text = format!("{:.9}", lamports as f64 / 1_000_000_000.0);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The non-circulating set and its balance.
#[derive(Debug, Default)]
pub(crate) struct NonCirculating {
    pub(crate) lamports: u64,
    /// In pubkey order (Agave's order is a hash set's).
    pub(crate) accounts: Vec<Pubkey>,
}

/// Agave's `calculate_non_circulating_supply` on a view.
pub(crate) fn non_circulating(
    bank: &BankView<'_>,
    indexes: &IndexConfig,
    should_stop: impl Fn() -> Option<RpcError>,
) -> Result<NonCirculating, RpcError> {
    let mut set: HashSet<Pubkey> = NON_CIRCULATING_ACCOUNTS.into_iter().collect();
    let clock = sysvars::clock(bank)?;
    let stake = solana_sdk_ids::stake::ID;
    // The index path reads the program-id index without checking exclusions, as Agave does.
    let query = ScanQuery {
        route: if indexes.is_enabled(IndexKind::ProgramId) {
            Route::Index(IndexKind::ProgramId, stake)
        } else {
            Route::Full
        },
        program: stake,
        filters: Vec::new(),
    };
    let _: ControlFlow<()> = query.for_each(bank, should_stop, |pubkey, account| {
        let state: StakeStateV2 = bincode::deserialize(account.data).unwrap_or_default();
        let meta = match state {
            StakeStateV2::Initialized(meta) | StakeStateV2::Stake(meta, _, _) => meta,
            _ => return ControlFlow::Continue(()),
        };
        if meta.lockup.is_in_force(&clock, None)
            || WITHDRAW_AUTHORITIES.contains(&meta.authorized.withdrawer)
        {
            set.insert(*pubkey);
        }
        ControlFlow::Continue(())
    })?;
    let mut accounts: Vec<Pubkey> = set.into_iter().collect();
    accounts.sort_unstable();
    let mut lamports = 0u64;
    let _: ControlFlow<()> = bank.for_each_of(&accounts, |_, account| {
        lamports = lamports.saturating_add(account.map_or(0, |account| account.lamports));
        ControlFlow::Continue(())
    })?;
    Ok(NonCirculating { lamports, accounts })
}

#[cfg(test)]
mod sol_text_tests {
    use super::*;

    #[test]
    fn supply_text_trims_like_agave() {
        assert_eq!(sol_text(1_000_000_000), "1");
        assert_eq!(sol_text(1_500_000_000), "1.5");
        assert_eq!(sol_text(0), "0");
        assert_eq!(sol_text(1_002_001_000_891_185), "1002001.000891185");
    }
}
