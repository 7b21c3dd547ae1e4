//! Node metadata kept in the `meta` column family, and rooted slot metadata in `slots`.

use {
    serde::{Deserialize, Serialize},
    snapshot_tools::archive::{
        SnapshotManifest,
        manifest::{BlockhashQueue, EpochSchedule, FeeRateGovernor, Inflation},
    },
    solana_hash::Hash,
};

use super::Slot;

/// Bumped whenever an on-disk encoding changes; a store of another version is not opened.
pub const SCHEMA_VERSION: u32 = 1;

pub(crate) mod keys {
    pub(crate) const SCHEMA_VERSION: &[u8] = b"schema_version";
    pub(crate) const ROOT_SLOT: &[u8] = b"root_slot";
    pub(crate) const LT_HASH: &[u8] = b"accounts_lt_hash";
    pub(crate) const CAPITALIZATION: &[u8] = b"capitalization";
    pub(crate) const ACCOUNT_COUNT: &[u8] = b"account_count";
    pub(crate) const BANK: &[u8] = b"bank";
    pub(crate) const SNAPSHOT: &[u8] = b"snapshot";
    pub(crate) const INDEX_CONFIG: &[u8] = b"index_config";
}

/// What the bank manifest of the bootstrap snapshot says about the cluster: values a replica
/// cannot derive from accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BankInfo {
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
    /// Transaction count at the snapshot slot.
    pub transaction_count: u64,
    pub blockhash_queue: BlockhashQueue,
}

impl BankInfo {
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

/// The archives the store was bootstrapped from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotOrigin {
    pub full_archive: String,
    pub incremental_archive: Option<String>,
    pub slot: Slot,
    pub verified: bool,
}

/// Metadata of a rooted slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotMeta {
    pub slot: Slot,
    pub parent: Slot,
    pub blockhash: Hash,
    pub block_height: Option<u64>,
    pub block_time: Option<i64>,
}

impl SlotMeta {
    pub fn from_manifest(manifest: &SnapshotManifest) -> Self {
        Self {
            slot: manifest.slot,
            parent: manifest.parent_slot,
            blockhash: manifest.blockhash_queue.last_hash.unwrap_or_default(),
            block_height: Some(manifest.block_height),
            block_time: None,
        }
    }
}

pub(crate) fn slot_key(slot: Slot) -> [u8; 8] {
    slot.to_be_bytes()
}
