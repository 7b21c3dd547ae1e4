//! Snapshot ingest: the real bootstrap against decompressing and walking the same archive.

use {
    crate::{data, report::Report},
    snapshot_tools::archive::{
        ArchiveErrorKind, ArchiveLimits, ArchiveVisitor, read_archive, storage::StoredAccount,
    },
    std::time::Instant,
};

#[derive(Debug, clap::Args)]
pub(crate) struct IngestArgs {
    /// Accounts in the synthetic archive.
    #[arg(long, default_value_t = 2_000_000)]
    accounts: u64,
    #[command(flatten)]
    cache: data::Cache,
}

/// Counts accounts and touches their data, storing nothing.
struct Walk {
    accounts: u64,
    checksum: u64,
}

impl ArchiveVisitor for Walk {
    fn account(&mut self, _slot: u64, account: &StoredAccount<'_>) -> Result<(), ArchiveErrorKind> {
        self.accounts += 1;
        self.checksum = self
            .checksum
            .wrapping_add(account.lamports)
            .wrapping_add(account.data.first().copied().unwrap_or(0).into());
        Ok(())
    }
}

pub(crate) fn run(args: &IngestArgs) -> anyhow::Result<Report> {
    let archive = args.cache.archive(args.accounts)?;
    // The archive's bytes in the page cache for both measurements.
    std::io::copy(&mut std::fs::File::open(&archive)?, &mut std::io::sink())?;
    let started = Instant::now();
    let mut walk = Walk {
        accounts: 0,
        checksum: 0,
    };
    read_archive(&archive, &ArchiveLimits::default(), &mut walk)?;
    let walked_in = started.elapsed().as_secs_f64();
    anyhow::ensure!(walk.accounts == args.accounts, "the walk saw every account");
    let ceiling = args.accounts as f64 / walked_in;

    let ledger = args.cache.dir.join(format!("ingest-{}", args.accounts));
    let elapsed = data::bootstrap(&archive, &ledger)?;
    let figure = args.accounts as f64 / elapsed;
    let rss = data::peak_rss_of_children_mib();
    let _ = std::fs::remove_dir_all(&ledger);
    println!(
        "ingest {} accounts ({}): {figure:.0} accounts/s ({elapsed:.2} s, lattice hash verified) | ceiling, decompress + walk: {ceiling:.0} accounts/s ({walked_in:.2} s) | peak RSS {rss:.0} MiB",
        args.accounts,
        data::machine()
    );
    Ok(Report::new("ingest", figure, "accounts/s", ceiling)
        .with("accounts", args.accounts)
        .with("seconds", (elapsed * 1e3).round() / 1e3)
        .with("peak_rss_mib", rss.round()))
}
