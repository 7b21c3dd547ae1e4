//! The replication server: serves a [`SlotSource`] over QUIC.
//!
//! Tasks: one accept loop, one task per connection, one per request stream (at most
//! `quic.max_concurrent_streams` per connection, enforced by QUIC). Source calls that may block
//! run in `spawn_blocking` behind a server-wide semaphore, one chunk at a time; the stream task
//! awaits every write, so a slow client holds at most one encoded chunk here plus what QUIC
//! flow control lets it have in flight.

use {
    super::{
        CloseCode,
        config::ReplicationServerConfig,
        error::ServerError,
        log_limit::{LogDecision, LogLimiter},
        tls,
    },
    crate::{
        frame::{FrameEncoder, FrameHeader, decode_message, payload_bytes},
        message::{
            ErrorCode, ErrorFrame, FLEET_VERSION, Hash, MIN_VERSION, Pubkey, Request, RequestV2,
            Response, ResponseRef, ResponseV1, ResponseV2, Slot, SlotConfirmationsV1,
            SlotConfirmationsV2,
        },
        slot_stream::SlotStreamWriter,
        source::{SlotRecords, SlotSource, SourceError},
    },
    bytes::Bytes,
    quinn::{Connection, Endpoint, Incoming, ReadToEndError, RecvStream, SendStream},
    serde::Serialize,
    std::{
        net::SocketAddr,
        sync::{
            Arc, Mutex, PoisonError,
            atomic::{AtomicU64, Ordering},
        },
        time::{Duration, Instant},
    },
    tokio::{sync::Semaphore, task::JoinHandle, time::timeout},
    tokio_util::{sync::CancellationToken, task::TaskTracker},
    tracing::{Instrument, debug, info, info_span, warn},
};

/// A running replication server. Dropping the handle does not stop it: cancel the token given
/// to [`spawn`](Self::spawn), then [`join`](Self::join).
#[derive(Debug)]
pub struct ReplicationServer {
    local_addr: SocketAddr,
    identity: Pubkey,
    endpoint: Endpoint,
    task: JoinHandle<()>,
    refused: Arc<AtomicU64>,
}

/// Identities whose refusals are logged one by one; more share one line per interval.
pub const REFUSAL_LOG_MAX_IDENTITIES: usize = 1024;

