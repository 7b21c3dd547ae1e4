//! `replica run`: bootstrap on first start, then keep and serve the store.

use {
    crate::{
        bootstrap,
        config::ReplicaConfig,
        store::{IndexKind, bulk::BulkLoadOptions},
    },
    anyhow::Context,
    serde::Serialize,
    std::{path::PathBuf, process::ExitCode},
};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// TOML configuration file; flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory for the replica's store and state.
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    /// Snapshot archive to bootstrap from on first start: the full archive, then optionally
    /// an incremental archive on top of it.
    #[arg(long = "snapshot")]
    pub snapshots: Vec<PathBuf>,
    /// Load the snapshot even if its lattice hash does not verify.
    #[arg(long)]
    pub no_verify: bool,
    /// Secondary index to keep (repeatable; default: all of them).
    #[arg(long = "account-index", value_enum)]
    pub account_indexes: Vec<IndexKind>,
    /// Key excluded from every secondary index (repeatable).
    #[arg(long = "account-index-exclude-key")]
    pub account_index_exclude_keys: Vec<String>,
    /// Index only these keys (repeatable; overrides exclusions).
    #[arg(long = "account-index-include-key")]
    pub account_index_include_keys: Vec<String>,
    /// Written as JSON once the replica is ready.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Stop once the store is bootstrapped or reopened.
    #[arg(long)]
    pub exit_after_bootstrap: bool,
    /// Validate the configuration, print it, and exit.
    #[arg(long)]
    pub check: bool,
}

impl RunArgs {
    /// The file's configuration (or the default) with flags applied on top.
    pub fn config(&self) -> anyhow::Result<ReplicaConfig> {
        let mut config = match &self.config {
            Some(path) => ReplicaConfig::from_file(path)?,
            None => ReplicaConfig::default(),
        };
        if let Some(ledger) = &self.ledger {
            config.ledger = Some(ledger.clone());
        }
        if !self.snapshots.is_empty() {
            config.snapshots = self.snapshots.clone();
        }
        if self.no_verify {
            config.verify_snapshot = false;
        }
        if !self.account_indexes.is_empty() {
            config.accounts_index.indexes = self.account_indexes.clone();
        }
        if !self.account_index_exclude_keys.is_empty() {
            config.accounts_index.exclude_keys = self.account_index_exclude_keys.clone();
        }
        if !self.account_index_include_keys.is_empty() {
            config.accounts_index.include_keys = self.account_index_include_keys.clone();
        }
        if let Some(ready_file) = &self.ready_file {
            config.ready_file = Some(ready_file.clone());
        }
        Ok(config)
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReadyInfo {
    root_slot: u64,
    accounts_lt_hash: String,
    accounts: u64,
    capitalization: u64,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let store_config = config.store_config()?;
    if args.check {
        println!("{}", toml::to_string_pretty(&config)?);
        return Ok(ExitCode::SUCCESS);
    }
    let ledger = config.ledger.clone().context("--ledger is required")?;
    let load_options = BulkLoadOptions {
        verify: config.verify_snapshot,
        sort_memory: config.store.sort_memory_mb << 20,
        ..BulkLoadOptions::default()
    };
    let (store, _how) =
        bootstrap::open_or_load(&ledger, &config.snapshots, &store_config, &load_options)?;
    let root = store.root().context("store has no root after bootstrap")?;
    if let Some(path) = &config.ready_file {
        common::ready::write(
            path,
            &ReadyInfo {
                root_slot: root.slot,
                accounts_lt_hash: root.lt_hash_checksum().to_string(),
                accounts: root.accounts,
                capitalization: root.capitalization,
            },
        )
        .with_context(|| format!("writing ready file {}", path.display()))?;
    }
    if args.exit_after_bootstrap {
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(common::shutdown::signal());
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
