//! PubSub figures (not a test). Run in release:
//!
//!     cargo bench -p replica --bench pubsub -- [--accounts 200000] [--updates 2000]
//!         [--connections 100] [--subscriptions 10000] [--slots 100] [--idle 100000]
//!
//! A replica follows an upstream (the replication server over an in-memory source, QUIC on
//! loopback) with the real sync task and serves PubSub; WebSocket clients on loopback, each on
//! its own thread, subscribe. Reported:
//! - notification latency, confirmed account subscriptions: from the slot entering the
//!   replica's confirmed view (the feed's timestamp) to the client reading the notification,
//!   p50/p99, one slot at a time (`--connections` × `--subscriptions` over accounts the slots
//!   write), and the process CPU time per notification delivered;
//! - a programSubscribe on the token program with a memcmp filter while the replica catches up
//!   over `--slots` rooted slots: notifications/s, against the matching account updates/s the
//!   replica applied in the same run (the ceiling: a notification per matching write);
//! - memory per idle subscription (`--idle` account subscriptions on keys never written).

use {
    replica::{
        feed::SlotEventKind,
        rpc::{PubSubConfig, PubSubServer},
        state::{ReplicaState, ServedState},
        store::workload,
    },
    replication_proto::{
        SlotStatus,
        source::MemorySlotSource,
        transport::{
            ClientAllowlist, ReplicationServer, ReplicationServerConfig, Upstream, identity_pubkey,
        },
    },
    serde_json::{Value, json},
    snapshot_tools::{archive::ArchiveFormat, synthetic::SyntheticAccounts},
    solana_keypair::Keypair,
    std::{
        collections::{HashMap, HashSet},
        net::SocketAddr,
        sync::{Arc, Mutex, mpsc},
        time::{Duration, Instant},
    },
    tests::ws::WsClient,
    tokio_util::sync::CancellationToken,
};

const SEED: u64 = 29;
const BASE: u64 = 1_000;
const TOKEN: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";

