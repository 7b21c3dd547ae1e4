//! The shred common header and the data/coding header after it, parsed from a UDP payload
//! without I/O. Layout as in Agave 4.2 (`solana-ledger`, `shred.rs`, `shred/{legacy,merkle,
//! shred_data,shred_code,wire}.rs`):
//!
//! ```text
//! offset size field                      (all integers little-endian)
//!  0     64   signature
//!  64    1    variant   0x5a legacy code, 0xa5 legacy data,
//!                       0x4? / 0x6? / 0x7?  Merkle code (plain / chained / chained+resigned),
//!                       0x8? / 0x9? / 0xb?  Merkle data (plain / chained / chained+resigned),
//!                       low nibble of a Merkle variant = proof size (Merkle proof entries)
//!  65    8    slot
//!  73    4    index
//!  77    2    shred version
//!  79    4    fec set index
//! data shreds:  83 u16 parent offset, 85 u8 flags, 86 u16 size (headers + data bytes)
//! code shreds:  83 u16 num data shreds, 85 u16 num coding shreds, 87 u16 position
//! ```
//!
//! Shred payload sizes: legacy data and code 1228 bytes, Merkle data 1203, Merkle code 1228. As
//! Agave's `wire::get_shred` does, a datagram may be longer than its shred (repair appends a
//! nonce); it may not be shorter, nor longer than a packet's 1232 data bytes.

use thiserror::Error;

/// A slot number.
pub type Slot = u64;

/// Bytes of the signature at the front of every shred.
pub const SIZE_OF_SIGNATURE: usize = 64;
/// Bytes of the common header.
pub const SIZE_OF_COMMON_SHRED_HEADER: usize = 83;
/// Bytes of the common and data headers.
pub const SIZE_OF_DATA_SHRED_HEADERS: usize = 88;
/// Bytes of the common and coding headers.
pub const SIZE_OF_CODING_SHRED_HEADERS: usize = 89;
/// Payload of a legacy data or coding shred and of a Merkle coding shred.
pub const SIZE_OF_SHRED_CODE_PAYLOAD: usize = 1228;
/// Payload of a Merkle data shred.
pub const SIZE_OF_MERKLE_DATA_PAYLOAD: usize = 1203;
/// The most data bytes a Solana packet carries (`solana_packet::PACKET_DATA_SIZE`).
pub const PACKET_DATA_SIZE: usize = 1232;
/// Bytes of one Merkle proof entry.
pub const SIZE_OF_MERKLE_PROOF_ENTRY: usize = 20;
/// Bytes of the chained Merkle root of the previous erasure batch.
pub const SIZE_OF_MERKLE_ROOT: usize = 32;

const LEGACY_CODE: u8 = 0b0101_1010;
const LEGACY_DATA: u8 = 0b1010_0101;
/// Data shred flags: the top bit (last in slot) needs the data-complete bit.
const FLAG_DATA_COMPLETE: u8 = 0b0100_0000;
const FLAG_LAST_IN_SLOT: u8 = 0b1000_0000;

/// What the variant byte says: shred type and, for Merkle shreds, the layout after the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShredVariant {
    /// Legacy coding shred (0x5a).
    LegacyCode,
    /// Legacy data shred (0xa5).
    LegacyData,
    /// Merkle coding shred.
    MerkleCode {
        /// Merkle proof entries (low nibble).
        proof_size: u8,
        /// Carries the Merkle root of the previous erasure batch.
        chained: bool,
        /// Carries a retransmitter signature at the end.
        resigned: bool,
    },
    /// Merkle data shred.
    MerkleData {
        /// Merkle proof entries (low nibble).
        proof_size: u8,
        /// Carries the Merkle root of the previous erasure batch.
        chained: bool,
        /// Carries a retransmitter signature at the end.
        resigned: bool,
    },
}

/// Data or coding, as Agave's `ShredType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShredType {
    /// Carries ledger entries.
    Data,
    /// Carries Reed-Solomon parity.
    Code,
}

impl ShredVariant {
    /// Decodes the variant byte.
    pub fn from_byte(byte: u8) -> Result<Self, ShredError> {
        let proof_size = byte & 0x0f;
        let merkle_code = |chained, resigned| ShredVariant::MerkleCode {
            proof_size,
            chained,
            resigned,
        };
        let merkle_data = |chained, resigned| ShredVariant::MerkleData {
            proof_size,
            chained,
            resigned,
        };
        match byte {
            LEGACY_CODE => Ok(Self::LegacyCode),
            LEGACY_DATA => Ok(Self::LegacyData),
            _ => match byte & 0xf0 {
                0x40 => Ok(merkle_code(false, false)),
                0x60 => Ok(merkle_code(true, false)),
                0x70 => Ok(merkle_code(true, true)),
                0x80 => Ok(merkle_data(false, false)),
                0x90 => Ok(merkle_data(true, false)),
                0xb0 => Ok(merkle_data(true, true)),
                _ => Err(ShredError::InvalidVariant(byte)),
            },
        }
    }

