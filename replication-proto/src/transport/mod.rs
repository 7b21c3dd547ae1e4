//! The QUIC transport (quinn, TLS 1.3): a replication server and client.
//!
//! One request per bidirectional stream: the client writes one [`Request`](crate::Request)
//! frame and finishes its side; the server answers with frames and finishes. Identities are
//! Solana keypairs carried in self-signed certificates ([`tls`]). Flow control is QUIC's: the
//! server awaits every write, so a slow client slows only its own stream.
//!
//! Connection close codes are [`CloseCode`]s.

mod client;
mod config;
mod error;
pub mod log_limit;
mod server;
pub mod tls;

pub use {
    client::{ReplicationClient, ResponseStream, SlotAccountsStream},
    config::{
        ClientAllowlist, DEFAULT_CONNECT_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT,
        DEFAULT_KEEP_ALIVE_INTERVAL, DEFAULT_MAX_BLOCKING_TASKS, DEFAULT_MAX_CONCURRENT_STREAMS,
        DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IDLE_TIMEOUT, DEFAULT_MAX_REQUEST_LEN,
        DEFAULT_MAX_WAIT, DEFAULT_RECEIVE_WINDOW, DEFAULT_REFUSAL_LOG_INTERVAL,
        DEFAULT_REQUEST_READ_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_SEND_WINDOW,
        DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_STREAM_RECEIVE_WINDOW, DEFAULT_WRITE_TIMEOUT, QuicConfig,
        ReplicationClientConfig, ReplicationServerConfig, Upstream,
    },
    error::{ClientError, IdentityError, REFUSED_RETRY_INTERVAL, RetryAdvice, ServerError},
    server::{REFUSAL_LOG_MAX_IDENTITIES, ReplicationServer},
    tls::{identity_pubkey, load_identity},
};

/// TLS ALPN protocol id of replication protocol v1.
pub const ALPN: &[u8] = b"solana-replica/1";

/// Application error codes a connection is closed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CloseCode {
    /// Normal close: the client is done.
    Done = 0,
    /// The client's identity is not on the server's allowlist. The server closes the
    /// connection with this code right after the handshake; the client reports
    /// [`ClientError::NotAllowed`].
    NotAllowed = 1,
    /// The peer sent a malformed or oversized request frame; the server first answers it with
    /// an error frame (`Malformed` or `FrameTooLarge`) on that stream.
    ProtocolViolation = 2,
    /// The server is shutting down.
    ShuttingDown = 3,
}

impl CloseCode {
    /// The QUIC application error code.
    pub fn code(self) -> quinn::VarInt {
        quinn::VarInt::from_u32(self as u32)
    }

    /// The close code with this QUIC application error code, if it is one of ours.
    pub fn from_code(code: quinn::VarInt) -> Option<Self> {
        [
            CloseCode::Done,
            CloseCode::NotAllowed,
            CloseCode::ProtocolViolation,
            CloseCode::ShuttingDown,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_round_trip() {
        for c in [
            CloseCode::Done,
            CloseCode::NotAllowed,
            CloseCode::ProtocolViolation,
            CloseCode::ShuttingDown,
        ] {
            assert_eq!(CloseCode::from_code(c.code()), Some(c));
        }
        assert_eq!(CloseCode::from_code(quinn::VarInt::from_u32(99)), None);
    }
}
