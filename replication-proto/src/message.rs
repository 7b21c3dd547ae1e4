//! The messages of replication protocol v3 (v1 and v2 still spoken): requests, responses and
//! error codes. v2 adds each slot's executed transaction count to [`SlotInfo`]; v3 adds fleet
//! consistency: a long-poll carries the progress of the requester's subtree up
//! ([`FleetProgress`]) and its answer carries the fleet's servable slots down
//! ([`FleetAnnouncement`]). Everything else is the same, so a server answers older requests in
//! their own shape and a client speaks an older version to a server that only knows it.
//!
//! Every message travels as the bincode (1.3, fixed-width little-endian integers, like Solana's
//! own formats) payload of one [frame](crate::frame). A client sends one [`Request`] per
//! bidirectional stream; the server answers with one or more [`Response`] frames.

use serde::{Deserialize, Serialize};
/// A Solana slot number.
pub use solana_clock::Slot;
pub use {solana_hash::Hash, solana_pubkey::Pubkey};

/// The newest protocol version this crate speaks. Every [`Request`] carries the version its
/// sender speaks; a server answers a version outside [`MIN_VERSION`]`..=`[`VERSION`] with
/// [`ErrorCode::UnsupportedVersion`].
pub const VERSION: u16 = 3;
/// The oldest protocol version still spoken.
pub const MIN_VERSION: u16 = 1;
/// The first version whose long-polls carry fleet progress and announcements.
pub const FLEET_VERSION: u16 = 3;
/// Members a [`FleetProgress`] or [`FleetAnnouncement`] lists at most; more are left out.
pub const MAX_FLEET_MEMBERS: usize = 256;
/// Scheduled switches a [`FleetAnnouncement`] carries at most.
pub const MAX_FLEET_SCHEDULE: usize = 64;

/// Commitment of a slot as the server knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SlotStatus {
    /// Voted on by a supermajority; may still be dropped if a fork is abandoned.
    Confirmed,
    /// Rooted (finalized): never rolled back.
    Rooted,
}

/// One slot the server knows, as reported by [`SlotConfirmations`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotInfo {
    /// The slot.
    pub slot: Slot,
    /// Its parent slot.
    pub parent: Slot,
    /// The blockhash of the slot's bank; together with `slot` it names one bank.
    pub blockhash: Hash,
    /// Confirmed or rooted.
    pub status: SlotStatus,
    /// Block height, when the server knows it.
    pub block_height: Option<u64>,
    /// Block time (Unix seconds), when the server knows it.
    pub block_time: Option<i64>,
    /// Transactions the bank executed (Agave's `executed_transaction_count`, the growth of
    /// `transaction_count` over the parent's), when the server knows it. Not in v1.
    pub executed_transaction_count: Option<u64>,
}

/// [`SlotInfo`] as protocol v1 encodes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotInfoV1 {
    pub slot: Slot,
    pub parent: Slot,
    pub blockhash: Hash,
    pub status: SlotStatus,
    pub block_height: Option<u64>,
    pub block_time: Option<i64>,
}

impl From<SlotInfoV1> for SlotInfo {
    fn from(info: SlotInfoV1) -> Self {
        Self {
            slot: info.slot,
            parent: info.parent,
            blockhash: info.blockhash,
            status: info.status,
            block_height: info.block_height,
            block_time: info.block_time,
            executed_transaction_count: None,
        }
    }
}

impl From<&SlotInfo> for SlotInfoV1 {
    fn from(info: &SlotInfo) -> Self {
        Self {
            slot: info.slot,
            parent: info.parent,
            blockhash: info.blockhash,
            status: info.status,
            block_height: info.block_height,
            block_time: info.block_time,
        }
    }
}

/// What one replica of a fleet reports of itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberProgress {
    /// The replica's identity.
    pub identity: Pubkey,
    /// The newest slot of its confirmed view.
    pub confirmed_slot: Slot,
    /// The newest slot it knows rooted and holds (committed or still in its overlay).
    pub rooted_slot: Slot,
    /// How old this report was when it was sent on (0 for the reporter itself).
    pub age_ms: u32,
}

/// A replica's subtree as it reports it upstream: itself first, then the members below it.
/// The minimum over the subtree is the minimum over these entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetProgress {
    /// At most [`MAX_FLEET_MEMBERS`] entries.
    pub members: Vec<MemberProgress>,
}

/// The highest slot, per commitment, that every member of the fleet can serve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServableSlots {
    /// What `confirmed` (and `processed`) reads answer at.
    pub confirmed: Slot,
    /// What `finalized` reads answer at.
    pub finalized: Slot,
}

/// Servable slots and the instant every member switches to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledSlots {
    pub slots: ServableSlots,
    /// Unix time in milliseconds from which the slots are served.
    pub switch_at_ms: u64,
}

