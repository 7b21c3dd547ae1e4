//! The cluster values a snapshot manifest carries that cannot be derived from accounts, and the
//! one place a manifest is built from them (the replica's own archives and the simulator's).

use {
    super::{
        lt_hash::LtHash,
        manifest::{BlockhashQueue, EpochSchedule, FeeRateGovernor, Inflation, SnapshotManifest},
        name::Slot,
        stakes::{BankStakes, EpochStakes},
    },
    serde::{Deserialize, Serialize},
    solana_hash::Hash,
};

/// Roots Agave's status cache keeps (`MAX_RECENT_BLOCKHASHES`).
pub const STATUS_CACHE_ROOTS: usize = 300;

/// What a bank manifest says about the cluster besides the accounts: genesis economics and
/// timing, hard forks, epoch stakes, the transaction count and the blockhash queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BankFields {
    pub epoch_schedule: EpochSchedule,
    pub inflation: Inflation,
    pub fee_rate_governor: FeeRateGovernor,
    pub lamports_per_signature: u64,
    pub slots_per_year: f64,
    pub ticks_per_slot: u64,
    pub ns_per_slot: u128,
    pub hashes_per_tick: Option<u64>,
    pub genesis_creation_time: i64,
    pub hard_forks: Vec<(Slot, u64)>,
    /// Total active stake per epoch.
    pub epoch_total_stakes: Vec<(u64, u64)>,
    /// Transaction count at the manifest's slot.
    pub transaction_count: u64,
    pub blockhash_queue: BlockhashQueue,
}

impl BankFields {
    /// The fields of a manifest read from an archive.
    pub fn from_manifest(manifest: &SnapshotManifest) -> Self {
        Self {
            epoch_schedule: manifest.epoch_schedule,
            inflation: manifest.inflation,
            fee_rate_governor: manifest.fee_rate_governor,
            lamports_per_signature: manifest.lamports_per_signature,
            slots_per_year: manifest.slots_per_year,
            ticks_per_slot: manifest.ticks_per_slot,
            ns_per_slot: manifest.ns_per_slot,
            hashes_per_tick: manifest.hashes_per_tick,
            genesis_creation_time: manifest.genesis_creation_time,
            hard_forks: manifest.hard_forks.clone(),
            epoch_total_stakes: manifest.epoch_total_stakes.clone(),
            transaction_count: manifest.transaction_count,
            blockhash_queue: manifest.blockhash_queue.clone(),
        }
    }
}

impl SnapshotManifest {
    /// A manifest for `slot` with every cluster value taken from `bank`; the caller sets what
    /// only it knows (bank hashes, block height, leader, data length).
    pub fn from_bank_fields(
        slot: Slot,
        parent_slot: Slot,
        capitalization: u64,
        bank: &BankFields,
    ) -> Self {
        let mut manifest = Self::new(slot, parent_slot, capitalization);
        manifest.epoch_schedule = bank.epoch_schedule;
        manifest.inflation = bank.inflation;
        manifest.fee_rate_governor = bank.fee_rate_governor;
        manifest.lamports_per_signature = bank.lamports_per_signature;
        manifest.slots_per_year = bank.slots_per_year;
        manifest.ticks_per_slot = bank.ticks_per_slot;
        manifest.ns_per_slot = bank.ns_per_slot;
        manifest.hashes_per_tick = bank.hashes_per_tick;
        manifest.genesis_creation_time = bank.genesis_creation_time;
        manifest.hard_forks = bank.hard_forks.clone();
        manifest.epoch_total_stakes = bank.epoch_total_stakes.clone();
        manifest.transaction_count = bank.transaction_count;
        manifest.blockhash_queue = bank.blockhash_queue.clone();
        manifest.tick_height = slot.saturating_add(1).saturating_mul(bank.ticks_per_slot);
        manifest.max_tick_height = manifest.tick_height;
        manifest
    }
}

