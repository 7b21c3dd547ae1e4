//! One state across the fleet: a tree sim → A → {B, C}, reads round-robin across the members
//! (and through the real HAProxy), one member paused again and again with SIGSTOP. Under
//! `--consistency fleet` `context.slot` never goes back and the healthy members keep answering;
//! under `--consistency local` the same reads go back (so the check can fail).

use {
    serde_json::{Value, json},
    std::{
        collections::HashMap,
        path::Path,
        process::Command,
        sync::{
            Arc,
            atomic::{AtomicBool, Ordering},
        },
        thread::JoinHandle,
        time::{Duration, Instant},
    },
    tests::{
        cluster::{self, Node, path_arg},
        rpc::RpcClient,
    },
};

const SLOT_MS: u64 = 100;
const CLOCK: &str = "SysvarC1ock11111111111111111111111111111111";

/// The simulator and replicas following it in a tree.
struct Tree {
    sim: Node,
    members: Vec<Node>,
    /// Each member's `/metrics` address.
    metrics: Vec<String>,
}

/// sim → A → `downstreams` replicas, each replica with `extra` flags.
fn tree(dir: &Path, extra: &[&str], downstreams: usize) -> Tree {
    let mut shape = vec![None];
    shape.extend(std::iter::repeat_n(Some(0), downstreams));
    tree_shaped(dir, extra, &shape, SLOT_MS)
}

/// Replica `i` follows `shape[i]` (an earlier replica), or the simulator for `None`.
fn tree_shaped(dir: &Path, extra: &[&str], shape: &[Option<usize>], slot_ms: u64) -> Tree {
    let sim = cluster::sim(dir, 0, slot_ms, &[]);
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    let mut members: Vec<Node> = Vec::new();
    let mut metrics = Vec::new();
    for (i, upstream) in shape.iter().enumerate() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let metrics_bind = format!("127.0.0.1:{port}");
        let upstream = match upstream {
            Some(index) => members[*index].upstream(),
            None => sim.upstream(),
        };
        let mut args = vec![
            "--snapshot",
            &snapshot,
            "--upstream",
            &upstream,
            "--replication-bind",
            "127.0.0.1:0",
            "--metrics-bind",
            &metrics_bind,
        ];
        args.extend(extra);
        members.push(cluster::replica(dir, &format!("m{i}"), &args));
        metrics.push(metrics_bind);
    }
    for member in &members {
        cluster::wait_for(
            &format!("{} in rotation", member.process.name()),
            Duration::from_secs(180),
            || (member.health().as_deref() == Some("ok")).then_some(()),
        );
    }
    Tree {
        sim,
        members,
        metrics,
    }
}

fn signal(pid: u32, which: &str) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {which} {pid}");
}

/// SIGSTOP/SIGCONT bursts on one process until stopped.
struct Pauser {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u32>>,
}

impl Pauser {
    fn start(pid: u32, paused: Duration, running: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut bursts = 0;
            while !flag.load(Ordering::Relaxed) {
                signal(pid, "-STOP");
                std::thread::sleep(paused);
                signal(pid, "-CONT");
                bursts += 1;
                std::thread::sleep(running);
            }
            bursts
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u32 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map_or(0, |t| t.join().unwrap())
    }
}

