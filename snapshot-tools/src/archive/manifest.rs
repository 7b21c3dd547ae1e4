//! The bank manifest `snapshots/<SLOT>/<SLOT>`: three consecutive bincode values (bank fields,
//! accounts-db fields, extra fields), read as far as a replica needs and written minimally.
//!
//! The layout mirrors Agave's `serde_snapshot` (solana-runtime 4.2). Collections the replica does
//! not use (the stakes cache's delegations and vote accounts, unstaked vote accounts of the epoch
//! stakes) are walked and dropped without being kept; of the epoch stakes, the staked vote
//! accounts are kept (on mainnet some thousand vote states per epoch, a few megabytes).

use {
    super::{
        lt_hash::LtHash,
        name::Slot,
        stakes::{BankStakes, EpochStakes, ManifestAccount, VoteAccountEntry, vote_state_keys},
    },
    bincode::Options,
    serde::{
        Deserialize, Deserializer, Serialize, Serializer,
        de::{self, SeqAccess, Visitor},
        ser::SerializeTuple,
    },
    solana_hash::Hash,
    solana_pubkey::Pubkey,
    std::{fmt, io::Read, marker::PhantomData},
};

/// Epoch schedule as stored in the manifest and in the EpochSchedule sysvar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochSchedule {
    pub slots_per_epoch: u64,
    pub leader_schedule_slot_offset: u64,
    pub warmup: bool,
    pub first_normal_epoch: u64,
    pub first_normal_slot: u64,
}

