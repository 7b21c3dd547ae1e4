//! Hostile and careless clients against the JSON-RPC listener: a batch of large scans, clients
//! that never read their responses, slow or silent senders, oversized bodies and too many
//! connections. Each must get an answer, an error or a clean disconnect without holding the
//! server hostage, and the server's memory must stay bounded.

use {
    serde_json::{Value, json},
    solana_program_pack::Pack,
    std::{
        io::{Read, Write},
        net::{SocketAddr, TcpStream},
        time::{Duration, Instant},
    },
    tests::{
        fixtures::{self, NewAccount, TOKEN_ACCOUNT_LAMPORTS, TOKEN_PROGRAM},
        replica::Replica,
    },
};

/// Token accounts of one owner: about 19 MB of base64 output, far past the 4 MiB buffer and
/// any socket buffer.
const MANY: u64 = 40_000;

fn many_accounts_replica(extra: &[&str]) -> (Replica, solana_pubkey::Pubkey) {
    let fixture = fixtures::TokenFixture::default();
    let owner = fixtures::key("hostile-owner");
    let mut accounts = fixture.accounts();
    for index in 0..MANY {
        let mut data = vec![0u8; spl_token_2022_interface::state::Account::LEN];
        data[..32].copy_from_slice(fixture.mint_a.as_ref());
        data[32..64].copy_from_slice(owner.as_ref());
        data[64..72].copy_from_slice(&index.to_le_bytes());
        data[108] = 1;
        accounts.push(NewAccount {
            pubkey: fixtures::key(&format!("hostile-{index}")),
            lamports: TOKEN_ACCOUNT_LAMPORTS,
            owner: TOKEN_PROGRAM,
            data,
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let archive = fixtures::write_archive_with(dir.path(), &accounts).unwrap();
    (Replica::start(&[archive], extra).unwrap(), owner)
}

fn by_owner(owner: &solana_pubkey::Pubkey, id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "getTokenAccountsByOwner",
        "params": [owner.to_string(), {"programId": TOKEN_PROGRAM.to_string()}, {"encoding": "base64"}]})
}

/// Sends one HTTP request and reads nothing back.
fn send_only(addr: SocketAddr, body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap()
}

/// A small scan answered within `limit` (the server is not held hostage).
fn small_scan_answers(replica: &Replica, limit: Duration) {
    let started = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(limit)
        .build()
        .unwrap();
    let answer: Value = client
        .post(replica.url())
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "getProgramAccounts",
            "params": [fixtures::TOKEN_2022_PROGRAM.to_string(), {"encoding": "base64"}]}),
        )
        .send()
        .expect("a small scan is answered while others stall")
        .json()
        .unwrap();
    assert!(answer["result"].is_array(), "{answer}");
    assert!(started.elapsed() < limit);
}

/// Five streamed scans in one batch, more than the scan pool holds at once: the batch
/// completes (a scan waiting on its client gives its slot back).
#[test]
fn a_batch_of_large_scans_completes() {
    let (replica, owner) = many_accounts_replica(&[]);
    let batch: Vec<Value> = (1..=5).map(|id| by_owner(&owner, id)).collect();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let answers: Vec<Value> = client
        .post(replica.url())
        .json(&batch)
        .send()
        .expect("the batch is answered")
        .json()
        .unwrap();
    assert_eq!(answers.len(), 5);
    for (index, answer) in answers.iter().enumerate() {
        assert_eq!(answer["id"], json!(index + 1));
        assert_eq!(
            answer["result"]["value"].as_array().unwrap().len() as u64,
            MANY
        );
    }
}

/// Clients that send large scans and never read: other clients' scans still run.
#[test]
fn clients_that_never_read_do_not_block_scans() {
    let (replica, owner) = many_accounts_replica(&[]);
    let stalled: Vec<TcpStream> = (0..6)
        .map(|id| send_only(replica.rpc, &by_owner(&owner, id).to_string()))
        .collect();
    // Give the stalled scans time to fill every buffer between them and their clients.
    std::thread::sleep(Duration::from_secs(2));
    small_scan_answers(&replica, Duration::from_secs(15));
    drop(stalled);
}

/// Clients that send big batches and never read: the server's memory stays bounded.
#[test]
fn batches_nobody_reads_keep_memory_bounded() {
    let (replica, owner) = many_accounts_replica(&[]);
    let pid = replica.pid();
    let before = rss_kib(pid);
    // Each batch's answer is about 95 MB; nothing reads them.
    let batch: Vec<Value> = (1..=5).map(|id| by_owner(&owner, id)).collect();
    let body = serde_json::to_string(&batch).unwrap();
    let stalled: Vec<TcpStream> = (0..12).map(|_| send_only(replica.rpc, &body)).collect();
    std::thread::sleep(Duration::from_secs(4));
    let after = rss_kib(pid);
    let grown_mib = after.saturating_sub(before) / 1024;
    assert!(
        grown_mib < 400,
        "RSS grew by {grown_mib} MiB for 12 unread batches (~1.1 GB of answers)"
    );
    small_scan_answers(&replica, Duration::from_secs(15));
    drop(stalled);
}

