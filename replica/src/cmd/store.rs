//! `replica store ...`: maintenance and diagnostics on a stopped replica's store.

use {
    crate::{
        node::bootstrap::store_path,
        snapshot::write::{write_full, write_incremental},
        store::{
            AccountsStore, IndexConfig, SlotCommit, SlotMeta, StoreConfig, StoreError,
            check::check_store, workload,
        },
    },
    anyhow::Context,
    snapshot_tools::{archive::ArchiveFormat, synthetic::SyntheticAccounts},
    solana_clock::Slot,
    solana_hash::Hash,
    std::{path::PathBuf, process::ExitCode, time::Duration},
};

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Recompute the lattice hash, capitalization, account count and indexes from the accounts
    /// and compare them with what the store records.
    Verify(VerifyArgs),
    /// Commit deterministic synthetic slots (benchmarks and crash tests).
    SyntheticApply(SyntheticApplyArgs),
    /// Write a full (or incremental) snapshot archive of the store's current root in Agave's
    /// format and print its path.
    Snapshot(SnapshotArgs),
}

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// The replica's ledger directory (the replica stopped).
    #[arg(long)]
    pub ledger: PathBuf,
    /// Directory the archive is written into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Write an incremental archive on top of the full archive at this slot (its accounts
    /// changed since then, from the delta log); default: a full archive.
    #[arg(long)]
    pub incremental_base: Option<Slot>,
    /// Write `.tar.lz4` instead of `.tar.zst`.
    #[arg(long)]
    pub lz4: bool,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The replica's ledger directory (the replica stopped).
    #[arg(long)]
    pub ledger: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct SyntheticApplyArgs {
    /// The ledger whose store receives the synthetic slots.
    #[arg(long)]
    pub ledger: PathBuf,
    /// Seed of the synthetic account set (as used to write the archive).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Account indexes written are drawn from 0..keyspace.
    #[arg(long)]
    pub keyspace: u64,
    /// Account writes per slot.
    #[arg(long, default_value_t = 2000)]
    pub updates_per_slot: usize,
    /// Slots to commit.
    #[arg(long, default_value_t = 10)]
    pub slots: u64,
    /// Pause between slots.
    #[arg(long, default_value_t = 0)]
    pub slot_ms: u64,
    /// Rooted slots kept in the delta log (as `replica run`).
    #[arg(long, default_value_t = crate::store::DEFAULT_DELTA_LOG_RETENTION_SLOTS)]
    pub delta_log_retention_slots: u64,
}

pub fn run(command: StoreCommand) -> anyhow::Result<ExitCode> {
    match command {
        StoreCommand::Verify(args) => verify(args),
        StoreCommand::SyntheticApply(args) => synthetic_apply(args),
        StoreCommand::Snapshot(args) => snapshot(args),
    }
}

fn open(ledger: &std::path::Path) -> anyhow::Result<AccountsStore> {
    open_with(ledger, StoreConfig::default())
}

fn open_with(ledger: &std::path::Path, config: StoreConfig) -> anyhow::Result<AccountsStore> {
    let path = store_path(ledger);
    anyhow::ensure!(path.exists(), "no accounts store in {}", ledger.display());
    let store = AccountsStore::open(&path, StoreConfig::default()).map_err(|error| {
        if is_locked(&error) {
            anyhow::anyhow!(
                "the store in {} is in use (is a replica running on this ledger? stop it first)",
                ledger.display()
            )
        } else {
            error.into()
        }
    })?;
    // Check and apply with the index configuration the store was built with.
    let indexes: IndexConfig = store.built_index_config()?.unwrap_or_default();
    drop(store);
    Ok(AccountsStore::open(
        &path,
        StoreConfig { indexes, ..config },
    )?)
}

/// Whether opening failed because another process holds RocksDB's lock file.
fn is_locked(error: &StoreError) -> bool {
    matches!(error, StoreError::Db { source, .. }
        if source.kind() == rocksdb::ErrorKind::IOError && source.to_string().contains("lock"))
}

fn snapshot(args: SnapshotArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.ledger)?;
    let root = store
        .root_slot()
        .with_context(|| format!("the store in {} is not bootstrapped", args.ledger.display()))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let format = if args.lz4 {
        ArchiveFormat::TarLz4
    } else {
        ArchiveFormat::TarZstd
    };
    let written = match args.incremental_base {
        Some(base) => {
            anyhow::ensure!(
                base < root,
                "--incremental-base {base} must be below the store's root slot {root}"
            );
            write_incremental(&store, &args.out, base, format)?
        }
        None => write_full(&store, &args.out, format)?,
    };
    println!("{}", written.path.display());
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.ledger)?;
    let report = check_store(&store)?;
    println!(
        "root slot {:?}: {} accounts, capitalization {}, lattice hash {}, {} index entries",
        report.root_slot,
        report.accounts,
        report.capitalization,
        report.lt_hash,
        report.index_entries
    );
    for problem in &report.problems {
        println!("PROBLEM: {problem}");
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn synthetic_apply(args: SyntheticApplyArgs) -> anyhow::Result<ExitCode> {
    let store = open_with(
        &args.ledger,
        StoreConfig {
            delta_log_retention_slots: args.delta_log_retention_slots,
            ..StoreConfig::default()
        },
    )?;
    let slots = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(args.seed),
        keyspace: args.keyspace,
        updates_per_slot: args.updates_per_slot,
    };
    let base = store.root_slot().context("store is not bootstrapped")?;
    let (mut updates_applied, mut committing) = (0usize, Duration::ZERO);
    for n in 0..args.slots {
        let slot = base + n + 1;
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
        let started = std::time::Instant::now();
        let stats = store.commit(&[SlotCommit {
            meta,
            updates: &updates,
            expected_lt_hash: None,
            previous: None,
            lt_hash_after: None,
        }])?;
        committing += started.elapsed();
        updates_applied += updates.len();
        println!("committed {slot} {}", stats.lt_hashes[0].1);
        if args.slot_ms > 0 {
            std::thread::sleep(Duration::from_millis(args.slot_ms));
        }
    }
    eprintln!(
        "committed {updates_applied} updates in {:.3} s: {:.0} updates/s",
        committing.as_secs_f64(),
        updates_applied as f64 / committing.as_secs_f64().max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
