//! The replication client: one QUIC connection to an upstream whose identity is known.

use {
    super::{CloseCode, config::ReplicationClientConfig, error::ClientError, tls},
    crate::{
        error::{FrameError, ProtocolError},
        frame::{FRAME_HEADER_LEN, FrameConfig, FrameHeader, decode_payload, encode_frame},
        message::{
            AccountRecord, FLEET_VERSION, FleetProgress, Hash, MIN_VERSION, Pubkey, Request,
            RequestV2, Response, ResponseV1, ResponseV2, Slot, SlotConfirmations, SlotHeader,
            SlotTrailer, VERSION,
        },
        slot_stream::{SlotStreamEvent, SlotStreamReader, validate_confirmations},
    },
    quinn::{Connection, Endpoint, ReadExactError, RecvStream},
    solana_keypair::Keypair,
    std::{
        net::{Ipv4Addr, Ipv6Addr, SocketAddr},
        sync::atomic::{AtomicU16, Ordering},
        time::Duration,
    },
    tokio::time::timeout,
};

/// Frames larger than this are decoded (decompressed, deserialized) on the blocking pool.
const INLINE_DECODE_MAX: u32 = 64 * 1024;

/// A connection to one upstream replication server.
pub struct ReplicationClient {
    endpoint: Endpoint,
    connection: Connection,
    upstream_addr: SocketAddr,
    upstream_identity: Pubkey,
    config: ReplicationClientConfig,
    /// The protocol version spoken: [`VERSION`] until the server says it knows only an older
    /// one.
    version: AtomicU16,
}

impl std::fmt::Debug for ReplicationClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationClient")
            .field("upstream_addr", &self.upstream_addr)
            .field("upstream_identity", &self.upstream_identity)
            .field("close_reason", &self.connection.close_reason())
            .finish_non_exhaustive()
    }
}