/// Why the root left a member out of the fleet minimum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Exclusion {
    /// No report reached the root within the member timeout.
    Stale,
    /// The member trails the freshest member by more than the allowed lag.
    Lagging,
}

/// One member as the root sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetMember {
    pub identity: Pubkey,
    pub confirmed_slot: Slot,
    pub rooted_slot: Slot,
    /// Why the member does not count, if it does not.
    pub excluded: Option<Exclusion>,
}

/// The fleet's servable slots as the tree's root announces them, forwarded unchanged down the
/// tree. A member serves the newest scheduled entry whose instant has passed, and only until
/// `issued_at_ms + lease_ms`; a newer announcement renews the lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetAnnouncement {
    /// Unix time in milliseconds at which the root built this announcement.
    pub issued_at_ms: u64,
    /// How long after `issued_at_ms` the announcement may be acted on.
    pub lease_ms: u32,
    /// Ascending by `switch_at_ms`: the entry in force at `issued_at_ms`, then every later
    /// one. At most [`MAX_FLEET_SCHEDULE`] entries.
    pub schedule: Vec<ScheduledSlots>,
    /// The members the root knows, at most [`MAX_FLEET_MEMBERS`].
    pub members: Vec<FleetMember>,
}

/// A client's request; one per bidirectional stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Long-poll for slot news. The server answers at once if its change sequence number is
    /// greater than `known_seq`; otherwise when it changes or after `wait_ms` (then with the
    /// unchanged state). The answer is one [`Response::SlotConfirmations`] frame.
    SlotConfirmation {
        /// Protocol version the client speaks ([`VERSION`]).
        version: u16,
        /// Only slots after this one are reported.
        last_replicated_slot: Slot,
        /// The `seq` of the last [`SlotConfirmations`] the client saw (0 for none).
        known_seq: u64,
        /// How long the server may hold the request when nothing changed (it may cap this).
        wait_ms: u32,
        /// The requester's subtree, when it is a member of a fleet. Not before v3.
        progress: Option<FleetProgress>,
    },
    /// The accounts a slot's bank wrote: [`Response::SlotHeader`], [`Response::Records`]
    /// chunks, [`Response::SlotTrailer`]; or one [`Response::Error`] instead.
    SlotAccounts {
        /// Protocol version the client speaks ([`VERSION`]).
        version: u16,
        /// The slot.
        slot: Slot,
        /// The blockhash of the bank wanted (a slot may have several banks).
        blockhash: Hash,
    },
}

/// [`Request`] as protocols v1 and v2 encode it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestV2 {
    SlotConfirmation {
        version: u16,
        last_replicated_slot: Slot,
        known_seq: u64,
        wait_ms: u32,
    },
    SlotAccounts {
        version: u16,
        slot: Slot,
        blockhash: Hash,
    },
}

impl From<RequestV2> for Request {
    fn from(request: RequestV2) -> Self {
        match request {
            RequestV2::SlotConfirmation {
                version,
                last_replicated_slot,
                known_seq,
                wait_ms,
            } => Request::SlotConfirmation {
                version,
                last_replicated_slot,
                known_seq,
                wait_ms,
                progress: None,
            },
            RequestV2::SlotAccounts {
                version,
                slot,
                blockhash,
            } => Request::SlotAccounts {
                version,
                slot,
                blockhash,
            },
        }
    }
}

impl From<&Request> for RequestV2 {
    fn from(request: &Request) -> Self {
        match *request {
            Request::SlotConfirmation {
                version,
                last_replicated_slot,
                known_seq,
                wait_ms,
                ..
            } => RequestV2::SlotConfirmation {
                version,
                last_replicated_slot,
                known_seq,
                wait_ms,
            },
            Request::SlotAccounts {
                version,
                slot,
                blockhash,
            } => RequestV2::SlotAccounts {
                version,
                slot,
                blockhash,
            },
        }
    }
}

impl Request {
    /// The protocol version the request claims.
    pub fn version(&self) -> u16 {
        match self {
            Request::SlotConfirmation { version, .. } | Request::SlotAccounts { version, .. } => {
                *version
            }
        }
    }

    /// Reads the version field of an encoded request without decoding the rest, so that a
    /// server can answer a request of a newer (differently shaped) version with
    /// [`ErrorCode::UnsupportedVersion`] instead of [`ErrorCode::Malformed`]. Every variant's
    /// first field is the version: a `u32` variant index, then a `u16`.
    pub fn peek_version(payload: &[u8]) -> Option<u16> {
        let bytes = payload.get(4..6)?;
        Some(u16::from_le_bytes([bytes[0], bytes[1]]))
    }
}

