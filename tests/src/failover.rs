//! Failover topologies: simulated validators with a ledger (admin RPC, tower files), their
//! `failover agent`s, and helpers to read what each validator holds and what etcd says.

use {
    crate::{bin, cluster, etcd::Etcd, process::Process},
    anyhow::Context,
    serde_json::Value,
    std::{
        io::{BufRead, BufReader, Write},
        os::unix::net::UnixStream,
        path::{Path, PathBuf},
        process::Command,
        time::Duration,
    },
};

/// Seed shared by the simulators of one cluster: they follow the same chain.
pub const SEED: u64 = 7;

/// Now, in unix milliseconds (a cluster's shared slot clock start).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A validator host: a simulator (its ledger, its identities) and, when started, its agent.
#[derive(Debug)]
pub struct Host {
    pub name: String,
    pub dir: PathBuf,
    pub sim: Option<cluster::Node>,
    pub agent: Option<Process>,
    /// The agent's ready file: {"cluster", "node", "metrics", "adminRpc"}.
    pub agent_ready: Value,
    pub config: PathBuf,
    pub ledger: PathBuf,
    pub admin: PathBuf,
    pub unstaked: String,
}

/// The staked identity's keypair file and pubkey.
#[derive(Debug, Clone)]
pub struct Staked {
    pub path: PathBuf,
    pub pubkey: String,
}

impl Staked {
    pub fn new(dir: &Path) -> Self {
        let (path, pubkey) = cluster::keypair(dir, "staked-identity");
        Self { path, pubkey }
    }
}

/// Agent settings of the tests.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub cluster: String,
    pub lease_ttl_secs: u64,
    /// Extra TOML lines.
    pub extra: String,
}

impl Host {
    /// Creates `<dir>/<name>` with its unstaked identity and plugin identity.
    pub fn new(dir: &Path, name: &str) -> Self {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).expect("host dir");
        let (_, unstaked) = cluster::keypair(&dir, "unstaked-identity");
        let ledger = dir.join("ledger");
        Self {
            name: name.to_string(),
            config: dir.join("failover.toml"),
            admin: ledger.join("admin.rpc"),
            ledger,
            dir,
            sim: None,
            agent: None,
            agent_ready: Value::Null,
            unstaked,
        }
    }

    pub fn unstaked_path(&self) -> PathBuf {
        self.dir.join("unstaked-identity.json")
    }

    /// Starts the simulator holding the unstaked identity, voting with `staked`, its slots
    /// paced from `clock_start_ms` (shared by the cluster's simulators: a restarted one
    /// catches up, as a restarted validator does).
    pub fn start_sim(&mut self, staked: &Staked, slot_ms: u64, clock_start_ms: u64) {
        let plugin = self.dir.join("plugin-identity.json");
        if !plugin.exists() {
            cluster::keypair(&self.dir, "plugin-identity");
        }
        // A fresh delta log: the restarted simulator produces its chain again from genesis.
        let _ = std::fs::remove_dir_all(self.dir.join("plugin-data"));
        let mut command = Command::new(bin::path("replica"));
        command
            .args(["sim", "--replication-bind", "127.0.0.1:0", "--identity"])
            .arg(&plugin)
            .arg("--snapshot-dir")
            .arg(self.dir.join("snapshots"))
            .arg("--plugin-data-dir")
            .arg(self.dir.join("plugin-data"))
            .arg("--ledger")
            .arg(&self.ledger)
            .arg("--validator-identity")
            .arg(&staked.path)
            .arg("--initial-identity")
            .arg(self.unstaked_path())
            .args([
                "--slot-ms",
                &slot_ms.to_string(),
                "--seed",
                &SEED.to_string(),
            ])
            .args(["--transactions-per-slot", "8"])
            .args(["--clock-start-ms", &clock_start_ms.to_string()])
            .env("RUST_LOG", "info");
        let _ = std::fs::remove_file(self.dir.join("sim.ready"));
        let (process, ready) =
            Process::spawn_ready(command, &self.dir, "sim", cluster::READY_TIMEOUT).expect("sim");
        assert_eq!(
            ready["adminRpc"].as_str().map(PathBuf::from),
            Some(self.admin.clone()),
            "{ready}"
        );
        self.sim = Some(cluster::Node {
            process,
            ready,
            dir: self.dir.clone(),
        });
    }

    /// `addr=pubkey` of the simulator's replication endpoint.
    pub fn upstream(&self) -> String {
        self.sim.as_ref().expect("sim running").upstream()
    }

    /// Writes the agent's configuration.
    pub fn write_config(&self, etcd: &Etcd, staked: &Staked, settings: &AgentSettings) {
        let mut text = format!(
            "cluster = \"{}\"\nnode = \"{}\"\netcd_endpoints = [\"{}\"]\nledger = \"{}\"\n\
             staked_identity = \"{}\"\nunstaked_identity = \"{}\"\nlease_ttl_secs = {}\n\
             metrics_bind = \"127.0.0.1:0\"\n",
            settings.cluster,
            self.name,
            etcd.endpoint(),
            self.ledger.display(),
            staked.path.display(),
            self.unstaked_path().display(),
            settings.lease_ttl_secs,
        );
        if let Some(sim) = &self.sim {
            text.push_str(&format!("publish_upstream = \"{}\"\n", sim.upstream()));
        }
        if let Some((certs, client)) = etcd.certs() {
            text.push_str(&format!(
                "etcd_ca = \"{}\"\netcd_cert = \"{}\"\netcd_key = \"{}\"\n",
                certs.ca.display(),
                client.cert.display(),
                client.key.display()
            ));
        }
        text.push_str(&settings.extra);
        std::fs::write(&self.config, text).expect("agent config");
    }

    /// Starts `failover agent` (the configuration must be written).
    pub fn start_agent(&mut self) {
        let mut command = Command::new(bin::path("failover"));
        command
            .arg("agent")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info,failover=debug");
        let _ = std::fs::remove_file(self.dir.join("agent.ready"));
        let (process, ready) =
            Process::spawn_ready(command, &self.dir, "agent", cluster::READY_TIMEOUT)
                .expect("agent");
        self.agent = Some(process);
        self.agent_ready = ready;
    }

    /// The agent's `/metrics` text.
    pub fn metrics(&self) -> String {
        let addr = self.agent_ready["metrics"]
            .as_str()
            .expect("metrics address");
        reqwest::blocking::get(format!("http://{addr}/metrics"))
            .and_then(|response| response.text())
            .expect("metrics")
    }

    /// The identity the simulator holds now (`None` if it does not answer).
    pub fn identity(&self) -> Option<String> {
        validator_identity(&self.admin)
    }

    /// SIGKILLs the agent and the simulator.
    pub fn kill(&mut self) {
        self.agent = None;
        self.sim = None;
    }

    /// Sends `signal` to the agent and the simulator.
    pub fn signal(&self, signal: libc::c_int) {
        for pid in [
            self.agent.as_ref().map(Process::id),
            self.sim.as_ref().map(|sim| sim.process.id()),
        ]
        .into_iter()
        .flatten()
        {
            // SAFETY: kill(2) on our own child's pid has no memory effects.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(pid as libc::pid_t, signal);
            }
        }
    }

    /// Sends `signal` to the agent only.
    pub fn signal_agent(&self, signal: libc::c_int) {
        if let Some(agent) = &self.agent {
            // SAFETY: kill(2) on our own child's pid has no memory effects.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(agent.id() as libc::pid_t, signal);
            }
        }
    }

    pub fn agent_log(&self) -> String {
        self.agent
            .as_ref()
            .map(Process::log_text)
            .unwrap_or_else(|| {
                std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
            })
    }
}