/// A gauge's value from the replica's `/metrics`.
fn gauge(replica: &Replica, name: &str) -> Option<f64> {
    let text = reqwest::blocking::get(format!(
        "http://{}/metrics",
        replica.ready["metrics"].as_str()?
    ))
    .ok()?
    .text()
    .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
}

/// A replica with one scan slot and its metrics listener.
fn one_scan_slot_replica() -> Replica {
    many_accounts_replica(&[
        "--rpc-max-concurrent-scans",
        "1",
        "--metrics-bind",
        "127.0.0.1:0",
    ])
    .0
}

/// Starts `count` large scans (every token account read, none matches: long scans with tiny
/// answers), each from its own client, and returns once all of them are queued or running.
fn queue_large_scans(replica: &Replica, count: usize) -> Vec<std::thread::JoinHandle<Value>> {
    let large = json!({"jsonrpc": "2.0", "id": 1, "method": "getProgramAccounts",
        "params": [TOKEN_PROGRAM.to_string(), {"encoding": "base64", "filters": [{"dataSize": 1}]}]});
    let scans: Vec<_> = (0..count)
        .map(|_| {
            let (url, large) = (replica.url(), large.clone());
            std::thread::spawn(move || {
                reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(300))
                    .build()
                    .unwrap()
                    .post(url)
                    .json(&large)
                    .send()
                    .unwrap()
                    .json::<Value>()
                    .unwrap()
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while gauge(replica, "replica_rpc_blocking_queue_len") < Some(count as f64) {
        assert!(Instant::now() < deadline, "the large scans never queued");
        std::thread::sleep(Duration::from_millis(5));
    }
    scans
}

fn assert_large_scans_answered(scans: Vec<std::thread::JoinHandle<Value>>) {
    for scan in scans {
        let answer = scan.join().unwrap();
        assert_eq!(answer["result"], json!([]), "{answer}");
    }
}

/// Large scans queued ahead of a small one, with one scan permit: they take turns, so the
/// small scan is answered while they are still reading, not after the last of them.
#[test]
fn a_small_scan_is_not_kept_waiting_behind_large_ones() {
    const LARGE: usize = 6;
    let replica = one_scan_slot_replica();
    let scans = queue_large_scans(&replica, LARGE);
    small_scan_answers(&replica, Duration::from_secs(60));
    let done = scans.iter().filter(|scan| scan.is_finished()).count();
    assert!(
        done < LARGE / 2,
        "{done} of {LARGE} large scans queued ahead had finished before the small one answered"
    );
    assert_large_scans_answered(scans);
}

/// Taking turns lets many scans be under way at once, but no more than eight per scan slot:
/// each holds its first pass's buffer and read-ahead threads, so the bound is what keeps
/// memory bounded however many large scans clients send.
#[test]
fn scans_under_way_stay_within_eight_per_slot() {
    const LARGE: usize = 14;
    let replica = one_scan_slot_replica();
    let scans = queue_large_scans(&replica, LARGE);
    let mut most = 0.0f64;
    while !scans.iter().all(|scan| scan.is_finished()) {
        most = most.max(gauge(&replica, "replica_rpc_scans_in_progress").unwrap_or(0.0));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(most <= 8.0, "{most} scans under way with one scan slot");
    assert!(
        most >= 2.0,
        "scans never took turns: at most {most} under way"
    );
    assert_large_scans_answered(scans);
    assert_eq!(gauge(&replica, "replica_rpc_scans_in_progress"), Some(0.0));
}

/// Slow or silent senders are cut off, an oversized body closes its connection, and the
/// connection cap holds further clients back until a slot frees.
#[test]
fn timeouts_and_the_connection_cap() {
    let (replica, _) = many_accounts_replica(&[
        "--rpc-header-timeout-secs",
        "1",
        "--rpc-body-timeout-secs",
        "1",
        "--rpc-max-connections",
        "2",
    ]);
    let read_to_end = |mut stream: TcpStream| -> (String, Duration) {
        let started = Instant::now();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        (
            String::from_utf8_lossy(&answer).into_owned(),
            started.elapsed(),
        )
    };
    // Silent: connected, sends nothing: closed after the header timeout.
    let silent = TcpStream::connect(replica.rpc).unwrap();
    let (answer, took) = read_to_end(silent);
    assert!(took < Duration::from_secs(5), "{took:?} {answer}");
    // Half a body: 408 and the connection closed.
    let mut slow = TcpStream::connect(replica.rpc).unwrap();
    write!(
        slow,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"jsonrpc\""
    )
    .unwrap();
    let (answer, took) = read_to_end(slow);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // Too large a body: 413 with Connection: close, and the connection closes.
    let big = "x".repeat(60_000);
    let oversized = send_only(replica.rpc, &big);
    let (answer, _) = read_to_end(oversized);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    // Two idle connections take both slots: a third client waits until one is cut off.
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(replica.rpc).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let answer = replica.client().result("getSlot", json!(null));
    assert!(answer.is_u64());
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "answered in {:?} although both slots were taken",
        started.elapsed()
    );
    drop(idle);
}
