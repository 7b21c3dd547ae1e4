//! `replica sim`: a simulated validator with the replication plugin running in-process.
//!
//! Writes a genuine-format full snapshot archive of the simulator's initial state into
//! `--snapshot-dir`, starts the plugin's replication server on `--replication-bind`, then
//! produces a slot every `--slot-ms`, printing `rooted <slot> <accountsLtHash>` on stdout for each
//! rooted slot (the base58 blake3 checksum of the full-state accounts lattice hash; the same
//! value is served in each slot trailer). After `--slots N` it prints `produced <N> slots <W>
//! account writes` on stderr, W being the account records of those N main-chain slots (each
//! account a slot wrote counted once, sysvars included: what the replication stream carries for
//! them), then stops producing but keeps serving until Ctrl-C or SIGTERM, so replicas can catch
//! up. Logs go to stderr.
//!
//! `--accounts N` adds N bulk accounts to the initial state (and so to the archive): ~30 %
//! system wallets, ~60 % SPL Token and Token-2022 accounts with their mints (one per thousand
//! accounts, a few holding most accounts) and the vaults of DEX-like pools, ~10 % accounts of
//! the simulator's program (the pools' states among them). `--transactions-per-slot` then
//! counts mainnet-like transactions picked at random over them — token transfers, swaps through
//! one or two pools, SOL transfers, program calls, mints, new token accounts —, each writing
//! mostly accounts no other transaction of its slot writes (over four on average with a million
//! accounts; hot pools make it fewer with few accounts), so slots carry tens of thousands of
//! distinct account writes. Without it, the small fixed state and its conformance workload,
//! unchanged.
//!
//! With no `--allowed-replica`, any replica that proves an identity may connect (a warning is
//! logged): convenient for local development, never for a real plugin.
//!
//! With `--ledger`, it also behaves as a validator towards `failover`: Agave's admin RPC subset
//! on `<ledger>/admin.rpc` (`contactInfo`, `setIdentity`, `setIdentityFromBytes` with
//! `require_tower`), and while it holds `--validator-identity` (the staked identity it votes
//! with) it votes on each slot and saves its tower as `<ledger>/tower-1_9-<identity>.bin`. It
//! starts holding `--initial-identity` (a secondary's unstaked identity), by default the
//! validator identity. `--identity` stays the plugin's replication identity, which no identity
//! switch changes, and the chain stays determined by `--seed` alone: two simulators with the
//! same seed produce the same slots and hashes, as a primary and a secondary do.

use {
    crate::{
        DEFAULT_SLOT_MS, NodeOptions, SimConfig, SimNode, SnapshotSchedule,
        admin::AdminServer,
        genesis::population::MIN_ACCOUNTS,
        snapshot::{genesis_file, write_state_archive},
        validator::ValidatorIdentity,
    },
    anyhow::{Context, ensure},
    geyser_plugin::{PluginConfig, config::DEFAULT_RETENTION_SLOTS},
    serde::Serialize,
    solana_pubkey::Pubkey,
    solana_signer::Signer,
    std::{
        io::Write,
        net::SocketAddr,
        path::PathBuf,
        process::ExitCode,
        sync::{Arc, Mutex},
        time::{Duration, Instant, SystemTime, UNIX_EPOCH},
    },
    tokio_util::sync::CancellationToken,
};