struct Shared {
    config: ReplicationServerConfig,
    source: Arc<dyn SlotSource>,
    blocking: Arc<Semaphore>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    /// Connections refused because of the allowlist.
    refused: Arc<AtomicU64>,
    refusal_log: Mutex<LogLimiter<Pubkey>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ReplicationServer {
    /// Binds `config.bind_addr` and starts serving `source` until `cancel` is cancelled. Must be
    /// called within a tokio runtime.
    pub fn spawn(
        config: ReplicationServerConfig,
        source: Arc<dyn SlotSource>,
        cancel: CancellationToken,
    ) -> Result<Self, ServerError> {
        let socket =
            std::net::UdpSocket::bind(config.bind_addr).map_err(|error| ServerError::Bind {
                addr: config.bind_addr,
                error,
            })?;
        Self::spawn_on(config, socket, source, cancel)
    }

    /// Serves `source` on an already bound socket (a node binds its listeners before its long
    /// start-up work, so an address in use is reported at once); `config.bind_addr` is ignored.
    /// Must be called within a tokio runtime.
    pub fn spawn_on(
        config: ReplicationServerConfig,
        socket: std::net::UdpSocket,
        source: Arc<dyn SlotSource>,
        cancel: CancellationToken,
    ) -> Result<Self, ServerError> {
        let addr = socket.local_addr().unwrap_or(config.bind_addr);
        let bind_error = |error| ServerError::Bind { addr, error };
        let server_config = tls::quinn_server_config(&config.identity, &config.quic)?;
        let runtime = quinn::default_runtime()
            .ok_or_else(|| bind_error(std::io::Error::other("no async runtime")))?;
        let endpoint = Endpoint::new(
            quinn::EndpointConfig::default(),
            Some(server_config),
            socket,
            runtime,
        )
        .map_err(bind_error)?;
        let local_addr = endpoint.local_addr().map_err(bind_error)?;
        let identity = tls::identity_pubkey(&config.identity);
        let refused = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Shared {
            blocking: Arc::new(Semaphore::new(config.max_blocking_tasks.max(1))),
            refusal_log: Mutex::new(LogLimiter::new(
                config.refusal_log_interval,
                REFUSAL_LOG_MAX_IDENTITIES,
            )),
            config,
            source,
            cancel,
            tracker: TaskTracker::new(),
            refused: refused.clone(),
        });
        info!(%local_addr, %identity, "replication server listening");
        let task = tokio::spawn(accept_loop(endpoint.clone(), shared));
        Ok(Self {
            local_addr,
            identity,
            endpoint,
            task,
            refused,
        })
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's identity.
    pub fn identity(&self) -> Pubkey {
        self.identity
    }

    /// Connections refused so far because the client's identity is not on the allowlist
    /// (for a metric; the log reports them at most once per identity per
    /// `refusal_log_interval`).
    pub fn refused_connections(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections currently open (including handshakes in progress).
    pub fn open_connections(&self) -> usize {
        self.endpoint.open_connections()
    }

    /// Waits until the server has stopped (after its token was cancelled), its tasks were
    /// joined (bounded by `shutdown_timeout`) and its endpoint is idle.
    pub async fn join(self) {
        if let Err(error) = self.task.await {
            warn!(%error, "replication server task failed");
        }
    }
}

async fn accept_loop(endpoint: Endpoint, shared: Arc<Shared>) {
    loop {
        let incoming = tokio::select! {
            biased;
            _ = shared.cancel.cancelled() => break,
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => incoming,
                None => break,
            },
        };
        if endpoint.open_connections() >= shared.config.max_connections {
            warn!(remote = %incoming.remote_address(), "refusing connection: too many connections");
            incoming.refuse();
            continue;
        }
        shared
            .tracker
            .spawn(serve_connection(incoming, shared.clone()));
    }
    endpoint.close(CloseCode::ShuttingDown.code(), b"shutting down");
    shared.tracker.close();
    let grace = shared.config.shutdown_timeout;
    if timeout(grace, shared.tracker.wait()).await.is_err() {
        warn!(?grace, "replication server tasks did not stop in time");
    }
    let _ = timeout(grace, endpoint.wait_idle()).await;
    info!("replication server stopped");
}

async fn serve_connection(incoming: Incoming, shared: Arc<Shared>) {
    let remote = incoming.remote_address();
    let connecting = match incoming.accept() {
        Ok(connecting) => connecting,
        Err(error) => {
            debug!(%remote, %error, "failed to accept connection");
            return;
        }
    };
    let conn = match timeout(shared.config.handshake_timeout, connecting).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(error)) => {
            debug!(%remote, %error, "handshake failed");
            return;
        }
        Err(_) => {
            debug!(%remote, "handshake timed out");
            return;
        }
    };
    let Some(peer) = tls::peer_identity(&conn) else {
        // The verifier only admits Ed25519 certificates, so this is unreachable in practice.
        conn.close(CloseCode::ProtocolViolation.code(), b"no peer identity");
        return;
    };
    if !shared.config.allowlist.allows(&peer) {
        refuse(&shared, &peer, remote);
        conn.close(CloseCode::NotAllowed.code(), b"identity not on allowlist");
        return;
    }
    let span = info_span!("replica_peer", %peer, %remote);
    debug!(parent: &span, "client connected");
    loop {
        let (send, recv) = tokio::select! {
            _ = shared.cancel.cancelled() => {
                conn.close(CloseCode::ShuttingDown.code(), b"shutting down");
                return;
            }
            stream = conn.accept_bi() => match stream {
                Ok(stream) => stream,
                Err(error) => {
                    debug!(parent: &span, %error, "connection closed");
                    return;
                }
            },
        };
        shared
            .tracker
            .spawn(serve_stream(shared.clone(), conn.clone(), send, recv).instrument(span.clone()));
    }
}