    /// Encodes the variant byte (the inverse of [`ShredVariant::from_byte`]); `None` for a
    /// combination Agave never encodes (resigned but not chained, proof size above 15).
    pub fn to_byte(self) -> Option<u8> {
        match self {
            Self::LegacyCode => Some(LEGACY_CODE),
            Self::LegacyData => Some(LEGACY_DATA),
            Self::MerkleCode {
                proof_size,
                chained,
                resigned,
            } => merkle_byte(0x40, 0x60, 0x70, proof_size, chained, resigned),
            Self::MerkleData {
                proof_size,
                chained,
                resigned,
            } => merkle_byte(0x80, 0x90, 0xb0, proof_size, chained, resigned),
        }
    }

    /// Data or coding.
    pub fn shred_type(self) -> ShredType {
        match self {
            Self::LegacyData | Self::MerkleData { .. } => ShredType::Data,
            Self::LegacyCode | Self::MerkleCode { .. } => ShredType::Code,
        }
    }

    /// The shred's payload size on the wire.
    pub fn payload_size(self) -> usize {
        match self {
            Self::MerkleData { .. } => SIZE_OF_MERKLE_DATA_PAYLOAD,
            Self::LegacyData | Self::LegacyCode | Self::MerkleCode { .. } => {
                SIZE_OF_SHRED_CODE_PAYLOAD
            }
        }
    }

    /// Bytes of ledger data a data shred of this variant holds at most (its data buffer).
    pub fn data_capacity(self) -> Option<usize> {
        match self {
            Self::LegacyData => SIZE_OF_SHRED_CODE_PAYLOAD
                .checked_sub(SIZE_OF_DATA_SHRED_HEADERS + SIZE_OF_CODING_SHRED_HEADERS),
            Self::MerkleData {
                proof_size,
                chained,
                resigned,
            } => merkle_capacity(
                SIZE_OF_MERKLE_DATA_PAYLOAD,
                SIZE_OF_DATA_SHRED_HEADERS,
                proof_size,
                chained,
                resigned,
            ),
            Self::LegacyCode | Self::MerkleCode { .. } => None,
        }
    }
}

fn merkle_byte(
    plain: u8,
    chained_tag: u8,
    resigned_tag: u8,
    proof_size: u8,
    chained: bool,
    resigned: bool,
) -> Option<u8> {
    if proof_size > 0x0f {
        return None;
    }
    match (chained, resigned) {
        (false, false) => Some(plain | proof_size),
        (true, false) => Some(chained_tag | proof_size),
        (true, true) => Some(resigned_tag | proof_size),
        (false, true) => None,
    }
}

fn merkle_capacity(
    payload: usize,
    headers: usize,
    proof_size: u8,
    chained: bool,
    resigned: bool,
) -> Option<usize> {
    payload
        .checked_sub(headers)?
        .checked_sub(if chained { SIZE_OF_MERKLE_ROOT } else { 0 })?
        .checked_sub(usize::from(proof_size) * SIZE_OF_MERKLE_PROOF_ENTRY)?
        .checked_sub(if resigned { SIZE_OF_SIGNATURE } else { 0 })
}

/// The header after the common header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShredKind {
    /// A data shred's header.
    Data {
        /// `slot - parent slot`.
        parent_offset: u16,
        /// Reference tick (low 6 bits), data complete, last in slot.
        flags: u8,
        /// Headers plus data bytes.
        size: u16,
    },
    /// A coding shred's header.
    Code {
        /// Data shreds in the erasure batch.
        num_data_shreds: u16,
        /// Coding shreds in the erasure batch.
        num_coding_shreds: u16,
        /// This shred's position among the coding shreds.
        position: u16,
    },
}

/// A shred's headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShredHeader {
    /// The leader's signature (over the Merkle root for Merkle shreds).
    pub signature: [u8; SIZE_OF_SIGNATURE],
    /// The variant byte, decoded.
    pub variant: ShredVariant,
    /// The slot.
    pub slot: Slot,
    /// Index within the slot (data and coding shreds count separately).
    pub index: u32,
    /// The cluster's shred version.
    pub version: u16,
    /// Index of the first data shred of the erasure batch.
    pub fec_set_index: u32,
    /// The data or coding header.
    pub kind: ShredKind,
}

impl ShredHeader {
    /// Data or coding.
    pub fn shred_type(&self) -> ShredType {
        self.variant.shred_type()
    }

