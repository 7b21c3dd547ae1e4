//! Errors of the pure protocol code: framing, slot streams and slot sources.
//!
//! The transport's own errors (`ClientError`, `ServerError`, `IdentityError`) live in
//! `transport::error`.
//!
//! Convention of this crate: an error's `Display` tells the whole story, its cause included,
//! and `source()` never returns a cause that `Display` already printed, so a chain printed with
//! `{:#}` (anyhow) or logged with `%error` names each cause exactly once.

use crate::message::{ErrorCode, ErrorFrame, Hash, Slot};

/// Why a frame could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The frame's payload (declared, encoded or decompressed) is larger than the limit.
    #[error("frame payload of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size seen, in bytes (for a decompressed payload: at least this much).
        len: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The flags byte has bits this version does not define.
    #[error("unknown frame flags {flags:#04x}")]
    UnknownFlags {
        /// The flags byte.
        flags: u8,
    },
    /// Fewer bytes than the frame needs.
    #[error("incomplete frame: need {needed} bytes, have {available}")]
    Incomplete {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A compressed payload is not valid zstd.
    #[error("corrupt zstd payload: {0}")]
    Decompress(std::io::Error),
    /// zstd compression failed.
    #[error("zstd compression failed: {0}")]
    Compress(std::io::Error),
    /// The payload is not a valid bincode message of the expected type.
    #[error("malformed payload: {0}")]
    Malformed(bincode::Error),
    /// The message could not be serialized.
    #[error("failed to encode message: {0}")]
    Encode(bincode::Error),
    /// The output buffer has no room for the frame.
    #[error("output buffer too small: need {needed} bytes, have {available}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
}

impl FrameError {
    /// The [`ErrorCode`] a receiver answers this error with.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            FrameError::TooLarge { limit, .. } => ErrorCode::FrameTooLarge { limit: *limit },
            FrameError::Compress(_) | FrameError::Encode(_) | FrameError::BufferTooSmall { .. } => {
                ErrorCode::Internal
            }
            FrameError::UnknownFlags { .. }
            | FrameError::Incomplete { .. }
            | FrameError::Decompress(_)
            | FrameError::Malformed(_) => ErrorCode::Malformed,
        }
    }
}

/// A violation of the slot-stream or request/response protocol.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// A frame arrived where the protocol does not allow it (out of order, repeated, after the
    /// end, or of the wrong kind for the request).
    #[error("unexpected {got} frame; expected {expected}")]
    UnexpectedFrame {
        /// What the protocol allows here.
        expected: &'static str,
        /// The kind of frame received.
        got: &'static str,
    },
    /// The stream is for another slot than the one requested.
    #[error("stream is for slot {got}, requested slot {expected}")]
    SlotMismatch {
        /// The requested slot.
        expected: Slot,
        /// The slot in the header.
        got: Slot,
    },
    /// The stream is for another bank (blockhash) than the one requested.
    #[error("stream is for blockhash {got}, requested {expected}")]
    BlockhashMismatch {
        /// The requested blockhash.
        expected: Hash,
        /// The blockhash in the header.
        got: Hash,
    },
    /// The number of records differs from what the header or trailer declares.
    #[error("record count mismatch: declared {declared}, received {received}")]
    RecordCountMismatch {
        /// The count declared by the header or trailer.
        declared: u64,
        /// The count received (or sent).
        received: u64,
    },
    /// The blake3 digest over the received records differs from the trailer's.
    #[error("records digest mismatch: trailer says {expected}, computed {computed}")]
    DigestMismatch {
        /// The trailer's digest.
        expected: Hash,
        /// The digest computed over the records received.
        computed: Hash,
    },
    /// The stream ended before its trailer: nothing of it may be applied.
    #[error("slot stream truncated after {received} records (no trailer)")]
    Truncated {
        /// Records received before the end.
        received: u64,
    },
    /// A slot confirmation answer breaks its contract (order, range).
    #[error("invalid slot confirmations: {reason}")]
    InvalidConfirmations {
        /// What is wrong.
        reason: &'static str,
    },
    /// The peer answered with an error frame.
    #[error("peer error: {0}")]
    Remote(ErrorFrame),
    /// A frame could not be encoded (writer side).
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// Why a [`SlotSource`](crate::source) could not serve a slot.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Retention has passed the slot.
    #[error("slot unavailable; first available slot is {first_available_slot}")]
    SlotUnavailable {
        /// The oldest slot the source can still stream.
        first_available_slot: Slot,
    },
    /// The source does not know this (slot, blockhash) bank.
    #[error("unknown slot {slot} with blockhash {blockhash}")]
    UnknownSlot {
        /// The slot asked for.
        slot: Slot,
        /// The blockhash asked for.
        blockhash: Hash,
    },
    /// The source failed (disk, database, ...).
    #[error("source failure: {0}")]
    Internal(String),
}

impl SourceError {
    /// The error frame a server sends for this error.
    pub fn to_error_frame(&self) -> ErrorFrame {
        let code = match self {
            SourceError::SlotUnavailable {
                first_available_slot,
            } => ErrorCode::SlotUnavailable {
                first_available_slot: *first_available_slot,
            },
            SourceError::UnknownSlot { .. } => ErrorCode::UnknownSlot,
            SourceError::Internal(_) => ErrorCode::Internal,
        };
        ErrorFrame::new(code, self.to_string())
    }
}
