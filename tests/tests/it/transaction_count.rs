//! Agave's `transaction_count` after the snapshot slot: the validator's block metadata carries
//! each bank's executed transaction count; the plugin sends it with each slot, replicas keep
//! the running count and pass it on. Checked against the simulator on a replica that follows
//! it and on one that follows that replica, through getEpochInfo, getTransactionCount, the Rust
//! client, @solana/web3.js and @solana/kit.

use {
    serde_json::{Value, json},
    solana_commitment_config::CommitmentConfig,
    solana_rpc_client::rpc_client::RpcClient,
    std::{path::Path, process::Command},
    tests::cluster::{self, path_arg},
};

/// Transactions each main-chain bank of the simulator executes: its 24 random transactions
/// (the `replica sim` default) and one vote from each of its three validators.
const EXECUTED_PER_SLOT: u64 = 24 + 3;

#[test]
fn transaction_counts_follow_the_validator_through_replicas_and_real_clients() {
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(dir.path(), 60, 20, &[]);
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    let a = cluster::sim_follower(
        dir.path(),
        "a",
        &sim,
        &["--replication-bind", "127.0.0.1:0"],
    );
    let b = cluster::replica(
        dir.path(),
        "b",
        &["--snapshot", &snapshot, "--upstream", &a.upstream()],
    );
    let start = sim.ready["snapshotSlot"].as_u64().unwrap();
    let (last, hash) = cluster::sim_finished(&sim);
    // Every rooted main-chain slot after the snapshot (whose count is 0) executed the same.
    let rooted = cluster::rooted(&sim)
        .into_iter()
        .filter(|(slot, _)| *slot > start && *slot <= last)
        .count() as u64;
    let expected = rooted * EXECUTED_PER_SLOT;
    for node in [&a, &b] {
        assert_eq!(cluster::root_hash_at(node, last), hash, "{}", node.log());
        let client = node.rpc();
        let config = json!([{"commitment": "finalized"}]);
        assert_eq!(
            client.result("getTransactionCount", config.clone()),
            json!(expected),
            "{}",
            node.process.name()
        );
        let info = client.result("getEpochInfo", config);
        assert_eq!(info["transactionCount"], json!(expected), "{info}");
        assert_eq!(info["absoluteSlot"], json!(last), "{info}");
        // The confirmed banks past the last root (the simulator roots a few banks behind its
        // tip) add their own counts on top.
        let config = json!([{"commitment": "confirmed"}]);
        let confirmed = client.result("getEpochInfo", config.clone());
        let count = confirmed["transactionCount"].as_u64().unwrap();
        let extra_slots = confirmed["absoluteSlot"].as_u64().unwrap() - last;
        assert_eq!(client.result("getTransactionCount", config), json!(count));
        assert!(
            count >= expected && (count - expected).is_multiple_of(EXECUTED_PER_SLOT),
            "{confirmed}"
        );
        assert!(
            (count - expected) / EXECUTED_PER_SLOT <= extra_slots,
            "{confirmed}"
        );
    }

    let rust =
        RpcClient::new_with_commitment(b.rpc().url().to_string(), CommitmentConfig::finalized());
    assert_eq!(rust.get_transaction_count().unwrap(), expected);
    assert_eq!(
        rust.get_epoch_info().unwrap().transaction_count,
        Some(expected)
    );

    // The JavaScript clients against the downstream replica.
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/js");
    assert!(
        js.join("node_modules/@solana/web3.js").is_dir(),
        "the JavaScript clients are not installed: run `npm ci` in {}",
        js.display()
    );
    let latest = b.rpc().result("getLatestBlockhash", Value::Null);
    let expectations = json!({
        "slot": last,
        "blockHeight": b.rpc().result("getBlockHeight", Value::Null),
        "blockhash": latest["value"]["blockhash"],
        "transactionCount": expected,
    });
    let path = dir.path().join("follow-expectations.json");
    std::fs::write(&path, serde_json::to_vec(&expectations).unwrap()).unwrap();
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".to_string());
    let output = Command::new(&node)
        .arg(js.join("follow.mjs"))
        .arg(b.rpc().url())
        .arg(&path)
        .current_dir(&js)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(" passed, 0 failed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
