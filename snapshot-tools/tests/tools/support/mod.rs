//! Helpers: child processes that die with the test, ready files, metrics, archives.

pub(crate) mod archives;
pub(crate) mod s3;

use std::{
    fs::File,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_snapshot-tools");
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A child process killed and reaped when dropped.
#[derive(Debug)]
pub(crate) struct Proc {
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Proc {
    pub(crate) fn spawn(command: &mut Command, log: PathBuf) -> Self {
        let file = File::create(&log).expect("create a log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn a child process");
        Self { child, log }
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits for `path` to hold JSON, failing early if `proc` exits.
pub(crate) async fn wait_ready(path: &Path, proc: &mut Proc) -> serde_json::Value {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(value) = serde_json::from_str(&text)
        {
            return value;
        }
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!(
                "process exited with {status} before ready:\n{}",
                proc.log_text()
            );
        }
        assert!(
            Instant::now() < deadline,
            "not ready in time:\n{}",
            proc.log_text()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
pub(crate) async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A metric's value from a `/metrics` page (summed over label sets), or 0.
/// GET `url` and decode its JSON body.
pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> T {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub(crate) async fn metric(base_url: &str, name: &str) -> f64 {
    let Ok(response) = client().get(format!("{base_url}/metrics")).send().await else {
        return 0.0;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with([' ', '{']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[derive(Debug)]
pub(crate) struct Sidecar {
    pub(crate) proc: Proc,
    pub(crate) addr: SocketAddr,
    pub(crate) ledger: PathBuf,
}

impl Sidecar {
    pub(crate) async fn start(dir: &Path, ledger: &Path, port: u16, extra: &[&str]) -> Self {
        let ready = dir.join(format!("sidecar-{}.ready", unique()));
        let mut proc = Proc::spawn(
            Command::new(BIN)
                .args([
                    "sidecar",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                ])
                .arg("--ledger")
                .arg(ledger)
                .arg("--ready-file")
                .arg(&ready)
                .args(extra),
            ready.with_extension("log"),
        );
        let value = wait_ready(&ready, &mut proc).await;
        let addr = value["listen"][0].as_str().unwrap().parse().unwrap();
        Self {
            proc,
            addr,
            ledger: ledger.to_path_buf(),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn target(&self) -> String {
        self.addr.to_string()
    }

    pub(crate) async fn metric(&self, name: &str) -> f64 {
        metric(&self.url(), name).await
    }
}

#[derive(Debug)]
pub(crate) struct Tracker {
    /// Kept alive for as long as the tracker is used.
    _proc: Proc,
    pub(crate) addr: SocketAddr,
    pub(crate) internal_addr: SocketAddr,
    pub(crate) config: PathBuf,
}

/// A tracker config scraping `targets` statically every 100 ms.
pub(crate) fn tracker_yaml(targets: &[String], max_failed_scrapes: u32) -> String {
    let list: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    format!(
        "scrape_interval: 100ms\nscrape_timeout: 2s\nmax_failed_scrapes: {max_failed_scrapes}\n\
         target_groups:\n  - group: test\n    static_targets: {{targets: [{}]}}\n",
        list.join(", ")
    )
}

impl Tracker {
    pub(crate) async fn start(dir: &Path, yaml: &str) -> Self {
        let id = unique();
        let config = dir.join(format!("tracker-{id}.yaml"));
        std::fs::write(&config, yaml).unwrap();
        let ready = dir.join(format!("tracker-{id}.ready"));
        let mut proc = Proc::spawn(
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
                .arg(&ready),
            ready.with_extension("log"),
        );
        let value = wait_ready(&ready, &mut proc).await;
        Self {
            _proc: proc,
            addr: value["listen"].as_str().unwrap().parse().unwrap(),
            internal_addr: value["internal_listen"].as_str().unwrap().parse().unwrap(),
            config,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) async fn best(&self, max: usize) -> Vec<serde_json::Value> {
        get_json(&format!("{}/v1/best_snapshots?max={max}", self.url())).await
    }

    /// Waits until the best snapshots come from exactly these targets (any order).
    pub(crate) async fn wait_for_targets(&self, targets: &[String]) {
        let mut wanted: Vec<String> = targets.to_vec();
        wanted.sort();
        wanted.dedup();
        wait_for("the tracker's targets", Duration::from_secs(30), || async {
            let mut seen: Vec<String> = self
                .best(100)
                .await
                .iter()
                .map(|entry| entry["target"].as_str().unwrap().to_string())
                .collect();
            seen.sort();
            seen.dedup();
            seen == wanted
        })
        .await;
    }
}

/// Runs `snapshot-tools fetch` to completion.
pub(crate) async fn run_fetch(args: &[String]) -> Output {
    let args = args.to_vec();
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .arg("fetch")
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run fetch")
    })
    .await
    .unwrap()
}

pub(crate) fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub(crate) fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Names of the entries in `dir` (not recursive), sorted; fetch's lock file aside.
pub(crate) fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "tmp-fetch.lock")
        .collect();
    names.sort();
    names
}

pub(crate) fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/agave-3slot")
}

pub(crate) fn fixture(prefix: &str) -> PathBuf {
    std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(prefix)
        })
        .unwrap_or_else(|| panic!("no fixture {prefix}*"))
}

/// Copies `file` into `dir` under its own name.
pub(crate) fn copy_into(file: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let destination = dir.join(file.file_name().unwrap());
    std::fs::copy(file, &destination).unwrap();
    destination
}