impl Drop for Pauser {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct Tally {
    reads: u64,
    errors: u64,
    /// Reads whose `context.slot` was below one the client had already seen.
    regressions: u64,
    /// Per target: (reads, errors).
    per_target: HashMap<usize, (u64, u64)>,
    /// First few regressions, for the failure message.
    examples: Vec<String>,
}

/// `reads` reads round-robin over `targets`, alternating `confirmed` and `finalized` and
/// getBalance (point reads) with getLatestBlockhash, tracking the newest `context.slot` per
/// commitment.
fn read_round_robin(targets: &[RpcClient], reads: u64) -> Tally {
    let mut tally = Tally::default();
    let mut newest: HashMap<&str, u64> = HashMap::new();
    for i in 0..reads {
        let target = (i as usize) % targets.len();
        let commitment = if (i / targets.len() as u64).is_multiple_of(2) {
            "confirmed"
        } else {
            "finalized"
        };
        let (method, params) = if i.is_multiple_of(3) {
            ("getLatestBlockhash", json!([{"commitment": commitment}]))
        } else {
            ("getBalance", json!([CLOCK, {"commitment": commitment}]))
        };
        let response = targets[target].call(method, params);
        tally.reads += 1;
        let counts = tally.per_target.entry(target).or_default();
        counts.0 += 1;
        let Some(slot) = response["result"]["context"]["slot"].as_u64() else {
            let code = response["error"]["code"].as_i64();
            assert_eq!(code, Some(-32016), "unexpected answer {response}");
            tally.errors += 1;
            counts.1 += 1;
            continue;
        };
        let seen = newest.entry(commitment).or_default();
        if slot < *seen {
            tally.regressions += 1;
            if tally.examples.len() < 5 {
                tally.examples.push(format!(
                    "read {i} ({method} {commitment}) from target {target} at {slot} after {seen}"
                ));
            }
        } else {
            *seen = slot;
        }
    }
    tally
}

/// Every member's accounts lattice hash at its root matches the simulator's at that slot.
fn hashes_match_the_sim(tree: &Tree) {
    for member in &tree.members {
        let (root, hash) = cluster::wait_for(
            &format!("a root of {} the sim printed", member.process.name()),
            Duration::from_secs(60),
            || {
                let status = cluster::status(member)?;
                let root = status["rootSlot"].as_u64()?;
                let hash = status["accountsLtHash"].as_str()?.to_string();
                cluster::rooted_map(&tree.sim)
                    .contains_key(&root)
                    .then_some((root, hash))
            },
        );
        assert_eq!(
            cluster::rooted_map(&tree.sim)[&root],
            hash,
            "{} at root {root}",
            member.process.name()
        );
    }
}

const FLEET: &[&str] = &["--consistency", "fleet"];

#[test]
fn fleet_consistency_reads_never_go_back_while_a_member_is_paused_again_and_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = tree(dir.path(), FLEET, 2);
    let targets: Vec<RpcClient> = tree.members.iter().map(Node::rpc).collect();
    let status = cluster::status(&tree.members[0]).unwrap();
    assert_eq!(status["fleet"]["role"], "root", "{status}");
    let status = cluster::status(&tree.members[1]).unwrap();
    assert_eq!(status["fleet"]["role"], "member", "{status}");
    assert_eq!(status["fleet"]["members"].as_array().unwrap().len(), 3);

    let paused = tree.members[2].process.id();
    let pauser = Pauser::start(
        paused,
        Duration::from_millis(2_500),
        Duration::from_millis(2_500),
    );
    let tally = read_round_robin(&targets, 4_500);
    let bursts = pauser.finish();
    println!("fleet: {bursts} pause bursts, {tally:?}");
    assert!(bursts >= 2, "the member was paused only {bursts} times");
    assert_eq!(tally.regressions, 0, "{:?}", tally.examples);
    // The paused member refused reads (for want of a lease) rather than serve older state; the
    // healthy ones kept answering.
    let (reads, errors) = tally.per_target[&2];
    assert!(errors > 0, "the paused member never refused: {reads} reads");
    for healthy in [0, 1] {
        let (reads, errors) = tally.per_target[&healthy];
        assert!(
            errors * 100 <= reads,
            "member {healthy}: {errors} of {reads} reads failed"
        );
    }
    hashes_match_the_sim(&tree);

