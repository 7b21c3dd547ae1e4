//! The synthetic archives and bootstrapped stores scenarios run on, kept in `--dir` between runs.

use {
    anyhow::{Context, ensure},
    snapshot_tools::{archive::ArchiveFormat, synthetic::SyntheticAccounts},
    std::{
        path::{Path, PathBuf},
        process::Command,
        time::Instant,
    },
};

/// Seed of every synthetic archive and workload (archives of one size are reused across runs).
pub(crate) const SEED: u64 = 7;
/// Slot of the synthetic archives.
pub(crate) const ARCHIVE_SLOT: u64 = 1_000;

/// Where archives and stores are kept.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Cache {
    /// Directory for the synthetic archives and stores, reused by later runs.
    #[arg(long, value_name = "DIR", default_value_os_t = std::env::temp_dir().join("replica-bench"))]
    pub(crate) dir: PathBuf,
}

/// Sizes of the replication scenarios.
#[derive(Debug, clap::Args)]
pub(crate) struct SlotLoad {
    /// Accounts in the store.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) accounts: u64,
    /// Slots: rooted slots caught up through (`sync`), slots timed (`hop`).
    #[arg(long, default_value_t = 100)]
    pub(crate) slots: u64,
    /// Distinct accounts written per slot.
    #[arg(long, default_value_t = 2_000)]
    pub(crate) updates: usize,
    #[command(flatten)]
    pub(crate) cache: Cache,
}

impl Cache {
    /// The synthetic archive of `count` accounts (60 % 165-byte token accounts, 30 % system
    /// accounts, 10 % program data), written on first use.
    pub(crate) fn archive(&self, count: u64) -> anyhow::Result<PathBuf> {
        let sub = self.dir.join(format!("archive-{count}"));
        std::fs::create_dir_all(&sub).with_context(|| format!("creating {}", sub.display()))?;
        for entry in std::fs::read_dir(&sub)? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with("snapshot-") && !name.ends_with(".tmp") {
                return Ok(path);
            }
        }
        let started = Instant::now();
        let path = SyntheticAccounts::new(SEED).write_archive(
            &sub,
            count,
            ARCHIVE_SLOT,
            ArchiveFormat::TarZstd,
        )?;
        eprintln!(
            "wrote {} ({} MiB) in {:.1}s",
            path.display(),
            std::fs::metadata(&path)?.len() >> 20,
            started.elapsed().as_secs_f64()
        );
        Ok(path)
    }

    /// A ledger bootstrapped from the archive of `count` accounts by `replica run
    /// --exit-after-bootstrap`, made on first use. Scenarios that write to it leave it at a later
    /// root, still a valid store.
    pub(crate) fn ledger(&self, count: u64) -> anyhow::Result<PathBuf> {
        let ledger = self.dir.join(format!("ledger-{count}"));
        if ledger.join("accounts").join("CURRENT").is_file() {
            return Ok(ledger);
        }
        let archive = self.archive(count)?;
        bootstrap(&archive, &ledger)?;
        Ok(ledger)
    }
}

/// Bootstraps `ledger` (removed first) from `archive` with the replica binary; returns the
/// seconds it took.
pub(crate) fn bootstrap(archive: &Path, ledger: &Path) -> anyhow::Result<f64> {
    let _ = std::fs::remove_dir_all(ledger);
    let started = Instant::now();
    let status = Command::new(replica_binary()?)
        .args(["run", "--exit-after-bootstrap", "--ledger"])
        .arg(ledger)
        .arg("--snapshot")
        .arg(archive)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or("warn".into()),
        )
        .status()
        .context("starting replica")?;
    ensure!(
        status.success(),
        "replica run --exit-after-bootstrap failed: {status}"
    );
    Ok(started.elapsed().as_secs_f64())
}

/// The `replica` binary built beside this one.
pub(crate) fn replica_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .context("the bench binary has a directory")?
        .join("replica");
    ensure!(
        path.is_file(),
        "{} not found: build it first (`cargo build --release`)",
        path.display()
    );
    Ok(path)
}

/// Cores and memory of this machine, for the human-readable lines.
pub(crate) fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("MemTotal:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0.0, |kib| kib as f64 / (1 << 20) as f64);
    format!("{cores} cores, {memory_gib:.0} GiB")
}

/// Peak resident memory of the children waited for so far, MiB.
pub(crate) fn peak_rss_of_children_mib() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    #[allow(unsafe_code)]
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    usage.ru_maxrss as f64 / 1024.0
}

/// Reads every file of the store once so the figures do not depend on what an earlier run left
/// in the page cache.
pub(crate) fn warm_page_cache(store: &Path) -> anyhow::Result<u64> {
    let mut bytes = 0;
    for entry in std::fs::read_dir(store)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "sst") {
            let mut file = std::fs::File::open(&path)?;
            bytes += std::io::copy(&mut file, &mut std::io::sink())?;
        }
    }
    Ok(bytes)
}
