//! PubSub (WebSocket subscriptions) on a replica that follows the simulator: notifications
//! against the simulator's own rooted slots and HTTP answers, the real clients (@solana/web3.js,
//! @solana/kit, solana-py), and hostile clients (bad params, malformed frames, thousands of
//! subscriptions, the subscription limit, clients that never read).

use {
    base64::{Engine, prelude::BASE64_STANDARD},
    serde_json::{Value, json},
    std::{
        collections::HashMap,
        path::Path,
        process::{Command, Stdio},
        time::{Duration, Instant},
    },
    tests::{
        cluster::{self, Node},
        ws::WsClient,
    },
};

const CLOCK: &str = "SysvarC1ock11111111111111111111111111111111";
const TOKEN: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";

fn pubsub_addr(node: &Node) -> std::net::SocketAddr {
    node.field("pubsub").parse().unwrap()
}

/// The mint with the most token accounts and one of its accounts.
fn busiest_mint(node: &Node) -> (String, String) {
    let accounts = node.rpc().result(
        "getProgramAccounts",
        json!([TOKEN, {"encoding": "base64", "filters": [{"dataSize": 165}]}]),
    );
    let mut by_mint: HashMap<String, Vec<String>> = HashMap::new();
    for keyed in accounts.as_array().unwrap() {
        let data = BASE64_STANDARD
            .decode(keyed["account"]["data"][0].as_str().unwrap())
            .unwrap();
        by_mint
            .entry(bs58::encode(&data[..32]).into_string())
            .or_default()
            .push(keyed["pubkey"].as_str().unwrap().to_string());
    }
    let (mint, accounts) = by_mint
        .into_iter()
        .max_by_key(|(_, accounts)| accounts.len())
        .expect("token accounts in the simulator's genesis");
    (mint, accounts[0].clone())
}

