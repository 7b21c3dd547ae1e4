//! An upstream for the replication scenarios: the replication server over an in-memory slot
//! source on QUIC loopback, a replica store following it with the real sync task, and the raw
//! transport of the same configuration for the ceilings.

use {
    bytes::Bytes,
    replica::{
        state::ReplicaState,
        store::{AccountsStore, StoreConfig},
        sync::{self, SyncConfig},
    },
    replication_proto::{
        source::MemorySlotSource,
        transport::{
            ClientAllowlist, QuicConfig, ReplicationServer, ReplicationServerConfig, Upstream,
            identity_pubkey, tls,
        },
    },
    solana_keypair::Keypair,
    std::{
        path::Path,
        sync::Arc,
        time::{Duration, Instant},
    },
    tokio::task::JoinHandle,
    tokio_util::sync::CancellationToken,
};

/// A copy of a bootstrapped store, closed: its SST files hard-linked (RocksDB never changes one),
/// the rest copied, so the cached ledger stays as it was.
pub(crate) fn store_copy(ledger: &Path, into: &Path) -> anyhow::Result<AccountsStore> {
    let _ = std::fs::remove_dir_all(into);
    std::fs::create_dir_all(into)?;
    for entry in std::fs::read_dir(ledger.join("accounts"))? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let path = entry.path();
        let target = into.join(entry.file_name());
        if path.extension().is_some_and(|ext| ext == "sst") {
            std::fs::hard_link(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(AccountsStore::open(into, StoreConfig::default())?)
}

/// The replication server and a replica's sync task following it.
pub(crate) struct Following {
    pub(crate) state: Arc<ReplicaState>,
    pub(crate) task: JoinHandle<sync::SyncExit>,
    cancel: CancellationToken,
    _server: ReplicationServer,
}

impl Following {
    /// Serves `source` and starts a replica of `store` following it. Within a tokio runtime.
    pub(crate) fn start(
        source: Arc<MemorySlotSource>,
        store: AccountsStore,
    ) -> anyhow::Result<Self> {
        let cancel = CancellationToken::new();
        let server_key = Keypair::new();
        let identity = identity_pubkey(&server_key);
        let config = ReplicationServerConfig::new(
            server_key,
            "127.0.0.1:0".parse()?,
            ClientAllowlist::AllowAny,
        );
        let server = ReplicationServer::spawn(config, source, cancel.clone())?;
        let state = Arc::new(ReplicaState::new(
            Arc::new(store),
            solana_pubkey::Pubkey::new_unique(),
            None,
        )?);
        let task = tokio::spawn(sync::run(
            state.clone(),
            Arc::new(Keypair::new()),
            SyncConfig::new(vec![Upstream {
                addr: server.local_addr(),
                identity,
            }]),
            cancel.clone(),
        ));
        Ok(Self {
            state,
            task,
            cancel,
            _server: server,
        })
    }

    /// Waits until `reached` holds for the replica's state.
    pub(crate) async fn wait(&self, reached: impl Fn(&ReplicaState) -> bool) -> anyhow::Result<()> {
        let mut changes = self.state.subscribe_changes();
        while !reached(&self.state) {
            anyhow::ensure!(
                !self.task.is_finished(),
                "sync stopped at root {:?}",
                self.state.root_slot()
            );
            let _ = tokio::time::timeout(Duration::from_millis(100), changes.changed()).await;
        }
        Ok(())
    }

    pub(crate) async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

async fn raw_pair() -> anyhow::Result<(quinn::Connection, quinn::Endpoint, JoinHandle<()>)> {
    let quic = QuicConfig::default();
    let server_key = Keypair::new();
    let server = quinn::Endpoint::server(
        tls::quinn_server_config(&server_key, &quic)?,
        "127.0.0.1:0".parse()?,
    )?;
    let addr = server.local_addr()?;
    let client = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    let config = tls::quinn_client_config(&Keypair::new(), identity_pubkey(&server_key), &quic)?;
    let accept = tokio::spawn(async move {
        let Some(incoming) = server.accept().await else {
            return;
        };
        let Ok(connection) = incoming.await else {
            return;
        };
        // Each stream: read everything, answer one byte.
        while let Ok((mut send, mut recv)) = connection.accept_bi().await {
            tokio::spawn(async move {
                while let Ok(Some(_)) = recv.read_chunk(usize::MAX, true).await {}
                let _ = send.write_all(&[1]).await;
                let _ = send.finish();
            });
        }
    });
    let connection = client.connect_with(config, addr, "solana-replica")?.await?;
    Ok((connection, client, accept))
}

/// Raw QUIC stream throughput of the replication transport's configuration, MB/s.
pub(crate) async fn raw_quic_throughput(mib: usize) -> anyhow::Result<f64> {
    let (connection, _client, accept) = raw_pair().await?;
    let chunk = Bytes::from(vec![0xa5u8; 64 << 10]);
    let started = Instant::now();
    let (mut send, mut recv) = connection.open_bi().await?;
    for _ in 0..mib * 16 {
        send.write_chunk(chunk.clone()).await?;
    }
    send.finish()?;
    recv.read_to_end(1).await?;
    let rate = (mib << 20) as f64 / started.elapsed().as_secs_f64() / 1e6;
    connection.close(0u32.into(), b"done");
    accept.abort();
    Ok(rate)
}

/// Round trips of `bytes` on a fresh stream each (sent, read whole, one byte back), µs each.
pub(crate) async fn raw_quic_round_trips(bytes: usize, count: usize) -> anyhow::Result<Vec<u64>> {
    let (connection, _client, accept) = raw_pair().await?;
    let payload = Bytes::from(vec![0x5au8; bytes]);
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let started = Instant::now();
        let (mut send, mut recv) = connection.open_bi().await?;
        send.write_chunk(payload.clone()).await?;
        send.finish()?;
        recv.read_to_end(1).await?;
        times.push(started.elapsed().as_micros() as u64);
    }
    connection.close(0u32.into(), b"done");
    accept.abort();
    Ok(times)
}
