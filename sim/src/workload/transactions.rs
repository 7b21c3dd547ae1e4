//! The simulated transactions: each reads the bank's current view, charges its fee payer, and
//! writes the accounts it changes (several writes of one account in a slot are normal).

use {
    super::{Exec, MIN_PAYER_BALANCE},
    crate::{
        genesis::{LAMPORTS_PER_SIGNATURE, LAMPORTS_PER_SOL, TokenAccountInfo, TokenProgram},
        layout::{self, StakeFields, TokenAccountFields, ids},
        state::SimAccount,
    },
    rand::{Rng, seq::IndexedRandom},
    replication_proto::Pubkey,
};

impl Exec<'_, '_> {
    /// `count` random transactions.
    pub(crate) fn transactions(&mut self, count: usize) {
        for _ in 0..count {
            match self.rng.random_range(0..100u32) {
                0..20 => self.token_transfer(TokenProgram::Token),
                20..36 => self.token_transfer(TokenProgram::Token2022),
                36..46 => self.sol_transfer(),
                46..52 => self.create_token_account(),
                52..58 => self.close_token_account(),
                58..62 => self.create_wallet(),
                62..65 => self.close_wallet(),
                65..68 => self.assign_to_program(),
                68..71 => self.change_token_owner(),
                71..75 => self.approve_or_revoke(),
                75..79 => self.mint_to(),
                79..82 => self.wrap_sol(),
                82..88 => self.stake_update(),
                88..91 => self.advance_nonce(),
                91..93 => self.extend_lookup_table(),
                _ => self.token_transfer(TokenProgram::Token),
            }
        }
    }

    fn token(&self, info: &TokenAccountInfo) -> Option<(TokenAccountFields, SimAccount)> {
        let account = self.bank.get(&info.key)?;
        let fields = layout::read_token_account(&account.data)?;
        Some((fields, account.clone()))
    }

    fn pick_token(&mut self, program: Option<TokenProgram>) -> Option<TokenAccountInfo> {
        for _ in 0..8 {
            let info = *self.registry.token_accounts.choose(self.rng)?;
            let mint_program = self.registry.mints[info.mint].program;
            if program.is_some_and(|p| p != mint_program) {
                continue;
            }
            if let Some((fields, _)) = self.token(&info)
                && !fields.frozen
                && fields.native_reserve.is_none()
            {
                return Some(info);
            }
        }
        None
    }

    pub(super) fn set_token(&mut self, key: Pubkey, fields: &TokenAccountFields) {
        self.update(key, |a| layout::write_token_account(&mut a.data, fields));
    }

    fn token_transfer(&mut self, program: TokenProgram) {
        let Some(source) = self.pick_token(Some(program)) else {
            return;
        };
        let Some((mut from, _)) = self.token(&source) else {
            return;
        };
        if from.amount == 0 {
            return;
        }
        let candidates: Vec<TokenAccountInfo> = self
            .registry
            .token_accounts
            .iter()
            .filter(|t| t.mint == source.mint && t.key != source.key)
            .copied()
            .collect();
        let Some(dest) = candidates.choose(self.rng).copied() else {
            return;
        };
        let Some((mut to, _)) = self.token(&dest) else {
            return;
        };
        if to.frozen {
            return;
        }
        let amount = self.rng.random_range(1..=from.amount.div_ceil(2));
        // Through the delegate when it may spend that much, else by the owner.
        let signer = match from.delegate {
            Some((delegate, allowed)) if allowed >= amount && self.rng.random_bool(0.5) => {
                from.delegate = (allowed > amount).then_some((delegate, allowed - amount));
                delegate
            }
            _ => from.owner,
        };
        let payer = if self.is_wallet(&signer) {
            signer
        } else {
            match self.pick_wallet() {
                Some(p) => p,
                None => return,
            }
        };
        if !self.pay_fee(payer) {
            return;
        }
        from.amount -= amount;
        to.amount += amount;
        self.set_token(source.key, &from);
        self.set_token(dest.key, &to);
    }

    fn sol_transfer(&mut self) {
        let (from, to) = (self.pick_wallet(), self.pick_wallet());
        self.transfer_lamports(from, to);
    }

