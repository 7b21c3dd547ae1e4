//! The stakes a bank manifest carries, computed from the stake and vote accounts the way Agave's
//! stakes cache holds them: every initialized vote account with its stake, every delegated stake
//! account's delegation, and the stake history; the epoch stakes each epoch's leader schedule
//! is drawn from; and the leader of a slot as Agave's leader schedule picks it.
//!
//! Agave checks on load that the cached vote accounts equal the accounts in the archive, that
//! every delegation equals its stake account's, and that the manifest's leader is the one the
//! epoch stakes schedule for its slot.

use {
    agave_random::weighted::WeightedU64Index,
    rand_chacha::{ChaChaRng, rand_core::SeedableRng},
    solana_pubkey::Pubkey,
    solana_stake_interface::{
        stake_history::{StakeHistory, StakeHistoryEntry},
        state::{Delegation, StakeStateV2},
    },
    solana_vote_interface::state::VoteStateVersions,
};

/// The vote program.
pub const VOTE_PROGRAM: Pubkey =
    Pubkey::from_str_const("Vote111111111111111111111111111111111111111");
/// The stake program.
pub const STAKE_PROGRAM: Pubkey =
    Pubkey::from_str_const("Stake11111111111111111111111111111111111111");
/// The feature program, owner of feature accounts.
pub const FEATURE_PROGRAM: Pubkey =
    Pubkey::from_str_const("Feature111111111111111111111111111111111111");
/// The StakeHistory sysvar.
pub const STAKE_HISTORY_SYSVAR: Pubkey =
    Pubkey::from_str_const("SysvarStakeHistory1111111111111111111111111");
/// `reduce_stake_warmup_cooldown`: from its activation epoch on, stake warms up and cools down
/// at 9% per epoch instead of 25%.
pub const REDUCE_STAKE_WARMUP_COOLDOWN: Pubkey =
    Pubkey::from_str_const("GwtDQBghCTBgmX2cpEGNPxTEBUTQRaDMGTr5qychdGMj");
/// `upgrade_bpf_stake_program_to_v5_1`: once active, Agave computes effective stake with
/// integer arithmetic.
pub const FIXED_POINT_STAKE_MATH: Pubkey =
    Pubkey::from_str_const("s51VGwCAgebo2745DSUris72RavoLkXGUmVJosESCXr");
/// Consecutive slots of one leader.
const LEADER_SLOTS: u64 = 4;

/// The slot a feature account says its feature was activated at, if it is a feature account.
pub fn feature_activated_slot(owner: &Pubkey, data: &[u8]) -> Option<u64> {
    if *owner != FEATURE_PROGRAM {
        return None;
    }
    bincode::deserialize::<Option<u64>>(data).ok().flatten()
}

/// An account as Agave serializes it in the manifest's vote account maps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestAccount {
    pub lamports: u64,
    pub data: Vec<u8>,
    pub owner: Pubkey,
    pub executable: bool,
    pub rent_epoch: u64,
}

/// A vote account the stakes cache holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VoteAccountEntry {
    pub pubkey: Pubkey,
    pub account: ManifestAccount,
    pub node_pubkey: Pubkey,
    /// (epoch, authorized voter) from the vote state.
    pub authorized_voters: Vec<(u64, Pubkey)>,
}

impl VoteAccountEntry {
    /// The voter authorized for `epoch`: the entry of the newest epoch at or before it.
    pub fn authorized_voter(&self, epoch: u64) -> Option<Pubkey> {
        self.authorized_voters
            .iter()
            .filter(|(voter_epoch, _)| *voter_epoch <= epoch)
            .max_by_key(|(voter_epoch, _)| *voter_epoch)
            .map(|(_, voter)| *voter)
    }
}

/// A delegated stake account.
#[derive(Debug, Clone, PartialEq)]
pub struct DelegationEntry {
    pub pubkey: Pubkey,
    pub delegation: Delegation,
}

/// How effective stake is computed (two feature gates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StakeRules {
    /// Epoch `reduce_stake_warmup_cooldown` activated in.
    pub new_rate_activation_epoch: Option<u64>,
    /// Whether `upgrade_bpf_stake_program_to_v5_1` is active (integer stake arithmetic).
    pub fixed_point_stake_math: bool,
}

/// Agave's stakes cache of a bank: the vote and stake accounts at the bank's slot, with the
/// stake of each vote account effective at `epoch`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BankStakes {
    /// The bank's epoch.
    pub epoch: u64,
    /// Sorted by pubkey.
    pub vote_accounts: Vec<VoteAccountEntry>,
    /// Sorted by pubkey.
    pub delegations: Vec<DelegationEntry>,
    /// Newest epoch first, as the sysvar holds it.
    pub stake_history: Vec<(u64, StakeHistoryEntry)>,
    pub rules: StakeRules,
}

