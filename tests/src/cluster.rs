//! Multi-process topologies for the replication and logistics scenarios: the simulated
//! validator, replicas following upstreams, sidecars and trackers, each a child process with a
//! ready file, killed on drop.

use {
    crate::{bin, process::Process, rpc::RpcClient},
    serde_json::Value,
    std::{
        path::{Path, PathBuf},
        process::Command,
        time::{Duration, Instant},
    },
};

pub const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// A child process and what its ready file said.
#[derive(Debug)]
pub struct Node {
    pub process: Process,
    pub ready: Value,
    pub dir: PathBuf,
}

impl Node {
    pub fn field(&self, key: &str) -> String {
        self.ready[key]
            .as_str()
            .unwrap_or_else(|| panic!("ready file without {key}: {}", self.ready))
            .to_string()
    }

    /// `addr=pubkey` of its replication endpoint.
    pub fn upstream(&self) -> String {
        format!("{}={}", self.field("replication"), self.field("identity"))
    }

    /// Its JSON-RPC client, at the address of its newest ready file (a replica that bootstraps
    /// again in-process binds its listeners anew).
    pub fn rpc(&self) -> RpcClient {
        let ready =
            std::fs::read_to_string(self.dir.join(format!("{}.ready", self.process.name())))
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok())
                .unwrap_or_else(|| self.ready.clone());
        RpcClient::new(&format!(
            "http://{}/",
            ready["rpc"]
                .as_str()
                .expect("ready file with an rpc address")
        ))
    }

    pub fn log(&self) -> String {
        self.process.log_text()
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(self) {
        drop(self.process);
    }

    /// Sends `signal` (e.g. `libc::SIGSTOP`, `libc::SIGCONT`) to the process.
    pub fn signal(&mut self, signal: libc::c_int) {
        self.process.signal(signal);
    }

    /// The `/health` body, or `None` if it does not answer.
    pub fn health(&self) -> Option<String> {
        let client = self.rpc();
        let url = format!("{}health", client.url());
        client.http().get(url).send().ok()?.text().ok()
    }
}

/// Writes a new Solana keypair file with `replica keygen`; returns its path and public key.
pub fn keypair(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(format!("{name}.json"));
    let output = Command::new(bin::path("replica"))
        .args(["keygen", "--outfile"])
        .arg(&path)
        .output()
        .expect("replica keygen");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        path,
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
    )
}

/// `replica sim` producing `slots` slots every `slot_ms` (then serving until killed).
pub fn sim(dir: &Path, slots: u64, slot_ms: u64, extra: &[&str]) -> Node {
    let (identity, _) = keypair(dir, "sim-identity");
    let mut command = Command::new(bin::path("replica"));
    command
        .args(["sim", "--replication-bind", "127.0.0.1:0", "--identity"])
        .arg(identity)
        .arg("--snapshot-dir")
        .arg(dir.join("sim-snapshots"))
        .args([
            "--slots",
            &slots.to_string(),
            "--slot-ms",
            &slot_ms.to_string(),
            "--seed",
            "7",
        ])
        .args(extra)
        .env("RUST_LOG", "info");
    let (process, ready) = Process::spawn_ready(command, dir, "sim", READY_TIMEOUT).expect("sim");
    Node {
        process,
        ready,
        dir: dir.to_path_buf(),
    }
}

/// `replica run` in `<dir>/<name>` with RPC on port 0 and the given arguments.
pub fn replica(dir: &Path, name: &str, args: &[&str]) -> Node {
    replica_with_env(dir, name, args, &[])
}

/// `replica run` in `<dir>/<name>` bootstrapping from `sim`'s archive and following it, with
/// `extra` arguments.
pub fn sim_follower(dir: &Path, name: &str, sim: &Node, extra: &[&str]) -> Node {
    let snapshot = path_arg(&sim_snapshot(sim));
    let upstream = sim.upstream();
    let mut args = vec!["--snapshot", &snapshot, "--upstream", &upstream];
    args.extend_from_slice(extra);
    replica(dir, name, &args)
}

