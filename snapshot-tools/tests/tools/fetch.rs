//! `fetch` against sidecars and a tracker: the best chain, incremental-only, resume after
//! the serving sidecar is killed, fallback to a second source, and rejection of corrupt
//! archives and wrong hashes.

use {
    crate::support::{
        BIN, Sidecar, Tracker,
        archives::{corrupt, write_chain},
        copy_into, describe, files_in, run_fetch, tracker_yaml, wait_for,
    },
    snapshot_tools::{
        archive::ArchiveName,
        fetch::{FetchConfig, FetchOutcome, fetch_best},
    },
    std::{
        path::Path,
        process::{Command, Stdio},
        time::{Duration, Instant},
    },
};

fn fetch_args(ledger: &Path, tracker: &Tracker, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--ledger".to_string(),
        ledger.display().to_string(),
        "--tracker".to_string(),
        tracker.url(),
        "--no-progress".to_string(),
    ];
    args.extend(extra.iter().map(|arg| arg.to_string()));
    args
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_str().unwrap().to_string()
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    std::fs::read(a).unwrap() == std::fs::read(b).unwrap()
}

/// Two sidecars in the order the tracker ranks equal offers (by target), so a test knows
/// which one `fetch` tries first.
async fn two_ordered_sidecars(dir: &Path) -> (Sidecar, Sidecar) {
    for ledger in ["ledger-a", "ledger-b"] {
        std::fs::create_dir_all(dir.join(ledger)).unwrap();
    }
    let a = Sidecar::start(dir, &dir.join("ledger-a"), 0, &[]).await;
    let b = Sidecar::start(dir, &dir.join("ledger-b"), 0, &[]).await;
    if a.target() < b.target() {
        (a, b)
    } else {
        (b, a)
    }
}

