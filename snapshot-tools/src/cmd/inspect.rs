//! `snapshot-tools inspect <archive>...`: what a snapshot chain holds, and whether its lattice
//! hash verifies.

use {
    crate::archive::{ChainOptions, SnapshotChain, lt_hash_checksum, read_chain},
    serde::Serialize,
    solana_pubkey::Pubkey,
    std::{collections::HashMap, path::PathBuf, process::ExitCode},
};

#[derive(Debug, clap::Args)]
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
    verified: bool,
    verify_error: Option<String>,
    largest_owners: Vec<OwnerStats>,
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let chain = SnapshotChain::from_paths(&args.archives)?;
    let temp_dir = args.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut owners: HashMap<Pubkey, (u64, u64, u64)> = HashMap::new();
    let summary = read_chain(&chain, &ChainOptions::new(&temp_dir), |record| {
        let entry = owners.entry(record.owner).or_default();
        entry.0 += 1;
        entry.1 = entry.1.saturating_add(record.lamports);
        entry.2 += record.data.len() as u64;
        Ok(())
    })?;
    let mut largest: Vec<_> = owners.into_iter().collect();
    largest.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
    largest.truncate(args.top_owners);
    let verify = summary.verify();
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
        verified: verify.is_ok(),
        verify_error: verify.as_ref().err().map(ToString::to_string),
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
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(if report.verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn print_text(report: &InspectReport) {
    for archive in &report.archives {
        println!("archive          {archive}");
    }
    println!("slot             {}", report.slot);
    if let Some(base) = report.base_slot {
        println!("base slot        {base}");
    }
    println!("parent slot      {}", report.parent_slot);
    println!("block height     {}", report.block_height);
    println!(
        "accounts         {} live, {} deleted, {} stored versions",
        report.accounts, report.deleted_accounts, report.stored_versions
    );
    println!(
        "lamports         {} (manifest capitalization {})",
        report.lamports, report.capitalization
    );
    println!("data bytes       {}", report.data_bytes);
    println!("lattice hash     {}", report.accounts_lt_hash);
    match &report.verify_error {
        None => println!("verified         yes (file name and manifest agree)"),
        Some(error) => println!("verified         NO: {error}"),
    }
    println!("largest owners (by accounts):");
    for owner in &report.largest_owners {
        println!(
            "  {:<44} {:>10} accounts {:>22} lamports {:>14} bytes",
            owner.owner, owner.accounts, owner.lamports, owner.data_bytes
        );
    }
}