/// One epoch's stakes (`VersionedEpochStakes`): the vote accounts with the stake effective at
/// the epoch before (`stakes_epoch`), from which that epoch's leader schedule is drawn.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochStakes {
    /// The epoch whose leader schedule these stakes decide.
    pub epoch: u64,
    /// The epoch the stakes were effective at.
    pub stakes_epoch: u64,
    /// Vote accounts and their stakes, sorted by pubkey.
    pub vote_accounts: Vec<(VoteAccountEntry, u64)>,
    /// Stake history as of `stakes_epoch`, newest first.
    pub stake_history: Vec<(u64, StakeHistoryEntry)>,
}

impl EpochStakes {
    pub fn total_stake(&self) -> u64 {
        self.vote_accounts.iter().map(|(_, stake)| *stake).sum()
    }

    /// Nodes with stake: (node, its vote accounts, their total stake), sorted by node; only
    /// vote accounts with an authorized voter for the epoch count, as in Agave.
    pub fn node_vote_accounts(&self) -> Vec<(Pubkey, Vec<Pubkey>, u64)> {
        let mut nodes: Vec<(Pubkey, Vec<Pubkey>, u64)> = Vec::new();
        for (vote, stake) in &self.vote_accounts {
            if *stake == 0 || vote.authorized_voter(self.epoch).is_none() {
                continue;
            }
            match nodes
                .iter_mut()
                .find(|(node, _, _)| *node == vote.node_pubkey)
            {
                Some((_, votes, total)) => {
                    votes.push(vote.pubkey);
                    *total += stake;
                }
                None => nodes.push((vote.node_pubkey, vec![vote.pubkey], *stake)),
            }
        }
        nodes.sort_by_key(|(node, _, _)| *node);
        nodes
    }

    /// (vote account, authorized voter for the epoch) of every staked vote account.
    pub fn authorized_voters(&self) -> Vec<(Pubkey, Pubkey)> {
        self.vote_accounts
            .iter()
            .filter(|(_, stake)| *stake > 0)
            .filter_map(|(vote, _)| {
                vote.authorized_voter(self.epoch)
                    .map(|voter| (vote.pubkey, voter))
            })
            .collect()
    }

    /// The leader of the slot at `slot_index` of an epoch of `slots_in_epoch` slots, as
    /// Agave's leader schedule draws it from these stakes; `None` without staked vote accounts.
    pub fn leader(&self, slots_in_epoch: u64, slot_index: u64) -> Option<Pubkey> {
        // Stake descending, then vote account descending; equal pairs once.
        let mut candidates: Vec<(u64, Pubkey, Pubkey)> = self
            .vote_accounts
            .iter()
            .filter(|(_, stake)| *stake > 0)
            .map(|(vote, stake)| (*stake, vote.pubkey, vote.node_pubkey))
            .collect();
        candidates.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        candidates.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        let weights = candidates.iter().map(|(stake, _, _)| *stake).collect();
        let index = WeightedU64Index::new(weights).ok()?;
        let draws = slots_in_epoch / LEADER_SLOTS;
        if draws == 0 {
            return None;
        }
        let draw = (slot_index % (draws * LEADER_SLOTS)) / LEADER_SLOTS;
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.epoch.to_le_bytes());
        let mut rng = ChaChaRng::from_seed(seed);
        let mut chosen = 0;
        for _ in 0..=draw {
            chosen = index.sample(&mut rng);
        }
        Some(candidates[chosen].2)
    }
}

impl BankStakes {
    /// An empty cache for a bank in `epoch` with the given StakeHistory sysvar contents.
    pub fn new(
        epoch: u64,
        stake_history: Vec<(u64, StakeHistoryEntry)>,
        rules: StakeRules,
    ) -> Self {
        Self {
            epoch,
            stake_history,
            rules,
            ..Self::default()
        }
    }

    /// Parses the StakeHistory sysvar's data.
    pub fn parse_stake_history(data: &[u8]) -> Option<Vec<(u64, StakeHistoryEntry)>> {
        bincode::deserialize(data).ok()
    }

    /// Takes in an account if Agave's stakes cache would hold it: a vote account with an
    /// initialized vote state of the current size, or a stake account with a delegation.
    /// Accounts may come in any order.
    pub fn offer(
        &mut self,
        pubkey: &Pubkey,
        lamports: u64,
        owner: &Pubkey,
        executable: bool,
        rent_epoch: u64,
        data: &[u8],
    ) {
        if lamports == 0 {
            return;
        }
        if *owner == VOTE_PROGRAM {
            if !VoteStateVersions::is_correct_size_and_initialized(data) {
                return;
            }
            let Some((node_pubkey, authorized_voters)) = vote_state_keys(data) else {
                return;
            };
            self.vote_accounts.push(VoteAccountEntry {
                pubkey: *pubkey,
                account: ManifestAccount {
                    lamports,
                    data: data.to_vec(),
                    owner: *owner,
                    executable,
                    rent_epoch,
                },
                node_pubkey,
                authorized_voters,
            });
        } else if *owner == STAKE_PROGRAM {
            let Ok(state) = bincode::deserialize::<StakeStateV2>(data) else {
                return;
            };
            if let Some(delegation) = state.delegation() {
                self.delegations.push(DelegationEntry {
                    pubkey: *pubkey,
                    delegation,
                });
            }
        }
    }