    /// Whether this data shred is the slot's last.
    pub fn last_in_slot(&self) -> bool {
        matches!(self.kind, ShredKind::Data { flags, .. } if flags & FLAG_LAST_IN_SLOT != 0)
    }
}

/// Why a payload is not a shred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ShredError {
    /// Shorter than the variant's payload size.
    #[error("payload of {len} bytes is shorter than the {expected} bytes of its variant")]
    TooShort {
        /// The payload's length.
        len: usize,
        /// The variant's payload size.
        expected: usize,
    },
    /// Longer than a packet's data.
    #[error("payload of {0} bytes is longer than a packet ({PACKET_DATA_SIZE} bytes)")]
    TooLong(usize),
    /// The variant byte is none of Agave's.
    #[error("invalid shred variant {0:#04x}")]
    InvalidVariant(u8),
    /// Data shred flags claim last-in-slot without data-complete.
    #[error("invalid data shred flags {0:#04x}")]
    InvalidFlags(u8),
    /// Data shred size field outside the headers..headers+capacity range.
    #[error("invalid data shred size {0}")]
    InvalidDataSize(u16),
    /// Parent offset zero (outside slot 0) or beyond the slot.
    #[error("invalid parent offset {parent_offset} for slot {slot}")]
    InvalidParentOffset {
        /// The slot.
        slot: Slot,
        /// The offset.
        parent_offset: u16,
    },
    /// Coding header with no data or coding shreds, or a position outside the batch.
    #[error("invalid erasure config: {num_data} data, {num_coding} coding, position {position}")]
    InvalidErasureConfig {
        /// Data shreds in the batch.
        num_data: u16,
        /// Coding shreds in the batch.
        num_coding: u16,
        /// The position.
        position: u16,
    },
}

fn read_u16(bytes: &[u8], offset: usize) -> u16 {
    let mut buf = [0u8; 2];
    buf.copy_from_slice(&bytes[offset..offset + 2]);
    u16::from_le_bytes(buf)
}

fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut buf = [0u8; 4];
    buf.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(buf)
}

fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(buf)
}