/// User + system CPU seconds of the process (`None`) or of one of its threads.
fn cpu_seconds_of(thread: Option<i32>) -> f64 {
    let path = match thread {
        Some(tid) => format!("/proc/self/task/{tid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// The bucket bounds (ms) holding the median and the 99th percentile of the replica's own
/// notification latency histogram.
fn server_latency(registry: &prometheus::Registry) -> (f64, f64) {
    let family = registry
        .gather()
        .into_iter()
        .find(|family| family.name() == "replica_pubsub_notification_latency_seconds")
        .expect("the latency histogram");
    let histogram = family.get_metric()[0].get_histogram();
    let total = histogram.get_sample_count() as f64;
    let bound = |quantile: f64| {
        histogram
            .get_bucket()
            .iter()
            .find(|bucket| bucket.cumulative_count() as f64 >= quantile * total)
            .map_or(f64::INFINITY, |bucket| bucket.upper_bound() * 1e3)
    };
    (bound(0.5), bound(0.99))
}

/// Subscribes `calls` on a new connection and hands every later message, with its arrival
/// time, to `arrivals` until the connection closes.
fn client(
    addr: SocketAddr,
    calls: Vec<(&'static str, Value)>,
    arrivals: mpsc::Sender<(Instant, Value)>,
    subscribed: mpsc::Sender<i32>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let tid: i32 = std::fs::read_to_string("/proc/thread-self/stat")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let mut ws = WsClient::connect(addr).unwrap();
        for (id, (method, params)) in calls.iter().enumerate() {
            ws.call(id as u64, method, params.clone()).unwrap();
        }
        let mut answered = 0;
        while answered < calls.len() {
            let message = ws.recv_json(Duration::from_secs(30)).unwrap();
            assert!(message.get("result").is_some(), "{message}");
            answered += 1;
        }
        let _ = subscribed.send(tid);
        while let Ok(text) = ws.recv(Duration::from_secs(3600)) {
            let now = Instant::now();
            if arrivals
                .send((now, serde_json::from_str(&text).unwrap()))
                .is_err()
            {
                return;
            }
        }
    })
}

fn main() {
    common::tracing::init(false);
    let mut args = std::env::args().skip(1);
    let (mut accounts, mut updates, mut connections) = (200_000u64, 2_000usize, 100usize);
    let (mut subscriptions, mut slots, mut idle) = (10_000usize, 100u64, 100_000usize);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .expect("a value")
                .parse::<u64>()
                .expect("a number")
        };
        match arg.as_str() {
            "--accounts" => accounts = value(),
            "--updates" => updates = value() as usize,
            "--connections" => connections = value() as usize,
            "--subscriptions" => subscriptions = value() as usize,
            "--slots" => slots = value(),
            "--idle" => idle = value() as usize,
            _ => {}
        }
    }
    println!(
        "machine: {} cores; store of {accounts} accounts, slots of {updates} writes",
        std::thread::available_parallelism().unwrap()
    );
    let dir = tempfile::tempdir().unwrap();
    let synthetic = SyntheticAccounts::new(SEED);
    let archive = synthetic
        .write_archive(dir.path(), accounts, BASE, ArchiveFormat::TarZstd)
        .unwrap();
    let store = workload::load_store(&dir.path().join("follower"), &archive).unwrap();
    let writes = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(SEED),
        keyspace: accounts,
        updates_per_slot: updates,
    };
    let source = Arc::new(MemorySlotSource::new());
    source.set_first_available_slot(BASE + 1);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let cancel = CancellationToken::new();
    let server_key = Keypair::new();
    let server_identity = identity_pubkey(&server_key);
    let upstream = ReplicationServer::spawn(
        ReplicationServerConfig::new(
            server_key,
            "127.0.0.1:0".parse().unwrap(),
            ClientAllowlist::AllowAny,
        ),
        source.clone(),
        cancel.clone(),
    )
    .unwrap();
    let state = Arc::new(
        ReplicaState::new(Arc::new(store), solana_pubkey::Pubkey::new_unique(), None).unwrap(),
    );
    let served = Arc::new(ServedState::new(state.clone()));
    let registry = prometheus::Registry::new();
    let listener = PubSubServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let pubsub = PubSubServer::spawn_on(
        listener,
        served,
        PubSubConfig::default(),
        &registry,
        cancel.clone(),
    )
    .unwrap();
    let addr = pubsub.local_addr;
    let sync = runtime.spawn(replica::sync::run(
        state.clone(),
        Arc::new(Keypair::new()),
        replica::sync::SyncConfig::new(vec![Upstream {
            addr: upstream.local_addr(),
            identity: server_identity,
        }]),
        cancel.clone(),
    ));
    let mut feed = state.node().subscribe_feed();

    // Each slot confirmed, then rooted once its notifications arrived; the next starts when the
    // root commit landed, so the latency is PubSub's, not a commit's competing for the cores.
    let mut changes = state.subscribe_changes();
    let mut wait_root = |slot: u64| {
        while state.root_slot() < Some(slot) {
            let _ = runtime.block_on(tokio::time::timeout(
                Duration::from_millis(100),
                changes.changed(),
            ));
        }
    };
    // The replica's CPU for the same kind of slots without subscribers.
    let baseline_slots: Vec<u64> = (BASE + 1..=BASE + 50).collect();
    let baseline_started = cpu_seconds_of(None);
    for slot in &baseline_slots {
        let records = workload::as_records(&writes.slot(*slot));
        source.insert_slot(
            workload::slot_info(*slot, SlotStatus::Confirmed),
            records.clone(),
            None,
        );
        source.insert_slot(
            workload::slot_info(*slot, SlotStatus::Rooted),
            records,
            None,
        );
        wait_root(*slot);
    }
    let baseline_cpu = cpu_seconds_of(None) - baseline_started;

    // Latency: subscriptions over accounts the measured slots write.
    let latency_slots: Vec<u64> = (BASE + 51..=BASE + 100).collect();
    let mut written: Vec<u64> = latency_slots
        .iter()
        .flat_map(|slot| writes.slot(*slot).into_iter().map(|(index, _)| index))
        .collect();
    written.sort_unstable();
    written.dedup();
    written.truncate(subscriptions);
    let subscribed: HashSet<u64> = written.iter().copied().collect();
    let (arrivals_tx, arrivals) = mpsc::channel();
    let (ready_tx, ready) = mpsc::channel();
    let mut threads = Vec::new();
    for chunk in written.chunks(written.len().div_ceil(connections).max(1)) {
        let calls = chunk
            .iter()
            .map(|index| {
                let key = synthetic.pubkey(*index).to_string();
                (
                    "accountSubscribe",
                    json!([key, {"commitment": "confirmed", "encoding": "base64"}]),
                )
            })
            .collect();
        threads.push(client(addr, calls, arrivals_tx.clone(), ready_tx.clone()));
    }
    let client_tids: Vec<i32> = (0..threads.len()).map(|_| ready.recv().unwrap()).collect();
    let cpu_seconds = || {
        let clients: f64 = client_tids
            .iter()
            .map(|tid| cpu_seconds_of(Some(*tid)))
            .sum();
        (cpu_seconds_of(None), clients)
    };
    println!(
        "{} account subscriptions over {} connections",
        written.len(),
        threads.len()
    );
    let entered: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let recorder = {
        let entered = entered.clone();
        runtime.spawn(async move {
            while let Ok(event) = feed.recv().await {
                if event.kind == SlotEventKind::Confirmed {
                    entered.lock().unwrap().insert(event.slot(), event.at);
                }
            }
        })
    };
    let mut latency = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    let mut delivered = 0u64;
    let cpu_before = cpu_seconds();
    for slot in &latency_slots {
        let slot_writes = writes.slot(*slot);
        let records = workload::as_records(&slot_writes);
        let expected = slot_writes
            .iter()
            .filter(|(index, _)| subscribed.contains(index))
            .count();
        source.insert_slot(
            workload::slot_info(*slot, SlotStatus::Confirmed),
            records.clone(),
            None,
        );
        for _ in 0..expected {
            let (at, message) = arrivals
                .recv_timeout(Duration::from_secs(30))
                .expect("a notification for every subscribed write");
            let notified = message["params"]["result"]["context"]["slot"]
                .as_u64()
                .unwrap();
            // The recorder reads the same feed and may not have seen the event yet.
            let entered_at = loop {
                if let Some(at) = entered.lock().unwrap().get(&notified) {
                    break *at;
                }
                std::thread::sleep(Duration::from_millis(1));
            };
            latency
                .record(at.duration_since(entered_at).as_micros() as u64)
                .unwrap();
        }
        delivered += expected as u64;
        source.insert_slot(
            workload::slot_info(*slot, SlotStatus::Rooted),
            records,
            None,
        );
        wait_root(*slot);
    }
    let cpu_after = cpu_seconds();
    let (process_cpu, client_cpu) = (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1);
    println!(
        "latency, confirmed account notifications ({delivered} over {} slots, {connections} connections): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; replica CPU per notification {:.1} µs (its CPU over these slots {:.2} s, minus {:.2} s for as many slots without subscribers, minus the client threads' {:.2} s)",
        latency_slots.len(),
        latency.value_at_quantile(0.5) as f64 / 1e3,
        latency.value_at_quantile(0.99) as f64 / 1e3,
        latency.max() as f64 / 1e3,
        (process_cpu - client_cpu - baseline_cpu) * 1e6 / delivered.max(1) as f64,
        process_cpu,
        baseline_cpu,
        client_cpu,
    );
    recorder.abort();
    let (to_sink_p50, to_sink_p99) = server_latency(&registry);
    println!(
        "  of which inside the replica (slot in the view → notification handed to its connection's WebSocket sink, histogram buckets): p50 ≤ {to_sink_p50} ms, p99 ≤ {to_sink_p99} ms"
    );

    // Throughput: a memcmp program subscription while the replica catches up.
    let (program_tx, program) = mpsc::channel();
    let filters = json!([{"dataSize": 165}, {"memcmp": {"offset": 108, "bytes": bs58::encode([1u8]).into_string()}}]);
    threads.push(client(
        addr,
        vec![(
            "programSubscribe",
            json!([TOKEN, {"commitment": "confirmed", "encoding": "base64", "filters": filters}]),
        )],
        program_tx,
        ready_tx.clone(),
    ));
    ready.recv().unwrap();
    while arrivals.try_recv().is_ok() {}
    let first = latency_slots.last().unwrap() + 1;
    let mut matching = 0u64;
    let mut records = Vec::new();
    for slot in first..first + slots {
        let slot_writes = writes.slot(slot);
        matching += slot_writes
            .iter()
            .filter(|(_, account)| {
                account.lamports != 0
                    && account.owner.to_string() == TOKEN
                    && account.data.len() == 165
                    && account.data[108] == 1
            })
            .count() as u64;
        records.push((slot, workload::as_records(&slot_writes)));
    }
    let last_slot = first + slots - 1;
    let mut rooted_feed = state.node().subscribe_feed();
    let rooted_at = runtime.spawn(async move {
        while let Ok(event) = rooted_feed.recv().await {
            if event.kind == SlotEventKind::Rooted && event.slot() >= last_slot {
                return event.at;
            }
        }
        Instant::now()
    });
    let started = Instant::now();
    for (slot, slot_records) in records {
        source.insert_slot(
            workload::slot_info(slot, SlotStatus::Rooted),
            slot_records,
            None,
        );
    }
    let mut received = 0u64;
    let mut last_at = started;
    while received < matching {
        let (at, _) = program
            .recv_timeout(Duration::from_secs(60))
            .expect("a notification for every matching write");
        received += 1;
        last_at = at;
    }
    let notify_seconds = last_at.duration_since(started).as_secs_f64();
    let apply_seconds = runtime
        .block_on(rooted_at)
        .unwrap()
        .duration_since(started)
        .as_secs_f64();
    println!(
        "programSubscribe (token program, dataSize + memcmp) during catch-up over {slots} slots: {received} notifications in {notify_seconds:.2} s = {:.0} notifications/s | ceiling: {matching} matching updates applied by the replica in {apply_seconds:.2} s = {:.0}/s (ratio {:.2})",
        received as f64 / notify_seconds,
        matching as f64 / apply_seconds,
        apply_seconds / notify_seconds,
    );

    // Memory per idle subscription.
    let before = resident_bytes();
    let per_connection = 1000;
    let (idle_tx, _idle_rx) = mpsc::channel();
    for connection in 0..idle.div_ceil(per_connection) {
        let calls = (0..per_connection)
            .map(|i| {
                let key = bs58::encode(
                    blake3::hash(&((connection * per_connection + i) as u64).to_le_bytes())
                        .as_bytes(),
                )
                .into_string();
                ("accountSubscribe", json!([key]))
            })
            .collect();
        threads.push(client(addr, calls, idle_tx.clone(), ready_tx.clone()));
    }
    for _ in 0..idle.div_ceil(per_connection) {
        ready.recv().unwrap();
    }
    std::thread::sleep(Duration::from_secs(1));
    let grown = resident_bytes().saturating_sub(before);
    println!(
        "memory: {idle} idle account subscriptions over {} connections: +{:.1} MiB resident = {:.0} bytes per subscription (server and client side together)",
        idle.div_ceil(per_connection),
        grown as f64 / (1 << 20) as f64,
        grown as f64 / idle as f64
    );
    cancel.cancel();
    let _ = runtime.block_on(sync);
    runtime.block_on(pubsub.join());
    drop(upstream);
}
