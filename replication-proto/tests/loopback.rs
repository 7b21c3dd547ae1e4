//! One-process QUIC loopback tests: a real `ReplicationServer` on 127.0.0.1:0 serving an
//! in-memory `SlotSource`, and real `ReplicationClient`s.

use {
    replication_proto::{
        AccountRecord, ErrorCode, FLEET_VERSION, FleetAnnouncement, FleetProgress, Hash,
        MemberProgress, Pubkey, Request, Response, ScheduledSlots, ServableSlots, Slot,
        SlotConfirmations, SlotHeader, SlotInfo, SlotRecords, SlotSource, SlotStatus,
        SlotStreamEvent, SourceError, VERSION,
        frame::{FrameHeader, decode_frame},
        source::MemorySlotSource,
        transport::{
            ClientAllowlist, ClientError, CloseCode, ReplicationClient, ReplicationClientConfig,
            ReplicationServer, ReplicationServerConfig, identity_pubkey, load_identity,
        },
    },
    solana_keypair::Keypair,
    std::{
        collections::HashSet,
        future::Future,
        sync::Arc,
        time::{Duration, Instant},
    },
    tokio::sync::watch,
    tokio_util::sync::CancellationToken,
};

const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Fails the test instead of hanging.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test step timed out")
}

struct Fixture {
    server: ReplicationServer,
    server_identity: Pubkey,
    client_key: Keypair,
    source: Arc<MemorySlotSource>,
    cancel: CancellationToken,
}

impl Fixture {
    fn start(allowlist: impl FnOnce(&Keypair) -> ClientAllowlist) -> Self {
        Self::start_with(allowlist, Arc::new(MemorySlotSource::new()), |_| {})
    }

    fn start_with(
        allowlist: impl FnOnce(&Keypair) -> ClientAllowlist,
        source: Arc<MemorySlotSource>,
        tweak: impl FnOnce(&mut ReplicationServerConfig),
    ) -> Self {
        Self::start_serving(allowlist, source.clone(), source, tweak)
    }

    fn start_serving(
        allowlist: impl FnOnce(&Keypair) -> ClientAllowlist,
        memory: Arc<MemorySlotSource>,
        served: Arc<dyn SlotSource>,
        tweak: impl FnOnce(&mut ReplicationServerConfig),
    ) -> Self {
        let server_key = Keypair::new();
        let server_identity = identity_pubkey(&server_key);
        let client_key = Keypair::new();
        let mut config = ReplicationServerConfig::new(
            server_key,
            "127.0.0.1:0".parse().unwrap(),
            allowlist(&client_key),
        );
        tweak(&mut config);
        let cancel = CancellationToken::new();
        let server = ReplicationServer::spawn(config, served, cancel.clone()).unwrap();
        assert_ne!(server.local_addr().port(), 0, "port 0 must be read back");
        Self {
            server,
            server_identity,
            client_key,
            source: memory,
            cancel,
        }
    }

    async fn client(&self) -> ReplicationClient {
        self.client_as(&self.client_key).await.unwrap()
    }

    async fn client_as(&self, key: &Keypair) -> Result<ReplicationClient, ClientError> {
        ReplicationClient::connect(
            key,
            self.server.local_addr(),
            self.server_identity,
            ReplicationClientConfig::default(),
        )
        .await
    }

    async fn stop(self) {
        self.cancel.cancel();
        bounded(self.server.join()).await;
    }
}

fn allow_client(key: &Keypair) -> ClientAllowlist {
    ClientAllowlist::Only(HashSet::from([identity_pubkey(key)]))
}

fn info(slot: Slot, blockhash: Hash, status: SlotStatus) -> SlotInfo {
    SlotInfo {
        slot,
        parent: slot.saturating_sub(1),
        blockhash,
        status,
        block_height: Some(slot - 1),
        block_time: Some(1_700_000_000 + slot as i64),
        executed_transaction_count: None,
    }
}

