//! The mainnet-like transactions of `--accounts`: random picks over the bulk accounts, in
//! constant time through the population's indexes, so each transaction writes mostly accounts
//! no other transaction of its bank writes: token transfers (source, destination, fee payer),
//! swaps through one or two pools (payer, the user's two token accounts, each pool's state and
//! vaults), SOL transfers, program calls writing three data accounts, mints, and new token
//! accounts funded from another.

use {
    super::Exec,
    crate::{
        genesis::{
            Population, TokenAccountInfo,
            population::{Pool, PoolState},
        },
        layout::{self, TokenAccountFields},
    },
    rand::Rng,
    replication_proto::Pubkey,
};

/// Picks before a transaction gives up: a listed account may not exist on this chain (opened
/// on a fork that died) or hold nothing to send.
const PICK_TRIES: usize = 4;

/// Data accounts a program call writes.
const PROGRAM_CALL_ACCOUNTS: usize = 3;

/// The population of an [`Exec`] running the bulk workload (borrowing that field alone).
fn bulk<'p>(population: &'p Option<&mut Population>) -> &'p Population {
    population
        .as_deref()
        .expect("the bulk workload runs with a population")
}

impl Exec<'_, '_> {
    /// `count` random transactions over the bulk accounts.
    pub(crate) fn bulk_transactions(&mut self, count: usize) {
        for _ in 0..count {
            match self.rng.random_range(0..100u32) {
                0..30 => self.bulk_token_transfer(),
                30..55 => self.swap(1),
                55..70 => self.swap(2),
                70..80 => self.bulk_sol_transfer(),
                80..90 => self.program_call(),
                90..95 => self.bulk_mint_to(),
                _ => self.open_token_account(),
            }
        }
    }

    fn token_fields(&self, key: &Pubkey) -> Option<TokenAccountFields> {
        layout::read_token_account(&self.bank.get(key)?.data)
    }

    /// A holder's token account that exists (and, if `funded`, holds something), of `mint` or
    /// of any mint, other than `except`.
    fn pick_holder(
        &mut self,
        mint: Option<usize>,
        funded: bool,
        except: Option<Pubkey>,
    ) -> Option<(TokenAccountInfo, TokenAccountFields)> {
        for _ in 0..PICK_TRIES {
            let population = self.population.as_deref()?;
            let info = match mint {
                None => {
                    let accounts = &population.token_accounts;
                    accounts[self.rng.random_range(0..accounts.len())]
                }
                Some(mint) => {
                    let holders = &population.holders_by_mint[mint];
                    population.token_accounts
                        [holders[self.rng.random_range(0..holders.len())] as usize]
                }
            };
            if except == Some(info.key) {
                continue;
            }
            if let Some(fields) = self.token_fields(&info.key)
                && (!funded || fields.amount > 0)
            {
                return Some((info, fields));
            }
        }
        None
    }

    /// A wallet that can pay fees.
    fn pick_bulk_wallet(&mut self) -> Option<Pubkey> {
        for _ in 0..PICK_TRIES {
            let wallets = &bulk(&self.population).wallets;
            let wallet = wallets[self.rng.random_range(0..wallets.len())];
            if self.is_wallet(&wallet) {
                return Some(wallet);
            }
        }
        None
    }

    /// The signer pays when it can, as wallets do; otherwise some other wallet.
    fn payer_for(&mut self, signer: Pubkey) -> Option<Pubkey> {
        if self.is_wallet(&signer) {
            Some(signer)
        } else {
            self.pick_bulk_wallet()
        }
    }

    fn bulk_token_transfer(&mut self) {
        let Some((source, mut from)) = self.pick_holder(None, true, None) else {
            return;
        };
        let Some((dest, mut to)) = self.pick_holder(Some(source.mint), false, Some(source.key))
        else {
            return;
        };
        let Some(payer) = self.payer_for(from.owner) else {
            return;
        };
        if !self.pay_fee(payer) {
            return;
        }
        let amount = self.rng.random_range(1..=from.amount.div_ceil(2));
        from.amount -= amount;
        to.amount += amount;
        self.set_token(source.key, &from);
        self.set_token(dest.key, &to);
    }

    /// A route of `hops` pools (fewer when the first pool's other mint trades nowhere else):
    /// each pool and the side its input comes in on.
    fn pick_route(&mut self, hops: usize) -> Vec<(Pool, usize)> {
        let population = bulk(&self.population);
        let first = population.pools[self.rng.random_range(0..population.pools.len())];
        let side = self.rng.random_range(0..2usize);
        let mut route = vec![(first, side)];
        while route.len() < hops {
            let (last, side) = route[route.len() - 1];
            let mint = last.mints[1 - side];
            let population = bulk(&self.population);
            let candidates = &population.pools_by_mint[mint];
            let next =
                population.pools[candidates[self.rng.random_range(0..candidates.len())] as usize];
            if route.iter().any(|(pool, _)| pool.state == next.state) {
                break;
            }
            let next_side = usize::from(next.mints[1] == mint);
            route.push((next, next_side));
        }
        route
    }

