//! A fleet an operator can trust, with real processes: health that sees a stalled upstream,
//! the first hop verified by the validator's own snapshot archives (a corrupted slot caught and
//! repaired), re-bootstraps that never stop answering (downstreams included), the preferred
//! upstream taken back, and a bootstrap from the S3 mirror when no sidecar is reachable.

use {
    serde_json::{Value, json},
    std::{
        path::Path,
        sync::{
            Arc,
            atomic::{AtomicBool, Ordering},
        },
        thread::JoinHandle,
        time::{Duration, Instant},
    },
    tests::cluster::{self, Node, path_arg},
};

/// A replica bootstrapped from `snapshot` following `upstreams` in order, with `extra` flags.
fn follower(dir: &Path, name: &str, snapshot: &str, upstreams: &[&str], extra: &[&str]) -> Node {
    let mut args = vec!["--snapshot", snapshot];
    for upstream in upstreams {
        args.extend(["--upstream", upstream]);
    }
    args.extend(extra);
    cluster::replica(dir, name, &args)
}

fn wait_health(node: &Node, want: &str, timeout: Duration) -> Duration {
    let start = Instant::now();
    cluster::wait_for(
        &format!("/health of {} to say {want}", node.process.name()),
        timeout,
        || (node.health().as_deref() == Some(want)).then_some(()),
    );
    start.elapsed()
}

#[test]
fn health_leaves_rotation_when_the_upstream_stalls_and_comes_back_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = cluster::sim(dir.path(), 0, 100, &[]);
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    let a = follower(
        dir.path(),
        "a",
        &snapshot,
        &[&sim.upstream()],
        &["--health-max-slot-age", "2"],
    );
    wait_health(&a, "ok", Duration::from_secs(60));

    // A frozen validator: no answers, no slots. Out of rotation within seconds.
    sim.signal(libc::SIGSTOP);
    let took = wait_health(&a, "unknown", Duration::from_secs(15));
    assert!(took < Duration::from_secs(6), "took {took:?}");
    assert_eq!(
        a.rpc().error("getHealth", Value::Null),
        json!({"code": -32005, "message": "Node is unhealthy", "data": {"numSlotsBehind": null}})
    );
    let status = cluster::status(&a).unwrap();
    assert_eq!(status["health"], "unknown", "{status}");
    // Still unknown a while later: the last slot the upstream reported does not count as news.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(a.health().as_deref(), Some("unknown"));

    // Thawed: back in rotation by itself.
    sim.signal(libc::SIGCONT);
    wait_health(&a, "ok", Duration::from_secs(30));
    let status = cluster::status(&a).unwrap();
    assert_eq!(status["health"], "ok", "{status}");
    assert!(status["upstreamSlot"].as_u64().unwrap() >= status["rootSlot"].as_u64().unwrap());

    // A dead validator: unknown again, and it stays so.
    sim.kill();
    wait_health(&a, "unknown", Duration::from_secs(15));
}

#[test]
fn a_corrupted_slot_is_caught_at_the_next_validator_snapshot_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    // A validator whose plugin sends no lattice hash (as inside Agave), with one slot's
    // notifications corrupted, writing a snapshot archive every 25 slots.
    let sim = cluster::sim(
        dir.path(),
        260,
        60,
        &[
            "--without-lattice-hash",
            "--corrupt-slot",
            "1010",
            "--snapshot-interval-slots",
            "25",
        ],
    );
    let sim_snapshots = dir.path().join("sim-snapshots");
    let sidecar = cluster::sidecar(dir.path(), "sidecar", &sim_snapshots);
    let source = cluster::sidecar_addr(&sidecar);
    let (_tracker, tracker_url) = cluster::tracker(dir.path(), std::slice::from_ref(&source));
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    let a = follower(
        dir.path(),
        "a",
        &snapshot,
        &[&sim.upstream()],
        &[
            "--replication-bind",
            "127.0.0.1:0",
            "--tracker",
            &tracker_url,
            "--trusted-snapshot-source",
            &source,
            "--metrics-bind",
            "127.0.0.1:0",
        ],
    );
    // B follows A: it receives A's diverged state with matching trailers.
    let b = follower(
        dir.path(),
        "b",
        &snapshot,
        &[&a.upstream()],
        &["--tracker", &tracker_url],
    );

    cluster::wait_for("A to find the divergence", Duration::from_secs(120), || {
        a.log()
            .contains("this replica's state diverged from the validator's")
            .then_some(())
    });
    cluster::wait_for("A to serve a new store", Duration::from_secs(120), || {
        a.log().contains("serving the new store").then_some(())
    });
    let (last, hash) = cluster::sim_finished(&sim);
    for node in [&a, &b] {
        assert_eq!(
            cluster::root_hash_at(node, last),
            hash,
            "{} at slot {last}:\n{}",
            node.process.name(),
            node.log()
        );
    }
    // The repaired store is confirmed by a later validator snapshot.
    let verified = cluster::wait_for(
        "A to verify a later snapshot",
        Duration::from_secs(60),
        || {
            let status = cluster::status(&a)?;
            let slot = status["lastVerifiedSlot"].as_u64()?;
            (slot > 1010).then_some(slot)
        },
    );
    assert!(verified <= last);
    let status = cluster::status(&a).unwrap();
    assert_eq!(status["health"], "ok", "{status}");
    assert_eq!(status["bootstrap"], json!({"state": "idle"}), "{status}");
    let metrics = reqwest::blocking::get(format!("http://{}/metrics", a.field("metrics")))
        .unwrap()
        .text()
        .unwrap();
    let value = |name: &str| {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} missing:\n{metrics}"))
    };
    assert_eq!(value("replica_snapshot_mismatches_total "), 1.0);
    assert_eq!(value("replica_bootstraps_total "), 1.0);
    assert!(value("replica_snapshots_verified_total ") >= 1.0);
}