/// A tracker that scrapes once at start and then not for an hour.
fn scrape_once_yaml(targets: &[String]) -> String {
    tracker_yaml(targets, 3).replace("scrape_interval: 100ms", "scrape_interval: 1h")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picks_the_best_chain_then_is_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let best = write_chain(&store.join("best"), 1, 100, Some(250), 50, 128);
    let lower = write_chain(&store.join("lower"), 2, 200, None, 50, 128);
    let ledgers = ["s1", "s2", "s3"].map(|name| dir.path().join(name));
    std::fs::create_dir_all(&ledgers[0]).unwrap();
    copy_into(&best.full, &ledgers[0]);
    for file in best.files() {
        copy_into(&file, &ledgers[1]);
    }
    copy_into(&lower.full, &ledgers[2]);
    let mut sidecars = Vec::new();
    for ledger in &ledgers {
        sidecars.push(Sidecar::start(dir.path(), ledger, 0, &[]).await);
    }
    let targets: Vec<String> = sidecars.iter().map(Sidecar::target).collect();
    let tracker = Tracker::start(dir.path(), &tracker_yaml(&targets, 3)).await;
    tracker.wait_for_targets(&targets).await;

    let ledger = dir.path().join("ledger");
    let output = run_fetch(&fetch_args(&ledger, &tracker, &["--min-slots", "10"])).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let outcome: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(outcome["outcome"], "fetched");
    assert_eq!(outcome["slot"], 250);
    let incremental = best.incremental.clone().unwrap();
    assert_eq!(files_in(&ledger), {
        let mut names = vec![name(&best.full), name(&incremental)];
        names.sort();
        names
    });
    assert!(same_bytes(&ledger.join(name(&best.full)), &best.full));
    assert!(same_bytes(&ledger.join(name(&incremental)), &incremental));

    let output = run_fetch(&fetch_args(&ledger, &tracker, &["--min-slots", "10"])).await;
    assert_eq!(output.status.code(), Some(10), "{}", describe(&output));
    let outcome: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(outcome["outcome"], "up_to_date");
    assert_eq!(outcome["slot"], 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_fetches_only_the_incremental_on_a_local_full() {
    let dir = tempfile::tempdir().unwrap();
    let chain = write_chain(&dir.path().join("store"), 3, 100, Some(900), 200, 256);
    let incremental = chain.incremental.clone().unwrap();
    let served = dir.path().join("served");
    for file in chain.files() {
        copy_into(&file, &served);
    }
    let sidecar = Sidecar::start(dir.path(), &served, 0, &[]).await;
    let tracker = Tracker::start(dir.path(), &tracker_yaml(&[sidecar.target()], 3)).await;
    tracker.wait_for_targets(&[sidecar.target()]).await;

    let ledger = dir.path().join("ledger");
    let local_full = copy_into(&chain.full, &ledger);
    let mut config = FetchConfig::new(ledger.clone());
    config.trackers = vec![tracker.url()];
    let outcome = fetch_best(&config).await.unwrap();
    let FetchOutcome::Fetched(snapshot) = outcome else {
        panic!("expected a fetch, got {outcome:?}");
    };
    assert_eq!(snapshot.slot, 900);
    assert_eq!(snapshot.full, local_full);
    assert_eq!(
        snapshot.incremental.as_deref(),
        Some(ledger.join(name(&incremental)).as_path())
    );
    assert!(snapshot.chain().is_ok());
    // Only the incremental crossed the network.
    let sent = sidecar.metric("snapshot_sidecar_sent_bytes_total").await;
    assert_eq!(sent as u64, std::fs::metadata(&incremental).unwrap().len());

    // Within --min-slots of the local chain: up to date.
    let outcome = fetch_best(&config).await.unwrap();
    assert!(
        matches!(outcome, FetchOutcome::UpToDate(ref s) if s.slot == 900),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_the_sidecar_is_killed_mid_transfer() {
    let dir = tempfile::tempdir().unwrap();
    // About 4.5 MiB of incompressible account data, served at 1 MiB/s.
    let chain = write_chain(&dir.path().join("store"), 5, 700, None, 450, 10 << 10);
    let size = std::fs::metadata(&chain.full).unwrap().len();
    let served = dir.path().join("served");
    copy_into(&chain.full, &served);
    let mut slow = Sidecar::start(dir.path(), &served, 0, &["--max-upload-rate", "1MiB"]).await;
    let port = slow.addr.port();
    let tracker = Tracker::start(dir.path(), &scrape_once_yaml(&[slow.target()])).await;
    tracker.wait_for_targets(&[slow.target()]).await;

    let ledger = dir.path().join("ledger");
    let stdout = dir.path().join("fetch.stdout");
    let stderr = dir.path().join("fetch.stderr");
    let mut fetch = crate::support::Proc {
        child: Command::new(BIN)
            .arg("fetch")
            .args(fetch_args(&ledger, &tracker, &["--resume-attempts", "10"]))
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&stdout).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .spawn()
            .unwrap(),
        log: stderr.clone(),
    };
    wait_for("a mebibyte sent", Duration::from_secs(30), || async {
        slow.metric("snapshot_sidecar_sent_bytes_total").await >= (1u64 << 20) as f64
    })
    .await;
    slow.proc.kill();
    let restarted = Sidecar::start(dir.path(), &served, port, &[]).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = fetch.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "fetch did not finish:\n{}",
            fetch.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0), "{}", fetch.log_text());
    assert!(same_bytes(&ledger.join(name(&chain.full)), &chain.full));
    // The restarted sidecar got a Range request and sent only the rest.
    assert!(
        restarted
            .metric("snapshot_sidecar_range_requests_total")
            .await
            >= 1.0
    );
    let rest = restarted.metric("snapshot_sidecar_sent_bytes_total").await as u64;
    assert!(
        rest > 0 && rest < size,
        "sent {rest} of {size} after the restart"
    );
    assert!(
        std::fs::read_to_string(&stdout)
            .unwrap()
            .contains("\"fetched\"")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_a_second_source() {
    let dir = tempfile::tempdir().unwrap();
    let chain = write_chain(&dir.path().join("store"), 6, 300, None, 50, 128);
    let (mut first, second) = two_ordered_sidecars(dir.path()).await;
    copy_into(&chain.full, &first.ledger);
    copy_into(&chain.full, &second.ledger);
    let targets = vec![first.target(), second.target()];
    let tracker = Tracker::start(dir.path(), &scrape_once_yaml(&targets)).await;
    tracker.wait_for_targets(&targets).await;
    let best = tracker.best(10).await;
    assert_eq!(best[0]["target"], first.target().as_str(), "{best:?}");
    // The tracker still lists the first source, which is gone.
    first.proc.kill();

    let ledger = dir.path().join("ledger");
    let output = run_fetch(&fetch_args(&ledger, &tracker, &["--resume-attempts", "1"])).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("trying the next source") && stderr.contains(&first.target()),
        "{stderr}"
    );
    assert!(same_bytes(&ledger.join(name(&chain.full)), &chain.full));
    assert!(second.metric("snapshot_sidecar_sent_bytes_total").await > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_a_wrong_hash_and_a_corrupt_archive() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let good = write_chain(&store.join("good"), 7, 300, None, 100, 256);
    // Slot 400 named with a hash that is not its state's.
    let real = write_chain(&store.join("wrong"), 8, 400, None, 100, 256);
    let real_name = ArchiveName::from_path(&real.full).unwrap();
    let wrong_name = ArchiveName {
        hash: ArchiveName::from_path(&good.full).unwrap().hash,
        ..real_name
    };
    let wrong_ledger = dir.path().join("ledger-wrong");
    std::fs::create_dir_all(&wrong_ledger).unwrap();
    std::fs::copy(&real.full, wrong_ledger.join(wrong_name.to_string())).unwrap();
    let wrong = Sidecar::start(dir.path(), &wrong_ledger, 0, &[]).await;
    // The source tried first for slot 300 serves a corrupt copy.
    let (first, second) = two_ordered_sidecars(dir.path()).await;
    corrupt(&copy_into(&good.full, &first.ledger));
    copy_into(&good.full, &second.ledger);
    let targets = vec![wrong.target(), first.target(), second.target()];
    let tracker = Tracker::start(dir.path(), &scrape_once_yaml(&targets)).await;
    tracker.wait_for_targets(&targets).await;

    let ledger = dir.path().join("ledger");
    let output = run_fetch(&fetch_args(&ledger, &tracker, &[])).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let outcome: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(outcome["slot"], 300);
    // Only the good archive entered the ledger; nothing staged is left behind.
    assert_eq!(files_in(&ledger), vec![name(&good.full)]);
    assert!(same_bytes(&ledger.join(name(&good.full)), &good.full));
    // Both bad archives were downloaded and refused.
    assert!(wrong.metric("snapshot_sidecar_sent_bytes_total").await > 0.0);
    assert!(first.metric("snapshot_sidecar_sent_bytes_total").await > 0.0);
    // Each refusal is logged once: the wrong hash as the failure of chain 400 (no other
    // source has it), the corrupt copy as a discarded download retried from the next source.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let chain_failed: Vec<_> = stderr
        .lines()
        .filter(|line| line.contains("chain failed; trying the next"))
        .collect();
    assert_eq!(chain_failed.len(), 1, "{stderr}");
    assert!(
        chain_failed[0].contains("slot=400") && chain_failed[0].contains("verification"),
        "{stderr}"
    );
    assert_eq!(
        stderr
            .matches("discarding an archive that does not verify; trying the next source")
            .count(),
        1,
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_cleanly_when_every_source_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let chain = write_chain(&dir.path().join("store"), 9, 300, None, 50, 128);
    let served = dir.path().join("served");
    corrupt(&copy_into(&chain.full, &served));
    let sidecar = Sidecar::start(dir.path(), &served, 0, &[]).await;
    let tracker = Tracker::start(dir.path(), &scrape_once_yaml(&[sidecar.target()])).await;
    tracker.wait_for_targets(&[sidecar.target()]).await;
    let ledger = dir.path().join("ledger");
    // Left behind by a killed fetch: removed.
    std::fs::create_dir_all(ledger.join("tmp-fetch-stale")).unwrap();
    std::fs::write(ledger.join("tmp-fetch-stale").join("junk"), b"junk").unwrap();
    let output = run_fetch(&fetch_args(&ledger, &tracker, &[])).await;
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(files_in(&ledger).is_empty(), "{:?}", files_in(&ledger));
}
