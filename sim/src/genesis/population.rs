//! The bulk accounts of `--accounts`: system wallets, mints with their holders' token accounts
//! (SPL Token and Token-2022; a few mints hold most accounts, as on mainnet), DEX-like pools (a
//! state account of the simulator's program and a vault per side) and program-owned data
//! accounts, with the indexes the mainnet-like workload picks from in constant time.

use {
    super::{LAMPORTS_PER_SOL, MintInfo, TokenAccountInfo, TokenProgram, derive_hash, derive_key},
    crate::{
        layout::{self, TokenAccountFields, ids},
        state::SimAccount,
    },
    rand::{Rng, SeedableRng},
    rand_chacha::ChaCha8Rng,
    replication_proto::Pubkey,
    solana_sysvar::rent::Rent,
};

/// The fewest accounts `--accounts` takes: room for every kind of account.
pub const MIN_ACCOUNTS: usize = 1_000;

/// Mints that most pools quote against (as USDC, SOL and USDT are on mainnet).
const QUOTE_MINTS: usize = 4;

/// A DEX-like pool: a state account of the simulator's program and one vault per side.
#[derive(Clone, Copy, Debug)]
pub struct Pool {
    /// The pool's state ([`PoolState`]).
    pub state: Pubkey,
    /// The two sides' mints, indexes into [`Population::mints`].
    pub mints: [usize; 2],
    /// The token accounts holding each side's reserve.
    pub vaults: [Pubkey; 2],
}

/// What a pool's state account holds: its sides, reserves and the swaps it executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolState {
    /// Both mints.
    pub mints: [Pubkey; 2],
    /// Both vaults.
    pub vaults: [Pubkey; 2],
    /// Both vaults' balances.
    pub reserves: [u64; 2],
    /// Swaps executed.
    pub swaps: u64,
}

impl PoolState {
    /// Encoded length: mints, vaults, reserves, swaps.
    pub const LEN: usize = 4 * 32 + 3 * 8;

    /// The account data.
    pub fn encode(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(Self::LEN);
        for key in self.mints.iter().chain(&self.vaults) {
            data.extend_from_slice(key.as_ref());
        }
        for value in [self.reserves[0], self.reserves[1], self.swaps] {
            data.extend_from_slice(&value.to_le_bytes());
        }
        data
    }

    /// Reads account data written by [`encode`](Self::encode).
    pub fn decode(data: &[u8]) -> Option<Self> {
        if data.len() != Self::LEN {
            return None;
        }
        let key = |i: usize| Pubkey::try_from(&data[i * 32..(i + 1) * 32]).ok();
        let value = |i: usize| {
            let at = 128 + i * 8;
            data[at..at + 8].try_into().ok().map(u64::from_le_bytes)
        };
        Some(Self {
            mints: [key(0)?, key(1)?],
            vaults: [key(2)?, key(3)?],
            reserves: [value(0)?, value(1)?],
            swaps: value(2)?,
        })
    }
}

/// The bulk accounts' addresses, grouped for the workload. Append-only, as the registry is: an
/// account opened on a fork that died stays listed; the workload checks before using one.
#[derive(Clone, Debug, Default)]
pub struct Population {
    /// System wallets: fee payers, token holders, mint authorities.
    pub wallets: Vec<Pubkey>,
    /// Mints.
    pub mints: Vec<MintInfo>,
    /// Holders' token accounts (pool vaults excluded).
    pub token_accounts: Vec<TokenAccountInfo>,
    /// Per mint, indexes into `token_accounts` of its holders' accounts.
    pub holders_by_mint: Vec<Vec<u32>>,
    /// Pools.
    pub pools: Vec<Pool>,
    /// Per mint, indexes into `pools` of the pools trading it.
    pub pools_by_mint: Vec<Vec<u32>>,
    /// Program-owned data accounts (pool states excluded).
    pub data_accounts: Vec<Pubkey>,
}

