//! First start: load snapshot archives into a new store. Later starts: reopen the store.

use {
    crate::store::{
        AccountsStore, IndexCheck, StoreConfig, StoreError,
        bulk::{BulkLoadError, BulkLoadOptions, BulkLoadReport, bulk_load, clean_interrupted},
    },
    snapshot_tools::archive::{ChainError, SnapshotChain},
    std::path::{Path, PathBuf},
};

/// Why the store could not be opened or loaded.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("cannot create the ledger directory {}: {source}", .path.display())]
    CreateLedger {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot clean the remains of an interrupted load in {}: {source}", .path.display())]
    CleanInterrupted {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{} exists but holds no bootstrapped state; remove it to bootstrap again", .path.display())]
    NotBootstrapped { path: PathBuf },
    #[error(
        "{} holds no accounts store; give --snapshot <full archive> [--snapshot <incremental archive>]",
        .ledger.display()
    )]
    NoSnapshot { ledger: PathBuf },
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Load(#[from] BulkLoadError),
}

/// How the store came to be open.
#[derive(Debug)]
pub enum Bootstrap {
    /// Loaded from snapshot archives on this start.
    Loaded(Box<BulkLoadReport>),
    /// An existing store was reopened.
    Reopened,
}

/// The store directory inside a ledger.
pub fn store_path(ledger: &Path) -> PathBuf {
    ledger.join("accounts")
}

/// Opens the ledger's store, loading `snapshots` into it first if there is none.
pub fn open_or_load(
    ledger: &Path,
    snapshots: &[PathBuf],
    config: &StoreConfig,
    options: &BulkLoadOptions,
) -> Result<(AccountsStore, Bootstrap), BootstrapError> {
    std::fs::create_dir_all(ledger).map_err(|source| BootstrapError::CreateLedger {
        path: ledger.to_path_buf(),
        source,
    })?;
    let store_path = store_path(ledger);
    let cleaned =
        clean_interrupted(&store_path).map_err(|source| BootstrapError::CleanInterrupted {
            path: ledger.to_path_buf(),
            source,
        })?;
    if cleaned {
        tracing::warn!(ledger = %ledger.display(), "removed the remains of an interrupted bootstrap load");
    }
    if store_path.exists() {
        let store = AccountsStore::open(&store_path, config.clone())?;
        let root = store
            .root()
            .ok_or_else(|| BootstrapError::NotBootstrapped {
                path: store_path.clone(),
            })?;
        let checked = std::time::Instant::now();
        match store.check_indexes()? {
            IndexCheck::Complete => {
                tracing::info!(
                    seconds = checked.elapsed().as_secs_f64(),
                    "secondary indexes checked"
                );
            }
            IndexCheck::Rebuild(reason) => {
                tracing::warn!(%reason, "rebuilding the secondary indexes");
                let entries = store.rebuild_indexes()?;
                tracing::info!(entries, "secondary indexes rebuilt");
            }
        }
        if !snapshots.is_empty() {
            tracing::info!(root_slot = root.slot, "store exists; --snapshot is ignored");
        }
        tracing::info!(root_slot = root.slot, accounts = root.accounts, accounts_lt_hash = %root.lt_hash_checksum(), "reopened the accounts store");
        return Ok((store, Bootstrap::Reopened));
    }
    if snapshots.is_empty() {
        return Err(BootstrapError::NoSnapshot {
            ledger: ledger.to_path_buf(),
        });
    }
    let chain = SnapshotChain::from_paths(snapshots)?;
    tracing::info!(
        full = %chain.full.display(),
        incremental = ?chain.incremental.as_ref().map(|(path, _)| path.display().to_string()),
        verify = options.verify,
        "bootstrapping the accounts store from snapshot archives"
    );
    let report = bulk_load(&store_path, &chain, config, options)?;
    tracing::info!(
        slot = report.summary.manifest().slot,
        accounts = report.summary.live_accounts,
        deleted = report.summary.deleted_accounts,
        index_entries = report.index_entries,
        seconds = report.elapsed.as_secs_f64(),
        accounts_per_second = report.accounts_per_second() as u64,
        accounts_lt_hash = %report.summary.lt_hash_checksum(),
        verified = report.verified,
        "bootstrap load complete"
    );
    let store = AccountsStore::open(&store_path, config.clone())?;
    Ok((store, Bootstrap::Loaded(Box::new(report))))
}
