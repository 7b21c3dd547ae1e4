//! What one simulated bank writes: the sysvars of `Bank::new_from_parent` (Clock, SlotHashes,
//! SlotHistory; StakeHistory and EpochRewards at epoch boundaries), a stream of transactions
//! (votes, SOL and token transfers on both token programs, account creation and closing, owner
//! changes, delegations, stake and nonce updates, lookup-table extension, wrapped SOL), and the
//! freeze-time writes (RecentBlockhashes, the leader's fee share). The transactions themselves
//! are in [`transactions`], and with `--accounts` in [`bulk`].

mod bulk;
mod transactions;

use {
    super::{
        genesis::{
            LAMPORTS_PER_SIGNATURE, LAMPORTS_PER_SOL, Population, RECENT_BLOCKHASHES, Registry,
            derive_key,
        },
        layout::{self, StakeFields, ids},
        state::{BankOverlay, SimAccount},
    },
    rand::seq::IndexedRandom,
    rand_chacha::ChaCha8Rng,
    replication_proto::{Hash, Pubkey, Slot},
    solana_sysvar::{
        clock::Clock, epoch_rewards::EpochRewards, rent::Rent, slot_hashes::SlotHashes,
        slot_history::SlotHistory,
    },
};

/// The RecentBlockhashes sysvar from (slot, blockhash) pairs, oldest first.
#[allow(deprecated)]
pub(crate) fn recent_blockhashes(
    recent: &[(Slot, Hash)],
) -> solana_sysvar::recent_blockhashes::RecentBlockhashes {
    use solana_sysvar::recent_blockhashes::{IterItem, RecentBlockhashes};
    let start = recent.len().saturating_sub(RECENT_BLOCKHASHES as usize);
    recent[start..]
        .iter()
        .map(|(slot, hash)| IterItem(*slot, hash, LAMPORTS_PER_SIGNATURE))
        .collect::<RecentBlockhashes>()
}

/// Sysvar state that follows a chain of banks (cloned for a fork).
#[derive(Clone, Debug)]
pub(super) struct ChainSysvars {
    /// (slot, bank hash), newest first, at most 512.
    pub(super) slot_hashes: Vec<(Slot, Hash)>,
    pub(super) slot_history: SlotHistory,
    /// (slot, blockhash), oldest first, at most the blockhash queue's age.
    pub(super) recent: Vec<(Slot, Hash)>,
    /// Rewards announced at an epoch boundary, distributed by the next bank.
    pub(super) pending_rewards: Option<u64>,
}

/// What identifies a bank being built.
#[derive(Clone, Debug)]
pub(super) struct BankContext {
    pub(super) slot: Slot,
    pub(super) parent: Slot,
    pub(super) parent_bank_hash: Hash,
    pub(super) parent_blockhash: Hash,
    pub(super) blockhash: Hash,
    pub(super) block_height: u64,
    pub(super) clock: Clock,
    pub(super) parent_epoch: u64,
    pub(super) leader: Pubkey,
}

/// Executes a bank's writes against its overlay.
pub(super) struct Exec<'a, 'b> {
    pub(super) bank: &'a mut BankOverlay<'b>,
    pub(super) registry: &'a mut Registry,
    /// The bulk accounts, whose workload replaces the conformance one.
    pub(super) population: Option<&'a mut Population>,
    pub(super) rng: &'a mut ChaCha8Rng,
    pub(super) ctx: &'a BankContext,
    pub(super) rent: &'a Rent,
    pub(super) seed: u64,
    pub(super) next_key: &'a mut u64,
    pub(super) fees: u64,
}

const MIN_PAYER_BALANCE: u64 = LAMPORTS_PER_SOL / 100;

impl Exec<'_, '_> {
    fn update(&mut self, key: Pubkey, f: impl FnOnce(&mut SimAccount)) -> bool {
        let Some(mut account) = self.bank.get(&key).cloned() else {
            return false;
        };
        f(&mut account);
        self.bank.set(key, account);
        true
    }

    fn new_key(&mut self, label: &str) -> Pubkey {
        *self.next_key += 1;
        derive_key(self.seed, label, *self.next_key)
    }

    fn is_wallet(&self, key: &Pubkey) -> bool {
        self.bank.get(key).is_some_and(|a| {
            a.owner == ids::system_program::ID
                && a.data.is_empty()
                && a.lamports > MIN_PAYER_BALANCE
        })
    }

    fn pick_wallet(&mut self) -> Option<Pubkey> {
        for _ in 0..8 {
            let key = *self.registry.wallets.choose(self.rng)?;
            if self.is_wallet(&key) {
                return Some(key);
            }
        }
        None
    }

    /// Charges one signature's fee.
    fn pay_fee(&mut self, payer: Pubkey) -> bool {
        if !self.is_wallet(&payer) {
            return false;
        }
        self.fees += LAMPORTS_PER_SIGNATURE;
        self.update(payer, |a| a.lamports -= LAMPORTS_PER_SIGNATURE)
    }

