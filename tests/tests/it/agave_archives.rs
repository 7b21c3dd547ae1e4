//! Archives Agave boots from. The archives in `fixtures/agave-archives` were loaded by Agave
//! 4.2.2's own loader (`tools/agave-loader`, results in that directory's README); these tests
//! check that the replica and the simulator still write exactly those archives, so a change
//! to what they write must be proven with Agave's loader again (and the fixtures rewritten
//! with `BLESS_AGAVE_ARCHIVES=1`).

use {
    snapshot_tools::archive::{
        SnapshotChain, SnapshotManifest,
        chain::{ChainOptions, read_chain},
        genesis::Genesis,
        manifest::Rent,
    },
    std::{
        io::Read,
        path::{Path, PathBuf},
        process::Command,
    },
    tests::{
        bin,
        cluster::{self, path_arg},
        fixtures,
    },
};

fn proven_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/agave-archives")
        .join(name)
}

fn blessing() -> bool {
    std::env::var_os("BLESS_AGAVE_ARCHIVES").is_some()
}

/// The archive's tar stream: the same bytes whatever the compression.
fn tar_bytes(archive: &Path) -> Vec<u8> {
    let file = std::fs::File::open(archive).unwrap();
    let mut bytes = Vec::new();
    zstd::Decoder::new(file)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

/// Checks that `written` is the proven archive of the same name in `proven` (or, blessing,
/// puts it there).
fn assert_proven(written: &Path, proven: &Path) {
    let name = written.file_name().unwrap();
    let fixture = proven.join(name);
    if blessing() {
        std::fs::create_dir_all(proven).unwrap();
        std::fs::copy(written, &fixture).unwrap();
        return;
    }
    assert!(
        fixture.exists(),
        "{} is not the proven archive; proven: {:?}",
        written.display(),
        std::fs::read_dir(proven)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect::<Vec<_>>()
    );
    assert!(
        tar_bytes(written) == tar_bytes(&fixture),
        "{} differs from the archive Agave loaded",
        written.display()
    );
}

/// The head manifest of a chain, read and verified.
fn manifest(full: &Path, incremental: Option<&Path>) -> SnapshotManifest {
    let temp = tempfile::tempdir().unwrap();
    let chain = SnapshotChain::new(full, incremental).unwrap();
    read_chain(&chain, &ChainOptions::new(temp.path()), |_| Ok(()))
        .unwrap()
        .manifest()
        .clone()
}

/// `replica store snapshot` with `args`: the path it prints.
fn store_snapshot(ledger: &Path, out: &Path, args: &[&str]) -> PathBuf {
    let output = Command::new(bin::path("replica"))
        .args(["store", "snapshot", "--ledger"])
        .arg(ledger)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line, the path: {stdout:?}");
    PathBuf::from(lines[0])
}

fn bootstrap(ledger: &Path, archives: &[PathBuf]) {
    let mut command = Command::new(bin::path("replica"));
    command
        .args(["run", "--exit-after-bootstrap", "--ledger"])
        .arg(ledger);
    for archive in archives {
        command.arg("--snapshot").arg(archive);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_replica_of_the_genuine_archives_writes_the_archive_agave_loaded_with_the_same_bank() {
    let dir = tempfile::tempdir().unwrap();
    let genuine = fixtures::agave_full_slot_2();
    let original = manifest(&genuine, None);
    let proven = proven_dir("agave-3slot");
    // From the full archive, and from full + incremental: the same state, the same archive.
    for (name, archives) in [
        ("full", vec![genuine.clone()]),
        ("chain", fixtures::agave_full_and_incremental()),
    ] {
        let ledger = dir.path().join(name).join("ledger");
        bootstrap(&ledger, &archives);
        let written = store_snapshot(&ledger, &dir.path().join(name).join("out"), &[]);
        let ours = manifest(&written, None);
        assert_eq!(
            (ours.slot, ours.capitalization, ours.bank_hash),
            (original.slot, original.capitalization, original.bank_hash),
            "{name}"
        );
        assert_eq!(ours.leader_id, original.leader_id, "{name}");
        let mut totals = original.epoch_total_stakes.clone();
        totals.sort_unstable();
        assert_eq!(ours.epoch_total_stakes, totals, "{name}");
        assert_proven(&written, &proven);
    }
}

#[test]
fn the_genesis_bin_layout_is_the_one_agave_wrote() {
    // `genesis.bin` of the genuine archives was written by Agave's own `GenesisConfig` from
    // the archive's manifest (`agave-loader genesis-from-archive`, with Agave 4.2.2's default
    // rent: 6960 lamports per byte-year, exemption threshold 1).
    let original = manifest(&fixtures::agave_full_slot_2(), None);
    let genesis = Genesis {
        creation_time: original.genesis_creation_time,
        ticks_per_slot: original.ticks_per_slot,
        ns_per_slot: original.ns_per_slot,
        hashes_per_tick: original.hashes_per_tick,
        fee_rate_governor: original.fee_rate_governor,
        rent: Rent {
            lamports_per_byte_year: 6960,
            exemption_threshold: 1.0,
            burn_percent: 50,
        },
        inflation: original.inflation,
        epoch_schedule: original.epoch_schedule,
    };
    let agave = std::fs::read(proven_dir("agave-3slot").join("genesis.bin")).unwrap();
    assert_eq!(genesis.to_bytes(), agave);
    // The genesis hash Agave's loader printed for it.
    assert_eq!(
        genesis.hash().to_string(),
        "7RXhnnqr8iBpiyaduy7Qzmqfz2cL7gzndhis4JkhtEs3"
    );
}

#[test]
fn a_replica_following_the_simulator_across_epoch_boundaries_writes_archives_agave_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let sim = cluster::sim(dir.path(), 100, 20, &["--slots-per-epoch", "32"]);
    let snapshot = cluster::sim_snapshot(&sim);
    let replica = cluster::replica(
        dir.path(),
        "a",
        &[
            "--snapshot",
            &path_arg(&snapshot),
            "--upstream",
            &sim.upstream(),
        ],
    );
    let (last, hash) = cluster::sim_finished(&sim);
    assert_eq!(cluster::root_hash_at(&replica, last), hash);
    let ledger = replica.dir.join("ledger");
    replica.kill();
    let start = sim.ready["snapshotSlot"].as_u64().unwrap();
    assert!(
        last / 32 > start / 32 + 1,
        "{start}..{last} crosses two epochs"
    );

    let proven = proven_dir("sim-epochs");
    let out = dir.path().join("out");
    let full = store_snapshot(&ledger, &out, &[]);
    let incremental = store_snapshot(&ledger, &out, &["--incremental-base", &start.to_string()]);
    assert_eq!(manifest(&full, None).slot, last);
    let chain = manifest(&snapshot, Some(&incremental));
    assert_eq!(chain.bank_hash, manifest(&full, None).bank_hash);
    // The simulator's own archive and genesis, then the replica's full and incremental.
    assert_proven(&snapshot, &proven);
    let genesis = snapshot.parent().unwrap().join("genesis.bin");
    if blessing() {
        std::fs::copy(&genesis, proven.join("genesis.bin")).unwrap();
    }
    assert_eq!(
        std::fs::read(&genesis).unwrap(),
        std::fs::read(proven.join("genesis.bin")).unwrap(),
        "the simulator's genesis.bin"
    );
    assert_proven(&full, &proven);
    assert_proven(&incremental, &proven);
    drop(sim);
}

#[test]
fn store_snapshot_refuses_bad_requests_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let run = |args: &[&str]| {
        Command::new(bin::path("replica"))
            .args(["store", "snapshot", "--ledger"])
            .arg(&ledger)
            .arg("--out")
            .arg(dir.path().join("out"))
            .args(args)
            .output()
            .unwrap()
    };
    let output = run(&[]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no accounts store"),
        "{output:?}"
    );
    bootstrap(&ledger, &[fixtures::agave_full_slot_2()]);
    for base in ["2", "5"] {
        let output = run(&["--incremental-base", base]);
        assert!(!output.status.success());
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("below the store's root slot 2"),
            "{output:?}"
        );
    }
    // A running replica holds the store.
    let replica = cluster::replica(
        dir.path(),
        "held",
        &["--snapshot", &path_arg(&fixtures::agave_full_slot_2())],
    );
    let output = Command::new(bin::path("replica"))
        .args(["store", "snapshot", "--ledger"])
        .arg(replica.dir.join("ledger"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is in use"),
        "{output:?}"
    );
    drop(replica);
}