impl ReplicationClient {
    /// Connects to `upstream_addr` as `identity`, accepting only a server whose certificate
    /// carries `upstream_identity`.
    pub async fn connect(
        identity: &Keypair,
        upstream_addr: SocketAddr,
        upstream_identity: Pubkey,
        config: ReplicationClientConfig,
    ) -> Result<Self, ClientError> {
        let (client_config, presented) =
            tls::quinn_client_config_observed(identity, upstream_identity, &config.quic)?;

        let bind = config.bind_addr.unwrap_or(if upstream_addr.is_ipv4() {
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
        } else {
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
        });
        let endpoint =
            Endpoint::client(bind).map_err(|error| ClientError::Bind { addr: bind, error })?;
        let connecting = endpoint
            .connect_with(client_config, upstream_addr, tls::SERVER_NAME)
            .map_err(|error| ClientError::Connect {
                addr: upstream_addr,
                error,
            })?;
        let connection = match timeout(config.connect_timeout, connecting).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => {
                let presented = presented.lock().ok().and_then(|p| *p);
                if let Some(presented) = presented
                    && presented != upstream_identity
                {
                    return Err(ClientError::UpstreamIdentityMismatch {
                        expected: upstream_identity,
                        presented,
                    });
                }
                return Err(ClientError::from_connection_error(error));
            }
            Err(_) => {
                return Err(ClientError::ConnectTimeout {
                    addr: upstream_addr,
                    timeout: config.connect_timeout,
                });
            }
        };
        Ok(Self {
            endpoint,
            connection,
            upstream_addr,
            upstream_identity,
            config,
            version: AtomicU16::new(VERSION),
        })
    }

    /// The protocol version this connection speaks.
    pub fn version(&self) -> u16 {
        self.version.load(Ordering::Relaxed)
    }

    /// The upstream's address.
    pub fn upstream_addr(&self) -> SocketAddr {
        self.upstream_addr
    }

    /// The upstream's (verified) identity.
    pub fn upstream_identity(&self) -> Pubkey {
        self.upstream_identity
    }

    /// The underlying QUIC connection (for diagnostics and tests).
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.connection.close(CloseCode::Done.code(), b"done");
    }

    /// Waits until the connection's packets are flushed after [`close`](Self::close).
    pub async fn wait_idle(&self) {
        self.endpoint.wait_idle().await;
    }

    /// Sends one request on a new stream and returns its response frames, unvalidated. The
    /// typed methods below build on this; it also lets tests speak other versions.
    pub async fn request(&self, request: &Request) -> Result<ResponseStream, ClientError> {
        self.request_as(request, request.version()).await
    }

    /// [`request`](Self::request), decoding the answer as protocol `version` encodes it.
    async fn request_as(
        &self,
        request: &Request,
        version: u16,
    ) -> Result<ResponseStream, ClientError> {
        let request_timeout = self.config.request_timeout;
        let send_request = async {
            let (mut send, recv) = self
                .connection
                .open_bi()
                .await
                .map_err(ClientError::from_connection_error)?;
            let mut buf = Vec::new();
            if version < FLEET_VERSION {
                encode_frame(&RequestV2::from(request), &FrameConfig::default(), &mut buf)
            } else {
                encode_frame(request, &FrameConfig::default(), &mut buf)
            }
            .map_err(ClientError::Frame)?;
            send.write_all(&buf).await?;
            // Finishing can only fail if the stream is already closed; reading will tell why.
            let _ = send.finish();
            Ok::<_, ClientError>(recv)
        };
        let recv =
            timeout(request_timeout, send_request)
                .await
                .map_err(|_| ClientError::Timeout {
                    timeout: request_timeout,
                })??;
        Ok(ResponseStream {
            recv,
            max_frame_len: self.config.max_frame_len,
            frame_timeout: request_timeout,
            version,
        })
    }

    /// Long-polls for slots after `last_replicated_slot`: the server answers at once if its
    /// sequence number is past `known_seq`, else when it changes or after `wait` (which it may
    /// cap). The answer is checked (ascending, after `last_replicated_slot`).
    pub async fn slot_confirmation(
        &self,
        last_replicated_slot: Slot,
        known_seq: u64,
        wait: Duration,
    ) -> Result<SlotConfirmations, ClientError> {
        self.fleet_confirmation(last_replicated_slot, known_seq, wait, None)
            .await
    }

    /// [`slot_confirmation`](Self::slot_confirmation) of a fleet member: `progress` goes up
    /// (dropped when the server speaks a version before [`FLEET_VERSION`]) and the answer may
    /// carry the fleet's announcement.
    pub async fn fleet_confirmation(
        &self,
        last_replicated_slot: Slot,
        known_seq: u64,
        wait: Duration,
        progress: Option<FleetProgress>,
    ) -> Result<SlotConfirmations, ClientError> {
        match self
            .slot_confirmation_as(
                self.version(),
                last_replicated_slot,
                known_seq,
                wait,
                progress.clone(),
            )
            .await
        {
            // A server of an older version: speak its version from now on.
            Err(ClientError::UnsupportedVersion { supported })
                if (MIN_VERSION..self.version()).contains(&supported) =>
            {
                tracing::info!(
                    upstream = %self.upstream_addr,
                    version = supported,
                    "the upstream speaks an older protocol version; using it"
                );
                self.version.store(supported, Ordering::Relaxed);
                self.slot_confirmation_as(
                    supported,
                    last_replicated_slot,
                    known_seq,
                    wait,
                    progress,
                )
                .await
            }
            answer => answer,
        }
    }

    async fn slot_confirmation_as(
        &self,
        version: u16,
        last_replicated_slot: Slot,
        known_seq: u64,
        wait: Duration,
        progress: Option<FleetProgress>,
    ) -> Result<SlotConfirmations, ClientError> {
        let wait_ms = u32::try_from(wait.as_millis()).unwrap_or(u32::MAX);
        let mut stream = self
            .request_as(
                &Request::SlotConfirmation {
                    version,
                    last_replicated_slot,
                    known_seq,
                    wait_ms,
                    progress: progress.filter(|_| version >= FLEET_VERSION),
                },
                version,
            )
            .await?;
        stream.frame_timeout = self.config.request_timeout.saturating_add(wait);
        let confirmations = match stream.next_frame().await? {
            Some(Response::SlotConfirmations(c)) => c,
            Some(Response::Error(frame)) => return Err(ClientError::from_error_frame(frame)),
            Some(other) => {
                return Err(ProtocolError::UnexpectedFrame {
                    expected: "SlotConfirmations",
                    got: other.kind(),
                }
                .into());
            }
            None => return Err(ProtocolError::Truncated { received: 0 }.into()),
        };
        stream.frame_timeout = self.config.request_timeout;
        stream.expect_end().await?;
        validate_confirmations(&confirmations, last_replicated_slot)?;
        Ok(confirmations)
    }

    /// Requests bank (`slot`, `blockhash`)'s accounts. Returns once the header arrived (so that
    /// `SlotUnavailable`, `UnknownSlot` and the like come out here, typed); the stream then
    /// yields validated events. Apply the slot only after [`SlotStreamEvent::End`].
    pub async fn slot_accounts(
        &self,
        slot: Slot,
        blockhash: Hash,
    ) -> Result<SlotAccountsStream, ClientError> {
        let stream = self
            .request(&Request::SlotAccounts {
                version: self.version(),
                slot,
                blockhash,
            })
            .await?;
        let mut accounts = SlotAccountsStream {
            stream,
            reader: SlotStreamReader::new(slot, blockhash),
            header: None,
            pending: None,
            done: false,
        };
        match accounts.read_event().await? {
            Some(SlotStreamEvent::Header(header)) => {
                accounts.header = Some(header.clone());
                accounts.pending = Some(SlotStreamEvent::Header(header));
                Ok(accounts)
            }
            // The reader yields a header first or fails; anything else is a broken stream.
            Some(other) => Err(ProtocolError::UnexpectedFrame {
                expected: "SlotHeader",
                got: match other {
                    SlotStreamEvent::Records(_) => "Records",
                    _ => "SlotTrailer",
                },
            }
            .into()),
            None => Err(ProtocolError::Truncated { received: 0 }.into()),
        }
    }
}

