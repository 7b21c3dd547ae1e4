//! Download throughput of `fetch` against `curl` of the same file, in the same run, on
//! loopback, from the same sidecar (release build):
//!
//! ```text
//! cargo bench -p snapshot-tools --bench fetch_throughput
//! FETCH_BENCH_MIB=2048 FETCH_BENCH_ROUNDS=5 cargo bench -p snapshot-tools --bench fetch_throughput
//! ```
//!
//! Measured per round, in alternating order: `curl -o`, `curl -o` then `sync <file>` (fetch
//! fsyncs before its rename, curl does not), the library's `download` (the transfer path of
//! `fetch`, fsync included), and the whole `snapshot-tools fetch --skip-hash-verify` command
//! (tracker query, download, fsync, rename). The archive is random bytes behind a zstd
//! magic, so the sidecar lists it; the hash check is skipped since it is not a real archive.
//! Each output file is deleted and the page cache's dirty pages flushed (`sync`, untimed)
//! between measurements, so that no run pays for the previous one's writeback.

use {
    snapshot_tools::fetch::download::{DownloadOptions, download},
    std::{
        io::Write,
        path::{Path, PathBuf},
        process::{Child, Command, Stdio},
        time::{Duration, Instant},
    },
};

const BIN: &str = env!("CARGO_BIN_EXE_snapshot-tools");
const NAME: &str = "snapshot-1-28uuGLSjbsLD59sj9bz76cpCtNeJncYMAEHZf5UqQqQj.tar.zst";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn wait_ready(path: &Path) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(value) = serde_json::from_str(&text)
        {
            return value;
        }
        assert!(Instant::now() < deadline, "{} not ready", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn write_archive(path: &Path, mib: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut chunk = vec![0u8; 1 << 20];
    let mut xof = blake3::Hasher::new().update(b"bench").finalize_xof();
    for index in 0..mib {
        xof.fill(&mut chunk);
        if index == 0 {
            chunk[..4].copy_from_slice(&[0x28, 0xb5, 0x2f, 0xfd]);
        }
        file.write_all(&chunk).unwrap();
    }
    file.flush().unwrap();
}

/// Every measurement starts with no dirty pages: otherwise whoever runs after a transfer
/// that did not fsync (curl) pays for its writeback through the kernel's dirty throttling.
fn settle() {
    assert!(Command::new("sync").status().unwrap().success());
}

fn mib_per_second(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let mib = env_number("FETCH_BENCH_MIB", 1024);
    let rounds = env_number("FETCH_BENCH_ROUNDS", 3).max(1);
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    write_archive(&served.join(NAME), mib);
    let bytes = mib << 20;

    let ready = dir.path().join("sidecar.ready");
    let _sidecar = Killed(
        Command::new(BIN)
            .args(["sidecar", "--bind", "127.0.0.1", "--port", "0"])
            .arg("--ledger")
            .arg(&served)
            .arg("--ready-file")
            .arg(&ready)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let sidecar = wait_ready(&ready)["listen"][0]
        .as_str()
        .unwrap()
        .to_string();
    let config = dir.path().join("tracker.yaml");
    std::fs::write(
        &config,
        format!("scrape_interval: 1h\ntarget_groups:\n  - group: bench\n    static_targets: {{targets: [\"{sidecar}\"]}}\n"),
    )
    .unwrap();
    let ready = dir.path().join("tracker.ready");
    let _tracker = Killed(
        Command::new(BIN)
            .args([
                "tracker",
                "--listen",
                "127.0.0.1:0",
                "--internal-listen",
                "127.0.0.1:0",
            ])
            .arg("--config")
            .arg(&config)
            .arg("--ready-file")
            .arg(&ready)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let tracker = format!("http://{}", wait_ready(&ready)["listen"].as_str().unwrap());
    let url = format!("http://{sidecar}/v1/snapshot/{NAME}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let best: Vec<serde_json::Value> = reqwest::get(format!("{tracker}/v1/best_snapshots"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if !best.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the tracker never scraped the sidecar"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });

    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let curl = |sync: bool| -> Duration {
        let target = out.join("curl.out");
        let started = Instant::now();
        let status = Command::new("curl")
            .args(["-s", "-f", "-o"])
            .arg(&target)
            .arg(&url)
            .status()
            .expect("curl is installed");
        assert!(status.success());
        if sync {
            assert!(
                Command::new("sync")
                    .arg(&target)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let elapsed = started.elapsed();
        assert_eq!(std::fs::metadata(&target).unwrap().len(), bytes);
        std::fs::remove_file(&target).unwrap();
        settle();
        elapsed
    };
    let library = || -> Duration {
        let target = out.join("library.out");
        let client = reqwest::Client::new();
        let parsed: reqwest::Url = url.parse().unwrap();
        let options = DownloadOptions {
            request_timeout: Duration::from_secs(10),
            resume_attempts: 5,
            deadline: tokio::time::Instant::now() + Duration::from_secs(3600),
        };
        let started = Instant::now();
        let done = runtime
            .block_on(download(
                &client,
                &|| Ok(parsed.clone()),
                &target,
                None,
                &options,
                &indicatif::ProgressBar::hidden(),
            ))
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(done.bytes, bytes);
        std::fs::remove_file(&target).unwrap();
        settle();
        elapsed
    };
    let command = |round: u64| -> Duration {
        let ledger: PathBuf = out.join(format!("ledger-{round}"));
        let started = Instant::now();
        let output = Command::new(BIN)
            .arg("fetch")
            .arg("--ledger")
            .arg(&ledger)
            .args(["--tracker", &tracker, "--skip-hash-verify", "--no-progress"])
            .args(["--min-slots", "0"])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(output.status.code(), Some(0), "fetch failed");
        assert_eq!(std::fs::metadata(ledger.join(NAME)).unwrap().len(), bytes);
        std::fs::remove_dir_all(&ledger).unwrap();
        settle();
        elapsed
    };

    // One warm-up pass puts the served file in the page cache for everyone.
    curl(false);
    let (mut curl_plain, mut curl_synced, mut lib, mut cli) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let mut run = |which: u64| match which {
            0 => curl_plain.push(mib_per_second(bytes, curl(false))),
            1 => lib.push(mib_per_second(bytes, library())),
            2 => curl_synced.push(mib_per_second(bytes, curl(true))),
            _ => cli.push(mib_per_second(bytes, command(round))),
        };
        for offset in 0..4 {
            run((round + offset) % 4);
        }
    }
    let show = |values: &[f64]| {
        values
            .iter()
            .map(|value| format!("{value:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "samples (MiB/s): curl [{}] curl+sync [{}] download() [{}] fetch [{}]",
        show(&curl_plain),
        show(&curl_synced),
        show(&lib),
        show(&cli)
    );
    let curl_plain = median(&mut curl_plain);
    let curl_synced = median(&mut curl_synced);
    let lib = median(&mut lib);
    let cli = median(&mut cli);
    println!("fetch_throughput: {mib} MiB over loopback, median of {rounds} rounds");
    println!("  curl -o                         {curl_plain:>8.0} MiB/s");
    println!("  curl -o && sync FILE            {curl_synced:>8.0} MiB/s");
    println!(
        "  fetch download() (fsync)        {lib:>8.0} MiB/s  {:>5.1} % of curl, {:>5.1} % of curl+sync",
        100.0 * lib / curl_plain,
        100.0 * lib / curl_synced
    );
    println!(
        "  snapshot-tools fetch (fsync)    {cli:>8.0} MiB/s  {:>5.1} % of curl, {:>5.1} % of curl+sync",
        100.0 * cli / curl_plain,
        100.0 * cli / curl_synced
    );
}
