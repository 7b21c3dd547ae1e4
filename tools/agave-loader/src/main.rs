//! Loads a snapshot archive chain (full, optionally incremental) with Agave 4.2.2's own loader,
//! `solana_runtime::snapshot_bank_utils::bank_from_snapshot_archives`, the way a validator or an
//! RPC node boots from it: secondary indexes on (program id, SPL Token owner and mint), the
//! accounts lattice hash verified, the bank hash recomputed and compared, the status cache and
//! epoch stakes checked; then the leader schedules a validator computes at start
//! (`LeaderScheduleCache::new_from_bank`: every epoch from the oldest epoch stakes through the
//! leader-schedule epoch), and optionally a child bank in the next epoch (`--next-epoch`), whose
//! epoch stakes Agave derives from the loaded stakes cache.
//!
//! Prints one `key: value` line per fact; exits 0 when Agave accepted the chain, 2 when it
//! refused it (an error or a panic inside Agave's code, printed), 1 on bad arguments.
//!
//!     agave-loader --genesis <genesis.bin | dir> [--next-epoch] <full archive> [<incremental>]
//!     agave-loader genesis-from-archive <archive> --out <dir>
//!
//! `genesis-from-archive` writes a `genesis.bin` for an archive whose genesis was not kept: the
//! values Agave compares between a snapshot and its genesis (creation time, ticks per slot, slot
//! duration, hashes per tick, epoch schedule) and the economics, taken from the archive's own
//! manifest; no accounts (a snapshot load reads none from the genesis).

use {
    agave_snapshots::{
        paths as snapshot_paths,
        snapshot_archive_info::{
            FullSnapshotArchiveInfo, IncrementalSnapshotArchiveInfo, SnapshotArchiveInfoGetter,
        },
        snapshot_config::SnapshotConfig,
    },
    serde::Deserialize,
    solana_accounts_db::{
        accounts_db::{ACCOUNTS_DB_CONFIG_FOR_TESTING, AccountsDbConfig},
        accounts_index::{AccountIndex, AccountSecondaryIndexes},
    },
    solana_cluster_type::ClusterType,
    solana_epoch_schedule::EpochSchedule,
    solana_fee_calculator::FeeRateGovernor,
    solana_genesis_config::GenesisConfig,
    solana_hash::Hash,
    solana_inflation::Inflation,
    solana_poh_config::PohConfig,
    solana_pubkey::Pubkey,
    solana_runtime::{
        bank::Bank, bank_forks::BankForks, leader_schedule_utils, runtime_config::RuntimeConfig,
        snapshot_bank_utils::bank_from_snapshot_archives,
    },
    std::{
        collections::{HashMap, HashSet},
        io::Read,
        panic::AssertUnwindSafe,
        path::{Path, PathBuf},
        process::ExitCode,
        sync::{Arc, atomic::AtomicBool},
        time::Duration,
    },
};

const USAGE: &str = "usage: agave-loader --genesis <genesis.bin | dir> [--next-epoch] <full archive> [<incremental archive>]\n       agave-loader genesis-from-archive <archive> --out <dir>";

fn main() -> ExitCode {
    if std::env::var_os("RUST_LOG").is_some() {
        env_logger::init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("genesis-from-archive") {
        genesis_from_archive(&args[1..])
    } else {
        load(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}\n{USAGE}");
            ExitCode::from(1)
        }
        Err(Failure::Refused(message)) => {
            println!("refused: {message}");
            ExitCode::from(2)
        }
    }
}

#[derive(Debug)]
enum Failure {
    Usage(String),
    Refused(String),
}

fn refused(message: impl std::fmt::Display) -> Failure {
    Failure::Refused(message.to_string())
}

/// Runs `work`, turning a panic inside Agave's code into a refusal with its message.
fn catching<T>(what: &str, work: impl FnOnce() -> T) -> Result<T, Failure> {
    std::panic::catch_unwind(AssertUnwindSafe(work)).map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(no message)".to_string());
        refused(format!("{what}: Agave panicked: {message}"))
    })
}

