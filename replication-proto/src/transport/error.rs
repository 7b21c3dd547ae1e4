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
    Tls(rustls::Error),
    /// The TLS configuration cannot be used for QUIC.
    #[error("TLS configuration unusable for QUIC: {0}")]
    Quic(quinn::crypto::rustls::NoInitialCipherSuite),
}

impl From<quinn::crypto::rustls::NoInitialCipherSuite> for IdentityError {
    fn from(error: quinn::crypto::rustls::NoInitialCipherSuite) -> Self {
        IdentityError::Quic(error)
    }
}

/// A replication server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Its identity could not be turned into a TLS configuration.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The UDP socket could not be bound.
    #[error("failed to bind {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

/// A refused follower retries that upstream no sooner than this (see [`RetryAdvice::Refused`]).
pub const REFUSED_RETRY_INTERVAL: Duration = Duration::from_secs(300);

/// How a follower reacts to a [`ClientError`] ([`ClientError::retry_advice`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAdvice {
    /// A transient failure (network, timeout, upstream restart or overload): retry with the
    /// usual backoff, on this or the next upstream.
    Backoff,
    /// The upstream refuses this node, or the two cannot talk until an operator changes a
    /// configuration: this node's identity is not on its allowlist
    /// ([`ClientError::NotAllowed`]), it presents another identity than configured, it speaks
    /// another protocol version, or the local identity is unusable. Retrying soon cannot
    /// help: retry that upstream at a long interval ([`REFUSED_RETRY_INTERVAL`]) and log the
    /// condition once (again only when it changes), not at every attempt.
    Refused,
    /// The upstream no longer retains what this node needs: re-bootstrap from a snapshot.
    Rebootstrap,
}

/// A replication client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The local identity could not be turned into a TLS configuration.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The local UDP socket could not be bound.
    #[error("failed to bind {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// The connection attempt could not start.
    #[error("failed to connect to {addr}: {error}")]
    Connect {
        /// The upstream address.
        addr: SocketAddr,
        /// Why.
        error: quinn::ConnectError,
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
    Connection(quinn::ConnectionError),
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

    /// How a follower should retry after this error: see [`RetryAdvice`].
    pub fn retry_advice(&self) -> RetryAdvice {
        match self {
            ClientError::NotAllowed
            | ClientError::Identity(_)
            | ClientError::UpstreamIdentityMismatch { .. }
            | ClientError::UnsupportedVersion { .. } => RetryAdvice::Refused,
            ClientError::SlotUnavailable { .. } => RetryAdvice::Rebootstrap,
            _ => RetryAdvice::Backoff,
        }
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

#[cfg(test)]
mod tests {
    use {super::*, std::error::Error};

    /// Each error's own text and the texts of its `source()` chain, outermost first.
    fn chain(error: &(dyn Error + 'static)) -> Vec<String> {
        let mut texts = vec![error.to_string()];
        let mut next = error.source();
        while let Some(cause) = next {
            texts.push(cause.to_string());
            next = cause.source();
        }
        texts
    }

    #[test]
    fn each_cause_is_printed_once() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let errors: Vec<Box<dyn Error + Send + Sync>> = vec![
            Box::new(ServerError::Bind {
                addr,
                error: std::io::Error::other("address in use"),
            }),
            Box::new(ClientError::Bind {
                addr,
                error: std::io::Error::other("address in use"),
            }),
            Box::new(ClientError::Connect {
                addr,
                error: quinn::ConnectError::EndpointStopping,
            }),
            Box::new(ClientError::Connection(quinn::ConnectionError::TimedOut)),
            Box::new(ClientError::Identity(IdentityError::Tls(
                rustls::Error::General("bad key".into()),
            ))),
            Box::new(ServerError::Identity(IdentityError::Tls(
                rustls::Error::General("bad key".into()),
            ))),
            Box::new(ClientError::Frame(FrameError::Decompress(
                std::io::Error::other("bad zstd"),
            ))),
            Box::new(ClientError::Protocol(ProtocolError::Frame(
                FrameError::Malformed(Box::new(bincode::ErrorKind::SizeLimit)),
            ))),
        ];
        for error in &errors {
            let texts = chain(error.as_ref());
            for pair in texts.windows(2) {
                assert!(
                    !pair[0].contains(&pair[1]),
                    "`{}` repeats its cause `{}`",
                    pair[0],
                    pair[1]
                );
            }
            // The cause is still told, once.
            assert!(texts[0].contains(':'), "{texts:?}");
        }
    }

    #[test]
    fn refusals_are_told_apart_from_transient_failures() {
        assert_eq!(ClientError::NotAllowed.retry_advice(), RetryAdvice::Refused);
        assert!(matches!(
            ClientError::from_error_frame(ErrorFrame::new(ErrorCode::NotAllowed, "no")),
            ClientError::NotAllowed
        ));
        assert_eq!(
            ClientError::UnsupportedVersion { supported: 1 }.retry_advice(),
            RetryAdvice::Refused
        );
        assert_eq!(
            ClientError::SlotUnavailable {
                first_available_slot: 9
            }
            .retry_advice(),
            RetryAdvice::Rebootstrap
        );
        for transient in [
            ClientError::ShuttingDown,
            ClientError::Timeout {
                timeout: Duration::from_secs(1),
            },
            ClientError::Connection(quinn::ConnectionError::TimedOut),
            ClientError::Remote(ErrorFrame::new(ErrorCode::Internal, "disk")),
        ] {
            assert_eq!(
                transient.retry_advice(),
                RetryAdvice::Backoff,
                "{transient}"
            );
        }
    }
}