/// Answer to [`Request::SlotConfirmation`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotConfirmations {
    /// The server's change sequence number for this state; pass it back as `known_seq`.
    pub seq: u64,
    /// The oldest slot whose accounts the server can still stream.
    pub first_available_slot: Slot,
    /// Every known confirmed or rooted slot after `last_replicated_slot`, ascending by slot;
    /// several entries for one slot only for distinct blockhashes.
    pub slots: Vec<SlotInfo>,
    /// The fleet's servable slots, when the server is a member of a fleet. Not before v3.
    pub fleet: Option<FleetAnnouncement>,
}

/// [`SlotConfirmations`] as protocol v2 encodes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotConfirmationsV2 {
    pub seq: u64,
    pub first_available_slot: Slot,
    pub slots: Vec<SlotInfo>,
}

impl From<SlotConfirmationsV2> for SlotConfirmations {
    fn from(answer: SlotConfirmationsV2) -> Self {
        Self {
            seq: answer.seq,
            first_available_slot: answer.first_available_slot,
            slots: answer.slots,
            fleet: None,
        }
    }
}

impl From<&SlotConfirmations> for SlotConfirmationsV2 {
    fn from(answer: &SlotConfirmations) -> Self {
        Self {
            seq: answer.seq,
            first_available_slot: answer.first_available_slot,
            slots: answer.slots.clone(),
        }
    }
}

/// [`SlotConfirmations`] as protocol v1 encodes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotConfirmationsV1 {
    pub seq: u64,
    pub first_available_slot: Slot,
    pub slots: Vec<SlotInfoV1>,
}

impl From<SlotConfirmationsV1> for SlotConfirmations {
    fn from(answer: SlotConfirmationsV1) -> Self {
        Self {
            seq: answer.seq,
            first_available_slot: answer.first_available_slot,
            slots: answer.slots.into_iter().map(SlotInfo::from).collect(),
            fleet: None,
        }
    }
}

impl From<&SlotConfirmations> for SlotConfirmationsV1 {
    fn from(answer: &SlotConfirmations) -> Self {
        Self {
            seq: answer.seq,
            first_available_slot: answer.first_available_slot,
            slots: answer.slots.iter().map(SlotInfoV1::from).collect(),
        }
    }
}

/// One account version written in a slot. `lamports == 0` is a tombstone (a deletion).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// The account's address.
    pub pubkey: Pubkey,
    /// Balance; zero means the account was deleted.
    pub lamports: u64,
    /// The owning program.
    pub owner: Pubkey,
    /// Whether the account is an executable program.
    pub executable: bool,
    /// Rent epoch as Agave stores it.
    pub rent_epoch: u64,
    /// Account data.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

impl AccountRecord {
    /// Bincode size of a record without its data: two pubkeys, lamports, executable,
    /// rent epoch and the data length prefix.
    pub const ENCODED_OVERHEAD: usize = 32 + 8 + 32 + 1 + 8 + 8;

    /// Whether this record deletes the account.
    pub fn is_tombstone(&self) -> bool {
        self.lamports == 0
    }

    /// Exact size of this record's bincode encoding.
    pub fn encoded_len(&self) -> usize {
        Self::ENCODED_OVERHEAD + self.data.len()
    }
}

/// First frame of a slot's account stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotHeader {
    /// The slot.
    pub slot: Slot,
    /// The bank's blockhash.
    pub blockhash: Hash,
    /// The parent slot.
    pub parent: Slot,
    /// How many records follow.
    pub record_count: u64,
}

/// Last frame of a slot's account stream. A consumer applies a slot only after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotTrailer {
    /// How many records were sent.
    pub record_count: u64,
    /// blake3 over the bincode of every record, in stream order.
    pub records_digest: Hash,
    /// The server's full-state accounts lattice-hash checksum after this slot, when it knows it
    /// (replica servers do; the Geyser plugin does not).
    pub accounts_lt_hash: Option<Hash>,
}

/// Why a server refused or failed a request. Sent in an [`ErrorFrame`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The request's version is not spoken here.
    UnsupportedVersion {
        /// The version the server speaks.
        supported: u16,
    },
    /// A frame was larger than the receiver's limit.
    FrameTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The client's identity is not on the server's allowlist.
    NotAllowed,
    /// Retention has passed the slot: the client must re-bootstrap from a snapshot.
    SlotUnavailable {
        /// The oldest slot the server can still stream.
        first_available_slot: Slot,
    },
    /// The server does not know this (slot, blockhash) bank.
    UnknownSlot,
    /// The request could not be decoded.
    Malformed,
    /// The server failed; retrying later may help.
    Internal,
    /// The server is shutting down.
    ShuttingDown,
}

/// A typed error answer; it ends the stream it is sent on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// What went wrong.
    pub code: ErrorCode,
    /// Human-readable detail for logs.
    pub message: String,
}

