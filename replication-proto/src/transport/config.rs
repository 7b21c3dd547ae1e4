//! Transport settings. Defaults live here, once, as `DEFAULT_*` constants.

use {
    crate::{frame::FrameConfig, message::Pubkey, slot_stream::DEFAULT_CHUNK_TARGET_BYTES},
    solana_keypair::Keypair,
    std::{collections::HashSet, net::SocketAddr, str::FromStr, sync::Arc, time::Duration},
};

/// QUIC keep-alive: well under the idle timeout, so long-polls and quiet links stay up.
pub const DEFAULT_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// A connection with no traffic (not even keep-alives) for this long is dead.
pub const DEFAULT_MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Per-stream receive window: 16 MiB keeps a single slot stream at full speed on fast links
/// (≥ 200k small records/s on loopback) while bounding what a peer may have in flight.
pub const DEFAULT_STREAM_RECEIVE_WINDOW: u32 = 16 * 1024 * 1024;
/// Per-connection receive window (all streams together).
pub const DEFAULT_RECEIVE_WINDOW: u64 = 64 * 1024 * 1024;
/// Per-connection send buffer: bounds what a server buffers for one slow client.
pub const DEFAULT_SEND_WINDOW: u64 = 32 * 1024 * 1024;
/// Concurrent requests (bidirectional streams) one client connection may have open.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 32;
/// Largest request frame payload a server accepts (requests are tens of bytes).
pub const DEFAULT_MAX_REQUEST_LEN: u32 = 4 * 1024;
/// Connections a server accepts at once (a tree node serves a handful of replicas).
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Blocking source calls (disk / RocksDB reads) a server runs at once.
pub const DEFAULT_MAX_BLOCKING_TASKS: usize = 8;
/// Longest a server holds a long-poll, whatever the client asks.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(20);
/// Time a client has to send its request once the stream is open.
pub const DEFAULT_REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a TLS/QUIC handshake may take (server side).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time one response frame may wait for the client's flow-control credit; past it the server
/// gives the stream up (the client stopped reading).
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Time a server waits for its tasks and connections when shutting down.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// A refused client identity is logged at most once per minute.
pub const DEFAULT_REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(60);
/// Time a client waits for the handshake.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client waits for each response frame (a long-poll adds its own wait).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// QUIC transport settings shared by server and client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuicConfig {
    /// Keep-alive interval.
    pub keep_alive_interval: Duration,
    /// Idle timeout.
    pub max_idle_timeout: Duration,
    /// Receive window of one stream (bytes).
    pub stream_receive_window: u32,
    /// Receive window of one connection (bytes).
    pub receive_window: u64,
    /// Send buffer of one connection (bytes).
    pub send_window: u64,
    /// Bidirectional streams the peer may have open at once (the server's limit on a client's
    /// concurrent requests; a client never accepts streams whatever this says).
    pub max_concurrent_streams: u32,
}

impl Default for QuicConfig {
    fn default() -> Self {
        Self {
            keep_alive_interval: DEFAULT_KEEP_ALIVE_INTERVAL,
            max_idle_timeout: DEFAULT_MAX_IDLE_TIMEOUT,
            stream_receive_window: DEFAULT_STREAM_RECEIVE_WINDOW,
            receive_window: DEFAULT_RECEIVE_WINDOW,
            send_window: DEFAULT_SEND_WINDOW,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
        }
    }
}

impl QuicConfig {
    /// The quinn transport configuration; `accept_streams` is false on clients.
    pub fn transport_config(&self, accept_streams: bool) -> quinn::TransportConfig {
        let varint = |v: u64| quinn::VarInt::from_u64(v).unwrap_or(quinn::VarInt::MAX);
        let mut t = quinn::TransportConfig::default();
        t.keep_alive_interval(Some(self.keep_alive_interval))
            .max_idle_timeout(Some(
                quinn::IdleTimeout::try_from(self.max_idle_timeout)
                    .unwrap_or_else(|_| quinn::IdleTimeout::from(quinn::VarInt::MAX)),
            ))
            .stream_receive_window(quinn::VarInt::from_u32(self.stream_receive_window))
            .receive_window(varint(self.receive_window))
            .send_window(self.send_window)
            .max_concurrent_bidi_streams(quinn::VarInt::from_u32(if accept_streams {
                self.max_concurrent_streams
            } else {
                0
            }))
            .max_concurrent_uni_streams(quinn::VarInt::from_u32(0))
            .datagram_receive_buffer_size(None);
        t
    }
}

/// Which client identities a server accepts. There is no implicit "empty means anyone":
/// [`ClientAllowlist::AllowAny`] must be chosen explicitly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAllowlist {
    /// Any client that proves an Ed25519 identity.
    AllowAny,
    /// Only these identities (an empty set refuses everyone).
    Only(HashSet<Pubkey>),
}

impl ClientAllowlist {
    /// Whether `identity` may connect.
    pub fn allows(&self, identity: &Pubkey) -> bool {
        match self {
            ClientAllowlist::AllowAny => true,
            ClientAllowlist::Only(set) => set.contains(identity),
        }
    }
}

impl FromIterator<Pubkey> for ClientAllowlist {
    fn from_iter<I: IntoIterator<Item = Pubkey>>(iter: I) -> Self {
        ClientAllowlist::Only(iter.into_iter().collect())
    }
}

