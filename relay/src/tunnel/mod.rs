//! The tunnel between `relay capture` and `relay forward`: a small versioned header (session,
//! sequence, capture time) before the captured packet, an optional keyed BLAKE3 MAC after it
//! ([`header`]), the key file ([`key`]), and the receiver's sequence and replay bookkeeping
//! ([`replay`]). No I/O and no clock: time is an argument.

pub mod header;
pub mod key;
pub mod replay;

pub use {
    header::{
        FLAG_BARE, FLAG_MAC, HEADER_LEN, MAC_LEN, TunnelError, TunnelHeader, VERSION, decode,
        encode, max_overhead,
    },
    key::{Key, KeyError},
    replay::{ReplayConfig, ReplayError, ReplayGuard, SeqEvent},
};
