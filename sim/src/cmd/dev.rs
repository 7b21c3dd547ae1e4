//! `replica dev`: a whole local cluster in one command. A simulated validator (the replication
//! Geyser plugin driven by its simulator) produces slots; a sidecar and a tracker serve the
//! snapshot of its initial state; replica 1 bootstraps through the tracker, follows the
//! simulator and serves JSON-RPC; replica 2 bootstraps the same way and follows replica 1.
//! The simulator and replicas are child processes of this binary; the sidecar and tracker run
//! in this process. Ctrl-C (or SIGTERM) stops everything.

use {
    anyhow::Context,
    common::process::{ChildProcess, StopOnDrop},
    serde::Serialize,
    serde_json::Value,
    snapshot_tools::{sidecar, tracker},
    solana_keypair::Keypair,
    solana_signer::Signer,
    std::{
        fs::File,
        net::SocketAddr,
        path::{Path, PathBuf},
        process::{Command, ExitCode, Stdio},
        time::Duration,
    },
    tokio_util::sync::CancellationToken,
};

const READY_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Working directory, wiped at start (default: <temp dir>/replica-dev).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// JSON-RPC of the first replica.
    #[arg(long, default_value = "127.0.0.1:8899")]
    pub rpc_bind: SocketAddr,
    /// JSON-RPC of the second replica, chained to the first.
    #[arg(long, default_value = "127.0.0.1:8999")]
    pub second_rpc_bind: SocketAddr,
    /// Milliseconds per simulated slot.
    #[arg(long, default_value_t = 400)]
    pub slot_ms: u64,
    /// Seed of the simulation (same seed, same slots and hashes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Written as JSON with every address once the cluster is up; default: none.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DevReady {
    dir: PathBuf,
    simulator: String,
    sidecar: SocketAddr,
    tracker: SocketAddr,
    rpc: Vec<SocketAddr>,
    pubsub: Vec<SocketAddr>,
    metrics: Vec<Option<String>>,
}

/// A child process of the cluster: this binary run with `args`, stdout in `<dir>/<name>.out`,
/// stderr (its log) in `<dir>/<name>.log`; stopped with SIGTERM when dropped.
struct Managed {
    process: ChildProcess,
}

impl Managed {
    fn spawn(name: &'static str, dir: &Path, args: &[String]) -> anyhow::Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(dir.join(format!("{name}.out")))?)
            .stderr(File::create(&log)?);
        let process = ChildProcess::spawn(name, command, &log, StopOnDrop::Terminate(STOP_TIMEOUT))
            .with_context(|| format!("starting the {name}"))?;
        Ok(Self { process })
    }

    fn name(&self) -> &str {
        self.process.name()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.process.exited()
    }

    /// Waits for the child's ready file, failing early if the child exits or on a signal.
    fn wait_ready(&mut self, path: &Path, cancel: &CancellationToken) -> anyhow::Result<Value> {
        Ok(self
            .process
            .wait_ready(path, READY_TIMEOUT, || cancel.is_cancelled())?)
    }

    fn stop(&mut self) {
        if !self.process.stop(STOP_TIMEOUT) {
            tracing::warn!(process = self.name(), "did not stop in time; killed it");
        }
    }
}

/// Writes a new keypair file; returns its public key.
fn keypair_file(path: &Path) -> anyhow::Result<String> {
    let keypair = Keypair::new();
    std::fs::write(path, serde_json::to_string(&keypair.to_bytes().to_vec())?)?;
    Ok(keypair.pubkey().to_string())
}

fn field(value: &Value, key: &str) -> anyhow::Result<String> {
    value[key]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("ready file without `{key}`"))
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

/// Fails, naming the flag, if `addr` cannot be bound now.
fn check_free(addr: SocketAddr, flag: &str) -> anyhow::Result<()> {
    std::net::TcpListener::bind(addr)
        .map(drop)
        .with_context(|| {
            format!("{addr} is not free (another `replica dev`?); choose another with {flag}")
        })
}

/// The running cluster.
struct Cluster {
    sim: Managed,
    replica_1: Managed,
    replica_2: Managed,
    sidecar: sidecar::SidecarHandle,
    tracker: tracker::TrackerHandle,
}

