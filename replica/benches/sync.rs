//! Replication throughput (figures, not a test). Run in release:
//!
//!     cargo bench -p replica --bench sync -- [--accounts 1000000] [--slots 100] [--updates 2000]
//!         [--latency-slots 100]
//!
//! An upstream serving rooted slots of token-account-sized writes (the replication server over
//! an in-memory source, on QUIC loopback) and a replica following it with the real sync task:
//! fetch, overlay, verified atomic root commits into a RocksDB store. Reported: account updates/s
//! and MB/s of records, and in the same run the raw QUIC stream throughput of the same transport
//! configuration. Then the hop latency: slots inserted one at a time at the upstream, each timed
//! until it is the replica's root.

use {
    bytes::Bytes,
    replica::{
        state::ReplicaState,
        store::{AccountsStore, SlotCommit, SlotMeta, workload},
        sync::{self, SyncConfig},
    },
    replication_proto::{
        AccountRecord, SlotInfo, SlotStatus,
        source::MemorySlotSource,
        transport::{
            ClientAllowlist, QuicConfig, ReplicationServer, ReplicationServerConfig, Upstream,
            identity_pubkey, tls,
        },
    },
    snapshot_tools::{archive::ArchiveFormat, synthetic::SyntheticAccounts},
    solana_hash::Hash,
    solana_keypair::Keypair,
    std::{
        path::Path,
        sync::Arc,
        time::{Duration, Instant},
    },
    tokio_util::sync::CancellationToken,
};

const SEED: u64 = 13;
const BASE: u64 = 1_000;

fn load(dir: &Path, name: &str, archive: &Path) -> AccountsStore {
    workload::load_store(&dir.join(name), archive).unwrap()
}