/// Arguments of `replica sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// UDP address of the replication server (QUIC); port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub replication_bind: SocketAddr,
    /// The server's identity: a Solana keypair file (must exist).
    #[arg(long, value_name = "KEYPAIR")]
    pub identity: PathBuf,
    /// Directory the snapshot archive of the initial state and the chain's `genesis.bin` are
    /// written into.
    #[arg(long, value_name = "DIR")]
    pub snapshot_dir: PathBuf,
    /// Slots to produce (default, or 0: until Ctrl-C). The server keeps serving afterwards.
    #[arg(long, value_name = "N")]
    pub slots: Option<u64>,
    /// Milliseconds per slot (0: as fast as possible) [default: 400].
    #[arg(long, value_name = "MS")]
    pub slot_ms: Option<u64>,
    /// Seed of the simulation (same seed, same slots and hashes) [default: 1].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// A replica identity allowed to connect (repeatable). None: any replica may connect.
    #[arg(long = "allowed-replica", value_name = "PUBKEY")]
    pub allowed_replicas: Vec<Pubkey>,
    /// Rooted slots the plugin's delta log keeps [default: 9000].
    #[arg(long, value_name = "SLOTS")]
    pub retention_slots: Option<u64>,
    /// The plugin's delta log directory [default: a temporary directory, removed on exit].
    #[arg(long, value_name = "DIR")]
    pub plugin_data_dir: Option<PathBuf>,
    /// Address of the plugin's Prometheus `/metrics` endpoint; default: none.
    #[arg(long, value_name = "ADDR")]
    pub metrics_bind: Option<SocketAddr>,
    /// Once listening, write {"replication", "identity", "snapshot", "snapshotSlot",
    /// "metrics"} (and "adminRpc" with --ledger) as JSON to this file; default: none.
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
    /// The snapshot slot the simulation starts from [default: 1000].
    #[arg(long, value_name = "SLOT")]
    pub start_slot: Option<u64>,
    /// Slots per epoch [default: 432000].
    #[arg(long, value_name = "N")]
    pub slots_per_epoch: Option<u64>,
    /// Random transactions per slot besides votes and sysvars [default: 24].
    #[arg(long, value_name = "N")]
    pub transactions_per_slot: Option<usize>,
    /// Add N bulk accounts (at least 1000) to the initial state: wallets, token accounts with
    /// their mints, DEX-like pools, program data; the transactions then write mostly distinct
    /// accounts among them. Default: none (the small fixed state and its workload).
    #[arg(long, value_name = "N")]
    pub accounts: Option<usize>,
    /// Also write a full snapshot archive of the state every N slots into --snapshot-dir (once
    /// that slot is rooted), as a validator does; default (or 0): only the initial one.
    #[arg(long, value_name = "N")]
    pub snapshot_interval_slots: Option<u64>,
    /// Periodic archives kept (the initial one is always kept) [default: 2].
    #[arg(long, value_name = "N")]
    pub maximum_snapshots_to_retain: Option<usize>,
    /// Send no lattice hash in slot trailers, as the plugin inside a real validator does (it
    /// cannot compute one): replicas then verify the first hop only by snapshot archives.
    #[arg(long)]
    pub without_lattice_hash: bool,
    /// Testing only: tell the plugin of one extra account write in the first main-chain slot
    /// at or after SLOT that the state does not hold, so replicas diverge from the validator
    /// (and its snapshots) there. Default: none.
    #[arg(long, value_name = "SLOT")]
    pub corrupt_slot: Option<u64>,
    /// Pace slots from this unix time in milliseconds instead of the start: simulators given
    /// the same value produce each slot at the same time, and one started later catches up
    /// at once (as a restarted validator does). Default: from the start.
    #[arg(long, value_name = "UNIX_MS")]
    pub clock_start_ms: Option<u64>,
    /// The validator's ledger: Agave's admin RPC on `<ledger>/admin.rpc` and the tower files;
    /// default: none (no admin RPC, no towers).
    #[arg(long, value_name = "DIR")]
    pub ledger: Option<PathBuf>,
    /// The identity the simulated validator votes with (the staked identity) [default:
    /// --identity]. Needs --ledger.
    #[arg(long, value_name = "KEYPAIR")]
    pub validator_identity: Option<PathBuf>,
    /// The identity it holds at start, as Agave's `--identity` (a secondary starts with its
    /// unstaked identity) [default: --validator-identity]. Needs --ledger.
    #[arg(long, value_name = "KEYPAIR")]
    pub initial_identity: Option<PathBuf>,
}

/// Periodic snapshot archives kept when --maximum-snapshots-to-retain is not given.
const DEFAULT_SNAPSHOTS_TO_RETAIN: usize = 2;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Ready {
    replication: String,
    identity: String,
    snapshot: PathBuf,
    snapshot_slot: u64,
    metrics: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_rpc: Option<PathBuf>,
}