    /// Up to a twentieth of `from`'s balance to `to`, `from` paying the fee.
    pub(super) fn transfer_lamports(&mut self, from: Option<Pubkey>, to: Option<Pubkey>) {
        let (Some(from), Some(to)) = (from, to) else {
            return;
        };
        if from == to || !self.pay_fee(from) {
            return;
        }
        let balance = self.bank.get(&from).map_or(0, |a| a.lamports);
        let amount = self.rng.random_range(1..=balance / 20);
        self.update(from, |a| a.lamports -= amount);
        self.update(to, |a| a.lamports += amount);
    }

    fn create_token_account(&mut self) {
        let Some(payer) = self.pick_wallet() else {
            return;
        };
        let Some(owner) = self.pick_wallet() else {
            return;
        };
        let mint = self.rng.random_range(0..self.registry.mints.len());
        let info = self.registry.mints[mint];
        let fields = TokenAccountFields::new(info.key, owner, 0);
        let Some(key) = self.new_token_account(payer, &fields, info.program, "token-account")
        else {
            return;
        };
        self.registry
            .token_accounts
            .push(TokenAccountInfo { key, mint });
    }

    /// A rent-exempt token account holding `fields`, paid for by `payer` (who also pays the fee),
    /// under a new key derived from `label`; `None` when the payer cannot afford it.
    pub(super) fn new_token_account(
        &mut self,
        payer: Pubkey,
        fields: &TokenAccountFields,
        program: TokenProgram,
        label: &str,
    ) -> Option<Pubkey> {
        let data = match program {
            TokenProgram::Token => layout::token_account(fields),
            TokenProgram::Token2022 => layout::token_2022_account(fields, true),
        };
        let lamports = self.rent.minimum_balance(data.len());
        if self
            .bank
            .get(&payer)
            .is_none_or(|a| a.lamports < lamports + MIN_PAYER_BALANCE)
            || !self.pay_fee(payer)
        {
            return None;
        }
        let key = self.new_key(label);
        self.update(payer, |a| a.lamports -= lamports);
        self.bank
            .set(key, SimAccount::new(lamports, program.id(), data));
        Some(key)
    }

    fn close_token_account(&mut self) {
        let Some(info) = self.pick_token(None) else {
            return;
        };
        if self.registry.protected.contains(&info.key) {
            return;
        }
        let Some((mut fields, account)) = self.token(&info) else {
            return;
        };
        let owner = fields.owner;
        let payer = if self.is_wallet(&owner) {
            owner
        } else {
            match self.pick_wallet() {
                Some(p) => p,
                None => return,
            }
        };
        if fields.amount > 0 {
            // Empty it first (into another account of the mint), as a wallet would.
            let dest = self
                .registry
                .token_accounts
                .iter()
                .find(|t| {
                    t.mint == info.mint
                        && t.key != info.key
                        && self.token(t).is_some_and(|(f, _)| !f.frozen)
                })
                .copied();
            let Some(dest) = dest else { return };
            let Some((mut to, _)) = self.token(&dest) else {
                return;
            };
            to.amount += fields.amount;
            fields.amount = 0;
            fields.delegate = None;
            self.set_token(dest.key, &to);
            self.set_token(info.key, &fields);
        }
        if !self.pay_fee(payer) {
            return;
        }
        let refund = account.lamports;
        self.update(payer, |a| a.lamports += refund);
        // Closed: zero lamports, zeroed owner, no data.
        self.bank.set(info.key, SimAccount::closed());
    }

    fn create_wallet(&mut self) {
        let Some(payer) = self.pick_wallet() else {
            return;
        };
        if !self.pay_fee(payer) {
            return;
        }
        let amount = LAMPORTS_PER_SOL / 10 + self.rng.random_range(0..LAMPORTS_PER_SOL);
        if self
            .bank
            .get(&payer)
            .is_none_or(|a| a.lamports < amount + MIN_PAYER_BALANCE)
        {
            return;
        }
        let key = self.new_key("wallet");
        self.update(payer, |a| a.lamports -= amount);
        self.bank.set(
            key,
            SimAccount::new(amount, ids::system_program::ID, Vec::new()),
        );
        self.registry.wallets.push(key);
    }

    fn pick_unprotected_wallet(&mut self) -> Option<Pubkey> {
        let key = self.pick_wallet()?;
        (!self.registry.protected.contains(&key)).then_some(key)
    }

