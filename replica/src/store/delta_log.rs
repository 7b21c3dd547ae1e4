//! The retained delta log: every rooted slot's final account versions (tombstones included),
//! written in the same batch as the slot's commit, kept for `retention_slots`, and read back to
//! serve downstream replicas.
//!
//! Keys: `slot (BE) ‖ 0xFFFFFFFF` → [`DeltaSlotHeader`]; `slot (BE) ‖ chunk (BE)` → records
//! `[pubkey 32][lamports 8][rent_epoch 8][owner 32][executable 1][data_len 4][data]`.

use {
    super::{AccountUpdate, Slot, SlotMeta},
    serde::{Deserialize, Serialize},
    solana_hash::Hash,
    solana_pubkey::Pubkey,
};

const HEADER_CHUNK: u32 = u32::MAX;
/// Records are grouped into values of about this many bytes.
const CHUNK_BYTES: usize = 256 << 10;
const RECORD_HEADER: usize = 32 + 8 + 8 + 32 + 1 + 4;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaSlotHeader {
    pub meta: SlotMeta,
    pub records: u64,
    pub chunks: u32,
    /// The lattice-hash checksum of the whole state after this slot.
    pub accounts_lt_hash: Hash,
}

/// [`DeltaSlotHeader`] as schema version 1 stored it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct DeltaSlotHeaderV1 {
    meta: super::meta::SlotMetaV1,
    records: u64,
    chunks: u32,
    accounts_lt_hash: Hash,
}

impl From<DeltaSlotHeaderV1> for DeltaSlotHeader {
    fn from(header: DeltaSlotHeaderV1) -> Self {
        Self {
            meta: header.meta.into(),
            records: header.records,
            chunks: header.chunks,
            accounts_lt_hash: header.accounts_lt_hash,
        }
    }
}

/// Decodes a stored delta-log header (of either schema version).
pub(crate) fn decode_header(bytes: &[u8]) -> Option<DeltaSlotHeader> {
    super::meta::decode_versioned::<DeltaSlotHeader, DeltaSlotHeaderV1>(bytes)
}

/// One account version from the delta log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaRecord {
    pub pubkey: Pubkey,
    pub lamports: u64,
    pub rent_epoch: u64,
    pub owner: Pubkey,
    pub executable: bool,
    pub data: Vec<u8>,
}

pub(crate) fn key(slot: Slot, chunk: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&slot.to_be_bytes());
    key[8..].copy_from_slice(&chunk.to_be_bytes());
    key
}

pub(crate) fn header_key(slot: Slot) -> [u8; 12] {
    key(slot, HEADER_CHUNK)
}

/// Splits the slot key off a delta-log key.
pub(crate) fn slot_of(key: &[u8]) -> Option<Slot> {
    Some(u64::from_be_bytes(key.get(..8)?.try_into().ok()?))
}

/// Encodes a slot's updates into chunk values.
pub(crate) fn encode_chunks(updates: &[AccountUpdate<'_>]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut chunk = Vec::new();
    for update in updates {
        if !chunk.is_empty() && chunk.len() + RECORD_HEADER + update.data.len() > CHUNK_BYTES {
            chunks.push(std::mem::take(&mut chunk));
        }
        chunk.extend_from_slice(update.pubkey.as_ref());
        chunk.extend_from_slice(&update.lamports.to_le_bytes());
        chunk.extend_from_slice(&update.rent_epoch.to_le_bytes());
        chunk.extend_from_slice(update.owner.as_ref());
        chunk.push(u8::from(update.executable));
        chunk.extend_from_slice(&(update.data.len() as u32).to_le_bytes());
        chunk.extend_from_slice(update.data);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
}

/// Decodes one chunk value; `None` if it is malformed.
pub(crate) fn decode_chunk(bytes: &[u8]) -> Option<Vec<DeltaRecord>> {
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let header = bytes.get(at..at + RECORD_HEADER)?;
        let data_len = u32::from_le_bytes(header[81..85].try_into().ok()?) as usize;
        let data = bytes.get(at + RECORD_HEADER..at + RECORD_HEADER + data_len)?;
        records.push(DeltaRecord {
            pubkey: Pubkey::new_from_array(header[..32].try_into().ok()?),
            lamports: u64::from_le_bytes(header[32..40].try_into().ok()?),
            rent_epoch: u64::from_le_bytes(header[40..48].try_into().ok()?),
            owner: Pubkey::new_from_array(header[48..80].try_into().ok()?),
            executable: header[80] == 1,
            data: data.to_vec(),
        });
        at += RECORD_HEADER + data_len;
    }
    Some(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip() {
        let data = vec![7u8; 100_000];
        let keys: Vec<Pubkey> = (0..10).map(|_| Pubkey::new_unique()).collect();
        let updates: Vec<AccountUpdate<'_>> = keys
            .iter()
            .enumerate()
            .map(|(index, pubkey)| AccountUpdate {
                pubkey: *pubkey,
                lamports: index as u64,
                owner: Pubkey::default(),
                executable: index % 2 == 0,
                rent_epoch: 3,
                data: &data[..index * 10_000],
            })
            .collect();
        let chunks = encode_chunks(&updates);
        assert!(chunks.len() > 1);
        let decoded: Vec<DeltaRecord> = chunks
            .iter()
            .flat_map(|chunk| decode_chunk(chunk).unwrap())
            .collect();
        assert_eq!(decoded.len(), 10);
        assert_eq!(decoded[9].data.len(), 90_000);
        assert_eq!(decoded[3].pubkey, keys[3]);
        assert!(decode_chunk(&chunks[0][..50]).is_none());
    }
}