/// Requests sent over and over until stopped; every answer must be a JSON-RPC result.
struct Hammer {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<HammerReport>,
}

#[derive(Debug, Default)]
struct HammerReport {
    requests: u64,
    failures: Vec<String>,
    /// The finalized slots seen, in order, without repeats.
    slots: Vec<u64>,
}

impl Hammer {
    fn start(node: &Node) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let url = node.rpc().url().to_string();
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                let mut report = HammerReport::default();
                let calls = [
                    json!({"jsonrpc": "2.0", "id": 1, "method": "getSlot", "params": [{"commitment": "finalized"}]}),
                    json!({"jsonrpc": "2.0", "id": 2, "method": "getAccountInfo", "params": ["SysvarC1ock11111111111111111111111111111111", {"encoding": "base64"}]}),
                    json!({"jsonrpc": "2.0", "id": 3, "method": "getBalance", "params": ["SysvarRent111111111111111111111111111111111"]}),
                ];
                while !stop.load(Ordering::Relaxed) {
                    for call in &calls {
                        report.requests += 1;
                        let answer = http
                            .post(&url)
                            .json(call)
                            .send()
                            .and_then(|response| response.json::<Value>());
                        match answer {
                            Ok(answer) if answer.get("result").is_some() => {
                                if call["method"] == "getSlot"
                                    && let Some(slot) = answer["result"].as_u64()
                                    && report.slots.last() != Some(&slot)
                                {
                                    report.slots.push(slot);
                                }
                            }
                            Ok(answer) => report.failures.push(format!("{call}: {answer}")),
                            Err(error) => report.failures.push(format!("{call}: {error}")),
                        }
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                report
            }
        });
        Self { stop, thread }
    }

    fn finish(self) -> HammerReport {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

#[test]
fn a_replica_past_retention_and_its_downstream_answer_every_request_while_bootstrapping_anew() {
    let dir = tempfile::tempdir().unwrap();
    // The plugin keeps 20 slots; a snapshot archive every 20 slots.
    let sim = cluster::sim(
        dir.path(),
        400,
        40,
        &["--retention-slots", "20", "--snapshot-interval-slots", "20"],
    );
    let sidecar = cluster::sidecar(dir.path(), "sidecar", &dir.path().join("sim-snapshots"));
    let (_tracker, tracker_url) = cluster::tracker(dir.path(), &[cluster::sidecar_addr(&sidecar)]);
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    let mut a = follower(
        dir.path(),
        "a",
        &snapshot,
        &[&sim.upstream()],
        &[
            "--replication-bind",
            "127.0.0.1:0",
            "--tracker",
            &tracker_url,
        ],
    );
    let b = follower(
        dir.path(),
        "b",
        &snapshot,
        &[&a.upstream()],
        &["--tracker", &tracker_url],
    );
    let start = sim.ready["snapshotSlot"].as_u64().unwrap();
    for node in [&a, &b] {
        cluster::wait_for("following", Duration::from_secs(60), || {
            (cluster::status(node)?["rootSlot"].as_u64()? > start + 10).then_some(())
        });
    }
    // A freezes long enough for the plugin to drop what A needs next.
    a.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_secs(3));
    let hammers = [Hammer::start(&a), Hammer::start(&b)];
    a.signal(libc::SIGCONT);
    for node in [&a, &b] {
        cluster::wait_for(
            &format!("{} to serve a new store", node.process.name()),
            Duration::from_secs(120),
            || node.log().contains("serving the new store").then_some(()),
        );
    }
    // A little more traffic on the new stores, then the verdict.
    std::thread::sleep(Duration::from_secs(1));
    for (hammer, node) in hammers.into_iter().zip([&a, &b]) {
        let report = hammer.finish();
        assert!(
            report.failures.is_empty(),
            "{} failed {} of {} requests during its new bootstrap: {:?}\n{}",
            node.process.name(),
            report.failures.len(),
            report.requests,
            &report.failures[..report.failures.len().min(5)],
            node.log()
        );
        assert!(report.requests > 30, "{report:?}");
        // Served before the switch and after it.
        assert!(report.slots.len() >= 2, "{report:?}");
        let log = node.log();
        assert!(
            log.contains("bootstrapping anew beside the served store"),
            "{log}"
        );
    }
    let (last, hash) = cluster::sim_finished(&sim);
    for node in [&a, &b] {
        assert_eq!(cluster::root_hash_at(node, last), hash, "{}", node.log());
    }
}