/// Token-account-sized records, plus pseudo-random (incompressible) data when `random`.
fn records(n: usize, data_len: usize, random: bool) -> Vec<AccountRecord> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64 ^ n as u64;
    (0..n)
        .map(|i| {
            let data = (0..data_len)
                .map(|j| {
                    if random {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        state as u8
                    } else {
                        (i + j) as u8
                    }
                })
                .collect();
            AccountRecord {
                pubkey: Pubkey::new_unique(),
                lamports: if i % 10 == 9 { 0 } else { 1_000 + i as u64 },
                owner: Pubkey::new_from_array([6; 32]),
                executable: false,
                rent_epoch: u64::MAX,
                data,
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_answers_at_once_on_news_and_after_wait_otherwise() {
    let fx = Fixture::start(allow_client);
    let h = Hash::new_unique();
    fx.source
        .insert_slot(info(10, h, SlotStatus::Confirmed), vec![], None);
    fx.source
        .insert_slot(info(11, h, SlotStatus::Rooted), vec![], None);
    let client = bounded(fx.client()).await;

    // News (seq 2 > known 0): answered at once despite a long wait.
    let started = Instant::now();
    let c = bounded(client.slot_confirmation(9, 0, Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(c.seq, 2);
    assert_eq!(c.slots.iter().map(|s| s.slot).collect::<Vec<_>>(), [10, 11]);
    assert_eq!(c.slots[1].status, SlotStatus::Rooted);
    assert_eq!(c.slots[0].block_time, Some(1_700_000_010));

    // Only slots after last_replicated_slot.
    let c = bounded(client.slot_confirmation(10, 0, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(c.slots.iter().map(|s| s.slot).collect::<Vec<_>>(), [11]);

    // No news: answered after wait_ms with the unchanged state.
    let started = Instant::now();
    let same = bounded(client.slot_confirmation(9, 2, Duration::from_millis(400)))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350),
        "answered too early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "answered too late: {waited:?}"
    );
    assert_eq!(same.seq, 2);
    assert_eq!(same.slots.len(), 2);

    // News during the wait: answered when it happens, not at the end of the wait.
    let source = fx.source.clone();
    let bump = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        source.set_status(10, h, SlotStatus::Rooted);
    });
    let started = Instant::now();
    let news = bounded(client.slot_confirmation(9, 2, Duration::from_secs(15)))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(news.seq, 3);
    assert_eq!(news.slots[0].status, SlotStatus::Rooted);
    bump.await.unwrap();
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_1_and_2_interoperate_both_ways() {
    let h = Hash::new_unique();
    let counted = |slot| SlotInfo {
        executed_transaction_count: Some(slot * 3),
        ..info(slot, h, SlotStatus::Rooted)
    };
    // A version 2 server: a version 2 client gets the counts.
    let fx = Fixture::start(allow_client);
    fx.source
        .insert_slot(counted(10), records(3, 10, false), None);
    let client = bounded(fx.client()).await;
    let answer = bounded(client.slot_confirmation(9, 0, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(answer.slots[0].executed_transaction_count, Some(30));
    assert_eq!(client.version(), VERSION);
    // A version 1 client (an older replica) gets the version 1 shape.
    let mut stream = bounded(client.request(&Request::SlotConfirmation {
        version: 1,
        last_replicated_slot: 9,
        known_seq: 0,
        wait_ms: 0,
        progress: None,
    }))
    .await
    .unwrap();
    let Some(Response::SlotConfirmations(v1)) = bounded(stream.next_frame()).await.unwrap() else {
        panic!("no confirmations")
    };
    assert_eq!(v1.slots[0].slot, 10);
    assert_eq!(v1.slots[0].executed_transaction_count, None);
    fx.stop().await;

    // A server that speaks only version 1 (an older plugin): the client steps down to it once
    // and reads everything, without counts.
    let fx = Fixture::start_with(allow_client, Arc::new(MemorySlotSource::new()), |config| {
        config.max_version = 1
    });
    fx.source
        .insert_slot(counted(10), records(3, 10, false), None);
    let client = bounded(fx.client()).await;
    let answer = bounded(client.slot_confirmation(9, 0, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(client.version(), 1);
    assert_eq!(answer.slots[0].slot, 10);
    assert_eq!(answer.slots[0].executed_transaction_count, None);
    let mut slot = bounded(client.slot_accounts(10, h)).await.unwrap();
    let mut received = 0;
    while let Some(event) = bounded(slot.next()).await.unwrap() {
        if let SlotStreamEvent::Records(records) = event {
            received += records.len();
        }
    }
    assert_eq!(received, 3);
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_chunk_slot_with_large_accounts_streams_and_validates() {
    let fx = Fixture::start(allow_client);
    let blockhash = Hash::new_unique();
    let lt_hash = Hash::new_unique();
    let mut recs = records(2_000, 165, false);
    // Three 1.5 MiB accounts (incompressible) and one 10 MiB account (Solana's maximum).
    recs.splice(100..100, records(3, 3 * 512 * 1024, true));
    recs.push(records(1, 10 * 1024 * 1024, false).remove(0));
    fx.source.insert_slot(
        info(42, blockhash, SlotStatus::Confirmed),
        recs.clone(),
        Some(lt_hash),
    );
    let client = bounded(fx.client()).await;

    let mut stream = bounded(client.slot_accounts(42, blockhash)).await.unwrap();
    assert_eq!(stream.header().unwrap().record_count, recs.len() as u64);
    let mut got = Vec::new();
    let mut chunks = 0;
    let mut trailer = None;
    while let Some(event) = bounded(stream.next()).await.unwrap() {
        match event {
            SlotStreamEvent::Header(h) => {
                assert_eq!((h.slot, h.parent, h.blockhash), (42, 41, blockhash));
            }
            SlotStreamEvent::Records(chunk) => {
                chunks += 1;
                got.extend(chunk);
            }
            SlotStreamEvent::End(t) => trailer = Some(t),
        }
    }
    let trailer = trailer.expect("stream must end with a trailer");
    assert!(chunks > 5, "expected many chunks, got {chunks}");
    assert_eq!(got.len(), recs.len());
    assert!(got == recs, "records differ");
    assert_eq!(trailer.record_count, recs.len() as u64);
    assert_eq!(trailer.accounts_lt_hash, Some(lt_hash));

    // The same slot again through `collect`, on the same connection.
    let (header, again, _) = bounded(client.slot_accounts(42, blockhash).await.unwrap().collect())
        .await
        .unwrap();
    assert_eq!(header.record_count, recs.len() as u64);
    assert!(again == recs);
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_version_gets_unsupported_version_and_connection_survives() {
    let fx = Fixture::start(allow_client);
    let client = bounded(fx.client()).await;
    for request in [
        Request::SlotConfirmation {
            version: VERSION + 1,
            last_replicated_slot: 0,
            known_seq: 0,
            wait_ms: 0,
            progress: None,
        },
        Request::SlotAccounts {
            version: 0,
            slot: 1,
            blockhash: Hash::default(),
        },
    ] {
        let mut answer = bounded(client.request(&request)).await.unwrap();
        match bounded(answer.next_frame()).await.unwrap() {
            Some(Response::Error(frame)) => {
                assert_eq!(
                    frame.code,
                    ErrorCode::UnsupportedVersion { supported: VERSION }
                );
            }
            other => panic!("expected UnsupportedVersion, got {other:?}"),
        }
        assert!(bounded(answer.next_frame()).await.unwrap().is_none());
    }
    // Not a dropped connection: the same client keeps working.
    let c = bounded(client.slot_confirmation(0, 0, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(c, SlotConfirmations::default());
    assert!(client.connection().close_reason().is_none());
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_client_identity_is_not_allowed() {
    // The allowlist names another key: this client is refused.
    let fx = Fixture::start(|_| [Pubkey::new_unique()].into_iter().collect());
    let outcome = bounded(async {
        let client = fx.client_as(&fx.client_key).await?;
        client.slot_confirmation(0, 0, Duration::ZERO).await
    })
    .await;
    assert!(
        matches!(outcome, Err(ClientError::NotAllowed)),
        "{outcome:?}"
    );

    // An explicitly empty allowlist refuses everyone too.
    let empty = Fixture::start(|_| ClientAllowlist::Only(HashSet::new()));
    let outcome = bounded(async {
        let client = empty.client().await;
        client.slot_confirmation(0, 0, Duration::ZERO).await
    })
    .await;
    assert!(
        matches!(outcome, Err(ClientError::NotAllowed)),
        "{outcome:?}"
    );
    fx.stop().await;
    empty.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_any_accepts_identity_loaded_from_keypair_file() {
    let fx = Fixture::start(|_| ClientAllowlist::AllowAny);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica-identity.json");
    solana_keypair::write_keypair_file(&Keypair::new(), &path).unwrap();
    let key = load_identity(&path).unwrap();
    let client = bounded(fx.client_as(&key)).await.unwrap();
    assert_eq!(client.upstream_identity(), fx.server_identity);
    bounded(client.slot_confirmation(0, 0, Duration::ZERO))
        .await
        .unwrap();
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_refuses_wrong_server_identity() {
    let fx = Fixture::start(|_| ClientAllowlist::AllowAny);
    let expected = Pubkey::new_unique();
    let outcome = bounded(ReplicationClient::connect(
        &fx.client_key,
        fx.server.local_addr(),
        expected,
        ReplicationClientConfig::default(),
    ))
    .await;
    match outcome {
        Err(ClientError::UpstreamIdentityMismatch {
            expected: e,
            presented,
        }) => {
            assert_eq!(e, expected);
            assert_eq!(presented, fx.server_identity);
        }
        other => panic!("expected UpstreamIdentityMismatch, got {other:?}"),
    }
    fx.stop().await;
}

/// Sends raw bytes as a request on a new stream of `client`'s connection and returns the
/// response frames plus how the connection ended.
async fn raw_request(
    client: &ReplicationClient,
    bytes: &[u8],
) -> (Vec<Response>, quinn::ConnectionError) {
    let conn = client.connection();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    send.write_all(bytes).await.unwrap();
    send.finish().unwrap();
    let answer = recv.read_to_end(1 << 20).await.unwrap();
    let mut frames = Vec::new();
    let mut rest = &answer[..];
    while let Some((frame, used)) = decode_frame::<Response>(rest, 1 << 20).unwrap() {
        frames.push(frame);
        rest = &rest[used..];
    }
    assert!(rest.is_empty());
    (frames, conn.closed().await)
}

fn closed_with(error: &quinn::ConnectionError, code: CloseCode) -> bool {
    matches!(error, quinn::ConnectionError::ApplicationClosed(close) if close.error_code == code.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_only_that_connection() {
    let fx = Fixture::start(|_| ClientAllowlist::AllowAny);
    fx.source.insert_slot(
        info(5, Hash::new_unique(), SlotStatus::Rooted),
        vec![],
        None,
    );
    let bystander = bounded(fx.client()).await;

    // A frame whose length exceeds the server's request limit.
    let mut oversized = Vec::new();
    FrameHeader {
        payload_len: 64 << 20,
        compressed: false,
    }
    .encode(&mut oversized);
    oversized.extend_from_slice(&[0; 64]);
    let offender = bounded(fx.client()).await;
    let (frames, closed) = bounded(raw_request(&offender, &oversized)).await;
    match frames.as_slice() {
        [Response::Error(frame)] => {
            assert!(matches!(frame.code, ErrorCode::FrameTooLarge { limit } if limit == 4096));
        }
        other => panic!("expected one FrameTooLarge error frame, got {other:?}"),
    }
    assert!(
        closed_with(&closed, CloseCode::ProtocolViolation),
        "{closed:?}"
    );

    // A well-sized frame of garbage.
    let mut garbage = Vec::new();
    FrameHeader {
        payload_len: 7,
        compressed: false,
    }
    .encode(&mut garbage);
    garbage.extend_from_slice(&[9, 9, 9, 9, 9, 9, 9]);
    let offender = bounded(fx.client()).await;
    let (frames, closed) = bounded(raw_request(&offender, &garbage)).await;
    assert!(
        matches!(frames.as_slice(), [Response::Error(f)] if f.code == ErrorCode::Malformed),
        "{frames:?}"
    );
    assert!(
        closed_with(&closed, CloseCode::ProtocolViolation),
        "{closed:?}"
    );

    // The typed client sees a connection closed by the server after that.
    let err = bounded(offender.slot_confirmation(0, 0, Duration::ZERO))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Connection(_)), "{err:?}");

    // Others are still served: the connection opened before, and a new one.
    let c = bounded(bystander.slot_confirmation(0, 0, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(c.slots.len(), 1);
    let newcomer = bounded(fx.client()).await;
    let c = bounded(newcomer.slot_confirmation(0, 0, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(c.slots.len(), 1);
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_unavailable_and_unknown_slot_are_typed() {
    let fx = Fixture::start(allow_client);
    let h = Hash::new_unique();
    fx.source
        .insert_slot(info(50, h, SlotStatus::Rooted), records(3, 10, false), None);
    fx.source.insert_slot(
        info(150, h, SlotStatus::Rooted),
        records(3, 10, false),
        None,
    );
    fx.source.set_first_available_slot(100);
    let client = bounded(fx.client()).await;

    let err = bounded(client.slot_accounts(50, h)).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::SlotUnavailable {
                first_available_slot: 100
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_transient());
    let err = bounded(client.slot_accounts(150, Hash::new_unique()))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::UnknownSlot { .. }), "{err:?}");
    // The confirmations tell the same first available slot.
    let c = bounded(client.slot_confirmation(0, 0, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(c.first_available_slot, 100);
    assert_eq!(c.slots.iter().map(|s| s.slot).collect::<Vec<_>>(), [150]);
    fx.stop().await;
}

/// A source whose slot 7 fails after its first chunk.
struct FailingSource {
    inner: Arc<MemorySlotSource>,
}

struct FailAfterFirstChunk {
    inner: Box<dyn SlotRecords>,
    chunks: usize,
}

impl SlotRecords for FailAfterFirstChunk {
    fn header(&self) -> &SlotHeader {
        self.inner.header()
    }

    fn next_chunk(&mut self, max_bytes: usize) -> Result<Option<Vec<AccountRecord>>, SourceError> {
        self.chunks += 1;
        if self.chunks > 1 {
            return Err(SourceError::Internal("disk on fire".into()));
        }
        self.inner.next_chunk(max_bytes)
    }

    fn accounts_lt_hash(&self) -> Option<Hash> {
        None
    }
}

impl SlotSource for FailingSource {
    fn confirmations(&self, last_replicated_slot: Slot) -> SlotConfirmations {
        self.inner.confirmations(last_replicated_slot)
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.subscribe()
    }

    fn slot_accounts(
        &self,
        slot: Slot,
        blockhash: &Hash,
    ) -> Result<Box<dyn SlotRecords>, SourceError> {
        let inner = self.inner.slot_accounts(slot, blockhash)?;
        Ok(Box::new(FailAfterFirstChunk { inner, chunks: 0 }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_failure_mid_stream_is_never_a_complete_slot() {
    let memory = Arc::new(MemorySlotSource::new());
    let served = Arc::new(FailingSource {
        inner: memory.clone(),
    });
    let fx = Fixture::start_serving(allow_client, memory, served, |c| {
        c.chunk_target_bytes = 4096
    });
    let h = Hash::new_unique();
    fx.source.insert_slot(
        info(7, h, SlotStatus::Rooted),
        records(500, 165, false),
        None,
    );
    let client = bounded(fx.client()).await;
    let mut stream = bounded(client.slot_accounts(7, h)).await.unwrap();
    let mut saw_records = false;
    let err = loop {
        match bounded(stream.next()).await {
            Ok(Some(SlotStreamEvent::Records(_))) => saw_records = true,
            Ok(Some(SlotStreamEvent::End(_))) => panic!("a failed slot must not end"),
            Ok(Some(SlotStreamEvent::Header(_))) => {}
            Ok(None) => panic!("stream ended without error"),
            Err(e) => break e,
        }
    };
    assert!(saw_records);
    assert!(
        matches!(&err, ClientError::Remote(f) if f.code == ErrorCode::Internal),
        "{err:?}"
    );
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reader_only_slows_its_own_stream() {
    let fx = Fixture::start(|_| ClientAllowlist::AllowAny);
    let big = Hash::new_unique();
    let small = Hash::new_unique();
    // ~40 MiB of incompressible data: far more than the flow-control windows.
    fx.source.insert_slot(
        info(1, big, SlotStatus::Rooted),
        records(40, 1 << 20, true),
        None,
    );
    fx.source.insert_slot(
        info(2, small, SlotStatus::Rooted),
        records(100, 165, false),
        None,
    );
    let slow = bounded(fx.client()).await;
    // Open the big slot and never read past its header.
    let _stalled = bounded(slow.slot_accounts(1, big)).await.unwrap();
    // The same connection's other streams and other clients proceed.
    let (_, recs, _) = bounded(slow.slot_accounts(2, small).await.unwrap().collect())
        .await
        .unwrap();
    assert_eq!(recs.len(), 100);
    let other = bounded(fx.client()).await;
    for _ in 0..3 {
        let (_, recs, _) = bounded(other.slot_accounts(2, small).await.unwrap().collect())
            .await
            .unwrap();
        assert_eq!(recs.len(), 100);
    }
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_long_polls_with_shutting_down() {
    let fx = Fixture::start(allow_client);
    let client = bounded(fx.client()).await;
    let poll = tokio::spawn(async move {
        let result = client
            .slot_confirmation(0, 0, Duration::from_secs(15))
            .await;
        (client, result)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    fx.stop().await;
    let (_client, result) = bounded(poll).await.unwrap();
    assert!(
        matches!(result, Err(ClientError::ShuttingDown)),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A source in a fleet: records the progress reported to it and announces fixed slots.
struct FleetSource {
    inner: Arc<MemorySlotSource>,
    reports: std::sync::Mutex<Vec<(Pubkey, FleetProgress)>>,
    announcement: FleetAnnouncement,
}

impl SlotSource for FleetSource {
    fn confirmations(&self, last_replicated_slot: Slot) -> SlotConfirmations {
        SlotConfirmations {
            fleet: Some(self.announcement.clone()),
            ..self.inner.confirmations(last_replicated_slot)
        }
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.subscribe()
    }

    fn report_progress(&self, peer: &Pubkey, progress: FleetProgress) {
        self.reports.lock().unwrap().push((*peer, progress));
    }

    fn slot_accounts(
        &self,
        slot: Slot,
        blockhash: &Hash,
    ) -> Result<Box<dyn SlotRecords>, SourceError> {
        self.inner.slot_accounts(slot, blockhash)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_progress_goes_up_and_servable_slots_come_down() {
    let announcement = FleetAnnouncement {
        issued_at_ms: 1_000,
        lease_ms: 800,
        schedule: vec![ScheduledSlots {
            slots: ServableSlots {
                confirmed: 12,
                finalized: 10,
            },
            switch_at_ms: 1_500,
        }],
        members: Vec::new(),
    };
    let progress = FleetProgress {
        members: vec![MemberProgress {
            identity: Pubkey::new_unique(),
            confirmed_slot: 12,
            rooted_slot: 10,
            age_ms: 0,
        }],
    };
    for max_version in [VERSION, 2] {
        let memory = Arc::new(MemorySlotSource::new());
        let served = Arc::new(FleetSource {
            inner: memory.clone(),
            reports: Default::default(),
            announcement: announcement.clone(),
        });
        let fx = Fixture::start_serving(allow_client, memory, served.clone(), |config| {
            config.max_version = max_version
        });
        fx.source.insert_slot(
            info(10, Hash::new_unique(), SlotStatus::Rooted),
            records(2, 10, false),
            None,
        );
        let client = bounded(fx.client()).await;
        let answer =
            bounded(client.fleet_confirmation(9, 0, Duration::ZERO, Some(progress.clone())))
                .await
                .unwrap();
        assert_eq!(answer.slots[0].slot, 10);
        let reports = served.reports.lock().unwrap().clone();
        if max_version >= FLEET_VERSION {
            assert_eq!(client.version(), VERSION);
            assert_eq!(answer.fleet.as_ref(), Some(&announcement));
            assert_eq!(
                reports,
                vec![(identity_pubkey(&fx.client_key), progress.clone())]
            );
        } else {
            // An older server: the client steps down; no fleet either way, nothing breaks.
            assert_eq!(client.version(), 2);
            assert_eq!(answer.fleet, None);
            assert!(reports.is_empty());
        }
        fx.stop().await;
    }
}