/// Counts and logs a client refused by the allowlist: WARN at most once per identity per
/// `refusal_log_interval`, with `suppressed` = refusals of that identity held back since its
/// previous line (`other_identities` marks the one line per interval shared by identities
/// beyond [`REFUSAL_LOG_MAX_IDENTITIES`]); the others at DEBUG.
fn refuse(shared: &Shared, peer: &Pubkey, remote: SocketAddr) {
    shared.refused.fetch_add(1, Ordering::Relaxed);
    let decision = shared
        .refusal_log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .check(*peer, Instant::now());
    const REFUSED: &str = "refused client: identity not on the allowlist";
    match decision {
        LogDecision::Log { suppressed } => warn!(%peer, %remote, suppressed, "{REFUSED}"),
        LogDecision::LogOverflow { suppressed } => {
            warn!(%peer, %remote, suppressed, other_identities = true, "{REFUSED}")
        }
        LogDecision::Suppress => debug!(%peer, %remote, "{REFUSED}"),
    }
}

/// Why a stream task stopped early (logged at debug level; the stream is simply dropped).
#[derive(Debug, thiserror::Error)]
enum StreamEnd {
    /// The client stopped the stream or the connection was lost.
    #[error("peer gone: {0}")]
    Peer(String),
    /// A write did not get flow-control credit in time.
    #[error("write timed out (client not reading)")]
    WriteTimeout,
    /// An answer could not be encoded.
    #[error("failed to encode answer: {0}")]
    Encode(String),
}

/// What a request stream held.
enum ParsedRequest {
    Request(Request),
    /// A well-formed frame whose request claims another version.
    WrongVersion(u16),
    /// Malformed or oversized: answered, then the connection is closed.
    Reject(ErrorFrame),
}

/// Decodes the one request frame a stream must hold exactly.
fn parse_request(bytes: &[u8], max_request_len: u32, max_version: u16) -> ParsedRequest {
    let mut src = bytes;
    let header = match FrameHeader::decode(&mut src, max_request_len) {
        Ok(header) => header,
        Err(error) => {
            return ParsedRequest::Reject(ErrorFrame::new(error.error_code(), error.to_string()));
        }
    };
    if src.len() != header.payload_len as usize {
        return ParsedRequest::Reject(ErrorFrame::new(
            ErrorCode::Malformed,
            format!(
                "request stream must hold exactly one frame: declared {} payload bytes, got {}",
                header.payload_len,
                src.len()
            ),
        ));
    }
    let payload = match payload_bytes(&header, src, max_request_len) {
        Ok(payload) => payload,
        Err(error) => {
            return ParsedRequest::Reject(ErrorFrame::new(error.error_code(), error.to_string()));
        }
    };
    // v1 and v2 requests have the older shape.
    let decoded = match Request::peek_version(&payload) {
        Some(version) if version < FLEET_VERSION => {
            decode_message::<RequestV2>(&payload).map(Request::from)
        }
        _ => decode_message::<Request>(&payload),
    };
    match decoded {
        Ok(request) if !(MIN_VERSION..=max_version).contains(&request.version()) => {
            ParsedRequest::WrongVersion(request.version())
        }
        Ok(request) => ParsedRequest::Request(request),
        Err(error) => {
            // A known request kind with another version may have another shape: answer with
            // the version we speak rather than calling it malformed.
            let known_kind = payload
                .get(..4)
                .is_some_and(|v| v[1..] == [0, 0, 0] && v[0] < 2);
            match Request::peek_version(&payload) {
                Some(version) if known_kind && !(MIN_VERSION..=max_version).contains(&version) => {
                    ParsedRequest::WrongVersion(version)
                }
                _ => {
                    ParsedRequest::Reject(ErrorFrame::new(ErrorCode::Malformed, error.to_string()))
                }
            }
        }
    }
}

