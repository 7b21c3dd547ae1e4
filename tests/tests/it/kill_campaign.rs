//! A `kill -9` campaign: a replica following the simulator, writing its own archives every few
//! slots and switching its index flags at every start (so each start rebuilds the indexes), is
//! killed at seeded moments through bootstrap, sync, index rebuilds and archive writing. After
//! every kill the stopped store passes `replica store verify`, every archive it wrote verifies,
//! and after the restart its answers match the simulator's state; at the end it converges on
//! the simulator's last root.

use {
    rand::{Rng, SeedableRng},
    std::{path::Path, process::Command, time::Duration},
    tests::{
        bin,
        cluster::{self, path_arg},
    },
};

const KILLS: usize = 8;

fn verify_store(ledger: &Path) {
    let output = Command::new(bin::path("replica"))
        .args(["store", "verify", "--ledger"])
        .arg(ledger)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "store verify after a kill:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every archive in `dir` verifies (an interrupted write leaves none visible).
fn verify_archives(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut names: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.ends_with(".tar.zst") && name.starts_with("snapshot-"))
        })
        .collect();
    names.sort();
    for full in &names {
        let output = Command::new(bin::path("snapshot-tools"))
            .arg("inspect")
            .arg(full)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{} does not verify:\n{}{}",
            full.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    names.len()
}

#[test]
fn kill_nine_at_any_moment_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(dir.path(), 260, 40, &[]);
    let snapshot = path_arg(&cluster::sim_snapshot(&sim));
    let upstream = sim.upstream();
    let node_dir = dir.path().join("a");
    let ledger = node_dir.join("ledger");
    let snapshots = node_dir.join("snapshots");
    let snapshots_arg = path_arg(&snapshots);
    std::fs::create_dir_all(&node_dir).unwrap();
    let (identity, _) = cluster::keypair(&node_dir, "identity");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x6b1b);
    for kill in 0..KILLS {
        let mut args = vec![
            "--snapshot",
            &snapshot,
            "--upstream",
            &upstream,
            "--snapshot-interval-slots",
            "5",
            "--full-snapshot-interval-slots",
            "20",
            "--snapshots",
            &snapshots_arg,
        ];
        if kill % 2 == 1 {
            args.extend(["--account-index", "program-id"]);
        }
        let mut command = Command::new(bin::path("replica"));
        command
            .args(["run", "--ledger"])
            .arg(&ledger)
            .arg("--identity")
            .arg(&identity)
            .args(["--rpc-bind", "127.0.0.1:0"])
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = command.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..1500)));
        child.kill().unwrap();
        child.wait().unwrap();
        // Killed before its first load finished, the replica has no store yet.
        if ledger.join("accounts").exists() {
            verify_store(&ledger);
        }
        verify_archives(&snapshots);
    }
    let replica = cluster::replica(
        dir.path(),
        "a",
        &[
            "--snapshot",
            &snapshot,
            "--upstream",
            &upstream,
            "--snapshots",
            &snapshots_arg,
        ],
    );
    let (last, hash) = cluster::sim_finished(&sim);
    assert_eq!(
        cluster::root_hash_at(&replica, last),
        hash,
        "{}",
        replica.log()
    );
    replica.kill();
    verify_store(&ledger);
    assert!(verify_archives(&snapshots) > 0, "no archive survived");
}