/// Messages until `until` says stop or `timeout` passes.
fn collect(
    ws: &mut WsClient,
    timeout: Duration,
    mut until: impl FnMut(&Value) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    let mut messages = Vec::new();
    while Instant::now() < deadline {
        match ws.recv_json(Duration::from_millis(500)) {
            Ok(message) => {
                let done = until(&message);
                messages.push(message);
                if done {
                    break;
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => panic!("PubSub connection failed: {error}"),
        }
    }
    messages
}

fn results(messages: &[Value], subscription: u64) -> impl Iterator<Item = &Value> {
    messages
        .iter()
        .filter(move |message| message["params"]["subscription"] == subscription)
        .map(|message| &message["params"]["result"])
}

#[test]
fn notifications_follow_the_simulator_and_real_clients_receive_them() {
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(dir.path(), 400, 40, &[]);
    let replica = cluster::sim_follower(dir.path(), "a", &sim, &[]);
    let addr = pubsub_addr(&replica);
    let (mint, token_account) = busiest_mint(&replica);

    // The real clients run beside this test's own client.
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/js");
    assert!(
        js.join("node_modules/@solana/kit").is_dir(),
        "the JavaScript clients are not installed: run `npm ci` in {}",
        js.display()
    );
    let expectations = dir.path().join("pubsub-expectations.json");
    std::fs::write(
        &expectations,
        json!({"mint": mint, "tokenAccount": token_account}).to_string(),
    )
    .unwrap();
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".to_string());
    let js_client = Command::new(&node)
        .arg(js.join("pubsub.mjs"))
        .arg(replica.rpc().url())
        .arg(format!("ws://{addr}"))
        .arg(&expectations)
        .current_dir(&js)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let py_client = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python/pubsub.py"))
        .arg(format!("ws://{addr}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let mut ws = WsClient::connect(addr).unwrap();
    let slots = ws.subscribe(1, "slotSubscribe", json!([]));
    let roots = ws.subscribe(2, "rootSubscribe", json!([]));
    let clock = ws.subscribe(
        3,
        "accountSubscribe",
        json!([CLOCK, {"encoding": "jsonParsed"}]),
    );
    let program = ws.subscribe(
        4,
        "programSubscribe",
        json!([TOKEN, {
            "encoding": "base64+zstd",
            "commitment": "confirmed",
            "filters": [{"dataSize": 165}, {"memcmp": {"offset": 0, "bytes": mint}}]
        }]),
    );
    let (last, _) = cluster::sim_finished(&sim);
    // Until the Clock of the last root (sent after that root's rootNotification).
    let messages = collect(&mut ws, Duration::from_secs(60), |message| {
        message["params"]["subscription"] == clock
            && message["params"]["result"]["context"]["slot"] == last
    });

    // Every slot the simulator rooted after the first notified one, once each, in order.
    let notified_roots: Vec<u64> = results(&messages, roots)
        .map(|root| root.as_u64().unwrap())
        .collect();
    let first = *notified_roots.first().expect("root notifications");
    let expected: Vec<u64> = cluster::rooted(&sim)
        .into_iter()
        .map(|(slot, _)| slot)
        .filter(|slot| *slot >= first && *slot <= last)
        .collect();
    assert_eq!(notified_roots, expected);
    // The Clock is written in every slot: one finalized notification per rooted slot, each the
    // Clock of its own slot.
    let clocks: Vec<&Value> = results(&messages, clock).collect();
    let clock_slots: Vec<u64> = clocks
        .iter()
        .map(|result| result["context"]["slot"].as_u64().unwrap())
        .collect();
    let missing: Vec<&u64> = expected
        .iter()
        .filter(|slot| !clock_slots.contains(slot))
        .collect();
    assert!(missing.is_empty(), "no Clock notification at {missing:?}");
    for result in &clocks {
        assert_eq!(
            result["value"]["data"]["parsed"]["info"]["slot"], result["context"]["slot"],
            "{result}"
        );
    }
    let http = replica.rpc().result(
        "getAccountInfo",
        json!([CLOCK, {"encoding": "jsonParsed", "commitment": "finalized"}]),
    );
    assert_eq!(http["context"]["slot"], json!(last));
    assert_eq!(clocks.last().unwrap()["value"], http["value"]);
    // Slot notifications: increasing, each with its parent and the root at the time.
    let slot_infos: Vec<&Value> = results(&messages, slots).collect();
    let notified_slots: Vec<u64> = slot_infos
        .iter()
        .map(|info| info["slot"].as_u64().unwrap())
        .collect();
    let unannounced: Vec<&u64> = expected
        .iter()
        .filter(|slot| **slot > notified_slots[0] && !notified_slots.contains(slot))
        .collect();
    assert!(
        unannounced.is_empty(),
        "rooted without slotNotification: {unannounced:?}"
    );
    for pair in slot_infos.windows(2) {
        assert!(
            pair[0]["slot"].as_u64() < pair[1]["slot"].as_u64(),
            "{pair:?}"
        );
    }
    for info in &slot_infos {
        assert!(
            info["parent"].as_u64() < info["slot"].as_u64()
                && info["root"].as_u64() <= info["slot"].as_u64()
        );
    }
    // Program notifications pass the filters; the last of each account is what HTTP answers.
    let mut last_of: HashMap<String, &Value> = HashMap::new();
    for result in results(&messages, program) {
        let account = &result["value"]["account"];
        assert_eq!(account["data"][1], "base64+zstd");
        let data = zstd::decode_all(
            &BASE64_STANDARD
                .decode(account["data"][0].as_str().unwrap())
                .unwrap()[..],
        )
        .unwrap();
        assert_eq!(data.len(), 165);
        assert_eq!(bs58::encode(&data[..32]).into_string(), mint);
        last_of.insert(
            result["value"]["pubkey"].as_str().unwrap().to_string(),
            account,
        );
    }
    assert!(!last_of.is_empty(), "no program notifications");
    let mut compared = 0;
    for (pubkey, notified) in &last_of {
        let now = replica.rpc().result(
            "getAccountInfo",
            json!([pubkey, {"encoding": "base64+zstd", "commitment": "confirmed"}]),
        );
        // Closed since, or closed and opened again for another mint: out of the filter, so
        // not notified (as in Agave).
        let still_matches = now["value"]["data"][0].as_str().is_some_and(|data| {
            let data = zstd::decode_all(&BASE64_STANDARD.decode(data).unwrap()[..]).unwrap();
            data.len() == 165 && bs58::encode(&data[..32]).into_string() == mint
        });
        if !still_matches {
            continue;
        }
        assert_eq!(&now["value"], *notified, "{pubkey}");
        compared += 1;
    }
    assert!(compared > 0);

    for (name, client) in [("JavaScript", js_client), ("Python", py_client)] {
        let output = client.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains(" passed, 0 failed"),
            "{name} clients:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The replica's metric `name` (summed over labels), from its /metrics listener.
fn metric(node: &Node, name: &str) -> f64 {
    let text = reqwest::blocking::get(format!("http://{}/metrics", node.field("metrics")))
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// The answer to call `id`, skipping notifications.
fn answer(ws: &mut WsClient, id: u64) -> Value {
    loop {
        let message = ws
            .recv_json(Duration::from_secs(10))
            .unwrap_or_else(|error| panic!("no answer to call {id}: {error}"));
        if message["id"] == id {
            return message;
        }
    }
}

#[test]
fn hostile_clients_get_agaves_errors_or_a_clean_disconnect() {
    const LIMIT: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(dir.path(), 500, 40, &[]);
    let limit = LIMIT.to_string();
    let replica = cluster::sim_follower(
        dir.path(),
        "a",
        &sim,
        &[
            "--metrics-bind",
            "127.0.0.1:0",
            "--rpc-pubsub-max-active-subscriptions",
            &limit,
            "--rpc-pubsub-queue-capacity-items",
            "20000",
        ],
    );
    let addr = pubsub_addr(&replica);

    // Bad calls: Agave's codes and messages; the connection stays usable.
    let mut ws = WsClient::connect(addr).unwrap();
    let cases = [
        (
            "accountSubscribe",
            json!(["not a key"]),
            json!({"code": -32602, "message": "Invalid Request: Invalid pubkey provided"}),
        ),
        (
            "accountSubscribe",
            json!([]),
            json!({"code": -32602, "message": "`params` should have at least 1 argument(s)"}),
        ),
        (
            "programSubscribe",
            json!([TOKEN, {"filters": [{"dataSize": 1}, {"dataSize": 2}, {"dataSize": 3}, {"dataSize": 4}, {"dataSize": 5}]}]),
            json!({"code": -32602, "message": "Invalid params: Too many filters provided; max 4"}),
        ),
        (
            "signatureSubscribe",
            json!([
                "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"
            ]),
            json!({"code": -32601, "message": "Method not found"}),
        ),
        (
            "accountUnsubscribe",
            json!([123456789]),
            json!({"code": -32602, "message": "Invalid subscription id."}),
        ),
    ];
    for (id, (method, params, error)) in cases.iter().enumerate() {
        ws.call(id as u64, method, params.clone()).unwrap();
        let response = answer(&mut ws, id as u64);
        assert_eq!(response["error"], *error, "{method} {params}: {response}");
    }
    ws.call(90, "slotSubscribe", json!([1])).unwrap();
    let response = answer(&mut ws, 90);
    assert_eq!(response["error"]["code"], -32602, "{response}");
    ws.call(91, "rootUnsubscribe", json!(["x"])).unwrap();
    assert_eq!(answer(&mut ws, 91)["error"]["code"], -32602);
    ws.send_text("{\"jsonrpc\":\"2.0\",").unwrap();
    let parse = ws.recv_json(Duration::from_secs(10)).unwrap();
    assert_eq!(parse["error"]["code"], -32700, "{parse}");

    // Thousands of subscriptions on one connection, then the node's limit.
    let mut many = WsClient::connect(addr).unwrap();
    let keys: Vec<String> = (0..2500u32)
        .map(|i| bs58::encode(blake3::hash(&i.to_le_bytes()).as_bytes()).into_string())
        .collect();
    for (id, key) in keys.iter().enumerate() {
        many.call(id as u64, "accountSubscribe", json!([key]))
            .unwrap();
    }
    // Answers may come in any order (calls are matched by id, as clients do).
    let mut answered = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    while answered.len() < keys.len() {
        let response = many.recv_json(Duration::from_secs(10)).unwrap();
        let Some(call) = response["id"].as_u64() else {
            continue;
        };
        assert!(answered.insert(call), "{response}");
        assert!(ids.insert(response["result"].as_u64().expect("a subscription id")));
    }
    // Another connection's ids are not this one's to close.
    let theirs = *ids.iter().next().unwrap();
    ws.call(92, "accountUnsubscribe", json!([theirs])).unwrap();
    assert_eq!(
        answer(&mut ws, 92)["error"]["message"],
        "Invalid subscription id."
    );
    many.call(10_000, "accountUnsubscribe", json!([theirs]))
        .unwrap();
    assert_eq!(answer(&mut many, 10_000)["result"], true);
    many.call(10_001, "accountUnsubscribe", json!([theirs]))
        .unwrap();
    assert_eq!(
        answer(&mut many, 10_001)["error"]["message"],
        "Invalid subscription id."
    );
    let mut refused = None;
    for id in 0..LIMIT as u64 {
        let key = bs58::encode(blake3::hash(&id.to_be_bytes()).as_bytes()).into_string();
        ws.call(1000 + id, "accountSubscribe", json!([key]))
            .unwrap();
        let response = answer(&mut ws, 1000 + id);
        if response.get("error").is_some() {
            refused = Some(response["error"].clone());
            break;
        }
    }
    assert_eq!(
        refused.expect("the subscription limit was never reached"),
        json!({"code": -32603, "message": "Internal Error: Subscription refused. Node subscription limit reached"})
    );
    // Closing a connection frees its subscriptions.
    drop(many);
    cluster::wait_for("subscriptions freed", Duration::from_secs(10), || {
        ws.call(5000, "rootSubscribe", json!([])).unwrap();
        answer(&mut ws, 5000).get("result").map(|_| ())
    });
    drop(ws);
    cluster::wait_for("all subscriptions closed", Duration::from_secs(10), || {
        (metric(&replica, "replica_pubsub_subscriptions") == 0.0).then_some(())
    });

    // A malformed frame (reserved opcode) closes that connection only.
    let mut bad = WsClient::connect(addr).unwrap();
    bad.send_frame(0x3, b"?").unwrap();
    assert!(bad.recv(Duration::from_secs(10)).is_err());

    // A client that never reads is disconnected once its queue overflows; a client that reads
    // keeps getting every slot, and replication keeps up.
    let mut watcher = WsClient::connect(addr).unwrap();
    watcher.subscribe(1, "slotSubscribe", json!([]));
    let mut slow = WsClient::connect(addr).unwrap();
    for id in 0..2000u64 {
        slow.call(
            id,
            "accountSubscribe",
            json!([CLOCK, {"commitment": "confirmed", "encoding": "base64"}]),
        )
        .unwrap();
    }
    let rss_before = resident_kib(replica.process.id());
    let disconnected_at =
        cluster::wait_for("the slow client cut off", Duration::from_secs(60), || {
            let _ = watcher.recv_json(Duration::from_millis(100));
            (metric(&replica, "replica_pubsub_slow_client_disconnects_total") >= 1.0)
                .then(Instant::now)
        });
    let mut received = 0;
    while disconnected_at.elapsed() < Duration::from_secs(2) {
        if let Ok(message) = watcher.recv_json(Duration::from_millis(500))
            && message["method"] == "slotNotification"
        {
            received += 1;
        }
    }
    assert!(received > 0, "the reading client stopped getting slots");
    // What the slow client's socket still holds drains, then the server has closed it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let drained = loop {
        match slow.recv(Duration::from_secs(5)) {
            Ok(_) => assert!(Instant::now() < deadline, "the slow socket stays open"),
            Err(error) => break error,
        }
    };
    assert_ne!(drained.kind(), std::io::ErrorKind::TimedOut, "{drained}");
    let rss_after = resident_kib(replica.process.id());
    assert!(
        rss_after < rss_before + 256 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    let (last, hash) = cluster::sim_finished(&sim);
    assert_eq!(cluster::root_hash_at(&replica, last), hash);
}