    /// Sorts what was offered; call once all accounts are in.
    pub fn finish(mut self) -> Self {
        self.vote_accounts.sort_by_key(|entry| entry.pubkey);
        self.vote_accounts.dedup_by_key(|entry| entry.pubkey);
        self.delegations.sort_by_key(|entry| entry.pubkey);
        self.delegations.dedup_by_key(|entry| entry.pubkey);
        self
    }

    fn history(entries: &[(u64, StakeHistoryEntry)]) -> StakeHistory {
        let mut history = StakeHistory::default();
        // `add` keeps newest first; adding oldest first keeps it cheap.
        for (epoch, entry) in entries.iter().rev() {
            history.add(*epoch, entry.clone());
        }
        history
    }

    /// Each vote account's stake effective at `epoch`, in [`Self::vote_accounts`] order.
    pub fn vote_stakes_at(&self, epoch: u64, history: &[(u64, StakeHistoryEntry)]) -> Vec<u64> {
        let history = Self::history(history);
        let mut stakes = vec![0u64; self.vote_accounts.len()];
        for entry in &self.delegations {
            let delegation = &entry.delegation;
            let effective = if self.rules.fixed_point_stake_math {
                delegation.stake_v2(epoch, &history, self.rules.new_rate_activation_epoch)
            } else {
                #[allow(deprecated)]
                delegation.stake(epoch, &history, self.rules.new_rate_activation_epoch)
            };
            if effective == 0 {
                continue;
            }
            if let Ok(index) = self
                .vote_accounts
                .binary_search_by_key(&delegation.voter_pubkey, |vote| vote.pubkey)
            {
                stakes[index] = stakes[index].saturating_add(effective);
            }
        }
        stakes
    }

    /// The cache's own stakes: effective at the bank's epoch.
    pub fn cache_vote_stakes(&self) -> Vec<u64> {
        self.vote_stakes_at(self.epoch, &self.stake_history)
    }

    /// The stakes Agave snapshots for `epoch` at the start of the epoch before it (for epoch 0,
    /// the genesis stakes): recomputed from the current accounts, so a delegation or vote
    /// account changed since that boundary shows its current state.
    pub fn epoch_stakes(&self, epoch: u64) -> EpochStakes {
        let stakes_epoch = epoch.saturating_sub(1);
        let history: Vec<_> = self
            .stake_history
            .iter()
            .filter(|(entry_epoch, _)| *entry_epoch < stakes_epoch)
            .cloned()
            .collect();
        let stakes = self.vote_stakes_at(stakes_epoch, &history);
        EpochStakes {
            epoch,
            stakes_epoch,
            vote_accounts: self.vote_accounts.iter().cloned().zip(stakes).collect(),
            stake_history: history,
        }
    }
}