/// The response frames of one request, as they arrive.
#[derive(Debug)]
pub struct ResponseStream {
    recv: RecvStream,
    max_frame_len: u32,
    frame_timeout: Duration,
    /// The protocol version the frames are encoded in.
    version: u16,
}

impl ResponseStream {
    /// The next frame, or `None` when the server finished the stream. Each frame must arrive
    /// within the request timeout.
    pub async fn next_frame(&mut self) -> Result<Option<Response>, ClientError> {
        let frame_timeout = self.frame_timeout;
        timeout(
            frame_timeout,
            read_frame(&mut self.recv, self.max_frame_len, self.version),
        )
        .await
        .map_err(|_| ClientError::Timeout {
            timeout: frame_timeout,
        })?
    }

    /// Checks that the server finished the stream (no frame follows).
    pub async fn expect_end(&mut self) -> Result<(), ClientError> {
        match self.next_frame().await? {
            None => Ok(()),
            Some(frame) => Err(ProtocolError::UnexpectedFrame {
                expected: "end of stream",
                got: frame.kind(),
            }
            .into()),
        }
    }
}

/// Reads one frame: the header, its length checked before allocating, then the payload.
async fn read_frame(
    recv: &mut RecvStream,
    max_frame_len: u32,
    version: u16,
) -> Result<Option<Response>, ClientError> {
    let mut head = [0u8; FRAME_HEADER_LEN];
    match recv.read_exact(&mut head).await {
        Ok(()) => {}
        Err(ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(ReadExactError::FinishedEarly(available)) => {
            return Err(ClientError::Frame(FrameError::Incomplete {
                needed: FRAME_HEADER_LEN,
                available,
            }));
        }
        Err(ReadExactError::ReadError(error)) => return Err(error.into()),
    }
    let header = FrameHeader::decode(&mut &head[..], max_frame_len).map_err(ClientError::Frame)?;
    let mut payload = vec![0u8; header.payload_len as usize];
    match recv.read_exact(&mut payload).await {
        Ok(()) => {}
        Err(ReadExactError::FinishedEarly(available)) => {
            return Err(ClientError::Frame(FrameError::Incomplete {
                needed: payload.len(),
                available,
            }));
        }
        Err(ReadExactError::ReadError(error)) => return Err(error.into()),
    }
    let decode = move || {
        if version == 1 {
            decode_payload::<ResponseV1>(&header, &payload, max_frame_len).map(Response::from)
        } else if version < FLEET_VERSION {
            decode_payload::<ResponseV2>(&header, &payload, max_frame_len).map(Response::from)
        } else {
            decode_payload::<Response>(&header, &payload, max_frame_len)
        }
    };
    let response = if header.payload_len > INLINE_DECODE_MAX || header.compressed {
        tokio::task::spawn_blocking(decode)
            .await
            .map_err(|e| ClientError::Stream {
                reason: format!("frame decoding task failed: {e}"),
            })?
    } else {
        decode()
    };
    response.map(Some).map_err(ClientError::Frame)
}

/// A slot's account stream, validated frame by frame by a [`SlotStreamReader`].
#[derive(Debug)]
pub struct SlotAccountsStream {
    stream: ResponseStream,
    reader: SlotStreamReader,
    header: Option<SlotHeader>,
    pending: Option<SlotStreamEvent>,
    done: bool,
}

impl SlotAccountsStream {
    /// The stream's header.
    pub fn header(&self) -> Option<&SlotHeader> {
        self.header.as_ref()
    }

    /// The next event: `Header` first, then `Records` chunks, then `End` once the trailer was
    /// verified and the server finished the stream; `None` after `End`. Any error (including
    /// [`ProtocolError::Truncated`] when the stream ends without its trailer) means nothing of
    /// this slot may be applied.
    pub async fn next(&mut self) -> Result<Option<SlotStreamEvent>, ClientError> {
        if let Some(event) = self.pending.take() {
            return Ok(Some(event));
        }
        if self.done {
            return Ok(None);
        }
        let event = self.read_event().await?;
        if let Some(SlotStreamEvent::End(_)) = &event {
            self.stream.expect_end().await?;
            self.done = true;
        }
        Ok(event)
    }

    async fn read_event(&mut self) -> Result<Option<SlotStreamEvent>, ClientError> {
        match self.stream.next_frame().await {
            Ok(Some(frame)) => Ok(Some(self.reader.on_frame(frame)?)),
            Ok(None) => {
                self.reader.on_end_of_stream()?;
                Ok(None)
            }
            Err(ClientError::Frame(FrameError::Incomplete { .. })) => {
                Err(ProtocolError::Truncated {
                    received: self.reader.records_received(),
                }
                .into())
            }
            Err(error) => Err(error),
        }
    }

    /// Reads the whole slot into memory: header, records in stream order, trailer. For tests and
    /// small slots; a replica applies chunk by chunk instead.
    pub async fn collect(
        mut self,
    ) -> Result<(SlotHeader, Vec<AccountRecord>, SlotTrailer), ClientError> {
        let mut header = None;
        let mut records = Vec::new();
        while let Some(event) = self.next().await? {
            match event {
                SlotStreamEvent::Header(h) => header = Some(h),
                SlotStreamEvent::Records(chunk) => records.extend(chunk),
                SlotStreamEvent::End(trailer) => {
                    let header = header.ok_or(ProtocolError::Truncated { received: 0 })?;
                    return Ok((header, records, trailer));
                }
            }
        }
        Err(ProtocolError::Truncated {
            received: self.reader.records_received(),
        }
        .into())
    }
}