fn load(args: &[String]) -> Result<(), Failure> {
    let mut genesis = None;
    let mut next_epoch = false;
    let mut archives = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--genesis" => {
                genesis =
                    Some(PathBuf::from(iter.next().ok_or_else(|| {
                        Failure::Usage("--genesis needs a path".to_string())
                    })?))
            }
            "--next-epoch" => next_epoch = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            flag if flag.starts_with('-') => {
                return Err(Failure::Usage(format!("unknown flag {flag}")));
            }
            path => archives.push(PathBuf::from(path)),
        }
    }
    let genesis = genesis.ok_or_else(|| Failure::Usage("--genesis is required".to_string()))?;
    if archives.is_empty() || archives.len() > 2 {
        return Err(Failure::Usage(
            "give a full archive and optionally an incremental one".to_string(),
        ));
    }
    let genesis_dir = if genesis.is_dir() {
        genesis.clone()
    } else if genesis
        .file_name()
        .is_some_and(|name| name == "genesis.bin")
    {
        genesis
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    } else {
        return Err(Failure::Usage(format!(
            "{}: give genesis.bin or its directory",
            genesis.display()
        )));
    };
    let genesis_config = GenesisConfig::load(&genesis_dir)
        .map_err(|error| Failure::Usage(format!("cannot read the genesis: {error}")))?;
    println!("genesis hash: {}", genesis_config.hash());

    let full = FullSnapshotArchiveInfo::new_from_path(archives[0].clone())
        .map_err(|error| refused(format!("{}: {error}", archives[0].display())))?;
    let incremental = archives
        .get(1)
        .map(|path| {
            IncrementalSnapshotArchiveInfo::new_from_path(path.clone())
                .map_err(|error| refused(format!("{}: {error}", path.display())))
        })
        .transpose()?;

    let work = std::env::temp_dir().join(format!("agave-loader-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let dirs = ["bank_snapshots", "accounts", "archives"].map(|name| work.join(name));
    for dir in &dirs {
        std::fs::create_dir_all(dir)
            .map_err(|error| Failure::Usage(format!("{}: {error}", dir.display())))?;
    }
    let result = load_in(
        &genesis_config,
        &full,
        incremental.as_ref(),
        &dirs,
        next_epoch,
    );
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn load_in(
    genesis_config: &GenesisConfig,
    full: &FullSnapshotArchiveInfo,
    incremental: Option<&IncrementalSnapshotArchiveInfo>,
    dirs: &[PathBuf; 3],
    next_epoch: bool,
) -> Result<(), Failure> {
    let [bank_snapshots, accounts, archives] = dirs;
    let snapshot_config = SnapshotConfig {
        full_snapshot_archives_dir: archives.clone(),
        incremental_snapshot_archives_dir: archives.clone(),
        bank_snapshots_dir: bank_snapshots.clone(),
        use_direct_io: false,
        use_registered_io_uring_buffers: false,
        ..SnapshotConfig::default()
    };
    // An RPC node's secondary indexes; the accounts lattice hash is verified at load
    // (`skip_initial_hash_calc: false`).
    let accounts_db_config = AccountsDbConfig {
        account_indexes: Some(AccountSecondaryIndexes {
            keys: None,
            indexes: HashSet::from([
                AccountIndex::ProgramId,
                AccountIndex::SplTokenOwner,
                AccountIndex::SplTokenMint,
            ]),
        }),
        skip_initial_hash_calc: false,
        ..ACCOUNTS_DB_CONFIG_FOR_TESTING
    };
    let bank = catching("bank_from_snapshot_archives", || {
        bank_from_snapshot_archives(
            std::slice::from_ref(accounts),
            full,
            incremental,
            &snapshot_config,
            genesis_config,
            &RuntimeConfig::default(),
            None,
            None,
            None,
            false,
            false,
            true,
            accounts_db_config,
            None,
            Arc::new(AtomicBool::new(false)),
        )
    })?
    .map_err(|error| refused(format!("bank_from_snapshot_archives: {error}")))?;

    let snapshot = incremental.map_or_else(
        || full.snapshot_archive_info().clone(),
        |incremental| incremental.snapshot_archive_info().clone(),
    );
    println!("archive: {}", snapshot.path.display());
    println!("slot: {}", bank.slot());
    println!("epoch: {}", bank.epoch());
    println!("capitalization: {}", bank.capitalization());
    println!("bank hash: {}", bank.hash());
    println!("parent bank hash: {}", bank.parent_hash());
    println!(
        "accounts lattice hash checksum: {}",
        bank.get_snapshot_hash().0
    );
    println!("block height: {}", bank.block_height());
    println!("transaction count: {}", bank.transaction_count());
    println!("last blockhash: {}", bank.last_blockhash());
    println!("leader: {}", bank.leader().id);
    let loaded = (bank.slot(), bank.capitalization(), bank.hash());
    print_stakes(&bank);
    leader_schedules(&bank)?;
    if next_epoch {
        child_in_next_epoch(bank)?;
    }
    println!("accepted: yes");
    println!(
        "loaded slot={} capitalization={} bank_hash={}",
        loaded.0, loaded.1, loaded.2
    );
    Ok(())
}

fn print_stakes(bank: &Bank) {
    let vote_accounts = bank.vote_accounts();
    let staked = vote_accounts
        .values()
        .filter(|(stake, _)| *stake > 0)
        .count();
    let total: u64 = vote_accounts.values().map(|(stake, _)| *stake).sum();
    println!(
        "stakes cache: {} vote accounts, {staked} staked, {total} lamports staked",
        vote_accounts.len()
    );
    let mut epochs: Vec<_> = bank.epoch_stakes_map().keys().copied().collect();
    epochs.sort_unstable();
    for epoch in epochs {
        let stakes = &bank.epoch_stakes_map()[&epoch];
        let mut nodes: Vec<(Pubkey, u64)> = stakes
            .node_id_to_vote_accounts()
            .iter()
            .map(|(node, accounts)| (*node, accounts.total_stake))
            .collect();
        nodes.sort_unstable();
        println!(
            "epoch stakes {epoch}: total {} over {} nodes{}",
            stakes.total_stake(),
            nodes.len(),
            nodes
                .iter()
                .map(|(node, stake)| format!(" {node}={stake}"))
                .collect::<String>()
        );
    }
}

/// The schedules `LeaderScheduleCache::new_from_bank` computes when a validator starts.
fn leader_schedules(bank: &Bank) -> Result<(), Failure> {
    let first = bank
        .epoch_stakes_map()
        .keys()
        .min()
        .copied()
        .unwrap_or_default();
    let last = bank.get_leader_schedule_epoch(bank.slot());
    for epoch in first..=last {
        let schedule = catching(&format!("leader schedule of epoch {epoch}"), || {
            leader_schedule_utils::leader_schedule(epoch, bank)
        })?;
        let Some(schedule) = schedule else {
            println!("leader schedule {epoch}: no epoch stakes");
            continue;
        };
        let leaders: HashMap<Pubkey, usize> =
            schedule
                .get_slot_leaders()
                .fold(HashMap::new(), |mut counts, leader| {
                    *counts.entry(leader.id).or_default() += 1;
                    counts
                });
        println!(
            "leader schedule {epoch}: {} slots, {} leaders",
            schedule.num_slots(),
            leaders.len()
        );
    }
    Ok(())
}

/// A child bank at the first slot of the next epoch: Agave activates the epoch from the loaded
/// stakes cache (stake history, vote account stakes, the new leader-schedule epoch's stakes).
fn child_in_next_epoch(bank: Bank) -> Result<(), Failure> {
    // Bank forks give the program cache its fork graph, as in a validator.
    let forks = BankForks::new_rw_arc(bank);
    let parent = forks.read().expect("bank forks lock").root_bank();
    let schedule = parent.epoch_schedule().clone();
    let slot = schedule.get_first_slot_in_epoch(parent.epoch() + 1);
    let (epoch, index) = schedule.get_epoch_and_slot_index(slot);
    let leader = catching("leader of the next epoch's first slot", || {
        leader_schedule_utils::leader_schedule(epoch, &parent)
            .map(|schedule| schedule.get_slot_leader_at_index(index as usize))
    })?
    .ok_or_else(|| refused(format!("no epoch stakes for epoch {epoch}")))?;
    let child = catching("a child bank in the next epoch", || {
        let child = Bank::new_from_parent(parent.clone(), leader, slot);
        child.freeze();
        child
    })?;
    println!(
        "child bank: slot {} epoch {} bank hash {}",
        child.slot(),
        child.epoch(),
        child.hash()
    );
    print_stakes(&child);
    leader_schedules(&child)
}

fn genesis_from_archive(args: &[String]) -> Result<(), Failure> {
    let (mut archive, mut out) = (None, None);
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--out" => {
                out = Some(PathBuf::from(iter.next().ok_or_else(|| {
                    Failure::Usage("--out needs a directory".to_string())
                })?))
            }
            flag if flag.starts_with('-') => {
                return Err(Failure::Usage(format!("unknown flag {flag}")));
            }
            path => archive = Some(PathBuf::from(path)),
        }
    }
    let archive = archive.ok_or_else(|| Failure::Usage("give an archive".to_string()))?;
    let out = out.ok_or_else(|| Failure::Usage("--out is required".to_string()))?;
    let bank = read_bank_prefix(&archive).map_err(refused)?;
    let ns_per_tick = bank.ns_per_slot / u128::from(bank.ticks_per_slot.max(1));
    let genesis = GenesisConfig {
        creation_time: bank.genesis_creation_time,
        ticks_per_slot: bank.ticks_per_slot,
        poh_config: PohConfig {
            target_tick_duration: Duration::from_nanos(ns_per_tick as u64),
            target_tick_count: None,
            hashes_per_tick: bank.hashes_per_tick,
        },
        fee_rate_governor: bank.fee_rate_governor,
        inflation: bank.inflation,
        epoch_schedule: bank.epoch_schedule,
        cluster_type: ClusterType::Development,
        ..GenesisConfig::default()
    };
    genesis
        .write(&out)
        .map_err(|error| Failure::Usage(format!("{}: {error}", out.display())))?;
    println!(
        "genesis: {} (hash {})",
        out.join("genesis.bin").display(),
        genesis.hash()
    );
    Ok(())
}

