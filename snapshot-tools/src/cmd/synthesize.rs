//! `snapshot-tools synthesize`: writes a synthetic full archive in Agave's format, for load
//! tests and benchmarks (60 % token accounts, 30 % system accounts, 10 % program data).

use {
    crate::{archive::ArchiveFormat, synthetic::SyntheticAccounts},
    anyhow::Context,
    std::{path::PathBuf, process::ExitCode, time::Instant},
};

#[derive(Debug, clap::Args)]
pub struct SynthesizeArgs {
    /// Directory to write the archive into.
    #[arg(long)]
    pub dir: PathBuf,
    /// Number of accounts.
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
    let path = SyntheticAccounts::new(args.seed).write_archive(
        &args.dir,
        args.accounts,
        args.slot,
        format,
    )?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "archive written");
    super::output::line(path.display()).context("printing the archive's path")?;
    Ok(ExitCode::SUCCESS)
}