impl Population {
    /// Lists a holder's token account of `mint`.
    pub fn add_token_account(&mut self, key: Pubkey, mint: usize) {
        let index = u32::try_from(self.token_accounts.len()).expect("fewer than 2^32 accounts");
        self.token_accounts.push(TokenAccountInfo { key, mint });
        self.holders_by_mint[mint].push(index);
    }
}

/// How `--accounts n` splits into kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shares {
    wallets: usize,
    mints: usize,
    pools: usize,
    /// Holders' token accounts.
    holders: usize,
    /// Program-owned data accounts besides pool states.
    data: usize,
}

impl Shares {
    /// ~30 % wallets, ~60 % token accounts with their mints and pool vaults, ~10 % program
    /// data (pool states included): one mint per thousand accounts, one pool per hundred.
    fn of(accounts: usize) -> Self {
        let accounts = accounts.max(MIN_ACCOUNTS);
        let wallets = accounts * 3 / 10;
        let program_owned = accounts / 10;
        let pools = accounts / 100;
        let mints = (accounts / 1_000).max(QUOTE_MINTS + 2);
        Self {
            wallets,
            mints,
            pools,
            holders: accounts - wallets - program_owned - mints - 2 * pools,
            data: program_owned - pools,
        }
    }
}

/// Holders per mint: shares falling as 1/(rank+1) (a few mints hold most accounts), at least
/// two each so every mint can trade.
fn holders_per_mint(holders: usize, mints: usize) -> Vec<usize> {
    let harmonic: f64 = (1..=mints).map(|rank| 1.0 / rank as f64).sum();
    let spread = holders.saturating_sub(2 * mints);
    let mut counts: Vec<usize> = (0..mints)
        .map(|rank| 2 + (spread as f64 / ((rank + 1) as f64 * harmonic)) as usize)
        .collect();
    let assigned: usize = counts.iter().sum();
    counts[0] += holders.saturating_sub(assigned);
    counts
}

fn token_account_data(program: TokenProgram, fields: &TokenAccountFields, index: usize) -> Vec<u8> {
    match program {
        TokenProgram::Token => layout::token_account(fields),
        // Half of them with ImmutableOwner, as the associated token account program makes them.
        TokenProgram::Token2022 => layout::token_2022_account(fields, index.is_multiple_of(2)),
    }
}

