//! `snapshot-tools synthesize`: writes a synthetic full archive in Agave's format, for load
//! tests and benchmarks: 60 % SPL token accounts, 30 % system accounts, 10 % program data,
//! plus the mint accounts of the token accounts.

use {
    crate::{
        archive::ArchiveFormat,
        synthetic::{SyntheticAccounts, SyntheticArchive},
    },
    anyhow::Context,
    std::{path::PathBuf, process::ExitCode, time::Instant},
};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
The archive holds accounts 0..N (60 % 165-byte SPL token accounts, 30 % system accounts, \
10 % program-owned accounts with 200-2,000 bytes of data) and, in addition to those N, one \
82-byte SPL Token mint account for each mint the token accounts use (token account n holds \
mint n % 1,000, so at most 1,000), whose supply is the sum of those token accounts' amounts. \
The archive's path is printed on stdout.")]
pub struct SynthesizeArgs {
    /// Directory to write the archive into.
    #[arg(long)]
    pub dir: PathBuf,
    /// Number of accounts (the mint accounts come in addition).
    #[arg(long)]
    pub accounts: u64,
    /// Slot of the snapshot.
    #[arg(long, default_value_t = 1000)]
    pub slot: u64,
    /// Seed of the account set: the same seed, count and slot give the same archive.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write .tar.lz4 instead of .tar.zst.
    #[arg(long)]
    pub lz4: bool,
    /// Leave the mint accounts out (the archive then holds exactly --accounts accounts, as
    /// before mints were written).
    #[arg(long)]
    pub no_mints: bool,
}

pub fn run(args: SynthesizeArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let started = Instant::now();
    let format = if args.lz4 {
        ArchiveFormat::TarLz4
    } else {
        ArchiveFormat::TarZstd
    };
    let path = SyntheticAccounts::new(args.seed)
        .write_archive_with(
            &args.dir,
            &SyntheticArchive {
                accounts: args.accounts,
                slot: args.slot,
                format,
                mints: !args.no_mints,
            },
        )
        .with_context(|| format!("writing an archive into {}", args.dir.display()))?;
    let mints = if args.no_mints {
        0
    } else {
        SyntheticAccounts::mints_in(args.accounts)
    };
    tracing::info!(
        accounts = args.accounts,
        mints,
        seconds = started.elapsed().as_secs_f64(),
        "archive written"
    );
    super::output::line(path.display()).context("printing the archive's path")?;
    Ok(ExitCode::SUCCESS)
}
