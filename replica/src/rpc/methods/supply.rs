//! Non-circulating supply as Agave's `runtime/src/non_circulating_supply.rs` computes it: the
//! mainnet-beta list, plus stake accounts whose lockup is in force at the view's Clock or whose
//! withdraw authority is one of the autostake authorities.

use {
    super::{MethodContext, Methods},
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
        let non_circulating = non_circulating(&bank, indexes, || streamer.is_cancelled())?;
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
                let non_circulating = non_circulating(&bank, indexes, || false)?;
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

/// Mainnet-beta accounts that count as non-circulating.
const NON_CIRCULATING_ACCOUNTS: [Pubkey; 110] = [
    Pubkey::from_str_const("9huDUZfxoJ7wGMTffUE7vh1xePqef7gyrLJu9NApncqA"),
    Pubkey::from_str_const("GK2zqSsXLA2rwVZk347RYhh6jJpRsCA69FjLW93ZGi3B"),
    Pubkey::from_str_const("CWeRmXme7LmbaUWTZWFLt6FMnpzLCHaQLuR2TdgFn4Lq"),
    Pubkey::from_str_const("HCV5dGFJXRrJ3jhDYA4DCeb9TEDTwGGYXtT3wHksu2Zr"),
    Pubkey::from_str_const("14FUT96s9swbmH7ZjpDvfEDywnAYy9zaNhv4xvezySGu"),
    Pubkey::from_str_const("HbZ5FfmKWNHC7uwk6TF1hVi6TCs7dtYfdjEcuPGgzFAg"),
    Pubkey::from_str_const("C7C8odR8oashR5Feyrq2tJKaXL18id1dSj2zbkDGL2C2"),
    Pubkey::from_str_const("Eyr9P5XsjK2NUKNCnfu39eqpGoiLFgVAv1LSQgMZCwiQ"),
    Pubkey::from_str_const("DE1bawNcRJB9rVm3buyMVfr8mBEoyyu73NBovf2oXJsJ"),
    Pubkey::from_str_const("CakcnaRDHka2gXyfbEd2d3xsvkJkqsLw2akB3zsN1D2S"),
    Pubkey::from_str_const("7Np41oeYqPefeNQEHSv1UDhYrehxin3NStELsSKCT4K2"),
    Pubkey::from_str_const("GdnSyH3YtwcxFvQrVVJMm1JhTS4QVX7MFsX56uJLUfiZ"),
    Pubkey::from_str_const("Mc5XB47H3DKJHym5RLa9mPzWv5snERsF3KNv5AauXK8"),
    Pubkey::from_str_const("7cvkjYAkUYs4W8XcXsca7cBrEGFeSUjeZmKoNBvEwyri"),
    Pubkey::from_str_const("AG3m2bAibcY8raMt4oXEGqRHwX4FWKPPJVjZxn1LySDX"),
    Pubkey::from_str_const("5XdtyEDREHJXXW1CTtCsVjJRjBapAwK78ZquzvnNVRrV"),
    Pubkey::from_str_const("6yKHERk8rsbmJxvMpPuwPs1ct3hRiP7xaJF2tvnGU6nK"),
    Pubkey::from_str_const("CHmdL15akDcJgBkY6BP3hzs98Dqr6wbdDC5p8odvtSbq"),
    Pubkey::from_str_const("FR84wZQy3Y3j2gWz6pgETUiUoJtreMEuWfbg6573UCj9"),
    Pubkey::from_str_const("5q54XjQ7vDx4y6KphPeE97LUNiYGtP55spjvXAWPGBuf"),
    Pubkey::from_str_const("3o6xgkJ9sTmDeQWyfj3sxwon18fXJB9PV5LDc8sfgR4a"),
    Pubkey::from_str_const("GumSE5HsMV5HCwBTv2D2D81yy9x17aDkvobkqAfTRgmo"),
    Pubkey::from_str_const("AzVV9ZZDxTgW4wWfJmsG6ytaHpQGSe1yz76Nyy84VbQF"),
    Pubkey::from_str_const("8CUUMKYNGxdgYio5CLHRHyzMEhhVRMcqefgE6dLqnVRK"),
    Pubkey::from_str_const("CQDYc4ET2mbFhVpgj41gXahL6Exn5ZoPcGAzSHuYxwmE"),
    Pubkey::from_str_const("5PLJZLJiRR9vf7d1JCCg7UuWjtyN9nkab9uok6TqSyuP"),
    Pubkey::from_str_const("7xJ9CLtEAcEShw9kW2gSoZkRWL566Dg12cvgzANJwbTr"),
    Pubkey::from_str_const("BuCEvc9ze8UoAQwwsQLy8d447C8sA4zeVtVpc6m5wQeS"),
    Pubkey::from_str_const("8ndGYFjav6NDXvzYcxs449Aub3AxYv4vYpk89zRDwgj7"),
    Pubkey::from_str_const("8W58E8JVJjH1jCy5CeHJQgvwFXTyAVyesuXRZGbcSUGG"),
    Pubkey::from_str_const("GNiz4Mq886bTNDT3pijGsu2gbw6it7sqrwncro45USeB"),
    Pubkey::from_str_const("GhsotwFMH6XUrRLJCxcx62h7748N2Uq8mf87hUGkmPhg"),
    Pubkey::from_str_const("Fgyh8EeYGZtbW8sS33YmNQnzx54WXPrJ5KWNPkCfWPot"),
    Pubkey::from_str_const("8UVjvYyoqP6sqcctTso3xpCdCfgTMiv3VRh7vraC2eJk"),
    Pubkey::from_str_const("BhvLngiqqKeZ8rpxch2uGjeCiC88zzewoWPRuoxpp1aS"),
    Pubkey::from_str_const("63DtkW7zuARcd185EmHAkfF44bDcC2SiTSEj2spLP3iA"),
    Pubkey::from_str_const("GvpCiTgq9dmEeojCDBivoLoZqc4AkbUDACpqPMwYLWKh"),
    Pubkey::from_str_const("7Y8smnoUrYKGGuDq2uaFKVxJYhojgg7DVixHyAtGTYEV"),
    Pubkey::from_str_const("DUS1KxwUhUyDKB4A81E8vdnTe3hSahd92Abtn9CXsEcj"),
    Pubkey::from_str_const("F9MWFw8cnYVwsRq8Am1PGfFL3cQUZV37mbGoxZftzLjN"),
    Pubkey::from_str_const("8vqrX3H2BYLaXVintse3gorPEM4TgTwTFZNN1Fm9TdYs"),
    Pubkey::from_str_const("CUageMFi49kzoDqtdU8NvQ4Bq3sbtJygjKDAXJ45nmAi"),
    Pubkey::from_str_const("5smrYwb1Hr2T8XMnvsqccTgXxuqQs14iuE8RbHFYf2Cf"),
    Pubkey::from_str_const("xQadXQiUTCCFhfHjvQx1hyJK6KVWr1w2fD6DT3cdwj7"),
    Pubkey::from_str_const("8DE8fqPfv1fp9DHyGyDFFaMjpopMgDeXspzoi9jpBJjC"),
    Pubkey::from_str_const("3itU5ME8L6FDqtMiRoUiT1F7PwbkTtHBbW51YWD5jtjm"),
    Pubkey::from_str_const("AsrYX4FeLXnZcrjcZmrASY2Eq1jvEeQfwxtNTxS5zojA"),
    Pubkey::from_str_const("8rT45mqpuDBR1vcnDc9kwP9DrZAXDR4ZeuKWw3u1gTGa"),
    Pubkey::from_str_const("nGME7HgBT6tAJN1f6YuCCngpqT5cvSTndZUVLjQ4jwA"),
    Pubkey::from_str_const("CzAHrrrHKx9Lxf6wdCMrsZkLvk74c7J2vGv8VYPUmY6v"),
    Pubkey::from_str_const("AzHQ8Bia1grVVbcGyci7wzueSWkgvu7YZVZ4B9rkL5P6"),
    Pubkey::from_str_const("FiWYY85b58zEEcPtxe3PuqzWPjqBJXqdwgZeqSBmT9Cn"),
    Pubkey::from_str_const("GpxpMVhrBBBEYbEJxdR62w3daWz444V7m6dxYDZKH77D"),
    Pubkey::from_str_const("3bTGcGB9F98XxnrBNftmmm48JGfPgi5sYxDEKiCjQYk3"),
    Pubkey::from_str_const("8pNBEppa1VcFAsx4Hzq9CpdXUXZjUXbvQwLX2K7QsCwb"),
    Pubkey::from_str_const("HKJgYGTTYYR2ZkfJKHbn58w676fKueQXmvbtpyvrSM3N"),
    Pubkey::from_str_const("3jnknRabs7G2V9dKhxd2KP85pNWXKXiedYnYxtySnQMs"),
    Pubkey::from_str_const("4sxwau4mdqZ8zEJsfryXq4QFYnMJSCp3HWuZQod8WU5k"),
    Pubkey::from_str_const("Fg12tB1tz8w6zJSQ4ZAGotWoCztdMJF9hqK8R11pakog"),
    Pubkey::from_str_const("GEWSkfWgHkpiLbeKaAnwvqnECGdRNf49at5nFccVey7c"),
    Pubkey::from_str_const("CND6ZjRTzaCFVdX7pSSWgjTfHZuhxqFDoUBqWBJguNoA"),
    Pubkey::from_str_const("2WWb1gRzuXDd5viZLQF7pNRR6Y7UiyeaPpaL35X6j3ve"),
    Pubkey::from_str_const("BUnRE27mYXN9p8H1Ay24GXhJC88q2CuwLoNU2v2CrW4W"),
    Pubkey::from_str_const("CsUqV42gVQLJwQsKyjWHqGkfHarxn9hcY4YeSjgaaeTd"),
    Pubkey::from_str_const("5khMKAcvmsFaAhoKkdg3u5abvKsmjUQNmhTNP624WB1F"),
    Pubkey::from_str_const("GpYnVDgB7dzvwSgsjQFeHznjG6Kt1DLBFYrKxjGU1LuD"),
    Pubkey::from_str_const("DQQGPtj7pphPHCLzzBuEyDDQByUcKGrsJdsH7SP3hAug"),
    Pubkey::from_str_const("FwfaykN7ACnsEUDHANzGHqTGQZMcGnUSsahAHUqbdPrz"),
    Pubkey::from_str_const("JCwT5Ygmq3VeBEbDjL8s8E82Ra2rP9bq45QfZE7Xyaq7"),
    Pubkey::from_str_const("H3Ni7vG1CsmJZdTvxF7RkAf9UM5qk4RsohJsmPvtZNnu"),
    Pubkey::from_str_const("CVgyXrbEd1ctEuvq11QdpnCQVnPit8NLdhyqXQHLprM2"),
    Pubkey::from_str_const("EAJJD6nDqtXcZ4DnQb19F9XEz8y8bRDHxbWbahatZNbL"),
    Pubkey::from_str_const("6o5v1HC7WhBnLfRHp8mQTtCP2khdXXjhuyGyYEoy2Suy"),
    Pubkey::from_str_const("3ZrsTmNM6AkMcqFfv3ryfhQ2jMfqP64RQbqVyAaxqhrQ"),
    Pubkey::from_str_const("6zw7em7uQdmMpuS9fGz8Nq9TLHa5YQhEKKwPjo5PwDK4"),
    Pubkey::from_str_const("CuatS6njAcfkFHnvai7zXCs7syA9bykXWsDCJEWfhjHG"),
    Pubkey::from_str_const("Hz9nydgN1k15wnwffKX7CSmZp4VFTnTwLXAEdomFGNXy"),
    Pubkey::from_str_const("Ep5Y58PaSyALPrdFxDVAdfKtVdP55vApvsWjb3jSmXsG"),
    Pubkey::from_str_const("EziVYi3Sv5kJWxmU77PnbrT8jmkVuqwdiFLLzZpLVEn7"),
    Pubkey::from_str_const("H1rt8KvXkNhQExTRfkY8r9wjZbZ8yCih6J4wQ5Fz9HGP"),
    Pubkey::from_str_const("6nN69B4uZuESZYxr9nrLDjmKRtjDZQXrehwkfQTKw62U"),
    Pubkey::from_str_const("Hm9JW7of5i9dnrboS8pCUCSeoQUPh7JsP1rkbJnW7An4"),
    Pubkey::from_str_const("5D5NxsNVTgXHyVziwV7mDFwVDS6voaBsyyGxUbhQrhNW"),
    Pubkey::from_str_const("EMAY24PrS6rWfvpqffFCsTsFJypeeYYmtUc26wdh3Wup"),
    Pubkey::from_str_const("Br3aeVGapRb2xTq17RU2pYZCoJpWA7bq6TKBCcYtMSmt"),
    Pubkey::from_str_const("BUjkdqUuH5Lz9XzcMcR4DdEMnFG6r8QzUMBm16Rfau96"),
    Pubkey::from_str_const("Es13uD2p64UVPFpEWfDtd6SERdoNR2XVgqBQBZcZSLqW"),
    Pubkey::from_str_const("AVYpwVou2BhdLivAwLxKPALZQsY7aZNkNmGbP2fZw7RU"),
    Pubkey::from_str_const("DrKzW5koKSZp4mg4BdHLwr72MMXscd2kTiWgckCvvPXz"),
    Pubkey::from_str_const("9hknftBZAQL4f48tWfk3bUEV5YSLcYYtDRqNmpNnhCWG"),
    Pubkey::from_str_const("GLUmCeJpXB8veNcchPwibkRYwCwvQbKodex5mEjrgToi"),
    Pubkey::from_str_const("9S2M3UYPpnPZTBtbcUvehYmiWFK3kBhwfzV2iWuwvaVy"),
    Pubkey::from_str_const("HUAkU5psJXZuw54Lrg1ksbXzHv2fzczQ9sNbmisVMeJU"),
    Pubkey::from_str_const("GK8R4uUmrawcREZ5xJy5dAzVV5V7aFvYg77id37pVTK"),
    Pubkey::from_str_const("4vuWt1oHRqLMhf8Nv1zyEXZsYaeK7dipwrfKLoYU9Riq"),
    Pubkey::from_str_const("EMhn1U3TMimW3bvWYbPUvN2eZnCfsuBN4LGWhzzYhiWR"),
    Pubkey::from_str_const("BsKsunvENxAraBrL77UfAn1Gi7unVEmQAdCbhsjUN6tU"),
    Pubkey::from_str_const("CTvhdUVf8KNyMbyEdnvRrBCHJjBKtQwkbj6zwoqcEssG"),
    Pubkey::from_str_const("3fV2GaDKa3pZxyDcpMh5Vrh2FVAMUiWUKbYmnBFv8As3"),
    Pubkey::from_str_const("4pV47TiPzZ7SSBPHmgUvSLmH9mMSe8tjyPhQZGbi1zPC"),
    Pubkey::from_str_const("P8aKfWQPeRnsZtpBrwWTYzyAoRk74KMz56xc6NEpC4J"),
    Pubkey::from_str_const("HuqDWJodFhAEWh6aWdsDVUqsjRket5DYXMYyDYtD8hdN"),
    Pubkey::from_str_const("Ab1UcdsFXZVnkSt1Z3vcYU65GQk5MvCbs54SviaiaqHb"),
    Pubkey::from_str_const("Dc2oHxFXQaC2QfLStuU7txtD3U5HZ82MrCSGDooWjbsv"),
    Pubkey::from_str_const("3iPvAS4xdhYr6SkhVDHCLr7tJjMAFK4wvvHWJxFQVg15"),
    Pubkey::from_str_const("GmyW1nqYcrw7P7JqrcyP9ivU9hYNbrgZ1r5SYJJH41Fs"),
    Pubkey::from_str_const("E8jcgWvrvV7rwYHJThwfiBeQ8VAH4FgNEEMG9aAuCMAq"),
    Pubkey::from_str_const("CY7X5o3Wi2eQhTocLmUS6JSWyx1NinBfW7AXRrkRCpi8"),
    Pubkey::from_str_const("HQJtLqvEGGxgNYfRXUurfxV8E1swvCnsbC3456ik27HY"),
    Pubkey::from_str_const("9xbcBZoGYFnfJZe81EDuDYKUm8xGkjzW8z4EgnVhNvsv"),
];

/// Withdraw authorities of the autostaked mainnet-beta accounts.
const WITHDRAW_AUTHORITIES: [Pubkey; 10] = [
    Pubkey::from_str_const("8CUUMKYNGxdgYio5CLHRHyzMEhhVRMcqefgE6dLqnVRK"),
    Pubkey::from_str_const("3FFaheyqtyAXZSYxDzsr5CVKvJuvZD1WE1VEsBtDbRqB"),
    Pubkey::from_str_const("FdGYQdiRky8NZzN9wZtczTBcWLYYRXrJ3LMDhqDPn5rM"),
    Pubkey::from_str_const("4e6KwQpyzGQPfgVr5Jn3g5jLjbXB4pKPa2jRLohEb1QA"),
    Pubkey::from_str_const("FjiEiVKyMGzSLpqoB27QypukUfyWHrwzPcGNtopzZVdh"),
    Pubkey::from_str_const("DwbVjia1mYeSGoJipzhaf4L5hfer2DJ1Ys681VzQm5YY"),
    Pubkey::from_str_const("GeMGyvsTEsANVvcT5cme65Xq5MVU8fVVzMQ13KAZFNS2"),
    Pubkey::from_str_const("Bj3aQ2oFnZYfNR1njzRjmWizzuhvfcYLckh76cqsbuBM"),
    Pubkey::from_str_const("4ZJhPQAgUseCsWhKvJLTmmRRUV74fdoTpQLNfKoekbPY"),
    Pubkey::from_str_const("HXdYQ5gixrY2H6Y9gqsD8kPM2JQKSaRiohDQtLbZkRWE"),
];

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
    is_cancelled: impl Fn() -> bool,
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
    let _: ControlFlow<()> = query.for_each(bank, is_cancelled, |pubkey, account| {
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
