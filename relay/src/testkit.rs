//! Genuine-layout shreds for tests, the benchmark and `relay test-send`: correct common and
//! data/coding headers at the right total sizes, with deterministic contents. Not signed (a relay
//! does not verify leader signatures; the validator does).

use crate::shred::{
    PACKET_DATA_SIZE, SIZE_OF_CODING_SHRED_HEADERS, SIZE_OF_DATA_SHRED_HEADERS, SIZE_OF_SIGNATURE,
    ShredType, ShredVariant, Slot,
};

/// Shreds per slot in [`ShredSpec::nth`]'s stream: two erasure batches of 32 data + 32 coding.
pub const SHREDS_PER_SLOT: u64 = 128;
const BATCH: u32 = 32;
/// Bytes of the stamp [`stamp`] writes (sequence, then send time in ns since the Unix epoch).
pub const STAMP_LEN: usize = 16;

/// What to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShredSpec {
    /// Variant (decides the shred type and size).
    pub variant: ShredVariant,
    /// Slot.
    pub slot: Slot,
    /// Index within the slot.
    pub index: u32,
    /// Shred version.
    pub version: u16,
    /// First data shred index of the erasure batch.
    pub fec_set_index: u32,
    /// Last data shred of the slot.
    pub last_in_slot: bool,
}

impl ShredSpec {
    /// A chained Merkle data shred with proof size 6 (a 32:32 batch), as mainnet sends.
    pub fn data(slot: Slot, index: u32, version: u16) -> Self {
        Self {
            variant: ShredVariant::MerkleData {
                proof_size: 6,
                chained: true,
                resigned: false,
            },
            slot,
            index,
            version,
            fec_set_index: index / BATCH * BATCH,
            last_in_slot: false,
        }
    }

    /// A chained Merkle coding shred with proof size 6.
    pub fn code(slot: Slot, index: u32, version: u16) -> Self {
        Self {
            variant: ShredVariant::MerkleCode {
                proof_size: 6,
                chained: true,
                resigned: false,
            },
            slot,
            index,
            version,
            fec_set_index: index / BATCH * BATCH,
            last_in_slot: false,
        }
    }

    /// One of each family: legacy data, legacy code, Merkle data (resigned), Merkle code.
    pub fn examples(slot: Slot, version: u16) -> Vec<Self> {
        let mut resigned = Self::data(slot, 33, version);
        resigned.variant = ShredVariant::MerkleData {
            proof_size: 6,
            chained: true,
            resigned: true,
        };
        resigned.last_in_slot = true;
        vec![
            Self {
                variant: ShredVariant::LegacyData,
                ..Self::data(slot, 1, version)
            },
            Self {
                variant: ShredVariant::LegacyCode,
                ..Self::code(slot, 1, version)
            },
            resigned,
            Self::code(slot, 2, version),
        ]
    }

    /// The `n`-th shred of a turbine-like stream starting at `first_slot`: per slot two erasure
    /// batches, each 32 data then 32 coding shreds; the last batch of a slot is resigned and its
    /// last data shred is marked last in slot.
    pub fn nth(n: u64, first_slot: Slot, version: u16) -> Self {
        let slot = first_slot + n / SHREDS_PER_SLOT;
        let k = (n % SHREDS_PER_SLOT) as u32;
        let batch = k / (2 * BATCH);
        let j = k % (2 * BATCH);
        let resigned = batch == 1;
        let index = batch * BATCH + j % BATCH;
        let mut spec = if j < BATCH {
            Self::data(slot, index, version)
        } else {
            Self::code(slot, index, version)
        };
        spec.variant = match spec.variant {
            ShredVariant::MerkleData { proof_size, .. } => ShredVariant::MerkleData {
                proof_size,
                chained: true,
                resigned,
            },
            ShredVariant::MerkleCode { proof_size, .. } => ShredVariant::MerkleCode {
                proof_size,
                chained: true,
                resigned,
            },
            other => other,
        };
        spec.last_in_slot = resigned && j == BATCH - 1;
        spec
    }
}