    fn sysvar<T: serde::Serialize>(&mut self, id: Pubkey, value: &T) {
        if let Some(account) = self.bank.get(&id) {
            let updated = layout::update_sysvar(account, value);
            self.bank.set(id, updated);
        }
    }

    /// The writes of `Bank::new_from_parent`.
    pub(super) fn new_from_parent(&mut self, sysvars: &mut ChainSysvars, total_stake: u64) {
        let ctx = self.ctx.clone();
        self.sysvar(ids::sysvar::clock::ID, &ctx.clock);
        sysvars
            .slot_hashes
            .insert(0, (ctx.parent, ctx.parent_bank_hash));
        sysvars.slot_hashes.truncate(512);
        let slot_hashes = SlotHashes::new(&sysvars.slot_hashes);
        self.sysvar(ids::sysvar::slot_hashes::ID, &slot_hashes);
        sysvars.slot_history.add(ctx.slot);
        let history = sysvars.slot_history.clone();
        self.sysvar(ids::sysvar::slot_history::ID, &history);
        if let Some(total) = sysvars.pending_rewards.take() {
            self.distribute_rewards(total);
        }
        if ctx.clock.epoch > ctx.parent_epoch {
            let mut history: solana_sysvar::stake_history::StakeHistory = self
                .bank
                .get(&ids::sysvar::stake_history::ID)
                .and_then(|a| bincode::deserialize(&a.data).ok())
                .unwrap_or_default();
            history.add(
                ctx.parent_epoch,
                solana_sysvar::stake_history::StakeHistoryEntry::with_effective(total_stake),
            );
            self.sysvar(ids::sysvar::stake_history::ID, &history);
            let total_rewards = total_stake / 10_000;
            let rewards = EpochRewards {
                distribution_starting_block_height: ctx.block_height + 1,
                num_partitions: 1,
                parent_blockhash: ctx.parent_blockhash,
                total_points: u128::from(total_stake),
                total_rewards,
                distributed_rewards: 0,
                active: true,
            };
            self.sysvar(ids::sysvar::epoch_rewards::ID, &rewards);
            sysvars.pending_rewards = Some(total_rewards);
        }
    }

    /// Partitioned rewards, in one partition: every delegated stake account earns its share.
    fn distribute_rewards(&mut self, total: u64) {
        let stakes = self.registry.stakes.clone();
        let delegated: Vec<(Pubkey, StakeFields)> = stakes
            .iter()
            .filter_map(|k| {
                let fields = layout::read_stake(&self.bank.get(k)?.data)?;
                fields.delegation.map(|_| (*k, fields))
            })
            .collect();
        let total_staked: u64 = delegated
            .iter()
            .map(|(_, f)| f.delegation.map_or(0, |d| d.1))
            .sum();
        let mut distributed = 0;
        for (key, mut fields) in delegated {
            let Some(mut delegation) = fields.delegation else {
                continue;
            };
            let reward = (u128::from(total) * u128::from(delegation.1)
                / u128::from(total_staked.max(1))) as u64;
            delegation.1 += reward;
            fields.delegation = Some(delegation);
            distributed += reward;
            self.update(key, |a| {
                a.lamports += reward;
                a.data = layout::stake_state(&fields);
            });
        }
        if let Some(account) = self.bank.get(&ids::sysvar::epoch_rewards::ID)
            && let Ok(mut rewards) = bincode::deserialize::<EpochRewards>(&account.data)
        {
            rewards.distributed_rewards = distributed;
            rewards.active = false;
            self.sysvar(ids::sysvar::epoch_rewards::ID, &rewards);
        }
    }

    /// Every validator votes for the parent.
    pub(super) fn votes(&mut self) {
        let ctx = self.ctx.clone();
        for validator in self.registry.validators.clone() {
            if !self.pay_fee(validator.identity) {
                continue;
            }
            self.update(validator.vote, |a| {
                if let Some(data) = layout::record_vote(
                    &a.data,
                    ctx.parent,
                    ctx.clock.epoch,
                    ctx.slot,
                    ctx.clock.unix_timestamp,
                ) {
                    a.data = data;
                }
            });
        }
    }

    /// The freeze-time writes: the leader's half of the fees, RecentBlockhashes.
    pub(super) fn freeze(&mut self, sysvars: &mut ChainSysvars) {
        let leader_share = self.fees / 2;
        let leader = self.ctx.leader;
        if leader_share > 0 {
            self.update(leader, |a| a.lamports += leader_share);
        }
        sysvars.recent.push((self.ctx.slot, self.ctx.blockhash));
        let excess = sysvars
            .recent
            .len()
            .saturating_sub(super::genesis::BLOCKHASH_QUEUE_MAX_AGE as usize + 1);
        sysvars.recent.drain(..excess);
        let recent = recent_blockhashes(&sysvars.recent);
        self.sysvar(ids::sysvar::recent_blockhashes::ID, &recent);
    }
}