/// The validator identity of `--ledger`, read from the keypair files.
fn validator_identity(args: &SimArgs) -> anyhow::Result<Option<(PathBuf, ValidatorIdentity)>> {
    let Some(ledger) = &args.ledger else {
        ensure!(
            args.validator_identity.is_none() && args.initial_identity.is_none(),
            "--validator-identity and --initial-identity need --ledger"
        );
        return Ok(None);
    };
    let read = |path: &PathBuf| {
        solana_keypair::read_keypair_file(path)
            .map_err(|error| anyhow::anyhow!("invalid keypair {}: {error}", path.display()))
    };
    let voter = read(args.validator_identity.as_ref().unwrap_or(&args.identity))?;
    let initial = match &args.initial_identity {
        Some(path) => read(path)?,
        None => voter.insecure_clone(),
    };
    std::fs::create_dir_all(ledger)
        .with_context(|| format!("failed to create {}", ledger.display()))?;
    Ok(Some((
        ledger.clone(),
        ValidatorIdentity::new(ledger, voter.pubkey(), initial),
    )))
}

/// Runs the simulator until Ctrl-C or SIGTERM.
pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    ensure!(
        args.identity.is_file(),
        "identity keypair {} does not exist",
        args.identity.display()
    );
    replication_proto::transport::load_identity(&args.identity)
        .with_context(|| format!("invalid identity keypair {}", args.identity.display()))?;
    std::fs::create_dir_all(&args.snapshot_dir)
        .with_context(|| format!("failed to create {}", args.snapshot_dir.display()))?;

    let defaults = SimConfig::default();
    let sim_config = SimConfig {
        seed: args.seed.unwrap_or(defaults.seed),
        start_slot: args.start_slot.unwrap_or(defaults.start_slot),
        slots_per_epoch: args.slots_per_epoch.unwrap_or(defaults.slots_per_epoch),
        transactions_per_slot: args
            .transactions_per_slot
            .unwrap_or(defaults.transactions_per_slot),
        accounts: args.accounts,
        corrupt_slot: args.corrupt_slot,
        ..defaults
    };
    ensure!(
        sim_config.accounts.is_none_or(|n| n >= MIN_ACCOUNTS),
        "--accounts must be at least {MIN_ACCOUNTS}"
    );
    ensure!(
        sim_config.slots_per_epoch >= 32,
        "--slots-per-epoch must be at least 32"
    );

    // The plugin's delta log: given, or a temporary directory kept for the process's life.
    let temp_dir;
    let data_dir = match &args.plugin_data_dir {
        Some(dir) => dir.clone(),
        None => {
            temp_dir = tempfile::Builder::new()
                .prefix("replica-sim-")
                .tempdir()
                .context("failed to create a temporary plugin data directory")?;
            temp_dir.path().to_path_buf()
        }
    };
    let mut plugin_config =
        PluginConfig::new(args.identity.clone(), data_dir, args.replication_bind);
    plugin_config.retention_slots = args.retention_slots.unwrap_or(DEFAULT_RETENTION_SLOTS);
    plugin_config.metrics_bind = args.metrics_bind;
    if args.allowed_replicas.is_empty() {
        tracing::warn!("no --allowed-replica given: any replica may connect");
        plugin_config.allow_any_replica = true;
    } else {
        plugin_config.allowed_replicas = args.allowed_replicas.clone();
    }
    plugin_config
        .validate()
        .context("invalid plugin settings")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sim-signals")
        .enable_all()
        .build()
        .context("failed to start the signal runtime")?;
    let cancel = runtime.block_on(async { common::shutdown::token_on_signal() });
    let validator = validator_identity(&args)?;
    let admin = match validator {
        Some((ledger, identity)) => {
            let identity = Arc::new(Mutex::new(identity));
            let server = runtime
                .block_on(async { AdminServer::spawn(&ledger, identity.clone(), cancel.clone()) })
                .with_context(|| {
                    format!("failed to serve the admin RPC in {}", ledger.display())
                })?;
            Some((server, identity))
        }
        None => None,
    };

    let options = NodeOptions {
        lattice_hashes: !args.without_lattice_hash,
        snapshots: args
            .snapshot_interval_slots
            .filter(|&n| n > 0)
            .map(|interval_slots| SnapshotSchedule {
                dir: args.snapshot_dir.clone(),
                interval_slots,
                keep: args
                    .maximum_snapshots_to_retain
                    .unwrap_or(DEFAULT_SNAPSHOTS_TO_RETAIN),
            }),
    };
    let mut node =
        SimNode::start_with(sim_config, &plugin_config, options).context("failed to start")?;
    let snapshot = match write_state_archive(node.genesis(), &args.snapshot_dir) {
        Ok(path) => path,
        Err(error) => {
            node.shutdown();
            return Err(error).context("failed to write the snapshot archive");
        }
    };
    // Agave reads `genesis.bin` from its ledger directory; written beside the archives.
    let genesis = genesis_file(node.genesis());
    match genesis.write(&args.snapshot_dir) {
        Ok(path) => {
            tracing::info!(genesis = %path.display(), genesis_hash = %genesis.hash(), "wrote genesis.bin")
        }
        Err(error) => {
            node.shutdown();
            return Err(error).context("failed to write genesis.bin");
        }
    }
    tracing::info!(
        snapshot = %snapshot.display(),
        replication = %node.replication_addr(),
        identity = %node.identity(),
        "simulator ready"
    );
    if let Some(path) = &args.ready_file {
        let ready = Ready {
            replication: node.replication_addr().to_string(),
            identity: node.identity().to_string(),
            snapshot: snapshot.clone(),
            snapshot_slot: node.genesis().slot,
            metrics: node.metrics_addr().map(|a| a.to_string()),
            admin_rpc: admin
                .as_ref()
                .map(|(server, _)| server.path().to_path_buf()),
        };
        if let Err(error) = common::ready::write(path, &ready) {
            node.shutdown();
            return Err(error).with_context(|| format!("failed to write {}", path.display()));
        }
    }

    let slots = args.slots.filter(|&n| n > 0);
    let start = pace_start(args.clock_start_ms);
    let result = produce(
        &mut node,
        slots,
        args.slot_ms.unwrap_or(DEFAULT_SLOT_MS),
        start,
        &cancel,
        admin.as_ref().map(|(_, identity)| identity.as_ref()),
    );
    if result.is_ok() && !cancel.is_cancelled() {
        tracing::info!("done producing slots; serving until Ctrl-C or SIGTERM");
        runtime.block_on(cancel.cancelled());
    }
    node.shutdown();
    if let Some((server, _)) = admin {
        cancel.cancel();
        runtime.block_on(server.join());
    }
    result.map(|()| ExitCode::SUCCESS)
}