/// `contactInfo`'s `id` over a validator's admin RPC socket (Agave's framing: the request
/// followed by a newline, the reply ended by one).
pub fn validator_identity(socket: &Path) -> Option<String> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"contactInfo\",\"params\":[]}\n")
        .ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    let reply: Value = serde_json::from_str(&line).ok()?;
    reply["result"]["id"].as_str().map(str::to_string)
}

/// `failover <args>`: its exit success, stdout and stderr.
pub fn failover(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(bin::path("failover"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("failover");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `failover status --config <config>` as JSON.
pub fn status(config: &Path) -> anyhow::Result<Value> {
    let path = config.display().to_string();
    let (ok, stdout, stderr) = failover(&["status", "--config", &path]);
    anyhow::ensure!(ok, "failover status failed: {stderr}");
    serde_json::from_str(&stdout).with_context(|| format!("status output {stdout}"))
}

/// The tower record in etcd: (writer node, fencing token, last vote slot).
pub fn etcd_tower(etcd: &Etcd, cluster: &str) -> Option<(String, i64, u64)> {
    let text = etcd.get(&format!("/failover/{cluster}/tower")).ok()??;
    let record: Value = serde_json::from_str(&text).ok()?;
    Some((
        record["node"].as_str()?.to_string(),
        record["fencingToken"].as_i64()?,
        record["lastVoteSlot"].as_u64()?,
    ))
}

/// A stand-in for a validator's JSON-RPC health: `getHealth` answers `"ok"`, or Agave's
/// "Node is unhealthy" error while set unhealthy. One request per connection.
#[derive(Debug)]
pub struct FakeHealth {
    pub url: String,
    healthy: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl FakeHealth {
    pub fn start() -> Self {
        use std::{
            io::Read,
            sync::{
                Arc,
                atomic::{AtomicBool, Ordering},
            },
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let healthy = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (healthy_flag, stop_flag) = (healthy.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then as many body bytes as Content-Length says.
                let complete = loop {
                    let Ok(n) = stream.read(&mut chunk) else {
                        break false;
                    };
                    if n == 0 {
                        break false;
                    }
                    request.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&request);
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|line| {
                                let line = line.to_ascii_lowercase();
                                line.strip_prefix("content-length:")
                                    .and_then(|v| v.trim().parse::<usize>().ok())
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break true;
                        }
                    }
                };
                if !complete {
                    continue;
                }
                let body = if healthy_flag.load(Ordering::Relaxed) {
                    r#"{"jsonrpc":"2.0","result":"ok","id":1}"#.to_string()
                } else {
                    r#"{"jsonrpc":"2.0","error":{"code":-32005,"message":"Node is unhealthy"},"id":1}"#
                        .to_string()
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        Self {
            url,
            healthy,
            stop,
            handle: Some(handle),
        }
    }

    pub fn set_healthy(&self, healthy: bool) {
        self.healthy
            .store(healthy, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for FakeHealth {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