    fn close_wallet(&mut self) {
        let Some(wallet) = self.pick_unprotected_wallet() else {
            return;
        };
        let Some(dest) = self.pick_wallet() else {
            return;
        };
        if dest == wallet || !self.pay_fee(wallet) {
            return;
        }
        let all = self.bank.get(&wallet).map_or(0, |a| a.lamports);
        self.update(dest, |a| a.lamports += all);
        // Transferring everything out deletes a system account (its owner is already zero).
        self.update(wallet, |a| a.lamports = 0);
    }

    fn assign_to_program(&mut self) {
        let Some(wallet) = self.pick_unprotected_wallet() else {
            return;
        };
        let needed = self.rent.minimum_balance(64);
        if self
            .bank
            .get(&wallet)
            .is_none_or(|a| a.lamports < needed + MIN_PAYER_BALANCE)
            || !self.pay_fee(wallet)
        {
            return;
        }
        let program = self.registry.program;
        let data = blake3::hash(wallet.as_ref()).as_bytes().repeat(2);
        // allocate + assign: the owner changes from the system program to `program`.
        self.update(wallet, |a| {
            a.owner = program;
            a.data = data;
        });
    }

    fn change_token_owner(&mut self) {
        let Some(info) = self.pick_token(None) else {
            return;
        };
        let Some((mut fields, account)) = self.token(&info) else {
            return;
        };
        // ImmutableOwner accounts (Token-2022 accounts with extensions) cannot change owner.
        if account.data.len() != layout::TOKEN_ACCOUNT_LEN || !self.pay_fee(fields.owner) {
            return;
        }
        let Some(new_owner) = self.pick_wallet() else {
            return;
        };
        fields.owner = new_owner;
        fields.delegate = None;
        self.set_token(info.key, &fields);
    }

    fn approve_or_revoke(&mut self) {
        let Some(info) = self.pick_token(None) else {
            return;
        };
        let Some((mut fields, _)) = self.token(&info) else {
            return;
        };
        if !self.pay_fee(fields.owner) {
            return;
        }
        if fields.delegate.is_some() && self.rng.random_bool(0.4) {
            fields.delegate = None;
        } else if let Some(delegate) = self.pick_wallet() {
            let amount = self.rng.random_range(0..=fields.amount);
            fields.delegate = Some((delegate, amount));
        }
        self.set_token(info.key, &fields);
    }

    fn mint_to(&mut self) {
        let Some(info) = self.pick_token(None) else {
            return;
        };
        let mint = self.registry.mints[info.mint];
        let Some((fields, _)) = self.token(&info) else {
            return;
        };
        let Some(base) = self.mint_state(&mint.key) else {
            return;
        };
        if !self.pay_fee(mint.authority) {
            return;
        }
        let amount = self
            .rng
            .random_range(1..=10u64.pow(u32::from(base.decimals)) * 100);
        self.mint_into(mint.key, base, info.key, fields, amount);
    }

    /// A mint's state as the bank holds it.
    pub(super) fn mint_state(&self, mint: &Pubkey) -> Option<spl_token_interface::state::Mint> {
        self.bank
            .get(mint)
            .and_then(|account| layout::read_mint(&account.data))
    }

    /// Mints `amount` into the token account `holder`: the mint's supply and the holder's
    /// balance grow together.
    pub(super) fn mint_into(
        &mut self,
        mint: Pubkey,
        mut base: spl_token_interface::state::Mint,
        holder: Pubkey,
        mut fields: TokenAccountFields,
        amount: u64,
    ) {
        base.supply += amount;
        fields.amount += amount;
        self.update(mint, |a| layout::write_mint(&mut a.data, &base));
        self.set_token(holder, &fields);
    }

    fn wrap_sol(&mut self) {
        let Some(wallet) = self.pick_wallet() else {
            return;
        };
        let wrapped = self.registry.wrapped_sol;
        let Some(mut fields) = self
            .bank
            .get(&wrapped)
            .and_then(|a| layout::read_token_account(&a.data))
        else {
            return;
        };
        if !self.pay_fee(wallet) {
            return;
        }
        let amount = self.rng.random_range(1..=LAMPORTS_PER_SOL / 100);
        fields.amount += amount;
        self.update(wallet, |a| a.lamports -= amount);
        self.update(wrapped, |a| {
            a.lamports += amount;
            layout::write_token_account(&mut a.data, &fields);
        });
    }

