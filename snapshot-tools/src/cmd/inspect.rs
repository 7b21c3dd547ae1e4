//! `snapshot-tools inspect <archive>...`: what a snapshot chain holds, and whether it verifies:
//! Agave's manifest checks (always) and the accounts lattice hash (unless `--no-verify`).

use {
    super::{EXIT_FAILURE, Fatal, output},
    crate::archive::{ChainError, ChainOptions, SnapshotChain, lt_hash_checksum, read_chain},
    serde::Serialize,
    solana_pubkey::Pubkey,
    std::{collections::HashMap, path::PathBuf, process::ExitCode},
};

/// Exit code: every check passed.
pub const EXIT_VERIFIED: u8 = 0;
/// Exit code: the chain does not verify: a manifest check or the lattice hash fails, or an
/// archive is corrupt, truncated, malformed or of an unsupported format, or the files do not
/// form a chain. (Also clap's code for bad arguments.)
pub const EXIT_NOT_VERIFIED: u8 = 2;
/// Exit code: the check could not run: a file cannot be opened or read, the sort's temporary
/// directory fails, or the output cannot be written.
pub const EXIT_CANNOT_CHECK: u8 = EXIT_FAILURE;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit codes: 0 verified; 2 does not verify (a manifest check or the lattice hash fails, or an \
archive is corrupt, truncated or malformed; also bad arguments); 1 an archive cannot be \
opened or read (missing file, permissions, I/O error).")]
pub struct InspectArgs {
    /// A full archive, optionally followed by an incremental archive on top of it.
    #[arg(required = true, num_args = 1..=2)]
    pub archives: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many owners to list, by account count.
    #[arg(long, default_value_t = 10)]
    pub top_owners: usize,
    /// Directory for the external sort's run files (default: the system temp dir).
    #[arg(long)]
    pub temp_dir: Option<PathBuf>,
    /// Do not compare the lattice hash with the file name and the manifest. The archives are
    /// still read in full, and Agave's manifest checks (capitalization, epoch schedule, ticks,
    /// epoch stakes) still run.
    #[arg(long)]
    pub no_verify: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OwnerStats {
    owner: String,
    accounts: u64,
    lamports: u64,
    data_bytes: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InspectReport {
    archives: Vec<String>,
    slot: u64,
    base_slot: Option<u64>,
    parent_slot: u64,
    block_height: u64,
    capitalization: u64,
    accounts: u64,
    deleted_accounts: u64,
    stored_versions: u64,
    lamports: u64,
    data_bytes: u64,
    accounts_lt_hash: String,
    name_hash: String,
    manifest_lt_hash: Option<String>,
    /// Every check that ran passed.
    verified: bool,
    /// The first failure: a manifest check, else the lattice hash.
    verify_error: Option<String>,
    /// Agave's manifest checks (capitalization, epoch schedule, ticks, epoch stakes).
    manifest_error: Option<String>,
    /// Whether the lattice hash was compared (not with `--no-verify`).
    hash_checked: bool,
    hash_error: Option<String>,
    largest_owners: Vec<OwnerStats>,
}

/// The exit code a failed read maps to.
fn read_failure(error: ChainError) -> anyhow::Error {
    let code = if error.is_io() {
        EXIT_CANNOT_CHECK
    } else {
        EXIT_NOT_VERIFIED
    };
    Fatal::wrap(code, error)
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let chain = SnapshotChain::from_paths(&args.archives).map_err(read_failure)?;
    let temp_dir = args.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut owners: HashMap<Pubkey, (u64, u64, u64)> = HashMap::new();
    let summary = read_chain(&chain, &ChainOptions::new(&temp_dir), |record| {
        let entry = owners.entry(record.owner).or_default();
        entry.0 += 1;
        entry.1 = entry.1.saturating_add(record.lamports);
        entry.2 += record.data.len() as u64;
        Ok(())
    })
    .map_err(read_failure)?;
    let mut largest: Vec<_> = owners.into_iter().collect();
    largest.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
    largest.truncate(args.top_owners);
    let manifest_error = summary
        .check_manifest()
        .err()
        .map(|error| error.to_string());
    let hash_error = if args.no_verify {
        None
    } else {
        summary.verify().err().map(|error| error.to_string())
    };
    let verify_error = manifest_error.clone().or_else(|| hash_error.clone());
    let manifest = summary.manifest();
    let report = InspectReport {
        archives: chain
            .paths()
            .iter()
            .map(|path| path.display().to_string())
            .collect(),
        slot: manifest.slot,
        base_slot: chain.head().base_slot(),
        parent_slot: manifest.parent_slot,
        block_height: manifest.block_height,
        capitalization: manifest.capitalization,
        accounts: summary.live_accounts,
        deleted_accounts: summary.deleted_accounts,
        stored_versions: summary.stored_versions,
        lamports: summary.lamports,
        data_bytes: summary.data_bytes,
        accounts_lt_hash: summary.lt_hash_checksum().to_string(),
        name_hash: chain.head().hash.to_string(),
        manifest_lt_hash: manifest
            .accounts_lt_hash
            .as_ref()
            .map(|hash| lt_hash_checksum(hash).to_string()),
        verified: verify_error.is_none(),
        verify_error,
        manifest_error,
        hash_checked: !args.no_verify,
        hash_error,
        largest_owners: largest
            .into_iter()
            .map(|(owner, (accounts, lamports, data_bytes))| OwnerStats {
                owner: owner.to_string(),
                accounts,
                lamports,
                data_bytes,
            })
            .collect(),
    };
    let printed = if args.json {
        output::line(serde_json::to_string_pretty(&report)?)
    } else {
        print_text(&report)
    };
    printed.map_err(|error| Fatal::wrap(EXIT_CANNOT_CHECK, error))?;
    Ok(ExitCode::from(if report.verified {
        EXIT_VERIFIED
    } else {
        EXIT_NOT_VERIFIED
    }))
}

fn print_text(report: &InspectReport) -> std::io::Result<()> {
    for archive in &report.archives {
        output::line(format_args!("archive          {archive}"))?;
    }
    output::line(format_args!("slot             {}", report.slot))?;
    if let Some(base) = report.base_slot {
        output::line(format_args!("base slot        {base}"))?;
    }
    output::line(format_args!("parent slot      {}", report.parent_slot))?;
    output::line(format_args!("block height     {}", report.block_height))?;
    output::line(format_args!(
        "accounts         {} live, {} deleted, {} stored versions",
        report.accounts, report.deleted_accounts, report.stored_versions
    ))?;
    output::line(format_args!(
        "lamports         {} (manifest capitalization {})",
        report.lamports, report.capitalization
    ))?;
    output::line(format_args!("data bytes       {}", report.data_bytes))?;
    output::line(format_args!("lattice hash     {}", report.accounts_lt_hash))?;
    match &report.manifest_error {
        None => output::line("manifest check   yes (Agave's load checks pass)")?,
        Some(error) => output::line(format_args!("manifest check   NO: {error}"))?,
    }
    match (&report.hash_error, report.hash_checked) {
        (_, false) => output::line("hash check       skipped (--no-verify)")?,
        (None, true) => output::line("hash check       yes (file name and manifest agree)")?,
        (Some(error), true) => output::line(format_args!("hash check       NO: {error}"))?,
    }
    output::line(format_args!(
        "verified         {}",
        if report.verified { "yes" } else { "NO" }
    ))?;
    output::line("largest owners (by accounts):")?;
    for owner in &report.largest_owners {
        output::line(format_args!(
            "  {:<44} {:>10} accounts {:>22} lamports {:>14} bytes",
            owner.owner, owner.accounts, owner.lamports, owner.data_bytes
        ))?;
    }
    Ok(())
}