#[test]
fn the_preferred_upstream_is_taken_back_once_it_answers_again() {
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(dir.path(), 500, 50, &[]);
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    let mut a = follower(
        dir.path(),
        "a",
        &snapshot,
        &[&sim.upstream()],
        &["--replication-bind", "127.0.0.1:0"],
    );
    let c = follower(
        dir.path(),
        "c",
        &snapshot,
        &[&a.upstream(), &sim.upstream()],
        &["--upstream-return-after-secs", "2"],
    );
    let following = |want: &str, what: &str| {
        cluster::wait_for(what, Duration::from_secs(60), || {
            (cluster::status(&c)?["upstream"].as_str()? == want).then_some(())
        })
    };
    following(&a.upstream(), "C to follow A");
    a.signal(libc::SIGSTOP);
    following(&sim.upstream(), "C to move to the validator");
    a.signal(libc::SIGCONT);
    let back = Instant::now();
    following(&a.upstream(), "C to return to A");
    assert!(
        back.elapsed() >= Duration::from_secs(2),
        "{:?}",
        back.elapsed()
    );
    let log = c.log();
    assert!(log.contains("switching upstream"), "{log}");
    let (last, hash) = cluster::sim_finished(&sim);
    assert_eq!(cluster::root_hash_at(&c, last), hash, "{}", c.log());
}

#[test]
fn bootstraps_from_the_s3_mirror_when_no_sidecar_is_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(dir.path(), 200, 40, &["--snapshot-interval-slots", "20"]);
    let sim_snapshots = dir.path().join("sim-snapshots");
    let sidecar = cluster::sidecar(dir.path(), "sidecar", &sim_snapshots);
    let (tracker, tracker_url) = cluster::tracker(dir.path(), &[cluster::sidecar_addr(&sidecar)]);
    let s3 = tests::s3::S3Server::start(&["snapshots"]);
    let s3_args = [
        "--s3-url",
        &s3.endpoint,
        "--s3-bucket",
        "snapshots",
        "--s3-prefix",
        "testnet",
    ];
    // A periodic archive is listed, then mirrored.
    let start = sim.ready["snapshotSlot"].as_u64().unwrap();
    cluster::wait_for("a periodic archive", Duration::from_secs(60), || {
        std::fs::read_dir(&sim_snapshots)
            .ok()?
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().to_string();
                name.strip_prefix("snapshot-")?
                    .split('-')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .any(|slot| slot > start)
            .then_some(())
    });
    let mirrored = cluster::wait_for("the mirror to upload", Duration::from_secs(60), || {
        let output = std::process::Command::new(tests::bin::path("snapshot-tools"))
            .args(["mirror", "--tracker", &tracker_url, "--once"])
            .args(s3_args)
            .envs(tests::s3::S3Server::credentials_env())
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        let mirrored = output.status.success()
            && report["latest_slot"]
                .as_u64()
                .is_some_and(|slot| slot > start);
        if !mirrored {
            std::thread::sleep(Duration::from_millis(500));
        }
        mirrored.then_some(report)
    });
    // No sidecar any more: only the mirror can serve.
    sidecar.kill();
    let mut args = vec!["--tracker", tracker_url.as_str(), "--upstream"];
    let upstream = sim.upstream();
    args.push(&upstream);
    args.extend(s3_args);
    let r = cluster::replica_with_env(
        dir.path(),
        "r",
        &args,
        &tests::s3::S3Server::credentials_env(),
    );
    assert!(
        r.ready["rootSlot"].as_u64().unwrap() > start,
        "{}\nmirror: {mirrored}\n{}",
        r.ready,
        r.log()
    );
    let log = r.log();
    assert!(log.contains("snapshot chain ready for bootstrap"), "{log}");
    assert!(log.contains("source=s3-mirror"), "{log}");
    let (last, hash) = cluster::sim_finished(&sim);
    assert_eq!(cluster::root_hash_at(&r, last), hash, "{}", r.log());
    drop(tracker);
}

