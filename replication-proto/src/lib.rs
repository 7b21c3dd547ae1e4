//! Replication protocol v3 (v1 and v2 still spoken).
//!
//! A replica follows its upstream (the validator's Geyser plugin or another replica) over QUIC:
//! it long-polls for confirmed and rooted slots ([`Request::SlotConfirmation`]) and fetches each
//! slot's account writes as a validated stream ([`Request::SlotAccounts`]).
//!
//! The crate is split like quinn: the protocol itself is free of I/O —
//! [`message`] (wire types), [`frame`] (length-prefixed, optionally zstd-compressed bincode
//! frames), [`slot_stream`] (the state machine that validates a slot's stream) — and
//! [`transport`] (behind the default `transport` feature) drives it over quinn. [`source`]
//! holds the `SlotSource` trait a server serves from.

pub mod error;
pub mod frame;
pub mod message;
pub mod slot_stream;
pub mod source;
#[cfg(feature = "transport")]
pub mod transport;

#[cfg(feature = "transport")]
pub use source::SlotSource;
pub use {
    error::{FrameError, ProtocolError, SourceError},
    frame::{FrameConfig, FrameEncoder, FrameHeader},
    message::{
        AccountRecord, ErrorCode, ErrorFrame, Exclusion, FLEET_VERSION, FleetAnnouncement,
        FleetMember, FleetProgress, Hash, MAX_FLEET_MEMBERS, MAX_FLEET_SCHEDULE, MIN_VERSION,
        MemberProgress, Pubkey, Request, RequestV2, Response, ResponseV1, ResponseV2,
        ScheduledSlots, ServableSlots, Slot, SlotConfirmations, SlotConfirmationsV1,
        SlotConfirmationsV2, SlotHeader, SlotInfo, SlotInfoV1, SlotStatus, SlotTrailer, VERSION,
    },
    slot_stream::{SlotStreamEvent, SlotStreamReader, SlotStreamWriter},
    source::SlotRecords,
};
