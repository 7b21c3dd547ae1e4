//! Replication across processes on loopback: the simulated validator (the Geyser plugin driven
//! through the Geyser interface) → replica A → B → C; kills, restarts, failover, refused
//! identities, and a re-bootstrap through the tracker when retention has passed.

use {
    std::{path::Path, time::Duration},
    tests::cluster::{self, path_arg},
};

/// Serving downstream replicas on a free port.
const SERVES: &[&str] = &["--replication-bind", "127.0.0.1:0"];

/// A replica bootstrapped from `snapshot` that follows `upstreams` in order, with `extra` flags.
fn follower(
    dir: &Path,
    name: &str,
    snapshot: &str,
    upstreams: &[&str],
    extra: &[&str],
) -> cluster::Node {
    let mut args = vec!["--snapshot", snapshot];
    for upstream in upstreams {
        args.extend(["--upstream", upstream]);
    }
    args.extend(extra);
    cluster::replica(dir, name, &args)
}

#[test]
fn sim_to_a_to_b_to_c_roots_match_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(dir.path(), 80, 50, &[]);
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    let a = follower(dir.path(), "a", &snapshot, &[&sim.upstream()], SERVES);
    let b = follower(dir.path(), "b", &snapshot, &[&a.upstream()], SERVES);
    let c = follower(dir.path(), "c", &snapshot, &[&b.upstream()], &[]);
    let (last, hash) = cluster::sim_finished(&sim);
    for node in [&a, &b, &c] {
        assert_eq!(
            cluster::root_hash_at(node, last),
            hash,
            "{} at slot {last}:\n{}",
            node.process.name(),
            node.log()
        );
        let status = cluster::status(node).unwrap();
        assert_eq!(status["rootSlot"], last);
    }
    // Stopped, each store is internally consistent: lattice hash, capitalization, account
    // count and every index entry recomputed from the accounts.
    for node in [a, b, c] {
        let ledger = node.dir.join("ledger");
        drop(node.process);
        let output = std::process::Command::new(tests::bin::path("replica"))
            .args(["store", "verify", "--ledger"])
            .arg(&ledger)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains(&hash));
    }
}

#[test]
fn a_replica_killed_mid_stream_restarts_and_converges() {
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(dir.path(), 150, 40, &[]);
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    let a = follower(dir.path(), "a", &snapshot, &[&sim.upstream()], SERVES);
    let b = follower(dir.path(), "b", &snapshot, &[&a.upstream()], &[]);
    // Kill B with SIGKILL once it has committed some slots, while slots keep arriving.
    let start = sim.ready["snapshotSlot"].as_u64().unwrap();
    cluster::wait_for("B to commit slots", Duration::from_secs(120), || {
        (cluster::status(&b)?["rootSlot"].as_u64()? > start + 20).then_some(())
    });
    b.kill();
    std::thread::sleep(Duration::from_millis(300));
    // Restart on the same ledger: no snapshot needed, it resumes from its stored root.
    let b = cluster::replica(dir.path(), "b", &["--upstream", &a.upstream()]);
    let (last, hash) = cluster::sim_finished(&sim);
    assert_eq!(cluster::root_hash_at(&b, last), hash, "{}", b.log());
    assert_eq!(cluster::root_hash_at(&a, last), hash);
}

#[test]
fn when_its_upstream_dies_a_replica_fails_over_without_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(dir.path(), 150, 40, &[]);
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    let a = follower(dir.path(), "a", &snapshot, &[&sim.upstream()], SERVES);
    let b = follower(
        dir.path(),
        "b",
        &snapshot,
        &[&a.upstream(), &sim.upstream()],
        &[],
    );
    let start = sim.ready["snapshotSlot"].as_u64().unwrap();
    cluster::wait_for("B to follow A", Duration::from_secs(120), || {
        let status = cluster::status(&b)?;
        (status["rootSlot"].as_u64()? > start + 10
            && status["upstream"]
                .as_str()?
                .starts_with(&a.field("replication")))
        .then_some(())
    });
    a.kill();
    cluster::wait_for(
        "B to fail over to the simulator",
        Duration::from_secs(60),
        || {
            cluster::status(&b)?["upstream"]
                .as_str()?
                .starts_with(&sim.field("replication"))
                .then_some(())
        },
    );
    let (last, hash) = cluster::sim_finished(&sim);
    assert_eq!(cluster::root_hash_at(&b, last), hash, "{}", b.log());
}

