//! The example HAProxy configuration in `deploy/` with the real HAProxy from Debian in front of
//! two replicas: queries go through; with one replica killed, answers stay correct.

use {
    serde_json::{Value, json},
    std::{
        net::TcpListener,
        time::{Duration, Instant},
    },
    tests::{fixtures, replica::Replica, rpc::RpcClient},
};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn haproxy_keeps_answering_when_a_replica_dies() {
    // Fail at once, before the cluster starts, where HAProxy is missing.
    tests::haproxy::binary();
    let archives = fixtures::agave_full_and_incremental();
    let first = Replica::start(&archives, &[]).unwrap();
    let second = Replica::start(&archives, &[]).unwrap();
    let port = free_port();
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/haproxy.cfg"
    ))
    .unwrap();
    let config = template
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
        .replace("127.0.0.1:8899", &first.rpc.to_string())
        .replace("127.0.0.1:8999", &second.rpc.to_string());
    assert_ne!(
        config, template,
        "the template names the addresses the test rewrites"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut running = tests::haproxy::start(dir.path(), &config);

    let client = RpcClient::new(&format!("http://127.0.0.1:{port}/"));
    let expected = first
        .client()
        .call("getBalance", json!(["11111111111111111111111111111111"]))["result"]["value"]
        .clone();
    assert!(expected.as_u64().is_some());
    let balance = || -> Option<Value> {
        let response = client.http().post(client.url()).header("content-type", "application/json")
            .body(json!({"jsonrpc": "2.0", "id": 1, "method": "getBalance", "params": ["11111111111111111111111111111111"]}).to_string())
            .send().ok()?;
        let body: Value = response.json().ok()?;
        body["result"]["value"].as_u64().map(Value::from)
    };
    // HAProxy is up once a request goes through.
    let deadline = Instant::now() + Duration::from_secs(30);
    while balance().is_none() {
        if let Some(status) = running.0.try_wait().unwrap() {
            panic!(
                "HAProxy exited ({status}): {}",
                std::fs::read_to_string(dir.path().join("haproxy.err")).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "HAProxy did not start answering");
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..10 {
        assert_eq!(balance(), Some(expected.clone()));
    }
    drop(first);
    // Every request still gets the right answer: retried elsewhere while the health check
    // notices, then routed only to the live replica.
    for _ in 0..40 {
        assert_eq!(
            balance(),
            Some(expected.clone()),
            "through HAProxy with one replica down"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        second.client().call("getHealth", Value::Null)["result"],
        "ok"
    );
}