async fn raw_quic(mib: usize) -> f64 {
    let quic = QuicConfig::default();
    let server_key = Keypair::new();
    let server = quinn::Endpoint::server(
        tls::quinn_server_config(&server_key, &quic).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let addr = server.local_addr().unwrap();
    let sink = tokio::spawn(async move {
        let connection = server.accept().await.unwrap().await.unwrap();
        let (_send, mut stream) = connection.accept_bi().await.unwrap();
        let mut total = 0usize;
        while let Some(chunk) = stream.read_chunk(usize::MAX, true).await.unwrap() {
            total += chunk.bytes.len();
        }
        connection.close(0u32.into(), b"done");
        total
    });
    let client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let config =
        tls::quinn_client_config(&Keypair::new(), identity_pubkey(&server_key), &quic).unwrap();
    let connection = client
        .connect_with(config, addr, "solana-replica")
        .unwrap()
        .await
        .unwrap();
    let chunk = Bytes::from(vec![0xa5u8; 64 << 10]);
    let started = Instant::now();
    // The replication transport allows only bidirectional streams.
    let (mut stream, _recv) = connection.open_bi().await.unwrap();
    for _ in 0..mib * 16 {
        stream.write_chunk(chunk.clone()).await.unwrap();
    }
    stream.finish().unwrap();
    let total = sink.await.unwrap();
    assert_eq!(total, mib << 20);
    total as f64 / started.elapsed().as_secs_f64() / 1e6
}

fn rooted(slot: u64, blockhash: Hash) -> SlotInfo {
    SlotInfo {
        slot,
        parent: slot - 1,
        blockhash,
        status: SlotStatus::Rooted,
        block_height: Some(slot),
        block_time: None,
        executed_transaction_count: None,
    }
}

fn main() {
    common::tracing::init(false);
    let mut args = std::env::args().skip(1);
    let (mut accounts, mut slots, mut updates) = (1_000_000u64, 100u64, 2_000usize);
    let mut latency_slots = 100u64;
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .expect("a value")
                .parse::<u64>()
                .expect("a number")
        };
        match arg.as_str() {
            "--accounts" => accounts = value(),
            "--slots" => slots = value(),
            "--updates" => updates = value() as usize,
            "--latency-slots" => latency_slots = value(),
            _ => {}
        }
    }
    let dir = tempfile::tempdir().unwrap();
    println!(
        "machine: {} cores; store of {accounts} accounts, {slots} slots × {updates} writes",
        std::thread::available_parallelism().unwrap()
    );
    let archive = SyntheticAccounts::new(SEED)
        .write_archive(dir.path(), accounts, BASE, ArchiveFormat::TarZstd)
        .unwrap();
    let reference = load(dir.path(), "reference", &archive);
    let follower = load(dir.path(), "follower", &archive);

    // The upstream's slots, with the state hash after each from a reference store.
    let workload = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(SEED),
        keyspace: accounts,
        updates_per_slot: updates,
    };
    let source = Arc::new(MemorySlotSource::new());
    source.set_first_available_slot(BASE + 1);
    let mut bytes = 0usize;
    let mut count = 0usize;
    for slot in BASE + 1..=BASE + slots {
        let writes = workload.slot(slot);
        let blockhash = Hash::new_from_array(*blake3::hash(&slot.to_le_bytes()).as_bytes());
        let meta = SlotMeta {
            slot,
            parent: slot - 1,
            blockhash,
            block_height: Some(slot),
            block_time: None,
            executed_transaction_count: None,
            transaction_count: None,
        };
        let stats = reference
            .commit(&[SlotCommit {
                meta,
                updates: &workload::as_updates(&writes),
                expected_lt_hash: None,
                previous: None,
            }])
            .unwrap();
        let records = workload::as_records(&writes);
        bytes += records
            .iter()
            .map(AccountRecord::encoded_len)
            .sum::<usize>();
        count += records.len();
        let info = rooted(slot, blockhash);
        source.insert_slot(info, records, Some(stats.lt_hashes[0].1));
    }
    let expected = reference.root().unwrap();
    drop(reference);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let raw = raw_quic(512).await;
        println!("raw QUIC stream: {raw:.0} MB/s");
        let cancel = CancellationToken::new();
        let server_key = Keypair::new();
        let server_identity = identity_pubkey(&server_key);
        let config = ReplicationServerConfig::new(server_key, "127.0.0.1:0".parse().unwrap(), ClientAllowlist::AllowAny);
        let server = ReplicationServer::spawn(config, source.clone(), cancel.clone()).unwrap();
        let state = Arc::new(ReplicaState::new(Arc::new(follower), solana_pubkey::Pubkey::new_unique(), None).unwrap());
        let started = Instant::now();
        let task = tokio::spawn(sync::run(
            state.clone(),
            Arc::new(Keypair::new()),
            SyncConfig::new(vec![Upstream { addr: server.local_addr(), identity: server_identity }]),
            cancel.clone(),
        ));
        let mut changes = state.subscribe_changes();
        while state.root_slot() < Some(BASE + slots) {
            assert!(
                !task.is_finished(),
                "sync stopped at root {:?}: {:?}",
                state.root_slot(),
                task.await
            );
            let _ = tokio::time::timeout(Duration::from_millis(100), changes.changed()).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(state.store().root().unwrap(), expected, "the follower's state equals the reference");

        // Hop latency, one slot at a time with the replica idle in its long-poll, as a validator
        // reports it: confirmed first (timed until the replica's confirmed view has it), then
        // rooted (timed until it is the replica's root, what finalized reads see).
        let mut confirmed_latency = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        let mut rooted_latency = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        let first_latency_slot = BASE + slots + 1;
        for slot in first_latency_slot..first_latency_slot + latency_slots {
            let records = workload::as_records(&workload.slot(slot));
            let blockhash = Hash::new_from_array(*blake3::hash(&slot.to_le_bytes()).as_bytes());
            let mut info = rooted(slot, blockhash);
            for (status, histogram) in [
                (SlotStatus::Confirmed, &mut confirmed_latency),
                (SlotStatus::Rooted, &mut rooted_latency),
            ] {
                tokio::time::sleep(Duration::from_millis(20)).await;
                info.status = status;
                let started = Instant::now();
                source.insert_slot(info.clone(), records.clone(), None);
                let reached = |state: &ReplicaState| match status {
                    SlotStatus::Rooted => state.root_slot() >= Some(slot),
                    _ => state.confirmed_slot() >= Some(slot),
                };
                while !reached(&state) {
                    assert!(!task.is_finished(), "sync stopped at root {:?}", state.root_slot());
                    let _ = tokio::time::timeout(Duration::from_millis(100), changes.changed()).await;
                }
                histogram.record(started.elapsed().as_micros() as u64).unwrap();
            }
        }
        cancel.cancel();
        let _ = task.await;
        println!(
            "sync: {count} account updates in {elapsed:.2}s = {:.0} updates/s, {:.1} MB/s of records (verified state hash per slot) | raw QUIC stream {raw:.0} MB/s",
            count as f64 / elapsed,
            bytes as f64 / elapsed / 1e6
        );
        for (what, histogram) in [("confirmed", &confirmed_latency), ("rooted", &rooted_latency)] {
            println!(
                "hop latency, {what} at the upstream → in the replica's {what} view ({latency_slots} slots of {updates} writes): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                histogram.value_at_quantile(0.5) as f64 / 1e3,
                histogram.value_at_quantile(0.99) as f64 / 1e3,
                histogram.max() as f64 / 1e3
            );
        }
    });
}
