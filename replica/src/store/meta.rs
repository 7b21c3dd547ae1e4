//! Node metadata kept in the `meta` column family, and rooted slot metadata in `slots`.

use {
    serde::{Deserialize, Serialize},
    snapshot_tools::archive::SnapshotManifest,
    solana_clock::Slot,
    solana_hash::Hash,
};

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
    /// Entries per index family (bincode `[u64; 4]` in `IndexKind::ALL` order), written with
    /// every change of the indexes; absent while they are not known to be complete.
    pub(crate) const INDEX_COUNTS: &[u8] = b"index_counts";
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