impl EpochSchedule {
    /// Mainnet's schedule without warmup.
    pub const fn without_warmup(slots_per_epoch: u64) -> Self {
        Self {
            slots_per_epoch,
            leader_schedule_slot_offset: slots_per_epoch,
            warmup: false,
            first_normal_epoch: 0,
            first_normal_slot: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Inflation {
    pub initial: f64,
    pub terminal: f64,
    pub taper: f64,
    pub foundation: f64,
    pub foundation_term: f64,
    pub unused: f64,
}

impl Default for Inflation {
    /// Agave's `Inflation::default()`.
    fn default() -> Self {
        Self {
            initial: 0.08,
            terminal: 0.015,
            taper: 0.15,
            foundation: 0.05,
            foundation_term: 7.0,
            unused: 0.0,
        }
    }
}

/// `FeeRateGovernor` without its serde-skipped `lamports_per_signature`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeRateGovernor {
    pub target_lamports_per_signature: u64,
    pub target_signatures_per_slot: u64,
    pub min_lamports_per_signature: u64,
    pub max_lamports_per_signature: u64,
    pub burn_percent: u8,
}

impl Default for FeeRateGovernor {
    /// Agave's `FeeRateGovernor::default()`.
    fn default() -> Self {
        Self {
            target_lamports_per_signature: 10_000,
            target_signatures_per_slot: 20_000,
            min_lamports_per_signature: 5_000,
            max_lamports_per_signature: 100_000,
            burn_percent: 50,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rent {
    pub lamports_per_byte_year: u64,
    pub exemption_threshold: f64,
    pub burn_percent: u8,
}

/// One entry of the bank's blockhash queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockhashEntry {
    pub hash: Hash,
    pub lamports_per_signature: u64,
    pub hash_index: u64,
    pub timestamp: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BlockhashQueue {
    pub last_hash_index: u64,
    pub last_hash: Option<Hash>,
    /// In no particular order (a hash map in Agave).
    pub entries: Vec<BlockhashEntry>,
    pub max_age: u64,
}

/// One account storage file `accounts/<slot>.<id>` as listed in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageEntry {
    pub slot: Slot,
    pub id: u64,
    /// Valid bytes of the storage (its tar entry may be longer in archives of Agave ≤ 2.x).
    pub len: u64,
}

/// The parts of a bank manifest a replica needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotManifest {
    pub slot: Slot,
    pub parent_slot: Slot,
    pub bank_hash: Hash,
    pub parent_bank_hash: Hash,
    pub block_height: u64,
    pub capitalization: u64,
    pub transaction_count: u64,
    pub signature_count: u64,
    pub tick_height: u64,
    pub max_tick_height: u64,
    pub hashes_per_tick: Option<u64>,
    pub ticks_per_slot: u64,
    pub ns_per_slot: u128,
    pub genesis_creation_time: i64,
    pub slots_per_year: f64,
    pub accounts_data_len: u64,
    pub leader_id: Pubkey,
    pub hard_forks: Vec<(Slot, u64)>,
    pub fee_rate_governor: FeeRateGovernor,
    pub epoch_schedule: EpochSchedule,
    pub inflation: Inflation,
    pub blockhash_queue: BlockhashQueue,
    pub storages: Vec<StorageEntry>,
    pub lamports_per_signature: u64,
    /// Total active stake per epoch, from the versioned epoch stakes.
    pub epoch_total_stakes: Vec<(u64, u64)>,
    /// The versioned epoch stakes with their staked vote accounts; when empty, epoch stakes are
    /// written with [`epoch_total_stakes`](Self::epoch_total_stakes) and no vote accounts.
    pub epoch_stakes: Vec<EpochStakes>,
    pub accounts_lt_hash: Option<LtHash>,
    pub block_id: Option<Hash>,
    /// The bank's stakes cache, written in full when present (a reader leaves this `None`).
    pub stakes: Option<BankStakes>,
}

impl SnapshotManifest {
    /// A manifest with Agave's default economics, for archives this crate writes: mainnet's
    /// epoch schedule, and (zero) stakes for the epochs Agave requires at `slot`, so that it
    /// passes [`validate`](Self::validate).
    pub fn new(slot: Slot, parent_slot: Slot, capitalization: u64) -> Self {
        let mut manifest = Self {
            slot,
            parent_slot,
            bank_hash: Hash::default(),
            parent_bank_hash: Hash::default(),
            block_height: slot,
            capitalization,
            transaction_count: 0,
            signature_count: 0,
            tick_height: slot.saturating_add(1).saturating_mul(64),
            max_tick_height: slot.saturating_add(1).saturating_mul(64),
            hashes_per_tick: Some(12_500),
            ticks_per_slot: 64,
            ns_per_slot: 400_000_000,
            genesis_creation_time: 0,
            slots_per_year: 78_892_314.984,
            accounts_data_len: 0,
            leader_id: Pubkey::default(),
            hard_forks: Vec::new(),
            fee_rate_governor: FeeRateGovernor::default(),
            epoch_schedule: EpochSchedule::without_warmup(432_000),
            inflation: Inflation::default(),
            blockhash_queue: BlockhashQueue::default(),
            storages: Vec::new(),
            lamports_per_signature: 5_000,
            epoch_total_stakes: Vec::new(),
            epoch_stakes: Vec::new(),
            accounts_lt_hash: None,
            block_id: None,
            stakes: None,
        };
        manifest.epoch_total_stakes = manifest
            .required_stake_epochs()
            .map(|epochs| epochs.map(|epoch| (epoch, 0)).collect())
            .unwrap_or_default();
        manifest
    }

    /// Reads a manifest from `reader`, which must yield at most `limit` bytes.
    pub fn read_from(reader: impl Read, limit: u64) -> Result<Self, ManifestError> {
        let mut reader = CountingReader {
            inner: reader.take(limit),
            position: 0,
        };
        let bank: layout::BankFields = decode(&mut reader, "bank fields")?;
        if bank.unused_epoch_stakes.0 != 0 {
            return Err(ManifestError::Unsupported(
                "pre-1.17 snapshot: the bank's legacy epoch_stakes field is not empty",
            ));
        }
        let storages: Vec<(u64, Vec<layout::StorageEntry>)> =
            decode(&mut reader, "account storages")?;
        let _write_version: u64 = decode(&mut reader, "write version")?;
        let accounts_db_slot: u64 = decode(&mut reader, "accounts-db slot")?;
        let _bank_hash_info: layout::BankHashInfo = decode(&mut reader, "bank hash info")?;
        if accounts_db_slot != bank.slot {
            return Err(ManifestError::Inconsistent(format!(
                "accounts-db slot {accounts_db_slot} differs from bank slot {}",
                bank.slot
            )));
        }
        let mut extra = layout::ExtraFields::default();
        // Every field from here on is "default on EOF": older snapshots simply end earlier.
        let mut at_eof = false;
        macro_rules! optional {
            ($target:expr, $what:literal) => {
                if !at_eof {
                    match decode_or_eof(&mut reader, $what)? {
                        Some(value) => $target = value,
                        None => at_eof = true,
                    }
                }
            };
        }
        let mut historical_roots = layout::IgnoredSeq::<u64>::default();
        let mut historical_roots_with_hash = layout::IgnoredSeq::<(u64, [u8; 32])>::default();
        optional!(historical_roots, "historical roots");
        optional!(historical_roots_with_hash, "historical roots with hash");
        optional!(extra.lamports_per_signature, "lamports per signature");
        optional!(
            extra.incremental_snapshot_persistence,
            "incremental snapshot persistence"
        );
        optional!(extra.epoch_accounts_hash, "epoch accounts hash");
        optional!(extra.versioned_epoch_stakes, "versioned epoch stakes");
        optional!(extra.accounts_lt_hash, "accounts lattice hash");
        optional!(extra.block_id, "block id");
        let _ = (historical_roots, historical_roots_with_hash, at_eof);

        let mut storage_entries = Vec::with_capacity(storages.len());
        for (slot, entries) in storages {
            for entry in entries {
                storage_entries.push(StorageEntry {
                    slot,
                    id: entry.id,
                    len: entry.accounts_current_len,
                });
            }
        }
        Ok(Self::from_layout(bank, storage_entries, extra))
    }

    fn from_layout(
        bank: layout::BankFields,
        storages: Vec<StorageEntry>,
        extra: layout::ExtraFields,
    ) -> Self {
        let queue = bank.blockhash_queue;
        Self {
            slot: bank.slot,
            parent_slot: bank.parent_slot,
            bank_hash: Hash::new_from_array(bank.hash),
            parent_bank_hash: Hash::new_from_array(bank.parent_hash),
            block_height: bank.block_height,
            capitalization: bank.capitalization,
            transaction_count: bank.transaction_count,
            signature_count: bank.signature_count,
            tick_height: bank.tick_height,
            max_tick_height: bank.max_tick_height,
            hashes_per_tick: bank.hashes_per_tick,
            ticks_per_slot: bank.ticks_per_slot,
            ns_per_slot: bank.ns_per_slot,
            genesis_creation_time: bank.genesis_creation_time,
            slots_per_year: bank.slots_per_year,
            accounts_data_len: bank.accounts_data_len,
            leader_id: Pubkey::new_from_array(bank.leader_id),
            hard_forks: bank.hard_forks,
            fee_rate_governor: bank.fee_rate_governor,
            epoch_schedule: bank.epoch_schedule,
            inflation: bank.inflation,
            blockhash_queue: BlockhashQueue {
                last_hash_index: queue.last_hash_index,
                last_hash: queue.last_hash.map(Hash::new_from_array),
                entries: queue
                    .hashes
                    .into_iter()
                    .map(|(hash, info)| BlockhashEntry {
                        hash: Hash::new_from_array(hash),
                        lamports_per_signature: info.lamports_per_signature,
                        hash_index: info.hash_index,
                        timestamp: info.timestamp,
                    })
                    .collect(),
                max_age: queue.max_age,
            },
            storages,
            lamports_per_signature: extra.lamports_per_signature,
            epoch_total_stakes: extra
                .versioned_epoch_stakes
                .iter()
                .map(
                    |(epoch, layout::VersionedEpochStakes::Current { total_stake, .. })| {
                        (*epoch, *total_stake)
                    },
                )
                .collect(),
            epoch_stakes: extra
                .versioned_epoch_stakes
                .into_iter()
                .map(
                    |(epoch, layout::VersionedEpochStakes::Current { stakes, .. })| {
                        let mut vote_accounts: Vec<(VoteAccountEntry, u64)> = stakes
                            .vote_accounts
                            .into_iter()
                            .filter(|(_, (stake, _))| *stake > 0)
                            .filter_map(|(pubkey, (stake, account))| {
                                let (node_pubkey, authorized_voters) =
                                    vote_state_keys(&account.data)?;
                                Some((
                                    VoteAccountEntry {
                                        pubkey: Pubkey::new_from_array(pubkey),
                                        account: ManifestAccount {
                                            lamports: account.lamports,
                                            data: account.data,
                                            owner: Pubkey::new_from_array(account.owner),
                                            executable: account.executable,
                                            rent_epoch: account.rent_epoch,
                                        },
                                        node_pubkey,
                                        authorized_voters,
                                    },
                                    stake,
                                ))
                            })
                            .collect();
                        vote_accounts.sort_by_key(|(vote, _)| vote.pubkey);
                        EpochStakes {
                            epoch,
                            stakes_epoch: stakes.epoch,
                            vote_accounts,
                            stake_history: stakes.stake_history,
                        }
                    },
                )
                .collect(),
            accounts_lt_hash: extra.accounts_lt_hash.map(|hash| LtHash(hash.0)),
            block_id: extra.block_id.map(Hash::new_from_array),
            stakes: None,
        }
    }

    /// Serializes the manifest in Agave's layout. Stakes, vote accounts and epoch stakes are
    /// written empty except for each epoch's total stake.
    pub fn to_bytes(&self) -> Vec<u8> {
        let bank = layout::BankFields::from_manifest(self);
        let mut storages: Vec<(u64, Vec<layout::StorageEntry>)> = Vec::new();
        for entry in &self.storages {
            storages.push((
                entry.slot,
                vec![layout::StorageEntry {
                    id: entry.id,
                    accounts_current_len: entry.len,
                }],
            ));
        }
        let extra = layout::ExtraFields {
            lamports_per_signature: self.lamports_per_signature,
            incremental_snapshot_persistence: None,
            epoch_accounts_hash: None,
            versioned_epoch_stakes: self
                .epoch_total_stakes
                .iter()
                .map(|&(epoch, total_stake)| {
                    (
                        epoch,
                        layout::VersionedEpochStakes::Current {
                            stakes: layout::EpochStakes::default(),
                            total_stake,
                            node_id_to_vote_accounts: layout::IgnoredSeq::default(),
                            epoch_authorized_voters: layout::IgnoredSeq::default(),
                        },
                    )
                })
                .collect(),
            accounts_lt_hash: self
                .accounts_lt_hash
                .as_ref()
                .map(|hash| layout::SerdeLtHash(hash.0)),
            block_id: self.block_id.map(|hash| hash.to_bytes()),
        };
        let mut bytes = Vec::new();
        encode(&mut bytes, &bank);
        let full_epoch_stakes: Option<Vec<_>> = (!self.epoch_stakes.is_empty()).then(|| {
            self.epoch_stakes
                .iter()
                .map(|epoch| (epoch.epoch, layout::FullEpochStakes::new(epoch)))
                .collect()
        });
        encode(&mut bytes, &storages);
        encode(&mut bytes, &0u64);
        encode(&mut bytes, &self.slot);
        encode(&mut bytes, &layout::BankHashInfo::default());
        encode(&mut bytes, &Vec::<u64>::new());
        encode(&mut bytes, &Vec::<(u64, [u8; 32])>::new());
        encode(&mut bytes, &extra.lamports_per_signature);
        encode(&mut bytes, &extra.incremental_snapshot_persistence);
        encode(&mut bytes, &extra.epoch_accounts_hash);
        match &full_epoch_stakes {
            Some(full) => encode(&mut bytes, full),
            None => encode(&mut bytes, &extra.versioned_epoch_stakes),
        }
        encode(&mut bytes, &extra.accounts_lt_hash);
        encode(&mut bytes, &extra.block_id);
        bytes
    }
}

fn encode<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    bincode_options()
        .serialize_into(out, value)
        .expect("serializing into a Vec cannot fail");
}

fn bincode_options() -> impl Options + Copy {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .allow_trailing_bytes()
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The bytes do not decode as the expected layout.
    #[error("malformed manifest at byte {position} while reading {what}: {error}")]
    Malformed {
        what: &'static str,
        position: u64,
        error: bincode::Error,
    },
    /// A snapshot of a format this reader does not support.
    #[error("unsupported manifest: {0}")]
    Unsupported(&'static str),
    /// Fields that contradict each other.
    #[error("inconsistent manifest: {0}")]
    Inconsistent(String),
}

struct CountingReader<R> {
    inner: R,
    position: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.position += read as u64;
        Ok(read)
    }
}

fn decode<T: de::DeserializeOwned, R: Read>(
    reader: &mut CountingReader<R>,
    what: &'static str,
) -> Result<T, ManifestError> {
    let position = reader.position;
    bincode_options()
        .deserialize_from(&mut *reader)
        .map_err(|error| ManifestError::Malformed {
            what,
            position,
            error,
        })
}

fn decode_or_eof<T: de::DeserializeOwned, R: Read>(
    reader: &mut CountingReader<R>,
    what: &'static str,
) -> Result<Option<T>, ManifestError> {
    let start = reader.position;
    match decode(reader, what) {
        Ok(value) => Ok(Some(value)),
        // Only a clean end before the field is "absent"; a field cut in the middle is corrupt.
        Err(ManifestError::Malformed { error, .. })
            if reader.position == start
                && matches!(&*error, bincode::ErrorKind::Io(io)
                    if io.kind() == std::io::ErrorKind::UnexpectedEof) =>
        {
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Bincode-compatible mirrors of Agave's serialized types.
mod layout {
    use super::*;

    /// A sequence (or map) that is walked element by element and dropped; serialized empty.
    #[derive(Debug)]
    pub(super) struct IgnoredSeq<T>(pub(super) u64, PhantomData<T>);

    impl<T> Default for IgnoredSeq<T> {
        fn default() -> Self {
            Self(0, PhantomData)
        }
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for IgnoredSeq<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct CountVisitor<T>(PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for CountVisitor<T> {
                type Value = IgnoredSeq<T>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a sequence")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                    let mut count = 0u64;
                    while seq.next_element::<T>()?.is_some() {
                        count += 1;
                    }
                    Ok(IgnoredSeq(count, PhantomData))
                }
            }
            deserializer.deserialize_seq(CountVisitor(PhantomData))
        }
    }

    impl<T> Serialize for IgnoredSeq<T> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(std::iter::empty::<u8>())
        }
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub(super) struct HashInfo {
        pub(super) lamports_per_signature: u64,
        pub(super) hash_index: u64,
        pub(super) timestamp: u64,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub(super) struct BlockhashQueue {
        pub(super) last_hash_index: u64,
        pub(super) last_hash: Option<[u8; 32]>,
        pub(super) hashes: Vec<([u8; 32], HashInfo)>,
        pub(super) max_age: u64,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub(super) struct Account {
        pub(super) lamports: u64,
        pub(super) data: Vec<u8>,
        pub(super) owner: [u8; 32],
        pub(super) executable: bool,
        pub(super) rent_epoch: u64,
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    pub(super) struct Delegation {
        pub(super) voter_pubkey: [u8; 32],
        pub(super) stake: u64,
        pub(super) activation_epoch: u64,
        pub(super) deactivation_epoch: u64,
        pub(super) warmup_cooldown_rate: f64,
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    pub(super) struct Stake {
        pub(super) delegation: Delegation,
        pub(super) credits_observed: u64,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub(super) struct StakeHistoryEntry {
        pub(super) effective: u64,
        pub(super) activating: u64,
        pub(super) deactivating: u64,
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    pub(super) struct Stakes<T> {
        pub(super) vote_accounts: IgnoredSeq<([u8; 32], (u64, Account))>,
        pub(super) stake_delegations: IgnoredSeq<([u8; 32], T)>,
        pub(super) unused: u64,
        pub(super) epoch: u64,
        pub(super) stake_history: IgnoredSeq<(u64, StakeHistoryEntry)>,
    }

    /// `Stakes<Stake>` of the epoch stakes, keeping the vote accounts and the stake history.
    #[derive(Debug, Default, Serialize, Deserialize)]
    pub(super) struct EpochStakes {
        pub(super) vote_accounts: Vec<([u8; 32], (u64, Account))>,
        pub(super) stake_delegations: IgnoredSeq<([u8; 32], Stake)>,
        pub(super) unused: u64,
        pub(super) epoch: u64,
        pub(super) stake_history: Vec<(
            u64,
            solana_stake_interface::stake_history::StakeHistoryEntry,
        )>,
    }

    /// Three collections Agave no longer uses, always written empty.
    pub(super) type UnusedAccounts = (
        IgnoredSeq<[u8; 32]>,
        IgnoredSeq<[u8; 32]>,
        IgnoredSeq<([u8; 32], u64)>,
    );

    /// A node's vote accounts and their total stake.
    pub(super) type NodeVoteAccounts = (Vec<[u8; 32]>, u64);

    #[derive(Debug, Serialize, Deserialize)]
    pub(super) struct RentCollector {
        pub(super) epoch: u64,
        pub(super) epoch_schedule: EpochSchedule,
        pub(super) slots_per_year: f64,
        pub(super) rent: Rent,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub(super) struct BankFields<S = Stakes<Delegation>> {
        pub(super) blockhash_queue: BlockhashQueue,
        pub(super) ancestors: IgnoredSeq<(u64, u64)>,
        pub(super) hash: [u8; 32],
        pub(super) parent_hash: [u8; 32],
        pub(super) parent_slot: u64,
        pub(super) hard_forks: Vec<(u64, u64)>,
        pub(super) transaction_count: u64,
        pub(super) tick_height: u64,
        pub(super) signature_count: u64,
        pub(super) capitalization: u64,
        pub(super) max_tick_height: u64,
        pub(super) hashes_per_tick: Option<u64>,
        pub(super) ticks_per_slot: u64,
        pub(super) ns_per_slot: u128,
        pub(super) genesis_creation_time: i64,
        pub(super) slots_per_year: f64,
        pub(super) accounts_data_len: u64,
        pub(super) slot: u64,
        pub(super) epoch: u64,
        pub(super) block_height: u64,
        pub(super) leader_id: [u8; 32],
        pub(super) collector_fees: u64,
        pub(super) fee_calculator: u64,
        pub(super) fee_rate_governor: FeeRateGovernor,
        pub(super) collected_rent: u64,
        pub(super) rent_collector: RentCollector,
        pub(super) epoch_schedule: EpochSchedule,
        pub(super) inflation: Inflation,
        pub(super) stakes: S,
        pub(super) unused_accounts: UnusedAccounts,
        pub(super) unused_epoch_stakes: IgnoredSeq<(u64, ())>,
        pub(super) is_delta: bool,
    }

    impl<'a> BankFields<BankStakesOut<'a>> {
        pub(super) fn from_manifest(manifest: &'a SnapshotManifest) -> Self {
            let queue = &manifest.blockhash_queue;
            Self {
                blockhash_queue: BlockhashQueue {
                    last_hash_index: queue.last_hash_index,
                    last_hash: queue.last_hash.map(|hash| hash.to_bytes()),
                    hashes: queue
                        .entries
                        .iter()
                        .map(|entry| {
                            (
                                entry.hash.to_bytes(),
                                HashInfo {
                                    lamports_per_signature: entry.lamports_per_signature,
                                    hash_index: entry.hash_index,
                                    timestamp: entry.timestamp,
                                },
                            )
                        })
                        .collect(),
                    max_age: queue.max_age,
                },
                ancestors: IgnoredSeq::default(),
                hash: manifest.bank_hash.to_bytes(),
                parent_hash: manifest.parent_bank_hash.to_bytes(),
                parent_slot: manifest.parent_slot,
                hard_forks: manifest.hard_forks.clone(),
                transaction_count: manifest.transaction_count,
                tick_height: manifest.tick_height,
                signature_count: manifest.signature_count,
                capitalization: manifest.capitalization,
                max_tick_height: manifest.max_tick_height,
                hashes_per_tick: manifest.hashes_per_tick,
                ticks_per_slot: manifest.ticks_per_slot,
                ns_per_slot: manifest.ns_per_slot,
                genesis_creation_time: manifest.genesis_creation_time,
                slots_per_year: manifest.slots_per_year,
                accounts_data_len: manifest.accounts_data_len,
                slot: manifest.slot,
                epoch: manifest.epoch(),
                block_height: manifest.block_height,
                leader_id: manifest.leader_id.to_bytes(),
                collector_fees: 0,
                fee_calculator: 0,
                fee_rate_governor: manifest.fee_rate_governor,
                collected_rent: 0,
                rent_collector: RentCollector {
                    epoch: 0,
                    epoch_schedule: EpochSchedule {
                        slots_per_epoch: 0,
                        leader_schedule_slot_offset: 0,
                        warmup: false,
                        first_normal_epoch: 0,
                        first_normal_slot: 0,
                    },
                    slots_per_year: 0.0,
                    rent: Rent {
                        lamports_per_byte_year: 0,
                        exemption_threshold: 0.0,
                        burn_percent: 0,
                    },
                },
                epoch_schedule: manifest.epoch_schedule,
                inflation: manifest.inflation,
                stakes: BankStakesOut(manifest.stakes.as_ref()),
                unused_accounts: Default::default(),
                unused_epoch_stakes: IgnoredSeq::default(),
                is_delta: false,
            }
        }
    }

    /// The bank's stakes cache as `Stakes<Delegation>`: empty without stakes.
    #[derive(Debug)]
    pub(super) struct BankStakesOut<'a>(pub(super) Option<&'a BankStakes>);

    impl Serialize for BankStakesOut<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let Some(cache) = self.0 else {
                return Stakes::<Delegation>::default().serialize(serializer);
            };
            let stakes = cache.cache_vote_stakes();
            FullStakes {
                vote_accounts: MapOut(
                    cache
                        .vote_accounts
                        .iter()
                        .zip(stakes)
                        .map(|(vote, stake)| (vote.pubkey, (stake, &vote.account)))
                        .collect(),
                ),
                stake_delegations: MapOut(
                    cache
                        .delegations
                        .iter()
                        .map(|entry| (entry.pubkey, &entry.delegation))
                        .collect(),
                ),
                unused: 0,
                epoch: cache.epoch,
                stake_history: &cache.stake_history,
            }
            .serialize(serializer)
        }
    }

    #[derive(Serialize)]
    pub(super) struct FullStakes<'a, D: Serialize> {
        vote_accounts: MapOut<(Pubkey, (u64, &'a ManifestAccount))>,
        stake_delegations: MapOut<(Pubkey, D)>,
        unused: u64,
        epoch: u64,
        stake_history: &'a [(
            u64,
            solana_stake_interface::stake_history::StakeHistoryEntry,
        )],
    }

    /// A bincode map from pairs.
    pub(super) struct MapOut<T>(pub(super) Vec<T>);

    impl<K: Serialize, V: Serialize> Serialize for MapOut<(K, V)> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_map(self.0.iter().map(|(key, value)| (key, value)))
        }
    }

    /// `VersionedEpochStakes::Current` of one epoch.
    #[derive(Serialize)]
    pub(super) enum FullEpochStakes<'a> {
        Current {
            stakes: FullStakes<'a, ()>,
            total_stake: u64,
            node_id_to_vote_accounts: MapOut<(Pubkey, (Vec<Pubkey>, u64))>,
            epoch_authorized_voters: MapOut<(Pubkey, Pubkey)>,
        },
    }

    impl<'a> FullEpochStakes<'a> {
        pub(super) fn new(epoch: &'a crate::archive::stakes::EpochStakes) -> Self {
            Self::Current {
                stakes: FullStakes {
                    vote_accounts: MapOut(
                        epoch
                            .vote_accounts
                            .iter()
                            .map(|(vote, stake)| (vote.pubkey, (*stake, &vote.account)))
                            .collect(),
                    ),
                    // Agave writes epoch stakes without delegations.
                    stake_delegations: MapOut(Vec::new()),
                    unused: 0,
                    epoch: epoch.stakes_epoch,
                    stake_history: &epoch.stake_history,
                },
                total_stake: epoch.total_stake(),
                node_id_to_vote_accounts: MapOut(
                    epoch
                        .node_vote_accounts()
                        .into_iter()
                        .map(|(node, votes, total)| (node, (votes, total)))
                        .collect(),
                ),
                epoch_authorized_voters: MapOut(epoch.authorized_voters()),
            }
        }
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub(super) struct StorageEntry {
        pub(super) id: u64,
        pub(super) accounts_current_len: u64,
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    pub(super) struct BankHashStats {
        num_updated_accounts: u64,
        num_removed_accounts: u64,
        num_lamports_stored: u64,
        total_data_len: u64,
        num_executable_accounts: u64,
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    pub(super) struct BankHashInfo {
        accounts_delta_hash: [u8; 32],
        accounts_hash: [u8; 32],
        stats: BankHashStats,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub(super) struct IncrementalSnapshotPersistence {
        full_slot: u64,
        full_hash: [u8; 32],
        full_capitalization: u64,
        incremental_hash: [u8; 32],
        incremental_capitalization: u64,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub(super) enum VersionedEpochStakes {
        Current {
            stakes: EpochStakes,
            total_stake: u64,
            node_id_to_vote_accounts: IgnoredSeq<([u8; 32], NodeVoteAccounts)>,
            epoch_authorized_voters: IgnoredSeq<([u8; 32], [u8; 32])>,
        },
    }

    /// `[u16; 1024]` as a bincode tuple (serde derives arrays only up to 32 elements).
    #[derive(Debug)]
    pub(super) struct SerdeLtHash(pub(super) [u16; LtHash::NUM_ELEMENTS]);

    impl Serialize for SerdeLtHash {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut tuple = serializer.serialize_tuple(LtHash::NUM_ELEMENTS)?;
            for element in &self.0 {
                tuple.serialize_element(element)?;
            }
            tuple.end()
        }
    }

    impl<'de> Deserialize<'de> for SerdeLtHash {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct LtHashVisitor;
            impl<'de> Visitor<'de> for LtHashVisitor {
                type Value = SerdeLtHash;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("1024 u16 values")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                    let mut elements = [0u16; LtHash::NUM_ELEMENTS];
                    for (index, element) in elements.iter_mut().enumerate() {
                        *element = seq
                            .next_element()?
                            .ok_or_else(|| de::Error::invalid_length(index, &self))?;
                    }
                    Ok(SerdeLtHash(elements))
                }
            }
            deserializer.deserialize_tuple(LtHash::NUM_ELEMENTS, LtHashVisitor)
        }
    }

    #[derive(Debug, Default)]
    pub(super) struct ExtraFields {
        pub(super) lamports_per_signature: u64,
        pub(super) incremental_snapshot_persistence: Option<IncrementalSnapshotPersistence>,
        pub(super) epoch_accounts_hash: Option<[u8; 32]>,
        pub(super) versioned_epoch_stakes: Vec<(u64, VersionedEpochStakes)>,
        pub(super) accounts_lt_hash: Option<SerdeLtHash>,
        pub(super) block_id: Option<[u8; 32]>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_what_the_writer_writes() {
        let mut manifest = SnapshotManifest::new(42, 41, 1_000_000);
        manifest.storages = vec![
            StorageEntry {
                slot: 40,
                id: 3,
                len: 400,
            },
            StorageEntry {
                slot: 42,
                id: 4,
                len: 136,
            },
        ];
        manifest.blockhash_queue = BlockhashQueue {
            last_hash_index: 7,
            last_hash: Some(Hash::new_from_array([9; 32])),
            entries: vec![BlockhashEntry {
                hash: Hash::new_from_array([9; 32]),
                lamports_per_signature: 5000,
                hash_index: 7,
                timestamp: 1_700_000_000,
            }],
            max_age: 300,
        };
        manifest.epoch_total_stakes = vec![(0, 500), (1, 600)];
        let mut lt_hash = LtHash::identity();
        lt_hash.0[3] = 77;
        manifest.accounts_lt_hash = Some(lt_hash);
        manifest.block_id = Some(Hash::new_from_array([1; 32]));
        let bytes = manifest.to_bytes();
        let mut read = SnapshotManifest::read_from(&bytes[..], bytes.len() as u64).unwrap();
        // Epoch stakes written with totals only are read back with no vote accounts.
        assert_eq!(
            read.epoch_stakes
                .iter()
                .map(|stakes| (stakes.epoch, stakes.vote_accounts.len()))
                .collect::<Vec<_>>(),
            vec![(0, 0), (1, 0)]
        );
        read.epoch_stakes.clear();
        assert_eq!(read, manifest);
    }

    #[test]
    fn full_stakes_are_written_and_the_staked_vote_accounts_read_back() {
        use {
            super::super::stakes::{STAKE_PROGRAM, StakeRules, VOTE_PROGRAM},
            solana_vote_interface::state::{VoteInit, VoteStateV3, VoteStateVersions},
        };
        let vote_data = |node: Pubkey| {
            let state = VoteStateV3::new(
                &VoteInit {
                    node_pubkey: node,
                    authorized_voter: node,
                    authorized_withdrawer: node,
                    commission: 0,
                },
                &solana_clock::Clock::default(),
            );
            let mut data = vec![0; VoteStateV3::size_of()];
            bincode::serialize_into(&mut data[..], &VoteStateVersions::new_v3(state)).unwrap();
            data
        };
        let (staked, idle, node) = (
            Pubkey::new_unique(),
            Pubkey::new_unique(),
            Pubkey::new_unique(),
        );
        let mut cache = BankStakes::new(0, Vec::new(), StakeRules::default());
        cache.offer(
            &staked,
            10,
            &VOTE_PROGRAM,
            false,
            u64::MAX,
            &vote_data(node),
        );
        cache.offer(
            &idle,
            10,
            &VOTE_PROGRAM,
            false,
            u64::MAX,
            &vote_data(Pubkey::new_unique()),
        );
        let delegation = solana_stake_interface::state::StakeStateV2::Stake(
            Default::default(),
            solana_stake_interface::state::Stake {
                delegation: solana_stake_interface::state::Delegation::new(&staked, 777, u64::MAX),
                credits_observed: 0,
            },
            Default::default(),
        );
        let stake_data = bincode::serialize(&delegation).unwrap();
        cache.offer(
            &Pubkey::new_unique(),
            800,
            &STAKE_PROGRAM,
            false,
            u64::MAX,
            &stake_data,
        );
        let mut manifest = SnapshotManifest::new(5, 4, 10);
        manifest.epoch_schedule = EpochSchedule::without_warmup(32);
        manifest.set_stakes(cache.finish(), &[]);
        assert_eq!(manifest.leader_id, node);
        assert_eq!(manifest.epoch_total_stakes, vec![(0, 777), (1, 777)]);
        let bytes = manifest.to_bytes();
        let read = SnapshotManifest::read_from(&bytes[..], bytes.len() as u64).unwrap();
        assert_eq!(read.epoch_total_stakes, manifest.epoch_total_stakes);
        assert_eq!(read.leader_id, node);
        // The unstaked vote account is in the written epoch stakes but not kept by the reader.
        let kept: Vec<_> = manifest
            .epoch_stakes
            .iter()
            .map(|stakes| EpochStakes {
                vote_accounts: stakes
                    .vote_accounts
                    .iter()
                    .filter(|(_, stake)| *stake > 0)
                    .cloned()
                    .collect(),
                ..stakes.clone()
            })
            .collect();
        assert_eq!(manifest.epoch_stakes[0].vote_accounts.len(), 2);
        assert_eq!(read.epoch_stakes, kept);
        // Written again from what was read, the epoch stakes are the same.
        let mut again = read.clone();
        again.stakes = manifest.stakes.clone();
        let again = again.to_bytes();
        let reread = SnapshotManifest::read_from(&again[..], again.len() as u64).unwrap();
        assert_eq!(reread.epoch_stakes, kept);
    }

    #[test]
    fn truncation_is_an_error_not_a_default() {
        let mut manifest = SnapshotManifest::new(5, 4, 10);
        manifest.accounts_lt_hash = Some(LtHash::identity());
        let bytes = manifest.to_bytes();
        // Cut inside the lattice hash: corrupt, not "absent".
        let cut = bytes.len() - 40;
        let error = SnapshotManifest::read_from(&bytes[..cut], cut as u64).unwrap_err();
        assert!(matches!(error, ManifestError::Malformed { .. }), "{error}");
        // Cut inside the bank fields.
        let error = SnapshotManifest::read_from(&bytes[..100], 100).unwrap_err();
        assert!(error.to_string().contains("bank fields"), "{error}");
    }

    #[test]
    fn hostile_lengths_do_not_allocate() {
        let mut bytes = SnapshotManifest::new(5, 4, 10).to_bytes();
        // The blockhash queue's hash map length sits after last_hash_index (8) and last_hash (1).
        bytes[9..17].copy_from_slice(&u64::MAX.to_le_bytes());
        let error = SnapshotManifest::read_from(&bytes[..], bytes.len() as u64).unwrap_err();
        assert!(matches!(error, ManifestError::Malformed { .. }));
    }
}