impl ErrorFrame {
    /// An error frame with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ErrorFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

/// Every frame a server sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Answer to [`Request::SlotConfirmation`].
    SlotConfirmations(SlotConfirmations),
    /// Opens a slot's account stream.
    SlotHeader(SlotHeader),
    /// A chunk of a slot's records.
    Records(Vec<AccountRecord>),
    /// Closes a slot's account stream.
    SlotTrailer(SlotTrailer),
    /// A typed error; the stream ends after it.
    Error(ErrorFrame),
}

impl Response {
    /// A short name of the frame kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Response::SlotConfirmations(_) => "SlotConfirmations",
            Response::SlotHeader(_) => "SlotHeader",
            Response::Records(_) => "Records",
            Response::SlotTrailer(_) => "SlotTrailer",
            Response::Error(_) => "Error",
        }
    }
}

/// [`Response`] as protocol v1 encodes it (same variants; only the confirmations differ).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseV1 {
    SlotConfirmations(SlotConfirmationsV1),
    SlotHeader(SlotHeader),
    Records(Vec<AccountRecord>),
    SlotTrailer(SlotTrailer),
    Error(ErrorFrame),
}

impl From<ResponseV1> for Response {
    fn from(response: ResponseV1) -> Self {
        match response {
            ResponseV1::SlotConfirmations(answer) => Response::SlotConfirmations(answer.into()),
            ResponseV1::SlotHeader(header) => Response::SlotHeader(header),
            ResponseV1::Records(records) => Response::Records(records),
            ResponseV1::SlotTrailer(trailer) => Response::SlotTrailer(trailer),
            ResponseV1::Error(frame) => Response::Error(frame),
        }
    }
}

/// [`Response`] as protocol v2 encodes it (same variants; only the confirmations differ).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseV2 {
    SlotConfirmations(SlotConfirmationsV2),
    SlotHeader(SlotHeader),
    Records(Vec<AccountRecord>),
    SlotTrailer(SlotTrailer),
    Error(ErrorFrame),
}

impl From<ResponseV2> for Response {
    fn from(response: ResponseV2) -> Self {
        match response {
            ResponseV2::SlotConfirmations(answer) => Response::SlotConfirmations(answer.into()),
            ResponseV2::SlotHeader(header) => Response::SlotHeader(header),
            ResponseV2::Records(records) => Response::Records(records),
            ResponseV2::SlotTrailer(trailer) => Response::SlotTrailer(trailer),
            ResponseV2::Error(frame) => Response::Error(frame),
        }
    }
}

/// Borrowing twin of [`Response`] with the same wire encoding (same variant order), so that
/// a server encodes a chunk of records without cloning it.
#[derive(Debug, Serialize)]
pub enum ResponseRef<'a> {
    /// See [`Response::SlotConfirmations`].
    SlotConfirmations(&'a SlotConfirmations),
    /// See [`Response::SlotHeader`].
    SlotHeader(&'a SlotHeader),
    /// See [`Response::Records`].
    Records(&'a [AccountRecord]),
    /// See [`Response::SlotTrailer`].
    SlotTrailer(&'a SlotTrailer),
    /// See [`Response::Error`].
    Error(&'a ErrorFrame),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(len: usize) -> AccountRecord {
        AccountRecord {
            pubkey: Pubkey::new_unique(),
            lamports: 42,
            owner: Pubkey::new_unique(),
            executable: false,
            rent_epoch: u64::MAX,
            data: vec![7; len],
        }
    }

    #[test]
    fn response_ref_encodes_like_response() {
        let records = vec![record(3), record(0), record(165)];
        let owned = bincode::serialize(&Response::Records(records.clone())).unwrap();
        let borrowed = bincode::serialize(&ResponseRef::Records(&records)).unwrap();
        assert_eq!(owned, borrowed);

        let err = ErrorFrame::new(ErrorCode::UnknownSlot, "x");
        assert_eq!(
            bincode::serialize(&Response::Error(err.clone())).unwrap(),
            bincode::serialize(&ResponseRef::Error(&err)).unwrap()
        );
    }

    #[test]
    fn encoded_len_is_exact() {
        for len in [0, 1, 165, 10_000] {
            let r = record(len);
            assert_eq!(
                bincode::serialized_size(&r).unwrap() as usize,
                r.encoded_len()
            );
        }
    }

    #[test]
    fn peek_version_reads_every_variant() {
        let requests = [
            Request::SlotConfirmation {
                version: 7,
                last_replicated_slot: 1,
                known_seq: 2,
                wait_ms: 3,
                progress: None,
            },
            Request::SlotAccounts {
                version: 7,
                slot: 9,
                blockhash: Hash::new_unique(),
            },
        ];
        for request in requests {
            let bytes = bincode::serialize(&request).unwrap();
            assert_eq!(Request::peek_version(&bytes), Some(7));
            assert_eq!(request.version(), 7);
        }
        assert_eq!(Request::peek_version(&[0, 0, 0]), None);
    }
}