/// Settings of a [`ReplicationServer`](super::ReplicationServer).
#[derive(Clone, Debug)]
pub struct ReplicationServerConfig {
    /// This node's identity (its certificate's key).
    pub identity: Arc<Keypair>,
    /// UDP address to bind; port 0 picks a free port (read it back with `local_addr`).
    pub bind_addr: SocketAddr,
    /// Accepted client identities.
    pub allowlist: ClientAllowlist,
    /// QUIC settings.
    pub quic: QuicConfig,
    /// Response framing: frame limit, compression.
    pub frame: FrameConfig,
    /// Largest request frame payload accepted (bytes).
    pub max_request_len: u32,
    /// Connections accepted at once; more are refused.
    pub max_connections: usize,
    /// Blocking source calls run at once (server-wide semaphore).
    pub max_blocking_tasks: usize,
    /// Cap on a long-poll's `wait_ms`.
    pub max_wait: Duration,
    /// Target size of one records frame (encoded bytes).
    pub chunk_target_bytes: usize,
    /// Time a client has to send its request.
    pub request_read_timeout: Duration,
    /// Time a handshake may take.
    pub handshake_timeout: Duration,
    /// Time one response frame may wait for flow-control credit.
    pub write_timeout: Duration,
    /// Time shutdown waits for tasks and connections.
    pub shutdown_timeout: Duration,
    /// A refused client identity is logged at most once per this interval (WARN, with the
    /// number of refusals held back); every refusal is counted in
    /// [`ReplicationServer::refused_connections`](super::ReplicationServer::refused_connections).
    pub refusal_log_interval: Duration,
    /// The newest protocol version spoken ([`VERSION`](crate::VERSION) by default): lower it
    /// to keep a fleet on an older version while its nodes are upgraded one by one.
    pub max_version: u16,
}

impl ReplicationServerConfig {
    /// Defaults for everything but identity, address and allowlist.
    pub fn new(identity: Keypair, bind_addr: SocketAddr, allowlist: ClientAllowlist) -> Self {
        Self {
            identity: Arc::new(identity),
            bind_addr,
            allowlist,
            quic: QuicConfig::default(),
            frame: FrameConfig::default(),
            max_request_len: DEFAULT_MAX_REQUEST_LEN,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_blocking_tasks: DEFAULT_MAX_BLOCKING_TASKS,
            max_wait: DEFAULT_MAX_WAIT,
            chunk_target_bytes: DEFAULT_CHUNK_TARGET_BYTES,
            request_read_timeout: DEFAULT_REQUEST_READ_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            refusal_log_interval: DEFAULT_REFUSAL_LOG_INTERVAL,
            max_version: crate::VERSION,
        }
    }
}

/// Settings of a [`ReplicationClient`](super::ReplicationClient).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationClientConfig {
    /// QUIC settings.
    pub quic: QuicConfig,
    /// Largest response frame accepted (bytes); must fit the largest record the upstream sends.
    pub max_frame_len: u32,
    /// Time the handshake may take.
    pub connect_timeout: Duration,
    /// Time each response frame may take (a long-poll's wait is added).
    pub request_timeout: Duration,
    /// Local UDP address; `None` binds an ephemeral port on the upstream's address family.
    pub bind_addr: Option<SocketAddr>,
}

impl Default for ReplicationClientConfig {
    fn default() -> Self {
        Self {
            quic: QuicConfig::default(),
            max_frame_len: crate::frame::DEFAULT_MAX_FRAME_LEN,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            bind_addr: None,
        }
    }
}

/// An upstream as operators write it: `addr=pubkey`, e.g. `10.0.0.1:8900=7Np4…`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Upstream {
    /// Its UDP address.
    pub addr: SocketAddr,
    /// Its identity.
    pub identity: Pubkey,
}

impl FromStr for Upstream {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, identity) = s
            .split_once('=')
            .ok_or_else(|| format!("expected ADDR=PUBKEY, got {s:?}"))?;
        Ok(Self {
            addr: addr
                .trim()
                .parse()
                .map_err(|e| format!("bad upstream address {addr:?}: {e}"))?,
            identity: identity
                .trim()
                .parse()
                .map_err(|e| format!("bad upstream identity {identity:?}: {e}"))?,
        })
    }
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.addr, self.identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_parses_addr_eq_pubkey() {
        let key = Pubkey::new_unique();
        let up: Upstream = format!("127.0.0.1:8900={key}").parse().unwrap();
        assert_eq!(up.addr, "127.0.0.1:8900".parse().unwrap());
        assert_eq!(up.identity, key);
        assert_eq!(up.to_string().parse::<Upstream>().unwrap(), up);
        assert!("127.0.0.1:8900".parse::<Upstream>().is_err());
        assert!(format!("nope={key}").parse::<Upstream>().is_err());
        assert!("127.0.0.1:1=notakey".parse::<Upstream>().is_err());
    }

    #[test]
    fn allowlist_is_explicit() {
        let key = Pubkey::new_unique();
        assert!(ClientAllowlist::AllowAny.allows(&key));
        assert!(!ClientAllowlist::Only(HashSet::new()).allows(&key));
        let list: ClientAllowlist = [key].into_iter().collect();
        assert!(list.allows(&key));
        assert!(!list.allows(&Pubkey::new_unique()));
    }
}