#[test]
fn kill_9_at_any_moment_of_a_new_bootstrap_leaves_one_verified_current_store() {
    use rand::{Rng, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(
        dir.path(),
        600,
        40,
        &["--retention-slots", "20", "--snapshot-interval-slots", "20"],
    );
    let sidecar = cluster::sidecar(dir.path(), "sidecar", &dir.path().join("sim-snapshots"));
    let (_tracker, tracker_url) = cluster::tracker(dir.path(), &[cluster::sidecar_addr(&sidecar)]);
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    let upstream = sim.upstream();
    let start = sim.ready["snapshotSlot"].as_u64().unwrap();
    cluster::wait_for(
        "the plugin to pass its retention",
        Duration::from_secs(60),
        || (cluster::rooted(&sim).last()?.0 > start + 40).then_some(()),
    );
    let args = [
        "--snapshot",
        snapshot.as_str(),
        "--upstream",
        upstream.as_str(),
        "--tracker",
        tracker_url.as_str(),
    ];
    // Every start reopens the store at the initial snapshot's slot (or a newer one), finds the
    // upstream past it, and bootstraps anew: killed somewhere in that, six times.
    let a = cluster::replica(dir.path(), "a", &args);
    let ledger = a.dir.join("ledger");
    a.kill();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
    let mut interrupted = 0;
    for kill in 0..6 {
        let log_path = dir.path().join(format!("a-kill-{kill}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = std::process::Command::new(tests::bin::path("replica"));
        command
            .args(["run", "--ledger"])
            .arg(&ledger)
            .arg("--identity")
            .arg(dir.path().join("a/identity.json"))
            .args(["--rpc-bind", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let mut child = command.spawn().unwrap();
        // Somewhere in the new bootstrap, whatever this machine's speed: a random moment after
        // it announced itself (or after start-up, for the kills that land before it).
        if kill % 3 == 0 {
            std::thread::sleep(Duration::from_millis(rng.random_range(100..600)));
        } else {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline
                && !std::fs::read_to_string(&log_path)
                    .unwrap_or_default()
                    .contains("bootstrapping anew beside the served store")
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let text = std::fs::read_to_string(&log_path).unwrap();
        if text.contains("bootstrapping anew beside the served store")
            && !text.contains("serving the new store")
        {
            interrupted += 1;
        }
        let output = std::process::Command::new(tests::bin::path("replica"))
            .args(["store", "verify", "--ledger"])
            .arg(&ledger)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "store verify after a kill:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(
        interrupted >= 2,
        "only {interrupted} kills landed in a new bootstrap"
    );
    let a = cluster::replica(dir.path(), "a", &args);
    let (last, hash) = cluster::sim_finished(&sim);
    assert_eq!(cluster::root_hash_at(&a, last), hash, "{}", a.log());
    // The stores replaced or interrupted along the way are gone (a store the last run replaced
    // is removed in the background once no request holds it).
    let stores = || -> Vec<String> {
        std::fs::read_dir(&ledger)
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().to_string())
            .filter(|name| name.starts_with("accounts") && name != "accounts.current")
            .collect()
    };
    // The replica waits up to two minutes for the last holder of the replaced store before it
    // leaves the removal to the next start; a loaded machine once took longer than 30 s.
    let deadline = Instant::now() + Duration::from_secs(130);
    while stores().len() > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let stores = stores();
    assert_eq!(stores.len(), 1, "{stores:?}\n{}", a.log());
}