/// The node and the authorized voters of a vote state.
pub(crate) fn vote_state_keys(data: &[u8]) -> Option<(Pubkey, Vec<(u64, Pubkey)>)> {
    let (node, voters) = match VoteStateVersions::deserialize(data).ok()? {
        VoteStateVersions::Uninitialized => return None,
        VoteStateVersions::V1_14_11(state) => (state.node_pubkey, state.authorized_voters),
        VoteStateVersions::V3(state) => (state.node_pubkey, state.authorized_voters),
        VoteStateVersions::V4(state) => (state.node_pubkey, state.authorized_voters),
    };
    Some((
        node,
        voters
            .iter()
            .map(|(epoch, voter)| (*epoch, *voter))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        solana_stake_interface::{
            stake_flags::StakeFlags,
            state::{Authorized, Lockup, Meta, Stake},
        },
    };

    fn stake_account(voter: Pubkey, stake: u64, activation_epoch: u64) -> Vec<u8> {
        #[allow(deprecated)]
        let meta = Meta {
            rent_exempt_reserve: 1,
            authorized: Authorized::default(),
            lockup: Lockup::default(),
        };
        let state = StakeStateV2::Stake(
            meta,
            Stake {
                delegation: Delegation {
                    voter_pubkey: voter,
                    stake,
                    activation_epoch,
                    deactivation_epoch: u64::MAX,
                    ..Delegation::default()
                },
                credits_observed: 0,
            },
            StakeFlags::empty(),
        );
        let mut data = bincode::serialize(&state).unwrap();
        data.resize(200, 0);
        data
    }

    fn vote_account(node: Pubkey, voter: Pubkey) -> Vec<u8> {
        use solana_vote_interface::state::{VoteInit, VoteStateV3};
        let state = VoteStateV3::new(
            &VoteInit {
                node_pubkey: node,
                authorized_voter: voter,
                authorized_withdrawer: voter,
                commission: 0,
            },
            &solana_clock::Clock::default(),
        );
        let mut data = vec![0; VoteStateV3::size_of()];
        bincode::serialize_into(&mut data[..], &VoteStateVersions::new_v3(state)).unwrap();
        data
    }

    #[test]
    fn cache_holds_what_agave_holds_and_weighs_stake_by_epoch() {
        let (vote, node, voter) = (
            Pubkey::new_unique(),
            Pubkey::new_unique(),
            Pubkey::new_unique(),
        );
        let mut stakes = BankStakes::new(3, Vec::new(), StakeRules::default());
        stakes.offer(
            &vote,
            10,
            &VOTE_PROGRAM,
            false,
            0,
            &vote_account(node, voter),
        );
        // Too short to be a vote state: not cached.
        stakes.offer(
            &Pubkey::new_unique(),
            10,
            &VOTE_PROGRAM,
            false,
            0,
            &[1, 0, 0, 0],
        );
        // Bootstrap stake (effective from genesis) and one activated in epoch 3.
        stakes.offer(
            &Pubkey::new_unique(),
            5,
            &STAKE_PROGRAM,
            false,
            0,
            &stake_account(vote, 700, u64::MAX),
        );
        stakes.offer(
            &Pubkey::new_unique(),
            5,
            &STAKE_PROGRAM,
            false,
            0,
            &stake_account(vote, 300, 3),
        );
        // A zero-lamport stake account is gone.
        stakes.offer(
            &Pubkey::new_unique(),
            0,
            &STAKE_PROGRAM,
            false,
            0,
            &stake_account(vote, 9, 0),
        );
        let stakes = stakes.finish();
        assert_eq!(stakes.vote_accounts.len(), 1);
        assert_eq!(stakes.delegations.len(), 2);
        assert_eq!(stakes.vote_accounts[0].node_pubkey, node);
        // Activating in epoch 3 is not effective yet; without history it is fully effective at 4.
        assert_eq!(stakes.cache_vote_stakes(), vec![700]);
        assert_eq!(stakes.epoch_stakes(5).total_stake(), 1000);
        assert_eq!(stakes.epoch_stakes(4).total_stake(), 700);
        let epoch = stakes.epoch_stakes(5);
        assert_eq!(epoch.node_vote_accounts(), vec![(node, vec![vote], 1000)]);
        assert_eq!(epoch.authorized_voters(), vec![(vote, voter)]);
        assert_eq!(epoch.leader(32, 17), Some(node));
        assert_eq!(stakes.epoch_stakes(0).leader(32, 0), Some(node));
    }

    #[test]
    fn leader_schedule_matches_agaves_draws() {
        // Agave's own schedule test: epoch 1, stakes [10, 20, 30] on vote accounts 0, 1, 2,
        // 12 slots, one slot per leader, gives leaders 1 1 2 1 1 0 0 1 2 1 0 1. With four
        // slots per leader the draws are the same sequence, one per four slots.
        let key = |n: u16| {
            let mut bytes = [0; 32];
            bytes[..2].copy_from_slice(&n.to_le_bytes());
            Pubkey::new_from_array(bytes)
        };
        let vote = |n: u16, stake: u64| {
            let entry = VoteAccountEntry {
                pubkey: key(n),
                account: ManifestAccount {
                    lamports: 1,
                    data: Vec::new(),
                    owner: VOTE_PROGRAM,
                    executable: false,
                    rent_epoch: 0,
                },
                node_pubkey: key(100 + n),
                authorized_voters: vec![(0, key(n))],
            };
            (entry, stake)
        };
        let epoch = EpochStakes {
            epoch: 1,
            stakes_epoch: 0,
            vote_accounts: vec![vote(0, 10), vote(1, 20), vote(2, 30)],
            stake_history: Vec::new(),
        };
        let expected = [1, 1, 2, 1, 1, 0, 0, 1, 2, 1, 0, 1];
        for (draw, leader) in expected.iter().enumerate() {
            let slot_index = draw as u64 * LEADER_SLOTS + 3;
            assert_eq!(
                epoch.leader(48, slot_index),
                Some(key(100 + *leader)),
                "draw {draw}"
            );
        }
        assert_eq!(epoch.leader(48, 48), Some(key(101)), "wraps around");
        let unstaked = EpochStakes {
            vote_accounts: vec![vote(0, 0), vote(1, 0)],
            ..epoch
        };
        assert_eq!(unstaked.leader(48, 0), None);
    }
}