async fn serve_stream(
    shared: Arc<Shared>,
    conn: Connection,
    mut send: SendStream,
    mut recv: RecvStream,
) {
    let limit = crate::frame::FRAME_HEADER_LEN + shared.config.max_request_len as usize;
    let read = tokio::select! {
        _ = shared.cancel.cancelled() => return,
        read = timeout(shared.config.request_read_timeout, recv.read_to_end(limit)) => read,
    };
    let parsed = match read {
        Err(_) => {
            debug!("request not received in time");
            let _ = send.reset(CloseCode::ProtocolViolation.code());
            return;
        }
        Ok(Err(ReadToEndError::TooLong)) => ParsedRequest::Reject(ErrorFrame::new(
            ErrorCode::FrameTooLarge {
                limit: u64::from(shared.config.max_request_len),
            },
            "request stream exceeds the request size limit",
        )),
        Ok(Err(ReadToEndError::Read(error))) => {
            debug!(%error, "failed to read request");
            return;
        }
        Ok(Ok(bytes)) => parse_request(
            &bytes,
            shared.config.max_request_len,
            shared.config.max_version,
        ),
    };
    let result = match parsed {
        ParsedRequest::Reject(frame) => {
            reject_and_close(&shared, &conn, &mut send, frame).await;
            return;
        }
        ParsedRequest::WrongVersion(version) => {
            debug!(version, "unsupported protocol version");
            send_error(
                &shared,
                &mut send,
                ErrorFrame::new(
                    ErrorCode::UnsupportedVersion {
                        supported: shared.config.max_version,
                    },
                    format!("protocol version {version} is not supported"),
                ),
            )
            .await
        }
        ParsedRequest::Request(Request::SlotConfirmation {
            version,
            last_replicated_slot,
            known_seq,
            wait_ms,
            progress,
        }) => {
            if let Some(progress) = progress
                && let Some(peer) = tls::peer_identity(&conn)
            {
                shared.source.report_progress(&peer, progress);
            }
            serve_confirmation(
                &shared,
                &mut send,
                version,
                last_replicated_slot,
                known_seq,
                wait_ms,
            )
            .await
        }
        ParsedRequest::Request(Request::SlotAccounts {
            slot, blockhash, ..
        }) => serve_accounts(&shared, &mut send, slot, blockhash).await,
    };
    match result {
        Ok(()) => {
            let _ = send.finish();
        }
        Err(end) => debug!(error = %end, "request stream ended early"),
    }
}

/// Answers a malformed or oversized request, then closes the connection once the answer was
/// delivered (or after a short grace period).
async fn reject_and_close(
    shared: &Shared,
    conn: &Connection,
    send: &mut SendStream,
    frame: ErrorFrame,
) {
    warn!(code = ?frame.code, reason = %frame.message, "closing connection after a bad request");
    let reason = frame.message.clone();
    if send_error(shared, send, frame).await.is_ok() {
        let _ = send.finish();
        let _ = timeout(Duration::from_secs(2), send.stopped()).await;
    }
    let mut reason = reason.into_bytes();
    reason.truncate(256);
    conn.close(CloseCode::ProtocolViolation.code(), &reason);
}

fn encode<T: Serialize + ?Sized>(shared: &Shared, msg: &T) -> Result<Bytes, StreamEnd> {
    let mut buf = Vec::new();
    FrameEncoder::new(shared.config.frame)
        .encode(msg, &mut buf)
        .map_err(|e| StreamEnd::Encode(e.to_string()))?;
    Ok(buf.into())
}