impl SnapshotManifest {
    /// The bank's epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch_schedule_checked()
            .map_or(0, |schedule| schedule.get_epoch(self.slot))
    }

    /// Puts in the stakes cache and the epoch stakes of every epoch Agave requires at this slot
    /// (those in `known`, e.g. the bootstrap snapshot's, as they are; the others computed from
    /// the cache), their totals, and the slot's leader as Agave's schedule draws it from them.
    /// Without staked vote accounts the leader is left as it is.
    pub fn set_stakes(&mut self, cache: BankStakes, known: &[EpochStakes]) {
        let Some(schedule) = self.epoch_schedule_checked() else {
            return;
        };
        let required = self.required_stake_epochs().unwrap_or(0..=0);
        self.epoch_stakes = required
            .map(|epoch| {
                known
                    .iter()
                    .find(|stakes| stakes.epoch == epoch)
                    .cloned()
                    .unwrap_or_else(|| cache.epoch_stakes(epoch))
            })
            .collect();
        self.epoch_total_stakes = self
            .epoch_stakes
            .iter()
            .map(|stakes| (stakes.epoch, stakes.total_stake()))
            .collect();
        let (epoch, slot_index) = schedule.get_epoch_and_slot_index(self.slot);
        if let Some(stakes) = self
            .epoch_stakes
            .iter()
            .find(|stakes| stakes.epoch == epoch)
            && let Some(leader) = stakes.leader(schedule.get_slots_in_epoch(epoch), slot_index)
        {
            self.leader_id = leader;
        }
        self.stakes = Some(cache);
    }

    /// Sets the accounts lattice hash and the bank hash Agave recomputes on load from the
    /// parent bank hash, the signature count, the last blockhash, the lattice hash and the
    /// hard forks at this slot.
    pub fn seal_bank_hash(&mut self, lt_hash: &LtHash) {
        let last_blockhash = self.blockhash_queue.last_hash.unwrap_or_default();
        let hash = solana_sha256_hasher::hashv(&[
            self.parent_bank_hash.as_ref(),
            &self.signature_count.to_le_bytes(),
            last_blockhash.as_ref(),
        ]);
        let lt_bytes: Vec<u8> = lt_hash.0.iter().flat_map(|e| e.to_le_bytes()).collect();
        let mut hash = solana_sha256_hasher::hashv(&[hash.as_ref(), &lt_bytes]);
        let forks: u64 = self
            .hard_forks
            .iter()
            .filter(|(fork_slot, _)| self.parent_slot < *fork_slot && self.slot >= *fork_slot)
            .map(|(_, count)| *count)
            .sum();
        if forks > 0 {
            hash = solana_sha256_hasher::hashv(&[hash.as_ref(), &forks.to_le_bytes()]);
        }
        self.accounts_lt_hash = Some(lt_hash.clone());
        self.bank_hash = Hash::new_from_array(hash.to_bytes());
    }
}

/// The roots Agave's status cache must hold for a bank at `slot` with this SlotHistory sysvar
/// data: the newest [`STATUS_CACHE_ROOTS`] slots it records, newest first (Agave refuses an
/// archive whose status cache misses one); empty if the data is not a SlotHistory.
pub fn status_cache_roots(slot_history: &[u8], slot: Slot) -> Vec<Slot> {
    use solana_slot_history::{Check, SlotHistory};
    let Ok(history) = bincode::deserialize::<SlotHistory>(slot_history) else {
        return Vec::new();
    };
    (history.oldest()..=history.newest().min(slot))
        .rev()
        .filter(|root| history.check(*root) == Check::Found)
        .take(STATUS_CACHE_ROOTS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_epoch_stakes_are_kept_and_the_rest_computed() {
        let mut manifest = SnapshotManifest::new(40, 39, 1_000);
        manifest.epoch_schedule = EpochSchedule::without_warmup(32);
        let known = EpochStakes {
            epoch: 1,
            stakes_epoch: 0,
            vote_accounts: Vec::new(),
            stake_history: vec![(0, Default::default())],
        };
        // Epoch 0 is no longer required at slot 40 (epoch 1): dropped.
        let stale = EpochStakes {
            epoch: 0,
            ..known.clone()
        };
        manifest.set_stakes(
            BankStakes::new(1, Vec::new(), Default::default()),
            &[stale, known.clone()],
        );
        assert_eq!(manifest.epoch_stakes.len(), 2);
        assert_eq!(manifest.epoch_stakes[0], known);
        assert_eq!(manifest.epoch_stakes[1].epoch, 2);
        assert_eq!(manifest.epoch_stakes[1].stakes_epoch, 1);
        assert_eq!(manifest.epoch_total_stakes, vec![(1, 0), (2, 0)]);
        assert!(manifest.validate().is_ok());
    }

    #[test]
    fn fields_survive_a_round_trip_through_a_manifest() {
        let mut manifest = SnapshotManifest::new(90, 89, 1_000);
        manifest.epoch_schedule = EpochSchedule::without_warmup(64);
        manifest.lamports_per_signature = 7_000;
        manifest.hard_forks = vec![(10, 1)];
        manifest.epoch_total_stakes = vec![(1, 5), (2, 6)];
        manifest.transaction_count = 77;
        manifest.ticks_per_slot = 8;
        let fields = BankFields::from_manifest(&manifest);
        let rebuilt = SnapshotManifest::from_bank_fields(90, 89, 1_000, &fields);
        assert_eq!(BankFields::from_manifest(&rebuilt), fields);
        assert_eq!(rebuilt.tick_height, 91 * 8);
        assert_eq!(rebuilt.max_tick_height, 91 * 8);
    }
}
