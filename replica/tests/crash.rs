//! Crash safety with real child processes killed with SIGKILL: mid-load, the next start loads
//! cleanly; mid-apply, the reopened store is exactly the state after some committed slot.

use {
    replica::{
        node::bootstrap::store_path,
        store::{
            AccountsStore, SlotCommit, SlotMeta, StoreConfig,
            bulk::{BulkLoadOptions, bulk_load},
            check::check_store,
            workload,
        },
    },
    snapshot_tools::{
        archive::{ArchiveFormat, SnapshotChain},
        synthetic::SyntheticAccounts,
    },
    solana_hash::Hash,
    std::{
        io::{BufRead, BufReader},
        path::Path,
        process::{Child, Command, Stdio},
        time::{Duration, Instant},
    },
};

const SEED: u64 = 21;

fn replica() -> Command {
    Command::new(env!("CARGO_BIN_EXE_replica"))
}

/// Kills the child on drop so a failing test leaves no process behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn kill_during_bootstrap_load_then_restart_loads_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let archives = dir.path().join("archives");
    std::fs::create_dir_all(&archives).unwrap();
    let archive = SyntheticAccounts::new(SEED)
        .write_archive(&archives, 200_000, 500, ArchiveFormat::TarZstd)
        .unwrap();
    let ledger = dir.path().join("ledger");
    let staging = replica::store::bulk::staging_path(&store_path(&ledger));

    let child = replica()
        .args(["run", "--exit-after-bootstrap", "--ledger"])
        .arg(&ledger)
        .arg("--snapshot")
        .arg(&archive)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    // The staging store exists from the start of the load until the final rename.
    wait_for("the load to start", Duration::from_secs(60), || {
        staging.exists()
    });
    std::thread::sleep(Duration::from_millis(150));
    child.0.kill().unwrap();
    let status = child.0.wait().unwrap();
    assert!(
        !status.success(),
        "the load was interrupted, not finished: {status}"
    );
    assert!(
        !store_path(&ledger).exists(),
        "an interrupted load must not leave a store"
    );

    let ready = dir.path().join("ready.json");
    let status = replica()
        .args(["run", "--exit-after-bootstrap", "--ledger"])
        .arg(&ledger)
        .arg("--snapshot")
        .arg(&archive)
        .arg("--ready-file")
        .arg(&ready)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(!staging.exists());
    let ready: serde_json::Value = serde_json::from_slice(&std::fs::read(&ready).unwrap()).unwrap();
    assert_eq!(ready["rootSlot"], 500);
    assert_eq!(ready["accounts"], 200_000);
    let name_hash = snapshot_tools::archive::ArchiveName::from_path(&archive)
        .unwrap()
        .hash
        .to_string();
    assert_eq!(ready["accountsLtHash"], name_hash.as_str());
    let store = AccountsStore::open(&store_path(&ledger), StoreConfig::default()).unwrap();
    let report = check_store(&store).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.accounts, 200_000);
}

fn bootstrap(ledger: &Path, archive: &Path) {
    let options = BulkLoadOptions {
        progress_bar: false,
        ..BulkLoadOptions::default()
    };
    std::fs::create_dir_all(ledger).unwrap();
    bulk_load(
        &store_path(ledger),
        &SnapshotChain::new(archive, None).unwrap(),
        &StoreConfig::default(),
        &options,
    )
    .unwrap();
}