/// The leading fields of a bank manifest, in Agave's serialized order, up to the inflation.
#[derive(Deserialize)]
#[allow(dead_code)]
struct BankPrefix {
    blockhash_queue: solana_accounts_db::blockhash_queue::BlockhashQueue,
    ancestors: HashMap<u64, usize>,
    hash: Hash,
    parent_hash: Hash,
    parent_slot: u64,
    hard_forks: solana_hard_forks::HardForks,
    transaction_count: u64,
    tick_height: u64,
    signature_count: u64,
    capitalization: u64,
    max_tick_height: u64,
    hashes_per_tick: Option<u64>,
    ticks_per_slot: u64,
    ns_per_slot: u128,
    genesis_creation_time: i64,
    slots_per_year: f64,
    accounts_data_len: u64,
    slot: u64,
    epoch: u64,
    block_height: u64,
    leader_id: Pubkey,
    collector_fees: u64,
    fee_calculator: u64,
    fee_rate_governor: FeeRateGovernor,
    collected_rent: u64,
    rent_collector: (u64, EpochSchedule, f64, solana_rent::Rent),
    epoch_schedule: EpochSchedule,
    inflation: Inflation,
}

fn read_bank_prefix(archive: &Path) -> Result<BankPrefix, String> {
    let file = std::fs::File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let name = archive.to_string_lossy();
    let reader: Box<dyn Read> = if name.ends_with(".tar.zst") {
        Box::new(zstd::Decoder::new(file).map_err(|e| e.to_string())?)
    } else if name.ends_with(".tar.lz4") {
        Box::new(lz4::Decoder::new(file).map_err(|e| e.to_string())?)
    } else {
        return Err(format!("{name}: not a .tar.zst or .tar.lz4 archive"));
    };
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let parts: Vec<_> = path.iter().collect();
        let is_manifest = parts.len() == 3
            && parts[0] == snapshot_paths::BANK_SNAPSHOTS_DIR
            && parts[1] == parts[2];
        if is_manifest {
            return bincode::deserialize_from(entry)
                .map_err(|e| format!("{}: bank manifest: {e}", path.display()));
        }
    }
    Err(format!("{name}: no bank manifest"))
}