pub fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    // Ports first: a taken port fails at once, before anything starts.
    check_free(args.rpc_bind, "--rpc-bind")?;
    check_free(args.second_rpc_bind, "--second-rpc-bind")?;
    // Each replica's PubSub listens on its JSON-RPC port + 1, as Agave's does.
    for (rpc, flag) in [
        (args.rpc_bind, "--rpc-bind"),
        (args.second_rpc_bind, "--second-rpc-bind"),
    ] {
        if rpc.port() != 0 {
            let mut pubsub = rpc;
            pubsub.set_port(rpc.port().saturating_add(1));
            check_free(pubsub, flag)?;
        }
    }
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("replica-dev"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("replica-dev")
        .build()?;
    let cancel = runtime.block_on(async { common::shutdown::token_on_signal() });
    let mut cluster = match start(&args, &dir, &runtime, &cancel) {
        Ok(cluster) => cluster,
        // A signal during start-up: what started is stopped (dropped), quietly.
        Err(_) if cancel.is_cancelled() => {
            println!("stopped; logs and state are in {}", dir.display());
            return Ok(ExitCode::SUCCESS);
        }
        Err(error) => return Err(error),
    };

    // Run until a signal, or until a child stops on its own.
    let stopped = runtime.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tick.tick() => {
                    for managed in [&mut cluster.sim, &mut cluster.replica_1, &mut cluster.replica_2] {
                        if let Some(status) = managed.exited() {
                            let name = managed.name().to_string();
                            return Some((name, status, managed.process.log_path().to_path_buf()));
                        }
                    }
                }
            }
        }
    });
    println!("stopping...");
    cancel.cancel();
    let Cluster {
        mut sim,
        mut replica_1,
        mut replica_2,
        sidecar,
        tracker,
    } = cluster;
    for managed in [&mut replica_2, &mut replica_1, &mut sim] {
        managed.stop();
    }
    runtime.block_on(async {
        let _ = tokio::time::timeout(STOP_TIMEOUT, async {
            let _ = sidecar.join().await;
            let _ = tracker.join().await;
        })
        .await;
    });
    match stopped {
        None => {
            println!("stopped; logs and state are in {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Some((name, status, log)) => {
            eprintln!(
                "the {name} stopped unexpectedly ({status}); see {}",
                log.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Starts the cluster in order: the simulator, the sidecar and tracker (once the simulator's
/// archive exists), replica 1, then replica 2. On an error (or a signal) what started is
/// stopped as it is dropped.
fn start(
    args: &DevArgs,
    dir: &Path,
    runtime: &tokio::runtime::Runtime,
    cancel: &CancellationToken,
) -> anyhow::Result<Cluster> {
    let mut identities = Vec::new();
    for name in ["sim", "replica-1", "replica-2"] {
        identities.push(keypair_file(&dir.join(format!("{name}-identity.json")))?);
    }
    let [_, replica_1_identity, replica_2_identity] = &identities[..] else {
        unreachable!("three identities")
    };

    println!("starting the simulated validator...");
    let sim_snapshots = dir.join("sim-snapshots");
    let mut sim = Managed::spawn(
        "simulator",
        dir,
        &[
            "sim".into(),
            "--replication-bind".into(),
            "127.0.0.1:0".into(),
            "--identity".into(),
            s(&dir.join("sim-identity.json")),
            "--allowed-replica".into(),
            replica_1_identity.clone(),
            "--snapshot-dir".into(),
            s(&sim_snapshots),
            "--slot-ms".into(),
            args.slot_ms.to_string(),
            "--seed".into(),
            args.seed.to_string(),
            "--ready-file".into(),
            s(&dir.join("sim.ready")),
        ],
    )?;
    let sim_ready = sim.wait_ready(&dir.join("sim.ready"), cancel)?;
    let simulator = format!(
        "{}={}",
        field(&sim_ready, "replication")?,
        field(&sim_ready, "identity")?
    );

    let registry = prometheus::Registry::new();
    // Replica 1 writes its own archives here; the sidecar serves them too.
    let replica_1_snapshots = dir.join("replica-1").join("snapshots");
    std::fs::create_dir_all(&replica_1_snapshots)?;
    let (sidecar, tracker) = runtime.block_on(async {
        let sidecar = sidecar::spawn(
            sidecar::SidecarConfig {
                archive_dirs: vec![sim_snapshots.clone(), replica_1_snapshots.clone()],
                listen: vec!["127.0.0.1:0".parse().expect("address")],
                max_upload_rate: None,
            },
            &registry,
            cancel.clone(),
        )
        .await?;
        let tracker_config = dir.join("tracker.yaml");
        std::fs::write(
            &tracker_config,
            format!(
                "scrape_interval: 1s\ntarget_groups:\n  - group: dev\n    scheme: http\n    static_targets:\n      targets: [\"{}\"]\n",
                sidecar.addrs[0]
            ),
        )?;
        let tracker = tracker::Tracker::start(tracker_config, &registry, cancel.clone()).await?;
        let handle = tracker::serve(tracker, registry.clone(), "127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?, cancel.clone()).await?;
        anyhow::Ok((sidecar, handle))
    })?;
    let tracker_url = format!("http://{}", tracker.listen);

    println!("starting replica 1 (bootstraps through the tracker, follows the simulator)...");
    let replica_args =
        |name: &str, upstream: &str, rpc: SocketAddr, extra: &[&str]| -> Vec<String> {
            let mut args: Vec<String> = vec![
                "run".into(),
                "--ledger".into(),
                s(&dir.join(name)),
                "--identity".into(),
                s(&dir.join(format!("{name}-identity.json"))),
                "--tracker".into(),
                tracker_url.clone(),
                "--upstream".into(),
                upstream.into(),
                "--rpc-bind".into(),
                rpc.to_string(),
                "--metrics-bind".into(),
                "127.0.0.1:0".into(),
                "--ready-file".into(),
                s(&dir.join(format!("{name}.ready"))),
            ];
            args.extend(extra.iter().map(|arg| arg.to_string()));
            args
        };
    let mut replica_1 = Managed::spawn(
        "replica-1",
        dir,
        &replica_args(
            "replica-1",
            &simulator,
            args.rpc_bind,
            &[
                "--replication-bind",
                "127.0.0.1:0",
                "--allowed-replica",
                replica_2_identity,
                "--snapshot-interval-slots",
                "100",
            ],
        ),
    )?;
    let ready_1 = replica_1.wait_ready(&dir.join("replica-1.ready"), cancel)?;
    let upstream_1 = format!(
        "{}={}",
        field(&ready_1, "replication")?,
        field(&ready_1, "identity")?
    );

    println!("starting replica 2 (bootstraps through the tracker, follows replica 1)...");
    let mut replica_2 = Managed::spawn(
        "replica-2",
        dir,
        &replica_args("replica-2", &upstream_1, args.second_rpc_bind, &[]),
    )?;
    let ready_2 = replica_2.wait_ready(&dir.join("replica-2.ready"), cancel)?;

    let rpc_1 = field(&ready_1, "rpc")?;
    let rpc_2 = field(&ready_2, "rpc")?;
    let pubsub_1 = field(&ready_1, "pubsub")?;
    let pubsub_2 = field(&ready_2, "pubsub")?;
    if let Some(path) = &args.ready_file {
        common::ready::write(
            path,
            &DevReady {
                dir: dir.to_path_buf(),
                simulator: simulator.clone(),
                sidecar: sidecar.addrs[0],
                tracker: tracker.listen,
                rpc: vec![rpc_1.parse()?, rpc_2.parse()?],
                pubsub: vec![pubsub_1.parse()?, pubsub_2.parse()?],
                metrics: vec![
                    ready_1["metrics"].as_str().map(str::to_string),
                    ready_2["metrics"].as_str().map(str::to_string),
                ],
            },
        )?;
    }
    print_guide(
        dir,
        &simulator,
        &sidecar.addrs[0],
        &tracker_url,
        [&rpc_1, &rpc_2],
        [&pubsub_1, &pubsub_2],
    );
    Ok(Cluster {
        sim,
        replica_1,
        replica_2,
        sidecar,
        tracker,
    })
}

fn print_guide(
    dir: &Path,
    simulator: &str,
    sidecar: &SocketAddr,
    tracker: &str,
    [rpc_1, rpc_2]: [&str; 2],
    [pubsub_1, pubsub_2]: [&str; 2],
) {
    println!(
        r#"
local replica cluster is up
  simulated validator (replication)   {simulator}
  snapshot sidecar                     http://{sidecar}/v1/snapshots
  snapshot tracker                     {tracker}/v1/best_snapshots
  replica 1 JSON-RPC                   http://{rpc_1}   (follows the simulator)
  replica 2 JSON-RPC                   http://{rpc_2}   (follows replica 1)
  replica 1 PubSub (WebSocket)         ws://{pubsub_1}
  replica 2 PubSub (WebSocket)         ws://{pubsub_2}
  logs and state                       {}

try:
  curl -s http://{rpc_1}/health
  curl -s http://{rpc_1} -H 'Content-Type: application/json' -d '{{"jsonrpc":"2.0","id":1,"method":"getReplicaStatus"}}'
  curl -s http://{rpc_2} -H 'Content-Type: application/json' -d '{{"jsonrpc":"2.0","id":1,"method":"getSlot","params":[{{"commitment":"confirmed"}}]}}'
  curl -s http://{rpc_1} -H 'Content-Type: application/json' -d '{{"jsonrpc":"2.0","id":1,"method":"getAccountInfo","params":["SysvarC1ock11111111111111111111111111111111",{{"encoding":"jsonParsed"}}]}}'
  curl -s http://{rpc_1} -H 'Content-Type: application/json' -d '{{"jsonrpc":"2.0","id":1,"method":"getProgramAccounts","params":["Vote111111111111111111111111111111111111111",{{"encoding":"base64","dataSlice":{{"offset":0,"length":0}}}}]}}'
  solana --url http://{rpc_1} slot --commitment confirmed
  solana --url http://{rpc_1} account SysvarC1ock11111111111111111111111111111111
  solana --url http://{rpc_2} epoch-info
press Ctrl-C to stop everything"#,
        dir.display()
    );
}
