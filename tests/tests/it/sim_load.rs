//! `replica sim --accounts`: the archive holds the bulk accounts (the replica bootstraps from it,
//! verifying its lattice hash), each slot writes mostly distinct accounts among them, and a
//! replica follows to the last root with the simulator's lattice hash, serving the token
//! accounts.

use {
    base64::Engine,
    serde_json::{Value, json},
    tests::cluster::{self, Node},
};

const ACCOUNTS: u64 = 20_000;
const TRANSACTIONS_PER_SLOT: u64 = 500;
const SLOTS: u64 = 20;
/// The fewest distinct accounts a transaction writes on average: a token transfer writes its
/// source, destination and fee payer, a swap six or nine accounts; the margin is for picks that
/// collide with other transactions of the slot (hot pools).
const MIN_WRITES_PER_TRANSACTION: u64 = 2;
const TOKEN_PROGRAM: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
const TOKEN_2022_PROGRAM: &str = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";

/// W of the simulator's one `produced <SLOTS> slots <W> account writes` line.
fn produced_writes(sim: &Node) -> u64 {
    let log = sim.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|line| line.starts_with("produced "))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    lines[0]
        .strip_prefix(&format!("produced {SLOTS} slots "))
        .and_then(|rest| rest.strip_suffix(" account writes"))
        .and_then(|writes| writes.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {:?}", lines[0]))
}

/// A counter or gauge of the node's `/metrics`.
fn metric(node: &Node, name: &str) -> u64 {
    let url = format!("http://{}/metrics", node.field("metrics"));
    let text = node.rpc().http().get(url).send().unwrap().text().unwrap();
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .parse::<f64>()
                .ok()
        })
        .unwrap_or_else(|| panic!("no {name} in:\n{text}")) as u64
}

/// The owner field (bytes 32..64) of every account of a token program with the base state's
/// size, as the replica serves them.
fn token_account_owners(replica: &Node, program: &str) -> Vec<String> {
    let accounts = replica.rpc().result(
        "getProgramAccounts",
        json!([program, {
            "encoding": "base64",
            "filters": [{"dataSize": 165}],
            "dataSlice": {"offset": 32, "length": 32},
        }]),
    );
    accounts
        .as_array()
        .expect("an array of accounts")
        .iter()
        .map(|account| {
            let data = account["account"]["data"][0].as_str().expect("base64 data");
            let owner = base64::engine::general_purpose::STANDARD
                .decode(data)
                .expect("base64");
            bs58::encode(owner).into_string()
        })
        .collect()
}

#[test]
fn a_replica_follows_a_simulator_with_bulk_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(
        dir.path(),
        SLOTS,
        0,
        &[
            "--accounts",
            &ACCOUNTS.to_string(),
            "--transactions-per-slot",
            &TRANSACTIONS_PER_SLOT.to_string(),
        ],
    );
    let replica = cluster::sim_follower(dir.path(), "a", &sim, &["--metrics-bind", "127.0.0.1:0"]);
    let (last, hash) = cluster::sim_finished(&sim);
    assert_eq!(
        cluster::root_hash_at(&replica, last),
        hash,
        "{}",
        replica.log()
    );

    let writes = produced_writes(&sim);
    assert!(
        writes >= SLOTS * TRANSACTIONS_PER_SLOT * MIN_WRITES_PER_TRANSACTION,
        "{writes} account writes"
    );
    let start = sim.ready["snapshotSlot"].as_u64().unwrap();
    let rooted = cluster::rooted(&sim)
        .into_iter()
        .filter(|(slot, _)| *slot > start && *slot <= last)
        .count() as u64;
    // The replica committed the rooted slots' records: some of the simulator's, each slot's
    // mostly distinct accounts.
    let applied = metric(&replica, "replica_accounts_applied_total");
    assert!(
        applied >= rooted * TRANSACTIONS_PER_SLOT * MIN_WRITES_PER_TRANSACTION && applied <= writes,
        "{applied} account writes applied in {rooted} rooted slots, {writes} produced"
    );
    let status = cluster::status(&replica).expect("getReplicaStatus");
    assert_eq!(status["rootSlot"], json!(last), "{status}");
    assert!(status["accounts"].as_u64().unwrap() >= ACCOUNTS, "{status}");
    assert!(metric(&replica, "replica_accounts") >= ACCOUNTS);

    // Token accounts of both programs, ~60 % of the bulk accounts; one holder's through the
    // owner index.
    let token = token_account_owners(&replica, TOKEN_PROGRAM);
    let token_2022 = token_account_owners(&replica, TOKEN_2022_PROGRAM);
    assert!(
        token.len() as u64 >= ACCOUNTS / 4,
        "{} accounts",
        token.len()
    );
    assert!(
        token_2022.len() as u64 >= ACCOUNTS / 50,
        "{}",
        token_2022.len()
    );
    let owner = &token[token.len() / 2];
    let held = replica.rpc().result(
        "getTokenAccountsByOwner",
        json!([owner, {"programId": TOKEN_PROGRAM}, {"encoding": "jsonParsed"}]),
    );
    let held = held["value"].as_array().expect("an array of accounts");
    assert!(!held.is_empty());
    for account in held {
        let info = &account["account"]["data"]["parsed"]["info"];
        assert_eq!(info["owner"], Value::from(owner.as_str()), "{account}");
    }
    println!(
        "{writes} account writes in {SLOTS} slots; {applied} applied in {rooted} rooted slots; \
         {} accounts; {} Token and {} Token-2022 accounts",
        status["accounts"],
        token.len(),
        token_2022.len()
    );
}