    /// Swaps along a route, constant-product pricing at each pool: the user's input account,
    /// each pool's vaults and state, the user's output account, the payer.
    fn swap(&mut self, hops: usize) {
        let route = self.pick_route(hops);
        let (first, first_side) = route[0];
        let (last, last_side) = route[route.len() - 1];
        let Some((user_in, mut from)) = self.pick_holder(Some(first.mints[first_side]), true, None)
        else {
            return;
        };
        let Some((user_out, mut to)) =
            self.pick_holder(Some(last.mints[1 - last_side]), false, Some(user_in.key))
        else {
            return;
        };
        let mut legs = Vec::with_capacity(route.len());
        for (pool, side) in &route {
            let state = self
                .bank
                .get(&pool.state)
                .and_then(|account| PoolState::decode(&account.data));
            let vaults = [
                self.token_fields(&pool.vaults[0]),
                self.token_fields(&pool.vaults[1]),
            ];
            let (Some(state), [Some(vault_0), Some(vault_1)]) = (state, vaults) else {
                return;
            };
            legs.push((*pool, *side, state, [vault_0, vault_1]));
        }
        let Some(payer) = self.payer_for(from.owner) else {
            return;
        };
        if !self.pay_fee(payer) {
            return;
        }
        let mut amount = self.rng.random_range(1..=from.amount.div_ceil(4));
        from.amount -= amount;
        self.set_token(user_in.key, &from);
        for (pool, side, mut state, mut vaults) in legs {
            let (input, output) = (side, 1 - side);
            let out = (u128::from(vaults[output].amount) * u128::from(amount)
                / (u128::from(vaults[input].amount) + u128::from(amount)))
                as u64;
            vaults[input].amount += amount;
            vaults[output].amount -= out;
            state.reserves = [vaults[0].amount, vaults[1].amount];
            state.swaps += 1;
            self.set_token(pool.vaults[0], &vaults[0]);
            self.set_token(pool.vaults[1], &vaults[1]);
            let data = state.encode();
            self.update(pool.state, |account| account.data = data);
            amount = out;
        }
        to.amount += amount;
        self.set_token(user_out.key, &to);
    }

    fn bulk_sol_transfer(&mut self) {
        let (from, to) = (self.pick_bulk_wallet(), self.pick_bulk_wallet());
        self.transfer_lamports(from, to);
    }

    /// A call of the simulator's program that records the slot and a value in data accounts.
    fn program_call(&mut self) {
        let Some(payer) = self.pick_bulk_wallet() else {
            return;
        };
        if !self.pay_fee(payer) {
            return;
        }
        let slot = self.ctx.slot;
        for _ in 0..PROGRAM_CALL_ACCOUNTS {
            let accounts = &bulk(&self.population).data_accounts;
            let account = accounts[self.rng.random_range(0..accounts.len())];
            let value: u64 = self.rng.random();
            self.update(account, |a| {
                a.data[..8].copy_from_slice(&slot.to_le_bytes());
                a.data[8..16].copy_from_slice(&value.to_le_bytes());
            });
        }
    }

    fn bulk_mint_to(&mut self) {
        let mints = &bulk(&self.population).mints;
        let index = self.rng.random_range(0..mints.len());
        let mint = mints[index];
        let Some(base) = self.mint_state(&mint.key) else {
            return;
        };
        let Some((holder, fields)) = self.pick_holder(Some(index), false, None) else {
            return;
        };
        if !self.pay_fee(mint.authority) {
            return;
        }
        let amount = self.rng.random_range(1..=1_000_000_000u64);
        self.mint_into(mint.key, base, holder.key, fields, amount);
    }

    /// A wallet opens a token account (its associated one) and receives tokens into it.
    fn open_token_account(&mut self) {
        let Some(owner) = self.pick_bulk_wallet() else {
            return;
        };
        let Some((source, mut from)) = self.pick_holder(None, true, None) else {
            return;
        };
        let program = bulk(&self.population).mints[source.mint].program;
        let amount = self.rng.random_range(1..=from.amount.div_ceil(2));
        let fields = TokenAccountFields::new(from.mint, owner, amount);
        let Some(key) = self.new_token_account(owner, &fields, program, "bulk-token-account")
        else {
            return;
        };
        from.amount -= amount;
        self.set_token(source.key, &from);
        if let Some(population) = self.population.as_deref_mut() {
            population.add_token_account(key, source.mint);
        }
    }
}
