//! Errors of the transport, one enum per role.

use {
    super::CloseCode,
    crate::{
        error::{FrameError, ProtocolError},
        message::{ErrorCode, ErrorFrame, Pubkey, Slot},
    },
    std::{net::SocketAddr, path::PathBuf, time::Duration},
};

/// A node identity could not be loaded or turned into a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The keypair file could not be read or parsed.
    #[error("failed to read keypair file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration (key or protocol versions).
    #[error("TLS configuration failed: {0}")]
    Tls(#[source] rustls::Error),
    /// The TLS configuration cannot be used for QUIC.
    #[error("TLS configuration unusable for QUIC: {0}")]
    Quic(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
}

/// A replication server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Its identity could not be turned into a TLS configuration.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The UDP socket could not be bound.
    #[error("failed to bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A replication client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The local identity could not be turned into a TLS configuration.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The local UDP socket could not be bound.
    #[error("failed to bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The connection attempt could not start.
    #[error("failed to connect to {addr}: {source}")]
    Connect {
        /// The upstream address.
        addr: SocketAddr,
        /// Why.
        source: quinn::ConnectError,
    },
    /// The handshake did not complete in time.
    #[error("timed out connecting to {addr} after {timeout:?}")]
    ConnectTimeout {
        /// The upstream address.
        addr: SocketAddr,
        /// The timeout.
        timeout: Duration,
    },
    /// The upstream presented another identity than expected; the client refused it.
    #[error("upstream identity mismatch: expected {expected}, server presented {presented}")]
    UpstreamIdentityMismatch {
        /// The identity expected.
        expected: Pubkey,
        /// The identity the server's certificate carries.
        presented: Pubkey,
    },
    /// The upstream refused this node's identity (not on its allowlist).
    #[error("this node's identity is not on the upstream's allowlist")]
    NotAllowed,
    /// The upstream is shutting down.
    #[error("upstream is shutting down")]
    ShuttingDown,
    /// The connection failed or was closed.
    #[error("connection failed: {0}")]
    Connection(#[source] quinn::ConnectionError),
    /// The upstream reset or stopped the request's stream.
    #[error("upstream reset the stream with code {code}")]
    StreamReset {
        /// The QUIC application error code.
        code: u64,
    },
    /// The stream failed locally (already closed, 0-RTT rejected, ...).
    #[error("stream failed: {reason}")]
    Stream {
        /// Why.
        reason: String,
    },
    /// No answer, or no next frame, in time.
    #[error("request timed out after {timeout:?}")]
    Timeout {
        /// The timeout.
        timeout: Duration,
    },
    /// A frame could not be encoded or decoded.
    #[error(transparent)]
    Frame(FrameError),
    /// The answer broke the protocol (order, count, digest, truncation).
    #[error(transparent)]
    Protocol(ProtocolError),
    /// The upstream does not speak this protocol version.
    #[error("upstream supports protocol version {supported} only")]
    UnsupportedVersion {
        /// The version it speaks.
        supported: u16,
    },
    /// Retention has passed the slot: the replica must re-bootstrap from a snapshot.
    #[error("slot unavailable upstream; first available slot is {first_available_slot}")]
    SlotUnavailable {
        /// The oldest slot the upstream can still stream.
        first_available_slot: Slot,
    },
    /// The upstream does not know this (slot, blockhash) bank.
    #[error("upstream does not know this slot/blockhash: {message}")]
    UnknownSlot {
        /// The server's detail.
        message: String,
    },
    /// Any other error frame (`FrameTooLarge`, `Malformed`, `Internal`).
    #[error("upstream error: {0}")]
    Remote(ErrorFrame),
}

impl ClientError {
    /// The typed error for an error frame.
    pub fn from_error_frame(frame: ErrorFrame) -> Self {
        match frame.code {
            ErrorCode::UnsupportedVersion { supported } => {
                ClientError::UnsupportedVersion { supported }
            }
            ErrorCode::NotAllowed => ClientError::NotAllowed,
            ErrorCode::ShuttingDown => ClientError::ShuttingDown,
            ErrorCode::SlotUnavailable {
                first_available_slot,
            } => ClientError::SlotUnavailable {
                first_available_slot,
            },
            ErrorCode::UnknownSlot => ClientError::UnknownSlot {
                message: frame.message,
            },
            ErrorCode::FrameTooLarge { .. } | ErrorCode::Malformed | ErrorCode::Internal => {
                ClientError::Remote(frame)
            }
        }
    }

    /// The typed error for a lost connection (our close codes become their variants).
    pub fn from_connection_error(error: quinn::ConnectionError) -> Self {
        if let quinn::ConnectionError::ApplicationClosed(close) = &error {
            match CloseCode::from_code(close.error_code) {
                Some(CloseCode::NotAllowed) => return ClientError::NotAllowed,
                Some(CloseCode::ShuttingDown) => return ClientError::ShuttingDown,
                _ => {}
            }
        }
        ClientError::Connection(error)
    }

    /// Whether retrying on a new connection later may succeed (as opposed to errors that need
    /// an operator or a re-bootstrap).
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            ClientError::Identity(_)
                | ClientError::UpstreamIdentityMismatch { .. }
                | ClientError::NotAllowed
                | ClientError::UnsupportedVersion { .. }
                | ClientError::SlotUnavailable { .. }
        )
    }
}

impl From<ProtocolError> for ClientError {
    fn from(error: ProtocolError) -> Self {
        match error {
            ProtocolError::Remote(frame) => ClientError::from_error_frame(frame),
            other => ClientError::Protocol(other),
        }
    }
}

impl From<quinn::ReadError> for ClientError {
    fn from(error: quinn::ReadError) -> Self {
        match error {
            quinn::ReadError::Reset(code) => ClientError::StreamReset {
                code: code.into_inner(),
            },
            quinn::ReadError::ConnectionLost(e) => ClientError::from_connection_error(e),
            other => ClientError::Stream {
                reason: other.to_string(),
            },
        }
    }
}

impl From<quinn::WriteError> for ClientError {
    fn from(error: quinn::WriteError) -> Self {
        match error {
            quinn::WriteError::Stopped(code) => ClientError::StreamReset {
                code: code.into_inner(),
            },
            quinn::WriteError::ConnectionLost(e) => ClientError::from_connection_error(e),
            other => ClientError::Stream {
                reason: other.to_string(),
            },
        }
    }
}
