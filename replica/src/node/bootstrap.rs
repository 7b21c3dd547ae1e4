//! First start: load snapshot archives into a new store. Later starts: reopen the store. A new
//! bootstrap while serving loads into a directory beside the served store; a pointer file
//! names the current store, so the switch is one atomic rename and a crash at any moment
//! leaves either the old store or the new one current (the other is removed at the next start).

use {
    crate::store::{
        AccountsStore, IndexCheck, StoreConfig, StoreError,
        bulk::{
            self, BulkLoadError, BulkLoadOptions, BulkLoadReport, bulk_load, clean_interrupted,
        },
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

/// The store directory a ledger starts with.
const FIRST_STORE: &str = "accounts";
/// The file naming the current store directory when it is not the first.
const CURRENT_POINTER: &str = "accounts.current";

/// The current store directory inside a ledger.
pub fn store_path(ledger: &Path) -> PathBuf {
    let pointed = std::fs::read_to_string(ledger.join(CURRENT_POINTER))
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| is_store_name(name));
    ledger.join(pointed.as_deref().unwrap_or(FIRST_STORE))
}

/// `accounts` or `accounts-<slot>[-<n>]`: nothing else is ever pointed to or removed as a
/// store.
fn is_store_name(name: &str) -> bool {
    name == FIRST_STORE
        || name.strip_prefix("accounts-").is_some_and(|rest| {
            !rest.is_empty()
                && rest.bytes().all(|b| b.is_ascii_digit() || b == b'-')
                && rest.as_bytes()[0].is_ascii_digit()
        })
}

/// A fresh directory beside the current store for a new bootstrap at `slot`.
pub fn next_store_path(ledger: &Path, slot: u64) -> Result<PathBuf, BootstrapError> {
    let current = store_path(ledger);
    let path = (0..)
        .map(|n| match n {
            0 => ledger.join(format!("accounts-{slot}")),
            n => ledger.join(format!("accounts-{slot}-{n}")),
        })
        .find(|path| *path != current)
        .expect("an unused name");
    for leftover in [path.clone(), bulk::staging_path(&path)] {
        if leftover.exists() {
            std::fs::remove_dir_all(&leftover).map_err(|source| {
                BootstrapError::CleanInterrupted {
                    path: leftover.clone(),
                    source,
                }
            })?;
        }
    }
    clean_interrupted(&path).map_err(|source| BootstrapError::CleanInterrupted {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Makes `store` the current store of `ledger` (atomically, durably).
pub fn make_current(ledger: &Path, store: &Path) -> Result<(), BootstrapError> {
    let name = store
        .file_name()
        .and_then(|name| name.to_str())
        .filter(|name| name.starts_with("accounts"))
        .ok_or_else(|| BootstrapError::NotBootstrapped {
            path: store.to_path_buf(),
        })?;
    let io = |source| BootstrapError::CreateLedger {
        path: ledger.to_path_buf(),
        source,
    };
    let temporary = ledger.join(format!("{CURRENT_POINTER}.tmp"));
    let mut file = std::fs::File::create(&temporary).map_err(io)?;
    std::io::Write::write_all(&mut file, name.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temporary, ledger.join(CURRENT_POINTER)).map_err(io)?;
    std::fs::File::open(ledger)
        .and_then(|dir| dir.sync_all())
        .map_err(io)
}

/// Removes store directories (and the remains of their loads) that are not the current store:
/// the old store of a completed switch, or a new one whose switch never happened.
pub fn remove_stale_stores(ledger: &Path) -> std::io::Result<Vec<PathBuf>> {
    let current = store_path(ledger);
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(ledger) else {
        return Ok(removed);
    };
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let (base, suffix) = name.split_once('.').unwrap_or((name, ""));
        let leftover = matches!(suffix, "" | "loading" | "loading-work");
        if path.is_dir() && leftover && is_store_name(base) && ledger.join(base) != current {
            std::fs::remove_dir_all(&path)?;
            removed.push(path);
        }
    }
    Ok(removed)
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
    let store = load_into(&store_path, snapshots, config, options)?;
    Ok((store.0, Bootstrap::Loaded(store.1)))
}

/// Loads `snapshots` into a new store at `path` (which must not exist) and opens it.
pub fn load_into(
    path: &Path,
    snapshots: &[PathBuf],
    config: &StoreConfig,
    options: &BulkLoadOptions,
) -> Result<(AccountsStore, Box<BulkLoadReport>), BootstrapError> {
    let chain = SnapshotChain::from_paths(snapshots)?;
    tracing::info!(
        full = %chain.full.display(),
        incremental = ?chain.incremental.as_ref().map(|(path, _)| path.display().to_string()),
        verify = options.verify,
        "bootstrapping the accounts store from snapshot archives"
    );
    let report = bulk_load(path, &chain, config, options)?;
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
    let store = AccountsStore::open(path, config.clone())?;
    Ok((store, Box::new(report)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pointer_names_the_current_store_and_stale_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path();
        assert_eq!(store_path(ledger), ledger.join("accounts"));
        std::fs::create_dir_all(ledger.join("accounts")).unwrap();
        let next = next_store_path(ledger, 500).unwrap();
        assert_eq!(next, ledger.join("accounts-500"));
        std::fs::create_dir_all(&next).unwrap();
        std::fs::create_dir_all(ledger.join("accounts-400.loading")).unwrap();
        std::fs::create_dir_all(ledger.join("snapshots")).unwrap();
        // Before the switch the new directory is not current: a restart removes it.
        make_current(ledger, &next).unwrap();
        assert_eq!(store_path(ledger), next);
        let mut removed = remove_stale_stores(ledger).unwrap();
        removed.sort();
        assert_eq!(
            removed,
            vec![ledger.join("accounts"), ledger.join("accounts-400.loading")]
        );
        assert!(next.exists() && ledger.join("snapshots").exists());
        // A bootstrap at the current store's slot gets another name.
        assert_eq!(
            next_store_path(ledger, 500).unwrap(),
            ledger.join("accounts-500-1")
        );
        // A pointer naming something else is ignored.
        std::fs::write(ledger.join(CURRENT_POINTER), "../etc").unwrap();
        assert_eq!(store_path(ledger), ledger.join("accounts"));
    }
}
