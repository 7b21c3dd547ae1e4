//! `mirror` against a real S3-compatible server (s3s-fs on loopback): multipart and single
//! uploads with verification, skipping what is there, retention, `latest.json`; then
//! `fetch` with the mirror as its only source.

use {
    crate::support::{
        BIN, Sidecar, Tracker,
        archives::write_chain,
        copy_into, describe, files_in,
        s3::{ACCESS_KEY, REGION, S3Server, SECRET_KEY},
        tracker_yaml, wait_for,
    },
    snapshot_tools::mirror::index::LatestIndex,
    std::{
        path::Path,
        process::{Command, Output, Stdio},
        time::Duration,
    },
};

const BUCKET: &str = "snapshots";
const PREFIX: &str = "mainnet";

async fn run_tool(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .stdin(Stdio::null())
            .output()
            .expect("run snapshot-tools")
    })
    .await
    .unwrap()
}

fn s3_args(s3: &S3Server) -> Vec<String> {
    [
        "--s3-url",
        &s3.endpoint,
        "--s3-bucket",
        BUCKET,
        "--s3-prefix",
        PREFIX,
        "--s3-region",
        REGION,
    ]
    .map(str::to_string)
    .to_vec()
}

async fn mirror_once(s3: &S3Server, tracker: &Tracker) -> serde_json::Value {
    let mut args = vec![
        "mirror".to_string(),
        "--once".into(),
        "--tracker".into(),
        tracker.url(),
    ];
    args.extend(s3_args(s3));
    args.extend(
        [
            "--retain",
            "1",
            "--multipart-threshold",
            "5MiB",
            "--part-size",
            "5MiB",
        ]
        .map(str::to_string),
    );
    let output = run_tool(args).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_str().unwrap().to_string()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    let mut list: Vec<String> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    list.sort();
    list
}

fn sorted(names: &[String]) -> Vec<String> {
    let mut names = names.to_vec();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_uploads_skips_retains_and_indexes() {
    let s3 = S3Server::start(&[BUCKET]);
    let client = s3.client(BUCKET, "mainnet/");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // About 11 MiB of incompressible data: three 5 MiB parts. The incremental is one PUT.
    let first = write_chain(&store.join("first"), 11, 100, Some(150), 1100, 10 << 10);
    let first_incremental = first.incremental.clone().unwrap();
    let served = dir.path().join("served");
    for file in first.files() {
        copy_into(&file, &served);
    }
    let sidecar = Sidecar::start(dir.path(), &served, 0, &[]).await;
    let tracker = Tracker::start(dir.path(), &tracker_yaml(&[sidecar.target()], 3)).await;
    tracker.wait_for_targets(&[sidecar.target()]).await;

    // Round 1: both archives uploaded and verified, latest.json written.
    let report = mirror_once(&s3, &tracker).await;
    assert_eq!(
        strings(&report["uploaded"]),
        sorted(&[name(&first.full), name(&first_incremental)]),
        "{report}"
    );
    assert_eq!(report["latest_slot"], 150);
    assert_eq!(report["latest_written"], true);
    let full_key = format!("mainnet/{}", name(&first.full));
    let head = client.head(&full_key).await.unwrap().unwrap();
    assert_eq!(head.size, std::fs::metadata(&first.full).unwrap().len());
    assert!(
        head.etag.as_deref().unwrap().ends_with("-3"),
        "multipart ETag {head:?}"
    );
    let incremental_key = format!("mainnet/{}", name(&first_incremental));
    let head = client.head(&incremental_key).await.unwrap().unwrap();
    assert!(
        !head.etag.as_deref().unwrap().contains('-'),
        "single-PUT ETag {head:?}"
    );
    // The bytes in the bucket are the archive's.
    let url = client.get_url(&full_key, Duration::from_secs(60));
    let stored = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert!(stored == std::fs::read(&first.full).unwrap());
    let latest: LatestIndex = serde_json::from_slice(
        &client
            .get_small("mainnet/latest.json", 1 << 20)
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!((latest.slot, latest.full_snapshot_slot), (150, 100));
    assert_eq!(latest.incremental_snapshot_slot, Some(150));
    assert!(
        latest.full_snapshot_url.ends_with(&full_key),
        "{}",
        latest.full_snapshot_url
    );
    assert_eq!(latest.status, "completed");
    assert!(latest.timestamp.as_u64().unwrap() > 0);
    assert_eq!(latest.snapshots[0].slot, 150);

    // Round 2: nothing new.
    let report = mirror_once(&s3, &tracker).await;
    assert!(strings(&report["uploaded"]).is_empty(), "{report}");
    assert_eq!(
        strings(&report["skipped"]),
        sorted(&[name(&first.full), name(&first_incremental)])
    );
    assert_eq!(report["latest_written"], false);

    // Round 3: a newer chain; with --retain 1 the old one goes, incremental included.
    let second = write_chain(&store.join("second"), 12, 300, Some(350), 30, 64);
    let second_incremental = second.incremental.clone().unwrap();
    for file in second.files() {
        copy_into(&file, &served);
    }
    wait_for(
        "the tracker to see slot 350",
        Duration::from_secs(30),
        || async {
            tracker
                .best(1)
                .await
                .first()
                .is_some_and(|best| best["slot"] == 350)
        },
    )
    .await;
    let report = mirror_once(&s3, &tracker).await;
    assert_eq!(
        strings(&report["uploaded"]),
        sorted(&[name(&second.full), name(&second_incremental)]),
        "{report}"
    );
    assert_eq!(
        strings(&report["deleted"]),
        sorted(&[name(&first.full), name(&first_incremental)])
    );
    assert_eq!(report["latest_slot"], 350);
    let mut keys: Vec<String> = client
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|object| object.key)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        sorted(&[
            format!("mainnet/{}", name(&second.full)),
            format!("mainnet/{}", name(&second_incremental)),
            "mainnet/latest.json".to_string(),
        ])
    );

    // fetch with the mirror as its only source.
    let ledger = dir.path().join("ledger");
    let mut args = vec![
        "fetch".to_string(),
        "--ledger".into(),
        ledger.display().to_string(),
        "--no-progress".into(),
    ];
    args.extend(s3_args(&s3));
    let output = run_tool(args).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(
        files_in(&ledger),
        sorted(&[name(&second.full), name(&second_incremental)])
    );
    for file in second.files() {
        assert!(std::fs::read(ledger.join(name(&file))).unwrap() == std::fs::read(&file).unwrap());
    }
}
