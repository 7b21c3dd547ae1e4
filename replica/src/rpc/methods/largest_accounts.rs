//! getLargestAccounts: a full scan keeping the 20 largest balances (ties to the higher pubkey),
//! cached for two hours per filter value as Agave's `LargestAccountsCache` does.

use {
    super::{MethodContext, Methods, supply},
    crate::{
        bank::BankView,
        rpc::{
            read::commitment,
            server::{Params, Reply, RpcError, json, params},
        },
        store::IndexConfig,
    },
    solana_pubkey::Pubkey,
    solana_rpc_client_types::{
        config::{RpcLargestAccountsConfig, RpcLargestAccountsFilter},
        request::NUM_LARGEST_ACCOUNTS,
        response::RpcAccountBalance,
    },
    std::{
        cmp::Reverse,
        collections::{BinaryHeap, HashMap, HashSet},
        ops::ControlFlow,
        sync::{Arc, Mutex},
        time::{Duration, Instant},
    },
};

pub(crate) fn register(methods: &mut Methods) {
    methods.add("getLargestAccounts", |c, p| {
        Box::pin(get_largest_accounts(c, p))
    });
}

async fn get_largest_accounts(ctx: Arc<MethodContext>, params: Params) -> Result<Reply, RpcError> {
    let config = params::optional::<RpcLargestAccountsConfig>(params)?.unwrap_or_default();
    let filter = config.filter;
    let inner = ctx.clone();
    ctx.scan(move |state, streamer| {
        let now = Instant::now();
        let (slot, accounts) = match inner.largest_accounts.get(&filter, now) {
            Some(cached) => cached,
            None => {
                let bank = commitment::bank(state, config.commitment)?;
                let indexes = &state.store().config().indexes;
                let accounts =
                    largest_accounts(&bank, indexes, &filter, || streamer.should_stop())?;
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

/// Agave's `LARGEST_ACCOUNTS_CACHE_DURATION`.
const CACHE_DURATION: Duration = Duration::from_secs(2 * 60 * 60);

type Filter = Option<RpcLargestAccountsFilter>;

#[derive(Debug, Clone)]
struct Cached {
    computed: Instant,
    slot: u64,
    accounts: Vec<(Pubkey, u64)>,
}

/// Results per filter value with the slot they were computed at.
#[derive(Debug, Default)]
pub(crate) struct LargestAccountsCache {
    entries: Mutex<HashMap<Filter, Cached>>,
}

impl LargestAccountsCache {
    pub(crate) fn get(&self, filter: &Filter, now: Instant) -> Option<(u64, Vec<(Pubkey, u64)>)> {
        let entries = self.entries.lock().expect("largest accounts cache lock");
        entries
            .get(filter)
            .filter(|cached| now.saturating_duration_since(cached.computed) < CACHE_DURATION)
            .map(|cached| (cached.slot, cached.accounts.clone()))
    }

    pub(crate) fn set(
        &self,
        filter: Filter,
        now: Instant,
        slot: u64,
        accounts: Vec<(Pubkey, u64)>,
    ) {
        self.entries
            .lock()
            .expect("largest accounts cache lock")
            .insert(
                filter,
                Cached {
                    computed: now,
                    slot,
                    accounts,
                },
            );
    }
}

/// The largest non-zero balances on `bank`, largest first.
pub(crate) fn largest_accounts(
    bank: &BankView<'_>,
    indexes: &IndexConfig,
    filter: &Filter,
    should_stop: impl Fn() -> Option<RpcError> + Copy,
) -> Result<Vec<(Pubkey, u64)>, RpcError> {
    let (addresses, include) = match filter {
        Some(filter) => {
            let set: HashSet<Pubkey> = supply::non_circulating(bank, indexes, should_stop)?
                .accounts
                .into_iter()
                .collect();
            (set, *filter == RpcLargestAccountsFilter::NonCirculating)
        }
        None => (HashSet::new(), false),
    };
    let mut heap: BinaryHeap<Reverse<(u64, Pubkey)>> =
        BinaryHeap::with_capacity(NUM_LARGEST_ACCOUNTS + 1);
    let mut visited = 0u32;
    let mut stopped = None;
    let _: ControlFlow<()> = bank.scan(|pubkey, account| {
        visited = visited.wrapping_add(1);
        if visited.is_multiple_of(4096)
            && let Some(error) = should_stop()
        {
            stopped = Some(error);
            return ControlFlow::Break(());
        }
        if account.lamports == 0 || addresses.contains(pubkey) != include {
            return ControlFlow::Continue(());
        }
        let entry = (account.lamports, *pubkey);
        if heap.len() == NUM_LARGEST_ACCOUNTS {
            let Some(Reverse(smallest)) = heap.peek() else {
                return ControlFlow::Continue(());
            };
            if *smallest >= entry {
                return ControlFlow::Continue(());
            }
            heap.pop();
        }
        heap.push(Reverse(entry));
        ControlFlow::Continue(())
    })?;
    if let Some(error) = stopped {
        return Err(error);
    }
    Ok(heap
        .into_sorted_vec()
        .into_iter()
        .map(|Reverse((lamports, pubkey))| (pubkey, lamports))
        .collect())
}