    // The paused member is excluded while paused, with its /health not ok; afterwards it is
    // back.
    tree.members[2].signal(libc::SIGSTOP);
    let started = Instant::now();
    let excluded = cluster::wait_for(
        "the paused member to be excluded",
        Duration::from_secs(10),
        || {
            let status = cluster::status(&tree.members[0])?;
            let excluded = status["fleet"]["excluded"].as_array()?.clone();
            (!excluded.is_empty()).then_some(excluded)
        },
    );
    let took = started.elapsed();
    assert_eq!(excluded[0]["reason"], "stale", "{excluded:?}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    tree.members[2].signal(libc::SIGCONT);

    // Killed for good: it leaves the fleet within the bound and the rest move on.
    let before = cluster::status(&tree.members[1]).unwrap()["fleet"]["servable"]["confirmed"]
        .as_u64()
        .unwrap();
    let killed = tree.members.pop().unwrap();
    let identity = killed.field("identity");
    killed.kill();
    let started = Instant::now();
    cluster::wait_for(
        "the killed member to be excluded",
        Duration::from_secs(10),
        || {
            let status = cluster::status(&tree.members[0])?;
            status["fleet"]["excluded"]
                .as_array()?
                .iter()
                .any(|m| m["identity"] == identity.as_str())
                .then_some(())
        },
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");
    cluster::wait_for("the rest to move on", Duration::from_secs(10), || {
        let status = cluster::status(&tree.members[1])?;
        (status["fleet"]["servable"]["confirmed"].as_u64()? > before + 20).then_some(())
    });
    let tally = read_round_robin(&targets[..2], 300);
    assert_eq!(tally.regressions, 0, "{:?}", tally.examples);
    assert_eq!(tally.errors, 0, "{tally:?}");
}

#[test]
fn fleet_consistency_local_reads_go_back_across_members() {
    let dir = tempfile::tempdir().unwrap();
    let tree = tree(dir.path(), &["--consistency", "local"], 2);
    let targets: Vec<RpcClient> = tree.members.iter().map(Node::rpc).collect();
    let pauser = Pauser::start(
        tree.members[2].process.id(),
        Duration::from_millis(2_500),
        Duration::from_millis(2_500),
    );
    let tally = read_round_robin(&targets, 1_500);
    pauser.finish();
    println!("local: {tally:?}");
    assert!(
        tally.regressions > 0,
        "local consistency is expected to go back across members: {tally:?}"
    );
    assert_eq!(
        cluster::status(&tree.members[0]).unwrap()["fleet"],
        Value::Null
    );
}

#[test]
fn fleet_consistency_through_haproxy_never_goes_back() {
    // Fail at once, before the cluster starts, where HAProxy is missing.
    tests::haproxy::binary();
    let dir = tempfile::tempdir().unwrap();
    let tree = tree(dir.path(), FLEET, 2);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/haproxy-fleet.cfg"
    ))
    .unwrap();
    let rpc = |i: usize| tree.members[i].ready["rpc"].as_str().unwrap().to_string();
    let config = template
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
        .replace("127.0.0.1:8899", &rpc(0))
        .replace("127.0.0.1:8999", &rpc(1))
        .replace("127.0.0.1:9099", &rpc(2));
    let _haproxy = tests::haproxy::start(dir.path(), &config);
    let client = RpcClient::new(&format!("http://127.0.0.1:{port}/"));
    cluster::wait_for("HAProxy to answer", Duration::from_secs(20), || {
        client
            .http()
            .post(client.url())
            .header("content-type", "application/json")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"getSlot"}"#)
            .send()
            .ok()
            .filter(|r| r.status().is_success())
    });
    let pauser = Pauser::start(
        tree.members[2].process.id(),
        Duration::from_millis(2_500),
        Duration::from_millis(2_500),
    );
    let tally = read_round_robin(std::slice::from_ref(&client), 2_000);
    let bursts = pauser.finish();
    println!("haproxy: {bursts} pause bursts, {tally:?}");
    assert!(bursts >= 1, "the member was never paused");
    assert_eq!(tally.regressions, 0, "{:?}", tally.examples);
    assert!(
        tally.errors * 20 <= tally.reads,
        "more than 5 % of reads failed: {tally:?}"
    );
}