#[test]
fn an_identity_not_on_the_allowlist_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, stranger) = cluster::keypair(dir.path(), "stranger");
    let sim = cluster::sim(dir.path(), 400, 50, &["--allowed-replica", &stranger]);
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    let refused = follower(dir.path(), "refused", &snapshot, &[&sim.upstream()], &[]);
    cluster::wait_for("the refusal", Duration::from_secs(60), || {
        refused
            .log()
            .contains("not on the upstream's allowlist")
            .then_some(())
    });
    let status = cluster::status(&refused).unwrap();
    assert_eq!(
        status["rootSlot"], sim.ready["snapshotSlot"],
        "a refused replica applies nothing"
    );
    // It says why once and does not hammer the upstream: no retry within seconds, one error
    // line (the upstream logs its refusals at most once per identity and interval).
    std::thread::sleep(Duration::from_secs(3));
    let log = refused.log();
    let said = log.matches("refuses this replica").count();
    assert_eq!(said, 1, "{log}");
    let attempts = log.matches("upstream failed").count();
    assert_eq!(attempts, 0, "retried at the short backoff:\n{log}");
    let refusals = sim.log().matches("refused").count();
    assert!(
        refusals <= 2,
        "the upstream logged {refusals} refusals:\n{}",
        sim.log()
    );
}

#[test]
fn retention_passed_rebootstraps_through_the_tracker_from_a_replicas_own_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(dir.path(), 200, 40, &[]);
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    // A keeps only 20 slots of delta log and writes its own snapshots every 10 slots.
    let a = follower(
        dir.path(),
        "a",
        &snapshot,
        &[&sim.upstream()],
        &[
            "--replication-bind",
            "127.0.0.1:0",
            "--delta-log-retention-slots",
            "20",
            "--snapshot-interval-slots",
            "10",
            "--full-snapshot-interval-slots",
            "40",
        ],
    );
    let a_snapshots = a.dir.join("ledger/snapshots");
    let sidecar = cluster::sidecar(dir.path(), "sidecar", &a_snapshots);
    let (_tracker, tracker_url) = cluster::tracker(dir.path(), &[cluster::sidecar_addr(&sidecar)]);
    // Wait until A is well past its retention window.
    let start = sim.ready["snapshotSlot"].as_u64().unwrap();
    cluster::wait_for(
        "A to move past its retention window",
        Duration::from_secs(120),
        || (cluster::status(&a)?["rootSlot"].as_u64()? > start + 80).then_some(()),
    );
    // B starts from the simulator's initial snapshot, which A can no longer bring forward.
    let b = follower(
        dir.path(),
        "b",
        &snapshot,
        &[&a.upstream()],
        &["--tracker", &tracker_url],
    );
    let (last, hash) = cluster::sim_finished(&sim);
    assert_eq!(cluster::root_hash_at(&b, last), hash, "{}", b.log());
    let log = b.log();
    assert!(
        log.contains("bootstrapping anew beside the served store"),
        "{log}"
    );
    assert!(log.contains("serving the new store"), "{log}");
    assert!(log.contains("snapshot chain ready for bootstrap"), "{log}");
}

#[test]
fn a_replica_bootstraps_through_the_tracker_from_another_replicas_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let a = cluster::replica(
        dir.path(),
        "a",
        &[
            "--snapshot",
            &path_arg(&tests::fixtures::agave_full_slot_2()),
            "--snapshot-interval-slots",
            "100",
        ],
    );
    let a_snapshots = a.dir.join("ledger/snapshots");
    cluster::wait_for("A's own snapshot", Duration::from_secs(60), || {
        std::fs::read_dir(&a_snapshots)
            .ok()?
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().starts_with("snapshot-"))
            .then_some(())
    });
    let sidecar = cluster::sidecar(dir.path(), "sidecar", &a_snapshots);
    let (_tracker, tracker_url) = cluster::tracker(dir.path(), &[cluster::sidecar_addr(&sidecar)]);
    let b = cluster::replica(dir.path(), "b", &["--tracker", &tracker_url]);
    let (a_status, b_status) = (cluster::status(&a).unwrap(), cluster::status(&b).unwrap());
    assert_eq!(b_status["rootSlot"], a_status["rootSlot"]);
    assert_eq!(b_status["accountsLtHash"], a_status["accountsLtHash"]);
    assert_eq!(b_status["accounts"], a_status["accounts"]);
    assert!(
        std::fs::read_dir(b.dir.join("ledger/snapshots"))
            .unwrap()
            .flatten()
            .any(|entry| entry
                .file_name()
                .to_string_lossy()
                .starts_with("snapshot-2-"))
    );
}