#[test]
fn kill_during_slot_commits_leaves_a_committed_state() {
    let dir = tempfile::tempdir().unwrap();
    let archive = SyntheticAccounts::new(SEED)
        .write_archive(dir.path(), 5_000, 100, ArchiveFormat::TarZstd)
        .unwrap();
    let (killed_ledger, reference_ledger) =
        (dir.path().join("killed"), dir.path().join("reference"));
    bootstrap(&killed_ledger, &archive);
    bootstrap(&reference_ledger, &archive);

    let child = replica()
        .args([
            "store",
            "synthetic-apply",
            "--seed",
            &SEED.to_string(),
            "--keyspace",
            "6000",
            "--updates-per-slot",
            "500",
            "--slots",
            "100000",
            "--ledger",
        ])
        .arg(&killed_ledger)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut reported = Vec::new();
    while reported.len() < 25 {
        let line = lines.next().expect("the child reports commits").unwrap();
        let mut parts = line.split_whitespace().skip(1);
        let slot: u64 = parts.next().unwrap().parse().unwrap();
        reported.push((slot, parts.next().unwrap().to_string()));
    }
    child.0.kill().unwrap();
    child.0.wait().unwrap();

    let killed = AccountsStore::open(&store_path(&killed_ledger), StoreConfig::default()).unwrap();
    let root = killed.root().unwrap();
    assert!(
        root.slot >= reported.last().unwrap().0,
        "a reported commit was lost: root {} < {:?}",
        root.slot,
        reported.last()
    );
    let report = check_store(&killed).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // Replaying the same slots in-process up to the surviving root gives the same state.
    let reference =
        AccountsStore::open(&store_path(&reference_ledger), StoreConfig::default()).unwrap();
    let slots = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(SEED),
        keyspace: 6000,
        updates_per_slot: 500,
    };
    for slot in 101..=root.slot {
        let writes = slots.slot(slot);
        let updates = workload::as_updates(&writes);
        let meta = SlotMeta {
            slot,
            parent: slot - 1,
            blockhash: Hash::new_from_array(*blake3::hash(&slot.to_le_bytes()).as_bytes()),
            block_height: None,
            block_time: None,
            executed_transaction_count: None,
            transaction_count: None,
        };
        let stats = reference
            .commit(&[SlotCommit {
                meta,
                updates: &updates,
                expected_lt_hash: None,
                previous: None,
                lt_hash_after: None,
            }])
            .unwrap();
        if let Some((_, hash)) = reported
            .iter()
            .find(|(reported_slot, _)| *reported_slot == slot)
        {
            assert_eq!(&stats.lt_hashes[0].1.to_string(), hash, "slot {slot}");
        }
    }
    assert_eq!(reference.root().unwrap(), root, "nothing lost or doubled");
}

/// An index rebuild killed at any moment, then a start with the original index flags: the
/// indexes are rebuilt complete (the killed rebuild had recorded that they were not), and the
/// full check passes.
#[test]
fn kill_during_index_rebuild_then_restart_serves_complete_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let archive = SyntheticAccounts::new(SEED)
        .write_archive(dir.path(), 150_000, 100, ArchiveFormat::TarZstd)
        .unwrap();
    let ledger = dir.path().join("ledger");
    bootstrap(&ledger, &archive);
    let complete = {
        let store = AccountsStore::open(&store_path(&ledger), StoreConfig::default()).unwrap();
        store.count_index_entries().unwrap()
    };
    assert!(complete.iter().filter(|&&entries| entries > 0).count() >= 3);
    let start = |flags: &[&str]| {
        let mut command = replica();
        command
            .args(["run", "--exit-after-bootstrap", "--ledger"])
            .arg(&ledger)
            .args(flags)
            .stderr(Stdio::piped());
        Killed(command.spawn().unwrap())
    };
    // Kill rebuilds towards a smaller configuration at different moments.
    let mut killed_mid_rebuild = 0;
    for delay_ms in [0u64, 40, 120, 300, 600] {
        let mut child = start(&["--account-index", "program-id"]);
        let stderr = BufReader::new(child.0.stderr.take().unwrap());
        let mut rebuilding = false;
        for line in stderr.lines() {
            if line.unwrap().contains("rebuilding the secondary indexes") {
                rebuilding = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished = child.0.try_wait().unwrap().is_some();
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        if rebuilding && !finished {
            killed_mid_rebuild += 1;
        }
    }
    assert!(killed_mid_rebuild > 0, "no kill landed during a rebuild");
    // The original flags again: whatever state the kills left, the indexes come back complete.
    let mut child = start(&[]);
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status}");
    let store = AccountsStore::open(&store_path(&ledger), StoreConfig::default()).unwrap();
    assert_eq!(store.count_index_entries().unwrap(), complete);
    let report = check_store(&store).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}