/// A deterministic byte stream (splitmix64), so that contents differ per shred.
fn fill(seed: u64, out: &mut [u8]) {
    let mut state = seed;
    for chunk in out.chunks_mut(8) {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let bytes = z.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// Builds the shred `spec` describes: headers, then deterministic bytes to its full size. The
/// signature is the same for a whole erasure batch (as a Merkle root signature is).
pub fn build_shred(spec: &ShredSpec) -> Vec<u8> {
    let size = spec.variant.payload_size();
    let mut out = vec![0u8; size];
    let batch_seed = spec.slot.wrapping_mul(0x1_0000_0001) ^ u64::from(spec.fec_set_index);
    fill(batch_seed, &mut out[..SIZE_OF_SIGNATURE]);
    out[64] = spec
        .variant
        .to_byte()
        .expect("ShredSpec holds an encodable variant");
    out[65..73].copy_from_slice(&spec.slot.to_le_bytes());
    out[73..77].copy_from_slice(&spec.index.to_le_bytes());
    out[77..79].copy_from_slice(&spec.version.to_le_bytes());
    out[79..83].copy_from_slice(&spec.fec_set_index.to_le_bytes());
    let body_seed = batch_seed ^ (u64::from(spec.index) << 40) ^ 0x5eed;
    match spec.variant.shred_type() {
        ShredType::Data => {
            let parent_offset: u16 = if spec.slot == 0 { 0 } else { 1 };
            let capacity = spec.variant.data_capacity().unwrap_or(0);
            let flags: u8 = if spec.last_in_slot { 0b1100_0000 } else { 0 } | 5;
            let size = (SIZE_OF_DATA_SHRED_HEADERS + capacity) as u16;
            out[83..85].copy_from_slice(&parent_offset.to_le_bytes());
            out[85] = flags;
            out[86..88].copy_from_slice(&size.to_le_bytes());
            fill(body_seed, &mut out[SIZE_OF_DATA_SHRED_HEADERS..]);
        }
        ShredType::Code => {
            let position = spec.index.wrapping_sub(spec.fec_set_index) % BATCH;
            out[83..85].copy_from_slice(&(BATCH as u16).to_le_bytes());
            out[85..87].copy_from_slice(&(BATCH as u16).to_le_bytes());
            out[87..89].copy_from_slice(&(position as u16).to_le_bytes());
            fill(body_seed, &mut out[SIZE_OF_CODING_SHRED_HEADERS..]);
        }
    }
    debug_assert!(out.len() <= PACKET_DATA_SIZE);
    out
}

fn stamp_offset(shred: &[u8]) -> usize {
    match shred
        .get(64)
        .and_then(|byte| ShredVariant::from_byte(*byte).ok())
    {
        Some(variant) if variant.shred_type() == ShredType::Code => SIZE_OF_CODING_SHRED_HEADERS,
        _ => SIZE_OF_DATA_SHRED_HEADERS,
    }
}

/// Writes a sequence number and a send time into the shred's data buffer (which holds arbitrary
/// bytes), so a receiver can measure latency and loss. No-op on a too-short buffer.
pub fn stamp(shred: &mut [u8], seq: u64, sent_unix_nanos: u64) {
    let offset = stamp_offset(shred);
    if let Some(bytes) = shred.get_mut(offset..offset + STAMP_LEN) {
        bytes[..8].copy_from_slice(&seq.to_le_bytes());
        bytes[8..].copy_from_slice(&sent_unix_nanos.to_le_bytes());
    }
}

/// Reads what [`stamp`] wrote: `(seq, sent_unix_nanos)`.
pub fn read_stamp(shred: &[u8]) -> Option<(u64, u64)> {
    let offset = stamp_offset(shred);
    let bytes = shred.get(offset..offset + STAMP_LEN)?;
    let mut seq = [0u8; 8];
    let mut sent = [0u8; 8];
    seq.copy_from_slice(&bytes[..8]);
    sent.copy_from_slice(&bytes[8..]);
    Some((u64::from_le_bytes(seq), u64::from_le_bytes(sent)))
}

#[cfg(test)]
mod tests {
    use {super::*, crate::shred::parse};

    #[test]
    fn stream_is_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..(3 * SHREDS_PER_SLOT) {
            let spec = ShredSpec::nth(n, 1000, 9);
            let mut bytes = build_shred(&spec);
            stamp(&mut bytes, n, 77);
            assert_eq!(read_stamp(&bytes), Some((n, 77)));
            let header = parse(&bytes).expect("genuine layout");
            assert_eq!(header.slot, spec.slot);
            assert!(seen.insert((
                header.slot,
                header.index,
                header.shred_type() == ShredType::Data
            )));
        }
        let last = ShredSpec::nth(SHREDS_PER_SLOT / 2 + 31, 1000, 9);
        assert!(last.last_in_slot);
        assert!(parse(&build_shred(&last)).unwrap().last_in_slot());
    }
}