#[test]
fn fleet_consistency_deeper_tree_never_goes_back_while_its_deepest_member_is_paused() {
    let dir = tempfile::tempdir().unwrap();
    // sim → A → {B → D, C}
    let tree = tree_shaped(
        dir.path(),
        FLEET,
        &[None, Some(0), Some(0), Some(1)],
        SLOT_MS,
    );
    let targets: Vec<RpcClient> = tree.members.iter().map(Node::rpc).collect();
    let pauser = Pauser::start(
        tree.members[3].process.id(),
        Duration::from_millis(2_500),
        Duration::from_millis(2_500),
    );
    let tally = read_round_robin(&targets, 3_000);
    let bursts = pauser.finish();
    println!("deeper: {bursts} pause bursts, {tally:?}");
    assert!(bursts >= 2, "the member was paused only {bursts} times");
    assert_eq!(tally.regressions, 0, "{:?}", tally.examples);
    assert!(
        tally.per_target[&3].1 > 0,
        "the paused member never refused"
    );
    for healthy in [0, 1, 2] {
        let (reads, errors) = tally.per_target[&healthy];
        assert!(
            errors * 100 <= reads,
            "member {healthy}: {errors} of {reads} reads failed"
        );
    }
    hashes_match_the_sim(&tree);
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or_default()
}

/// How far the servable slot trails the freshest member on a healthy tree of 3 and of 7
/// replicas (400 ms slots), and the overlay it costs against `--consistency local`.
/// `cargo test -p tests --test it fleet_servable_lag_benchmark -- --ignored --nocapture`
#[test]
#[ignore = "benchmark"]
fn fleet_servable_lag_benchmark() {
    let three = [None, Some(0), Some(0)];
    let seven = [None, Some(0), Some(0), Some(1), Some(1), Some(2), Some(2)];
    for (shape, consistency) in [
        (&three[..], "fleet"),
        (&three[..], "local"),
        (&seven[..], "fleet"),
        (&seven[..], "local"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tree = tree_shaped(dir.path(), &["--consistency", consistency], shape, 400);
        // Warm up past the first rooted slots.
        std::thread::sleep(Duration::from_secs(20));
        let (mut confirmed, mut finalized, mut overlay) = (vec![], vec![], vec![]);
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            let statuses: Vec<Value> = tree.members.iter().filter_map(cluster::status).collect();
            let freshest_confirmed = statuses
                .iter()
                .filter_map(|s| s["confirmedSlot"].as_u64())
                .max()
                .unwrap_or_default();
            let freshest_rooted = tree
                .sim
                .log()
                .lines()
                .rev()
                .find_map(|line| line.strip_prefix("rooted "))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or_default();
            let root_status = &statuses[0];
            if consistency == "fleet" {
                if let Some(servable) = root_status["fleet"]["servable"].as_object() {
                    confirmed.push(
                        freshest_confirmed.saturating_sub(servable["confirmed"].as_u64().unwrap()),
                    );
                    finalized.push(
                        freshest_rooted.saturating_sub(servable["finalized"].as_u64().unwrap()),
                    );
                }
            } else {
                let oldest_confirmed = statuses
                    .iter()
                    .filter_map(|s| s["confirmedSlot"].as_u64())
                    .min()
                    .unwrap_or_default();
                confirmed.push(freshest_confirmed.saturating_sub(oldest_confirmed));
                let oldest_root = statuses
                    .iter()
                    .filter_map(|s| s["rootSlot"].as_u64())
                    .min()
                    .unwrap_or_default();
                finalized.push(freshest_rooted.saturating_sub(oldest_root));
            }
            for addr in &tree.metrics {
                overlay.push(metric(addr, "replica_overlay_slots"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        confirmed.sort_unstable();
        finalized.sort_unstable();
        overlay.sort_unstable();
        let rss: u64 = tree.members.iter().map(|m| rss_kib(m.process.id())).sum();
        println!(
            "{} replicas, {consistency}: confirmed lag p50 {} p99 {} slots; finalized lag p50 {} \
             p99 {} slots ({} samples); overlay slots per member p50 {} max {}; RSS {} MiB per \
             member",
            shape.len(),
            percentile(&confirmed, 0.5),
            percentile(&confirmed, 0.99),
            percentile(&finalized, 0.5),
            percentile(&finalized, 0.99),
            confirmed.len(),
            percentile(&overlay, 0.5),
            overlay.last().unwrap(),
            rss / 1024 / shape.len() as u64,
        );
    }
}

/// A gauge from a replica's `/metrics`.
fn metric(addr: &str, name: &str) -> u64 {
    let Ok(response) = reqwest::blocking::get(format!("http://{addr}/metrics")) else {
        return 0;
    };
    response
        .text()
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}