/// Parses and checks a shred's headers. Never panics: every read is after the length check.
pub fn parse(payload: &[u8]) -> Result<ShredHeader, ShredError> {
    let Some(&variant_byte) = payload.get(SIZE_OF_SIGNATURE) else {
        return Err(ShredError::TooShort {
            len: payload.len(),
            expected: SIZE_OF_COMMON_SHRED_HEADER,
        });
    };
    let variant = ShredVariant::from_byte(variant_byte)?;
    let expected = variant.payload_size();
    if payload.len() < expected {
        return Err(ShredError::TooShort {
            len: payload.len(),
            expected,
        });
    }
    if payload.len() > PACKET_DATA_SIZE {
        return Err(ShredError::TooLong(payload.len()));
    }
    // From here on `payload` holds at least 1203 bytes: every header read below is in bounds.
    let mut signature = [0u8; SIZE_OF_SIGNATURE];
    signature.copy_from_slice(&payload[..SIZE_OF_SIGNATURE]);
    let slot = read_u64(payload, 65);
    let kind = match variant.shred_type() {
        ShredType::Data => {
            let parent_offset = read_u16(payload, 83);
            let flags = payload[85];
            let size = read_u16(payload, 86);
            if flags & FLAG_LAST_IN_SLOT != 0 && flags & FLAG_DATA_COMPLETE == 0 {
                return Err(ShredError::InvalidFlags(flags));
            }
            let capacity = variant.data_capacity().unwrap_or(0);
            let size_ok = usize::from(size) >= SIZE_OF_DATA_SHRED_HEADERS
                && usize::from(size) <= SIZE_OF_DATA_SHRED_HEADERS + capacity;
            if !size_ok {
                return Err(ShredError::InvalidDataSize(size));
            }
            if (parent_offset == 0 && slot != 0) || u64::from(parent_offset) > slot {
                return Err(ShredError::InvalidParentOffset {
                    slot,
                    parent_offset,
                });
            }
            ShredKind::Data {
                parent_offset,
                flags,
                size,
            }
        }
        ShredType::Code => {
            let num_data_shreds = read_u16(payload, 83);
            let num_coding_shreds = read_u16(payload, 85);
            let position = read_u16(payload, 87);
            if num_data_shreds == 0 || num_coding_shreds == 0 || position >= num_coding_shreds {
                return Err(ShredError::InvalidErasureConfig {
                    num_data: num_data_shreds,
                    num_coding: num_coding_shreds,
                    position,
                });
            }
            ShredKind::Code {
                num_data_shreds,
                num_coding_shreds,
                position,
            }
        }
    };
    Ok(ShredHeader {
        signature,
        variant,
        slot,
        index: read_u32(payload, 73),
        version: read_u16(payload, 77),
        fec_set_index: read_u32(payload, 79),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::testkit::{ShredSpec, build_shred},
        proptest::prelude::*,
    };

    #[test]
    fn sizes_match_agave() {
        // Agave: legacy ShredData::CAPACITY == 1051, SIZE_OF_DATA_SHRED_HEADERS 88, coding 89.
        assert_eq!(ShredVariant::LegacyData.data_capacity(), Some(1051));
        assert_eq!(ShredVariant::LegacyData.payload_size(), 1228);
        let merkle = ShredVariant::MerkleData {
            proof_size: 6,
            chained: true,
            resigned: true,
        };
        assert_eq!(merkle.payload_size(), 1203);
        // 1203 - 88 - 32 - 6 * 20 - 64
        assert_eq!(merkle.data_capacity(), Some(899));
    }

    #[test]
    fn variant_bytes_round_trip() {
        for byte in 0..=u8::MAX {
            if let Ok(variant) = ShredVariant::from_byte(byte) {
                assert_eq!(variant.to_byte(), Some(byte), "{byte:#04x}");
            }
        }
        assert_eq!(ShredVariant::from_byte(0x5a), Ok(ShredVariant::LegacyCode));
        assert_eq!(ShredVariant::from_byte(0xa5), Ok(ShredVariant::LegacyData));
        assert!(ShredVariant::from_byte(0x50).is_err());
        assert!(ShredVariant::from_byte(0xa0).is_err());
        assert!(ShredVariant::from_byte(0x00).is_err());
        assert_eq!(
            ShredVariant::from_byte(0x76),
            Ok(ShredVariant::MerkleCode {
                proof_size: 6,
                chained: true,
                resigned: true
            })
        );
        assert_eq!(
            ShredVariant::from_byte(0x96).map(ShredVariant::shred_type),
            Ok(ShredType::Data)
        );
    }

    #[test]
    fn parses_what_the_builder_writes() {
        for spec in ShredSpec::examples(123_456_789, 42) {
            let bytes = build_shred(&spec);
            assert_eq!(bytes.len(), spec.variant.payload_size());
            let header = parse(&bytes).expect("valid shred");
            assert_eq!(header.slot, spec.slot);
            assert_eq!(header.index, spec.index);
            assert_eq!(header.version, spec.version);
            assert_eq!(header.fec_set_index, spec.fec_set_index);
            assert_eq!(header.variant, spec.variant);
        }
    }

    #[test]
    fn rejects_short_long_and_bad_headers() {
        let spec = ShredSpec::data(10, 3, 42);
        let bytes = build_shred(&spec);
        assert!(matches!(
            parse(&bytes[..bytes.len() - 1]),
            Err(ShredError::TooShort { .. })
        ));
        let mut long = bytes.clone();
        long.resize(PACKET_DATA_SIZE + 1, 0);
        assert_eq!(parse(&long), Err(ShredError::TooLong(PACKET_DATA_SIZE + 1)));
        // A repair nonce after the shred is fine.
        let mut nonce = bytes.clone();
        nonce.extend_from_slice(&7u32.to_le_bytes());
        assert!(parse(&nonce).is_ok());
        let mut flags = bytes.clone();
        flags[85] = FLAG_LAST_IN_SLOT & !FLAG_DATA_COMPLETE;
        assert!(matches!(parse(&flags), Err(ShredError::InvalidFlags(_))));
        let mut size = bytes.clone();
        size[86..88].copy_from_slice(&10u16.to_le_bytes());
        assert!(matches!(parse(&size), Err(ShredError::InvalidDataSize(10))));
        let mut parent = bytes;
        parent[83..85].copy_from_slice(&0u16.to_le_bytes());
        assert!(matches!(
            parse(&parent),
            Err(ShredError::InvalidParentOffset { .. })
        ));
        let mut code = build_shred(&ShredSpec::code(10, 3, 42));
        code[87..89].copy_from_slice(&40u16.to_le_bytes());
        assert!(matches!(
            parse(&code),
            Err(ShredError::InvalidErasureConfig { .. })
        ));
        assert!(parse(&[]).is_err());
        assert!(parse(&[0u8; 64]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1400)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn mutated_shreds_never_panic(
            index in 0usize..4,
            offset in 0usize..1228,
            value in any::<u8>(),
            cut in 0usize..1300,
        ) {
            let spec = ShredSpec::examples(99, 7).swap_remove(index);
            let mut bytes = build_shred(&spec);
            if let Some(byte) = bytes.get_mut(offset) {
                *byte = value;
            }
            bytes.truncate(cut);
            if let Ok(header) = parse(&bytes) {
                prop_assert!(bytes.len() >= header.variant.payload_size());
            }
        }
    }
}