/// [`replica`] with environment variables set (e.g. S3 credentials).
pub fn replica_with_env(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Node {
    let node_dir = dir.join(name);
    std::fs::create_dir_all(&node_dir).unwrap();
    let identity = node_dir.join("identity.json");
    if !identity.exists() {
        let output = Command::new(bin::path("replica"))
            .args(["keygen", "--outfile"])
            .arg(&identity)
            .output()
            .unwrap();
        assert!(output.status.success());
    }
    let mut command = Command::new(bin::path("replica"));
    command
        .args(["run", "--ledger"])
        .arg(node_dir.join("ledger"))
        .arg("--identity")
        .arg(&identity)
        .args(["--rpc-bind", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "info");
    // A restart reuses the directory: remove the old ready file first.
    let _ = std::fs::remove_file(node_dir.join(format!("{name}.ready")));
    let (process, ready) =
        Process::spawn_ready(command, &node_dir, name, READY_TIMEOUT).expect(name);
    Node {
        process,
        ready,
        dir: node_dir,
    }
}

/// `snapshot-tools sidecar` over `dirs`.
pub fn sidecar(dir: &Path, name: &str, archives: &Path) -> Node {
    let mut command = Command::new(bin::path("snapshot-tools"));
    command
        .args(["sidecar", "--bind", "127.0.0.1", "--port", "0", "--ledger"])
        .arg(archives);
    let (process, ready) =
        Process::spawn_ready(command, dir, name, READY_TIMEOUT).expect("sidecar");
    Node {
        process,
        ready,
        dir: dir.to_path_buf(),
    }
}

/// `snapshot-tools tracker` scraping `targets` every second; returns the node and its URL.
pub fn tracker(dir: &Path, targets: &[String]) -> (Node, String) {
    let config = dir.join("tracker.yaml");
    let list = targets
        .iter()
        .map(|target| format!("\"{target}\""))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(&config, format!("scrape_interval: 1s\ntarget_groups:\n  - group: test\n    scheme: http\n    static_targets: {{targets: [{list}]}}\n")).unwrap();
    let mut command = Command::new(bin::path("snapshot-tools"));
    command
        .args([
            "tracker",
            "--listen",
            "127.0.0.1:0",
            "--internal-listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&config);
    let (process, ready) =
        Process::spawn_ready(command, dir, "tracker", READY_TIMEOUT).expect("tracker");
    let url = format!(
        "http://{}",
        ready["listen"].as_str().expect("tracker listen address")
    );
    (
        Node {
            process,
            ready,
            dir: dir.to_path_buf(),
        },
        url,
    )
}

/// The sidecar's first listen address.
pub fn sidecar_addr(node: &Node) -> String {
    node.ready["listen"][0]
        .as_str()
        .expect("sidecar listen address")
        .to_string()
}

/// `rooted <slot> <hash>` lines the simulator printed so far.
pub fn rooted(sim: &Node) -> Vec<(u64, String)> {
    sim.log()
        .lines()
        .filter_map(|line| {
            let mut parts = line.strip_prefix("rooted ")?.split_whitespace();
            Some((parts.next()?.parse().ok()?, parts.next()?.to_string()))
        })
        .collect()
}

/// Waits until `done` returns `Some`, checking every 50 ms.
pub fn wait_for<T>(what: &str, timeout: Duration, mut done: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = done() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The simulator's last rooted slot and hash, once it is done producing slots.
pub fn sim_finished(sim: &Node) -> (u64, String) {
    wait_for("the simulator to finish", Duration::from_secs(300), || {
        sim.log().contains("done producing slots").then_some(())
    });
    rooted(sim)
        .into_iter()
        .next_back()
        .expect("the simulator rooted slots")
}

/// `getReplicaStatus` of a node, or `None` if it does not answer (yet).
pub fn status(node: &Node) -> Option<Value> {
    let client = node.rpc();
    let response = client
        .http()
        .post(client.url())
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"getReplicaStatus"}"#)
        .send()
        .ok()?;
    let body: Value = response.json().ok()?;
    body.get("result").cloned()
}

/// Waits until the node's root reaches `slot`, then returns its `accountsLtHash` there.
pub fn root_hash_at(node: &Node, slot: u64) -> String {
    wait_for(
        &format!("root slot {slot} on {}", node.process.name()),
        Duration::from_secs(180),
        || {
            let status = status(node)?;
            (status["rootSlot"].as_u64()? >= slot)
                .then(|| status["accountsLtHash"].as_str().map(str::to_string))
                .flatten()
        },
    )
}

/// The snapshot archive the simulator wrote of its initial state.
pub fn sim_snapshot(sim: &Node) -> PathBuf {
    PathBuf::from(sim.field("snapshot"))
}

pub fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// The simulator's full hash list as a map.
pub fn rooted_map(sim: &Node) -> std::collections::BTreeMap<u64, String> {
    rooted(sim).into_iter().collect()
}