/// Builds `accounts` bulk accounts (at least [`MIN_ACCOUNTS`]) owned, where a program owns
/// them, by the token programs and `program`; deterministic from `seed`.
pub fn build(
    seed: u64,
    accounts: usize,
    program: Pubkey,
    rent: &Rent,
) -> (Population, Vec<(Pubkey, SimAccount)>) {
    let shares = Shares::of(accounts);
    let mut rng = ChaCha8Rng::from_seed(derive_hash(seed, "population", 0, 0).to_bytes());
    let key = |label: &str, index: usize| derive_key(seed, label, index as u64);
    let mut out = Vec::with_capacity(accounts.max(MIN_ACCOUNTS));
    let mut population = Population {
        wallets: (0..shares.wallets).map(|i| key("bulk-wallet", i)).collect(),
        holders_by_mint: vec![Vec::new(); shares.mints],
        pools_by_mint: vec![Vec::new(); shares.mints],
        ..Population::default()
    };
    for wallet in &population.wallets {
        let lamports = rng.random_range(LAMPORTS_PER_SOL..=100 * LAMPORTS_PER_SOL);
        out.push((
            *wallet,
            SimAccount::new(lamports, ids::system_program::ID, Vec::new()),
        ));
    }

    let token_rent = rent.minimum_balance(layout::TOKEN_ACCOUNT_LEN);
    let holders = holders_per_mint(shares.holders, shares.mints);
    let mut supplies = vec![0u64; shares.mints];
    for (mint, count) in holders.iter().enumerate() {
        let program = if mint % 3 == 2 {
            TokenProgram::Token2022
        } else {
            TokenProgram::Token
        };
        let info = MintInfo {
            key: key("bulk-mint", mint),
            program,
            authority: population.wallets[mint % population.wallets.len()],
        };
        population.mints.push(info);
        for _ in 0..*count {
            let index = population.token_accounts.len();
            let account = key("bulk-token-account", index);
            let owner = population.wallets[rng.random_range(0..population.wallets.len())];
            let amount = rng.random_range(10_000..=10_000_000_000u64);
            supplies[mint] += amount;
            let data = token_account_data(
                program,
                &TokenAccountFields::new(info.key, owner, amount),
                index,
            );
            out.push((
                account,
                SimAccount::new(rent.minimum_balance(data.len()), program.id(), data),
            ));
            population.add_token_account(account, mint);
        }
    }

    let program_rent = |len: usize| rent.minimum_balance(len);
    for p in 0..shares.pools {
        let quote = p % QUOTE_MINTS;
        let mut other = (QUOTE_MINTS + p / QUOTE_MINTS) % shares.mints;
        if other == quote {
            other = (quote + 1) % shares.mints;
        }
        let pool = Pool {
            state: key("bulk-pool", p),
            mints: [quote, other],
            vaults: [key("bulk-vault", 2 * p), key("bulk-vault", 2 * p + 1)],
        };
        let authority = key("bulk-pool-authority", p);
        let reserves: [u64; 2] =
            std::array::from_fn(|_| rng.random_range(1_000_000_000_000..=100_000_000_000_000));
        for ((mint, vault), reserve) in pool.mints.into_iter().zip(pool.vaults).zip(reserves) {
            supplies[mint] += reserve;
            let info = population.mints[mint];
            let fields = TokenAccountFields::new(info.key, authority, reserve);
            out.push((
                vault,
                SimAccount::new(
                    token_rent,
                    info.program.id(),
                    layout::token_account(&fields),
                ),
            ));
            population.pools_by_mint[mint].push(p as u32);
        }
        let state = PoolState {
            mints: pool.mints.map(|mint| population.mints[mint].key),
            vaults: pool.vaults,
            reserves,
            swaps: 0,
        };
        out.push((
            pool.state,
            SimAccount::new(program_rent(PoolState::LEN), program, state.encode()),
        ));
        population.pools.push(pool);
    }

    for (mint, info) in population.mints.iter().enumerate() {
        let decimals = [6, 9, 6, 0, 8][mint % 5];
        let data = match info.program {
            TokenProgram::Token => {
                layout::token_mint(decimals, supplies[mint], Some(info.authority))
            }
            TokenProgram::Token2022 => {
                layout::token_2022_mint(decimals, supplies[mint], Some(info.authority), &[])
            }
        };
        out.push((
            info.key,
            SimAccount::new(rent.minimum_balance(data.len()), info.program.id(), data),
        ));
    }

    for i in 0..shares.data {
        let account = key("bulk-data", i);
        let mut data = vec![0u8; 64 + (i % 8) * 32];
        rng.fill(&mut data[..]);
        out.push((
            account,
            SimAccount::new(program_rent(data.len()), program, data),
        ));
        population.data_accounts.push(account);
    }
    (population, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_accounts_asked_for() {
        for accounts in [MIN_ACCOUNTS, 20_000, 1_000_000] {
            let shares = Shares::of(accounts);
            let total = shares.wallets
                + shares.mints
                + 2 * shares.pools
                + shares.holders
                + shares.pools
                + shares.data;
            assert_eq!(total, accounts);
            let counts = holders_per_mint(shares.holders, shares.mints);
            assert_eq!(counts.iter().sum::<usize>(), shares.holders);
            assert!(counts.iter().all(|&count| count >= 2));
            assert!(counts[0] > counts[shares.mints - 1]);
        }
    }

    #[test]
    fn pool_state_round_trips() {
        let state = PoolState {
            mints: [Pubkey::new_unique(), Pubkey::new_unique()],
            vaults: [Pubkey::new_unique(), Pubkey::new_unique()],
            reserves: [5, 7],
            swaps: 3,
        };
        let data = state.encode();
        assert_eq!(data.len(), PoolState::LEN);
        assert_eq!(PoolState::decode(&data), Some(state));
    }
}