    fn stake_update(&mut self) {
        let authority = self.registry.stake_authority;
        let Some(&key) = self.registry.stakes.choose(self.rng) else {
            return;
        };
        let Some(mut fields) = self
            .bank
            .get(&key)
            .and_then(|a| layout::read_stake(&a.data))
        else {
            return;
        };
        let epoch = self.ctx.clock.epoch;
        let voters: Vec<Pubkey> = self.registry.validators.iter().map(|v| v.vote).collect();
        let voter = *voters.choose(self.rng).expect("validators exist");
        if !self.pay_fee(authority) {
            return;
        }
        let choice = self.rng.random_range(0..4u32);
        match (fields.delegation, choice) {
            (Some((vote, stake, activation, u64::MAX)), 0) => {
                // Deactivate.
                fields.delegation = Some((vote, stake, activation, epoch));
            }
            (None, _) | (Some((_, _, _, _)), 1) if fields.lockup.is_none() => {
                // (Re)delegate the whole balance above the reserve.
                let lamports = self.bank.get(&key).map_or(0, |a| a.lamports);
                let stake = lamports.saturating_sub(fields.rent_exempt_reserve);
                fields.delegation = Some((voter, stake, epoch, u64::MAX));
            }
            (_, 2) => {
                // Create a new delegated stake account funded by the authority.
                let amount = 2 * LAMPORTS_PER_SOL;
                let reserve = fields.rent_exempt_reserve;
                if self
                    .bank
                    .get(&authority)
                    .is_none_or(|a| a.lamports < amount + reserve + MIN_PAYER_BALANCE)
                {
                    return;
                }
                let new = self.new_key("stake");
                let data = layout::stake_state(&StakeFields {
                    lockup: None,
                    delegation: Some((voter, amount, epoch, u64::MAX)),
                    credits_observed: 0,
                    ..fields
                });
                self.update(authority, |a| a.lamports -= amount + reserve);
                self.bank
                    .set(new, SimAccount::new(amount + reserve, ids::stake::ID, data));
                self.registry.stakes.push(new);
                return;
            }
            _ => {
                // Top up (the excess stays undelegated).
                let amount = LAMPORTS_PER_SOL / 10;
                if self
                    .bank
                    .get(&authority)
                    .is_none_or(|a| a.lamports < amount + MIN_PAYER_BALANCE)
                {
                    return;
                }
                self.update(authority, |a| a.lamports -= amount);
                self.update(key, |a| a.lamports += amount);
                return;
            }
        }
        let data = layout::stake_state(&fields);
        self.update(key, |a| a.data = data);
    }

    fn advance_nonce(&mut self) {
        let (nonce, authority) = self.registry.nonce;
        if !self.pay_fee(authority) {
            return;
        }
        let data = layout::nonce_state(
            authority,
            &self.ctx.parent_blockhash,
            LAMPORTS_PER_SIGNATURE,
        );
        self.update(nonce, |a| a.data = data);
    }

    fn extend_lookup_table(&mut self) {
        let (table, authority) = self.registry.lookup_table;
        let Some(data) = self.bank.get(&table).map(|a| a.data.clone()) else {
            return;
        };
        let meta_len = solana_address_lookup_table_interface::state::LOOKUP_TABLE_META_SIZE;
        let count = data.len().saturating_sub(meta_len) / 32;
        if count >= solana_address_lookup_table_interface::state::LOOKUP_TABLE_MAX_ADDRESSES {
            return;
        }
        let mut addresses: Vec<Pubkey> = data[meta_len..]
            .chunks_exact(32)
            .filter_map(|c| <[u8; 32]>::try_from(c).ok().map(Pubkey::new_from_array))
            .collect();
        let Some(new) = self.pick_wallet() else {
            return;
        };
        let extra =
            self.rent.minimum_balance(data.len() + 32) - self.rent.minimum_balance(data.len());
        if self
            .bank
            .get(&authority)
            .is_none_or(|a| a.lamports < extra + MIN_PAYER_BALANCE)
            || !self.pay_fee(authority)
        {
            return;
        }
        addresses.push(new);
        let data = layout::lookup_table(authority, &addresses, self.ctx.slot, count as u8);
        self.update(authority, |a| a.lamports -= extra);
        self.update(table, |a| {
            a.lamports += extra;
            a.data = data;
        });
    }
}
