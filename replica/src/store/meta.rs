//! Node metadata kept in the `meta` column family, and rooted slot metadata in `slots`.

use {
    serde::{Deserialize, Serialize},
    snapshot_tools::archive::SnapshotManifest,
    solana_clock::Slot,
    solana_hash::Hash,
};

/// Bumped whenever an on-disk encoding changes; a store of another version is not opened,
/// except version 1 (slot metadata without transaction counts), which is still read and is
/// marked version 2 at open.
pub const SCHEMA_VERSION: u32 = 2;

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
    /// [`super::BootstrapBank`]; absent in stores bootstrapped before it was kept.
    pub(crate) const BOOTSTRAP_BANK: &[u8] = b"bootstrap_bank";
    /// The bootstrap snapshot's epoch stakes (staked vote accounts; bincode
    /// `Vec<EpochStakes>`); absent in stores bootstrapped before they were kept.
    pub(crate) const BOOTSTRAP_EPOCH_STAKES: &[u8] = b"bootstrap_epoch_stakes";
}

/// What the bootstrap snapshot's bank says that no slot stream carries: the values Agave hashes
/// into a bank hash besides the blockhash and the accounts, so that an archive of the bootstrap
/// slot has the original bank hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapBank {
    pub slot: Slot,
    pub bank_hash: Hash,
    pub parent_bank_hash: Hash,
    pub signature_count: u64,
}

impl BootstrapBank {
    pub fn from_manifest(manifest: &SnapshotManifest) -> Self {
        Self {
            slot: manifest.slot,
            bank_hash: manifest.bank_hash,
            parent_bank_hash: manifest.parent_bank_hash,
            signature_count: manifest.signature_count,
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
    /// Transactions this bank executed, when its upstream said.
    pub executed_transaction_count: Option<u64>,
    /// Agave's `transaction_count` after this bank (every transaction executed since genesis),
    /// when known: the snapshot's, plus each later slot's executed count.
    pub transaction_count: Option<u64>,
}

/// [`SlotMeta`] as schema version 1 stored it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SlotMetaV1 {
    pub slot: Slot,
    pub parent: Slot,
    pub blockhash: Hash,
    pub block_height: Option<u64>,
    pub block_time: Option<i64>,
}

impl From<SlotMetaV1> for SlotMeta {
    fn from(meta: SlotMetaV1) -> Self {
        Self {
            slot: meta.slot,
            parent: meta.parent,
            blockhash: meta.blockhash,
            block_height: meta.block_height,
            block_time: meta.block_time,
            executed_transaction_count: None,
            transaction_count: None,
        }
    }
}

/// Decodes `bytes` as the current encoding of `T`, else as its schema-version-1 encoding
/// `V1` (always shorter, so never mistaken for the current one).
pub(crate) fn decode_versioned<T, V1>(bytes: &[u8]) -> Option<T>
where
    T: serde::de::DeserializeOwned,
    V1: serde::de::DeserializeOwned + Into<T>,
{
    bincode::deserialize::<T>(bytes)
        .ok()
        .or_else(|| bincode::deserialize::<V1>(bytes).ok().map(Into::into))
}

impl SlotMeta {
    pub fn from_manifest(manifest: &SnapshotManifest) -> Self {
        Self {
            slot: manifest.slot,
            parent: manifest.parent_slot,
            blockhash: manifest.blockhash_queue.last_hash.unwrap_or_default(),
            block_height: Some(manifest.block_height),
            block_time: None,
            executed_transaction_count: None,
            transaction_count: Some(manifest.transaction_count),
        }
    }

    /// The metadata of a slot on top of `parent`: the transaction count carries on when both
    /// the parent's and this slot's executed count are known.
    pub fn on_parent(
        slot: Slot,
        parent: &SlotMeta,
        blockhash: Hash,
        block_height: Option<u64>,
        block_time: Option<i64>,
        executed_transaction_count: Option<u64>,
    ) -> Self {
        Self {
            slot,
            parent: parent.slot,
            blockhash,
            block_height,
            block_time,
            executed_transaction_count,
            transaction_count: parent
                .transaction_count
                .zip(executed_transaction_count)
                .map(|(before, executed)| before.saturating_add(executed)),
        }
    }
}

pub(crate) fn slot_key(slot: Slot) -> [u8; 8] {
    slot.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::store::delta_log::{DeltaSlotHeader, decode_header},
    };

    fn v1() -> SlotMetaV1 {
        SlotMetaV1 {
            slot: 12,
            parent: 11,
            blockhash: Hash::new_unique(),
            block_height: Some(10),
            block_time: None,
        }
    }

    #[test]
    fn schema_1_records_still_decode() {
        let old = v1();
        let meta: SlotMeta =
            decode_versioned::<SlotMeta, SlotMetaV1>(&bincode::serialize(&old).unwrap()).unwrap();
        assert_eq!(meta, SlotMeta::from(old));
        assert_eq!(meta.transaction_count, None);
        // A header of schema 1: its slot metadata is shorter, in the middle of the record.
        #[derive(Serialize)]
        struct HeaderV1 {
            meta: SlotMetaV1,
            records: u64,
            chunks: u32,
            accounts_lt_hash: Hash,
        }
        for records in [0, 1, 2, 300] {
            let hash = Hash::new_unique();
            let bytes = bincode::serialize(&HeaderV1 {
                meta: old,
                records,
                chunks: 7,
                accounts_lt_hash: hash,
            })
            .unwrap();
            let header = decode_header(&bytes).unwrap();
            assert_eq!((header.records, header.chunks), (records, 7));
            assert_eq!(header.accounts_lt_hash, hash);
            assert_eq!(header.meta, SlotMeta::from(old));
        }
        // The current encoding round-trips, counts included.
        let current = DeltaSlotHeader {
            meta: SlotMeta {
                executed_transaction_count: Some(5),
                transaction_count: Some(1_000_005),
                ..SlotMeta::from(old)
            },
            records: 1,
            chunks: 1,
            accounts_lt_hash: Hash::new_unique(),
        };
        assert_eq!(
            decode_header(&bincode::serialize(&current).unwrap()),
            Some(current)
        );
    }

    #[test]
    fn the_count_carries_on_only_when_known() {
        let parent = SlotMeta {
            transaction_count: Some(100),
            ..SlotMeta::from(v1())
        };
        let child = SlotMeta::on_parent(13, &parent, Hash::new_unique(), None, None, Some(7));
        assert_eq!(child.transaction_count, Some(107));
        let unknown = SlotMeta::on_parent(13, &parent, Hash::new_unique(), None, None, None);
        assert_eq!(unknown.transaction_count, None);
        let orphan = SlotMeta::on_parent(14, &unknown, Hash::new_unique(), None, None, Some(1));
        assert_eq!(orphan.transaction_count, None);
    }
}