async fn write(shared: &Shared, send: &mut SendStream, bytes: Bytes) -> Result<(), StreamEnd> {
    if bytes.is_empty() {
        return Ok(());
    }
    match timeout(shared.config.write_timeout, send.write_chunk(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(StreamEnd::Peer(error.to_string())),
        Err(_) => {
            let _ = send.reset(CloseCode::ProtocolViolation.code());
            Err(StreamEnd::WriteTimeout)
        }
    }
}

async fn send_error(
    shared: &Shared,
    send: &mut SendStream,
    frame: ErrorFrame,
) -> Result<(), StreamEnd> {
    let bytes = encode(shared, &ResponseRef::Error(&frame))?;
    write(shared, send, bytes).await
}

async fn serve_confirmation(
    shared: &Shared,
    send: &mut SendStream,
    version: u16,
    last_replicated_slot: Slot,
    known_seq: u64,
    wait_ms: u32,
) -> Result<(), StreamEnd> {
    let mut seq = shared.source.subscribe();
    let wait = Duration::from_millis(u64::from(wait_ms)).min(shared.config.max_wait);
    let has_news = *seq.borrow_and_update() > known_seq;
    if !has_news && !wait.is_zero() {
        let stopped = send.stopped();
        tokio::select! {
            // Drop the watch guard inside: it must not live across the other branches' awaits.
            () = async {
                let _ = timeout(wait, seq.wait_for(|s| *s > known_seq)).await;
            } => {}
            _ = shared.cancel.cancelled() => {
                return send_error(
                    shared,
                    send,
                    ErrorFrame::new(ErrorCode::ShuttingDown, "server shutting down"),
                )
                .await;
            }
            _ = stopped => return Err(StreamEnd::Peer("client stopped the long-poll".into())),
        }
    }
    let answer = shared.source.confirmations(last_replicated_slot);
    let bytes = if version == 1 {
        encode(
            shared,
            &ResponseV1::SlotConfirmations(SlotConfirmationsV1::from(&answer)),
        )?
    } else if version < FLEET_VERSION {
        encode(
            shared,
            &ResponseV2::SlotConfirmations(SlotConfirmationsV2::from(&answer)),
        )?
    } else {
        encode(shared, &Response::SlotConfirmations(answer))?
    };
    write(shared, send, bytes).await
}

/// Why a blocking source call did not run.
enum BlockingError {
    ShuttingDown,
    Panicked,
}

impl BlockingError {
    fn error_frame(&self) -> ErrorFrame {
        match self {
            BlockingError::ShuttingDown => {
                ErrorFrame::new(ErrorCode::ShuttingDown, "server shutting down")
            }
            BlockingError::Panicked => ErrorFrame::new(ErrorCode::Internal, "slot source failed"),
        }
    }
}

/// Runs `f` on the blocking pool once a permit of the server's semaphore is free.
async fn run_blocking<T, F>(shared: &Shared, f: F) -> Result<T, BlockingError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let permit = tokio::select! {
        _ = shared.cancel.cancelled() => return Err(BlockingError::ShuttingDown),
        permit = shared.blocking.clone().acquire_owned() => permit.map_err(|_| BlockingError::ShuttingDown)?,
    };
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    })
    .await
    .map_err(|_| BlockingError::Panicked)
}

/// One step of a slot stream, computed on the blocking pool.
enum Step {
    /// Encoded frames to send; `done` after the trailer.
    Frames { bytes: Bytes, done: bool },
    /// The source failed.
    Source(SourceError),
    /// The source broke the stream contract (e.g. more or fewer records than its header).
    Contract(String),
}

async fn serve_accounts(
    shared: &Shared,
    send: &mut SendStream,
    slot: Slot,
    blockhash: Hash,
) -> Result<(), StreamEnd> {
    let source = shared.source.clone();
    let records = match run_blocking(shared, move || source.slot_accounts(slot, &blockhash)).await {
        Ok(Ok(records)) => records,
        Ok(Err(error)) => {
            debug!(slot, %error, "slot not served");
            return send_error(shared, send, error.to_error_frame()).await;
        }
        Err(error) => return send_error(shared, send, error.error_frame()).await,
    };
    let header = records.header().clone();
    if header.slot != slot || header.blockhash != blockhash {
        warn!(slot, "slot source returned another bank than asked");
        return send_error(
            shared,
            send,
            ErrorFrame::new(ErrorCode::Internal, "slot source returned another bank"),
        )
        .await;
    }
    let mut writer = SlotStreamWriter::new(
        header,
        shared.config.frame,
        shared.config.chunk_target_bytes,
    );
    let mut buf = Vec::new();
    writer
        .write_header(&mut buf)
        .map_err(|e| StreamEnd::Encode(e.to_string()))?;
    write(shared, send, buf.into()).await?;

    let target = shared.config.chunk_target_bytes;
    let mut state: (Box<dyn SlotRecords>, SlotStreamWriter) = (records, writer);
    loop {
        let (mut records, mut writer) = state;
        let (records, writer, step) = match run_blocking(shared, move || {
            let step = next_step(records.as_mut(), &mut writer, target);
            (records, writer, step)
        })
        .await
        {
            Ok(out) => out,
            Err(error) => return send_error(shared, send, error.error_frame()).await,
        };
        match step {
            Step::Frames { bytes, done } => {
                write(shared, send, bytes).await?;
                if done {
                    return Ok(());
                }
            }
            Step::Source(error) => {
                warn!(slot, %error, "slot source failed mid-stream");
                return send_error(shared, send, error.to_error_frame()).await;
            }
            Step::Contract(reason) => {
                warn!(slot, %reason, "slot source broke the stream contract");
                return send_error(shared, send, ErrorFrame::new(ErrorCode::Internal, reason))
                    .await;
            }
        }
        state = (records, writer);
    }
}