/// The instant slot pacing counts from: now, or `clock_start_ms` (unix ms) on this clock.
fn pace_start(clock_start_ms: Option<u64>) -> Instant {
    let now = Instant::now();
    let Some(start_ms) = clock_start_ms else {
        return now;
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    if start_ms <= now_ms {
        now.checked_sub(Duration::from_millis(now_ms - start_ms))
            .unwrap_or(now)
    } else {
        now + Duration::from_millis(start_ms - now_ms)
    }
}

/// Produces slots, printing each rooted slot on stdout and, once `slots` are produced, their
/// account records on stderr; votes on each slot while `validator` holds the staked identity.
fn produce(
    node: &mut SimNode,
    slots: Option<u64>,
    slot_ms: u64,
    start: Instant,
    cancel: &CancellationToken,
    validator: Option<&Mutex<ValidatorIdentity>>,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut failed = None;
    let mut records = 0u64;
    let produced = node
        .run_steps(slots, slot_ms, start, cancel, |report| {
            records += report.main_records as u64;
            if let Some(validator) = validator {
                let mut validator = validator.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(error) = validator.vote(report.slot, report.bank_hash, report.timestamp)
                {
                    tracing::warn!(%error, slot = report.slot, "cannot save the tower");
                }
            }
            for rooted in &report.rooted {
                let mut out = stdout.lock();
                let printed = writeln!(out, "rooted {} {}", rooted.slot, rooted.accounts_lt_hash)
                    .and_then(|()| out.flush());
                if let Err(error) = printed
                    && failed.is_none()
                {
                    // stdout closed (e.g. a reader went away): keep serving, report at the end.
                    failed = Some(error);
                }
            }
        })
        .context("simulation failed")?;
    if slots == Some(produced) {
        eprintln!("produced {produced} slots {records} account writes");
    }
    match failed {
        Some(error) => Err(error).context("failed to write to stdout"),
        None => Ok(()),
    }
}
