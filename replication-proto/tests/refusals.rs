//! A client the allowlist refuses: it gets a typed `NotAllowed` on every request, and the
//! server counts every refusal but logs one WARN line per identity per interval.
//!
//! Its own test binary, because it installs the process-wide tracing subscriber it reads.

use {
    replication_proto::{
        Hash,
        source::MemorySlotSource,
        transport::{
            ClientAllowlist, ClientError, ReplicationClient, ReplicationClientConfig,
            ReplicationServer, ReplicationServerConfig, RetryAdvice, identity_pubkey,
        },
    },
    solana_keypair::Keypair,
    std::{
        collections::HashSet,
        io::Write,
        sync::{Arc, Mutex, OnceLock},
        time::Duration,
    },
    tokio_util::sync::CancellationToken,
};

/// Every log line of this process, as text.
fn captured() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || Capture(sink.clone()))
            .init();
        buffer
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Log lines mentioning a refusal of `peer` at `level`.
fn refusal_lines(peer: &str, level: &str) -> usize {
    let log = String::from_utf8_lossy(&captured().lock().unwrap()).into_owned();
    log.lines()
        .filter(|line| line.contains("refused client") && line.contains(peer))
        .filter(|line| line.contains(level))
        .count()
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test step timed out")
}

fn server(interval: Duration) -> (ReplicationServer, Keypair, CancellationToken) {
    let server_key = Keypair::new();
    let identity = identity_pubkey(&server_key);
    let mut config = ReplicationServerConfig::new(
        server_key.insecure_clone(),
        "127.0.0.1:0".parse().unwrap(),
        ClientAllowlist::Only(HashSet::from([solana_pubkey::Pubkey::new_unique()])),
    );
    config.refusal_log_interval = interval;
    let cancel = CancellationToken::new();
    let server =
        ReplicationServer::spawn(config, Arc::new(MemorySlotSource::new()), cancel.clone())
            .unwrap();
    assert_eq!(server.identity(), identity);
    (server, server_key, cancel)
}

/// Connects as `key` and makes one request (alternating the two kinds); returns its error.
async fn refused_attempt(server: &ReplicationServer, key: &Keypair, attempt: u32) -> ClientError {
    let outcome = bounded(async {
        let client = ReplicationClient::connect(
            key,
            server.local_addr(),
            server.identity(),
            ReplicationClientConfig::default(),
        )
        .await?;
        if attempt.is_multiple_of(2) {
            client
                .slot_confirmation(0, 0, Duration::ZERO)
                .await
                .map(|_| ())
        } else {
            client
                .slot_accounts(1, Hash::new_unique())
                .await
                .map(|_| ())
        }
    })
    .await;
    outcome.expect_err("a refused client must fail")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_clients_get_not_allowed_and_are_logged_once_per_interval() {
    captured();
    let (server, _key, cancel) = server(Duration::from_secs(60));
    let client_key = Keypair::new();
    let peer = identity_pubkey(&client_key).to_string();
    for attempt in 0..4 {
        let error = refused_attempt(&server, &client_key, attempt).await;
        assert!(matches!(error, ClientError::NotAllowed), "{error:?}");
        assert_eq!(error.retry_advice(), RetryAdvice::Refused);
    }
    assert_eq!(server.refused_connections(), 4);
    assert_eq!(refusal_lines(&peer, "WARN"), 1, "one WARN line a minute");
    assert_eq!(refusal_lines(&peer, "DEBUG"), 3, "the others at DEBUG");

    // Another identity has its own line.
    let other = Keypair::new();
    let error = refused_attempt(&server, &other, 0).await;
    assert!(matches!(error, ClientError::NotAllowed), "{error:?}");
    assert_eq!(
        refusal_lines(&identity_pubkey(&other).to_string(), "WARN"),
        1
    );
    assert_eq!(server.refused_connections(), 5);
    cancel.cancel();
    bounded(server.join()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_interval_logs_every_refusal() {
    captured();
    let (server, _key, cancel) = server(Duration::ZERO);
    let client_key = Keypair::new();
    let peer = identity_pubkey(&client_key).to_string();
    for attempt in 0..3 {
        let error = refused_attempt(&server, &client_key, attempt).await;
        assert!(matches!(error, ClientError::NotAllowed), "{error:?}");
    }
    assert_eq!(refusal_lines(&peer, "WARN"), 3);
    assert!(
        String::from_utf8_lossy(&captured().lock().unwrap()).contains("suppressed=0"),
        "the line carries the suppressed count"
    );
    cancel.cancel();
    bounded(server.join()).await;
}