/// Reads the next chunk from the source and encodes it (or the trailer). Blocking.
fn next_step(records: &mut dyn SlotRecords, writer: &mut SlotStreamWriter, target: usize) -> Step {
    let mut buf = Vec::new();
    let result = match records.next_chunk(target) {
        Ok(Some(chunk)) => writer.write_records(&chunk, &mut buf).map(|()| false),
        Ok(None) => writer
            .write_trailer(records.accounts_lt_hash(), &mut buf)
            .map(|_| true),
        Err(error) => return Step::Source(error),
    };
    match result {
        Ok(done) => Step::Frames {
            bytes: buf.into(),
            done,
        },
        Err(error) => Step::Contract(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::{
            VERSION,
            frame::{FrameConfig, encode_frame},
            message::FleetProgress,
        },
    };

    fn framed<T: Serialize>(msg: &T) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_frame(msg, &FrameConfig::default(), &mut buf).unwrap();
        buf
    }

    #[test]
    fn parse_request_cases() {
        let ok = Request::SlotAccounts {
            version: VERSION,
            slot: 3,
            blockhash: Hash::new_unique(),
        };
        assert!(
            matches!(parse_request(&framed(&ok), 4096, VERSION), ParsedRequest::Request(r) if r == ok)
        );

        // Every version from MIN_VERSION on is spoken.
        let v1 = Request::SlotConfirmation {
            version: MIN_VERSION,
            last_replicated_slot: 0,
            known_seq: 0,
            wait_ms: 0,
            progress: None,
        };
        assert!(matches!(
            parse_request(&framed(&RequestV2::from(&v1)), 4096, VERSION),
            ParsedRequest::Request(r) if r == v1
        ));
        // A v3 request carries fleet progress.
        let fleet = Request::SlotConfirmation {
            version: FLEET_VERSION,
            last_replicated_slot: 5,
            known_seq: 1,
            wait_ms: 0,
            progress: Some(FleetProgress {
                members: vec![crate::message::MemberProgress {
                    identity: Pubkey::new_unique(),
                    confirmed_slot: 9,
                    rooted_slot: 7,
                    age_ms: 0,
                }],
            }),
        };
        assert!(matches!(
            parse_request(&framed(&fleet), 4096, VERSION),
            ParsedRequest::Request(r) if r == fleet
        ));

        let next = VERSION + 1;
        let v3 = Request::SlotConfirmation {
            version: next,
            last_replicated_slot: 0,
            known_seq: 0,
            wait_ms: 0,
            progress: None,
        };
        assert!(matches!(
            parse_request(&framed(&v3), 4096, VERSION),
            ParsedRequest::WrongVersion(v) if v == next
        ));

        // A newer request of another shape (extra field): still UnsupportedVersion.
        let mut longer = bincode::serialize(&v3).unwrap();
        longer.extend_from_slice(&[1, 2, 3]);
        assert!(matches!(
            parse_request(&framed_raw(&longer), 4096, VERSION),
            ParsedRequest::WrongVersion(v) if v == next
        ));

        // Garbage is malformed.
        let garbage = framed_raw(&[0xde, 0xad, 0xbe, 0xef, 0, 0]);
        assert!(matches!(
            parse_request(&garbage, 4096, VERSION),
            ParsedRequest::Reject(ErrorFrame {
                code: ErrorCode::Malformed,
                ..
            })
        ));
        // Two frames on one stream are malformed.
        let mut two = framed(&ok);
        two.extend_from_slice(&framed(&ok));
        assert!(matches!(
            parse_request(&two, 4096, VERSION),
            ParsedRequest::Reject(ErrorFrame {
                code: ErrorCode::Malformed,
                ..
            })
        ));
        // An oversized declared length is FrameTooLarge.
        let mut huge = Vec::new();
        FrameHeader {
            payload_len: 1 << 30,
            compressed: false,
        }
        .encode(&mut huge);
        assert!(matches!(
            parse_request(&huge, 4096, VERSION),
            ParsedRequest::Reject(ErrorFrame {
                code: ErrorCode::FrameTooLarge { limit: 4096 },
                ..
            })
        ));
    }

    fn framed_raw(payload: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        FrameHeader {
            payload_len: payload.len() as u32,
            compressed: false,
        }
        .encode(&mut buf);
        buf.extend_from_slice(payload);
        buf
    }
}
