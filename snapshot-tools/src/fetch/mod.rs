//! Fetching the best snapshot chain into a ledger, as a library call:
//! [`fetch_best`] with a [`FetchConfig`] gives a [`FetchOutcome`] naming the chain's paths.
//!
//! 1. List the ledger's archives (and its `remote/`); the best local chain is the baseline.
//! 2. Ask the trackers (`/v1/best_snapshots`) and the S3 mirror (`latest.json`) what exists;
//!    group the answers by chain, each with every source's offer ([`source`]).
//! 3. Decide ([`plan`]): up to date, or the candidate chains in order.
//! 4. For each candidate: download what the ledger lacks (only the incremental when the local
//!    full is its base) into a `tmp-fetch-*` staging directory inside the ledger, resuming
//!    after a dropped connection and moving to the next source on failure ([`download`]);
//!    verify sizes and the lattice hash ([`verify`]); a corrupt archive or a wrong hash
//!    discards that file and its source, and the next source is tried.
//! 5. Rename the verified archives into the ledger (full first), fsync the directory.

mod attempt;
pub mod download;
pub mod plan;
pub mod progress;
pub mod source;
pub mod verify;
pub mod writer;

use {
    crate::{
        archive::{Slot, SnapshotChain, chain::DEFAULT_SORT_MEMORY},
        catalog::{Catalog, CatalogError, LocalChain, SnapshotSource},
        s3::{S3Client, S3Location},
    },
    plan::Plan,
    progress::Progress,
    solana_hash::Hash,
    source::{Source, group_chains},
    std::{io, path::PathBuf, time::Duration},
    tokio::time::Instant,
};

pub const DEFAULT_MIN_SLOTS: u64 = 500;
pub const DEFAULT_MAX_SLOTS: u64 = 10_000;
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
pub const DEFAULT_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);
/// Chains asked of each tracker.
pub const DEFAULT_MAX_CANDIDATES: usize = 10;
/// Retries of one source without progress before moving to the next (about 3 s of backoff).
pub const DEFAULT_RESUME_ATTEMPTS: u32 = 5;

/// The S3 mirror as a source.
#[derive(Debug, Clone)]
pub struct MirrorSource {
    pub location: S3Location,
    /// `None`: unsigned requests (a public bucket).
    pub credentials: Option<rusty_s3::Credentials>,
}

#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Where archives are looked for (with `remote/`) and put.
    pub ledger: PathBuf,
    /// Tracker base URLs (`http://host:8458`, or `host:8458`).
    pub trackers: Vec<String>,
    /// Only chains offered by these tracker targets (`host:port` as the tracker lists them)
    /// count; empty: every target.
    pub only_targets: Vec<String>,
    pub mirror: Option<MirrorSource>,
    /// Fetch only when the best remote chain is at least this many slots above the local one.
    pub min_slots: u64,
    /// Ignore chains more than this many slots below the best remote chain.
    pub max_slots: u64,
    /// Time limit for a tracker answer, for a download's response headers, and for a stall
    /// in a transfer.
    pub request_timeout: Duration,
    /// Time limit for all downloading of one call (verification not included).
    pub download_timeout: Duration,
    pub max_candidates: usize,
    pub resume_attempts: u32,
    /// Verify the lattice hash (reads the whole chain). Sizes are always checked.
    pub verify_hash: bool,
    /// Memory for the verification's external sort.
    pub sort_memory: usize,
    /// Progress bars on stderr when it is a terminal.
    pub progress: bool,
}

impl FetchConfig {
    pub fn new(ledger: PathBuf) -> Self {
        Self {
            ledger,
            trackers: Vec::new(),
            only_targets: Vec::new(),
            mirror: None,
            min_slots: DEFAULT_MIN_SLOTS,
            max_slots: DEFAULT_MAX_SLOTS,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            download_timeout: DEFAULT_DOWNLOAD_TIMEOUT,
            max_candidates: DEFAULT_MAX_CANDIDATES,
            resume_attempts: DEFAULT_RESUME_ATTEMPTS,
            verify_hash: true,
            sort_memory: DEFAULT_SORT_MEMORY,
            progress: false,
        }
    }
}

/// A complete chain in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSnapshot {
    pub full: PathBuf,
    pub incremental: Option<PathBuf>,
    /// Slot and hash of the head (the incremental if any).
    pub slot: Slot,
    pub hash: Hash,
}

impl LocalSnapshot {
    fn from_chain(chain: &LocalChain<'_>) -> Self {
        Self {
            full: chain.full.path.clone(),
            incremental: chain.incremental.map(|archive| archive.path.clone()),
            slot: chain.slot(),
            hash: chain.head().name.hash,
        }
    }

    /// The chain, ready for `read_chain`.
    pub fn chain(&self) -> Result<SnapshotChain, crate::archive::ChainError> {
        SnapshotChain::new(&self.full, self.incremental.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// Nothing remote is `min_slots` newer than this local chain.
    UpToDate(LocalSnapshot),
    /// This chain was downloaded, verified and moved into the ledger.
    Fetched(LocalSnapshot),
}

impl FetchOutcome {
    pub fn snapshot(&self) -> &LocalSnapshot {
        match self {
            FetchOutcome::UpToDate(snapshot) | FetchOutcome::Fetched(snapshot) => snapshot,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Neither a tracker nor a mirror was given.
    #[error("no source: give a tracker or a mirror")]
    NoSource,
    /// The ledger directory could not be created, listed or written.
    #[error("ledger {}: {error}", .path.display())]
    Ledger { path: PathBuf, error: io::Error },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// No tracker or mirror answered; `local` is the best local chain, if any (it stays).
    #[error(
        "no source answered: {}{}",
        .errors.join("; "),
        .local.as_ref().map_or(String::new(), |local| format!(" (the local snapshot at slot {} stays)", local.slot))
    )]
    NoAnswer {
        errors: Vec<String>,
        local: Option<LocalSnapshot>,
    },
    /// Nothing local and nothing remote.
    #[error("no snapshot is available locally or from any source")]
    NothingAvailable,
    /// Another fetch holds the ledger's lock (`tmp-fetch.lock`).
    #[error("another fetch is running on the ledger {}", .0.display())]
    Busy(PathBuf),
    /// Every candidate chain failed from every source.
    #[error("every candidate failed: {}", .errors.join("; "))]
    AllFailed { errors: Vec<String> },
}

/// What one call works with.
struct Context<'a> {
    config: &'a FetchConfig,
    client: reqwest::Client,
    sources: Vec<Source>,
    s3: Option<S3Client>,
    progress: Progress,
    deadline: Instant,
}

async fn scan_ledger(ledger: &std::path::Path) -> Result<Catalog, FetchError> {
    let dirs = vec![ledger.to_path_buf()];
    tokio::task::spawn_blocking(move || Catalog::scan(&dirs))
        .await
        .map_err(|error| FetchError::Ledger {
            path: ledger.to_path_buf(),
            error: io::Error::other(error),
        })?
        .map_err(FetchError::from)
}

/// Name of the lock file that keeps two fetches off one ledger.
const LOCK_FILE: &str = "tmp-fetch.lock";
/// Prefix of staging directories.
const STAGING_PREFIX: &str = "tmp-fetch-";

/// Takes the ledger's fetch lock (released when the file is dropped) and removes staging
/// directories that a killed fetch left behind (only a lock holder can have made them).
async fn lock_ledger(ledger: &std::path::Path) -> Result<std::fs::File, FetchError> {
    let ledger = ledger.to_path_buf();
    let task = tokio::task::spawn_blocking(move || {
        let ledger_error = |error| FetchError::Ledger {
            path: ledger.clone(),
            error,
        };
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(ledger.join(LOCK_FILE))
            .map_err(ledger_error)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(FetchError::Busy(ledger.clone())),
            Err(std::fs::TryLockError::Error(error)) => return Err(ledger_error(error)),
        }
        for entry in std::fs::read_dir(&ledger).map_err(ledger_error)? {
            let entry = entry.map_err(ledger_error)?;
            let stale = entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.starts_with(STAGING_PREFIX))
                && entry.file_type().is_ok_and(|kind| kind.is_dir());
            if stale {
                tracing::info!(path = %entry.path().display(), "removing a stale staging directory");
                std::fs::remove_dir_all(entry.path()).map_err(ledger_error)?;
            }
        }
        Ok(lock)
    });
    task.await.map_err(|error| FetchError::Ledger {
        path: PathBuf::new(),
        error: io::Error::other(error),
    })?
}

/// Brings the ledger up to the best available chain. See the module documentation.
pub async fn fetch_best(config: &FetchConfig) -> Result<FetchOutcome, FetchError> {
    if config.trackers.is_empty() && config.mirror.is_none() {
        return Err(FetchError::NoSource);
    }
    tokio::fs::create_dir_all(&config.ledger)
        .await
        .map_err(|error| FetchError::Ledger {
            path: config.ledger.clone(),
            error,
        })?;
    let _lock = lock_ledger(&config.ledger).await?;
    let local = scan_ledger(&config.ledger).await?;
    let local_best = local
        .best_chain()
        .map(|chain| LocalSnapshot::from_chain(&chain));

    let client = reqwest::Client::builder()
        .connect_timeout(config.request_timeout)
        .build()
        .map_err(|error| FetchError::NoAnswer {
            errors: vec![format!("HTTP client: {error}")],
            local: local_best.clone(),
        })?;
    let s3 = match &config.mirror {
        Some(mirror) => Some(
            S3Client::new(&mirror.location, mirror.credentials.clone(), client.clone()).map_err(
                |error| FetchError::NoAnswer {
                    errors: vec![error.to_string()],
                    local: local_best.clone(),
                },
            )?,
        ),
        None => None,
    };

    // What the sources offer, best first.
    let mut sources: Vec<Source> = Vec::new();
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut answered = false;
    for tracker in &config.trackers {
        match source::query_tracker(
            &client,
            tracker,
            config.max_candidates,
            config.request_timeout,
        )
        .await
        {
            Ok(found) => {
                answered = true;
                let trusted = |entry: &SnapshotSource| {
                    config.only_targets.is_empty() || config.only_targets.contains(&entry.target)
                };
                for entry in found.into_iter().filter(trusted) {
                    let base_url = entry
                        .base_url
                        .clone()
                        .unwrap_or_else(|| crate::net::target_base_url(&entry.target, "http", ""));
                    let source = Source::Sidecar { base_url };
                    let id = match sources.iter().position(|s| *s == source) {
                        Some(id) => id,
                        None => {
                            sources.push(source);
                            sources.len() - 1
                        }
                    };
                    entries.push((id, entry.info));
                }
            }
            Err(error) => errors.push(error),
        }
    }
    if let Some(s3) = &s3 {
        match tokio::time::timeout(config.request_timeout, source::query_mirror(s3)).await {
            Ok(Ok(chains)) => {
                answered = true;
                sources.push(Source::Mirror);
                let id = sources.len() - 1;
                entries.extend(chains.into_iter().map(|info| (id, info)));
            }
            Ok(Err(error)) => errors.push(error),
            Err(_) => errors.push("the mirror did not answer in time".into()),
        }
    }
    if !answered {
        // One fatal error names every source; nothing was logged per source.
        return Err(FetchError::NoAnswer {
            errors,
            local: local_best,
        });
    }
    for error in &errors {
        tracing::warn!(%error, "a source did not answer; using the others");
    }
    let chains = group_chains(&entries);

    let local_slot = local_best.as_ref().map(|snapshot| snapshot.slot);
    let decision = plan::plan(
        local_slot,
        |slot, hash| local.full_with(slot, hash).is_some(),
        &chains,
        config.min_slots,
        config.max_slots,
    );
    let candidates = match decision {
        Plan::NothingAvailable => return Err(FetchError::NothingAvailable),
        Plan::UpToDate => {
            let snapshot = local_best.expect("up to date only with a local chain");
            tracing::info!(slot = snapshot.slot, "the local snapshot is up to date");
            return Ok(FetchOutcome::UpToDate(snapshot));
        }
        Plan::Fetch(candidates) => candidates,
    };

    let context = Context {
        config,
        client,
        sources,
        s3,
        progress: Progress::new(config.progress),
        deadline: Instant::now() + config.download_timeout,
    };
    let mut errors = Vec::new();
    let mut candidates = candidates.into_iter().peekable();
    while let Some(at) = candidates.next() {
        let chain = &chains[at];
        tracing::info!(
            slot = chain.slot,
            hash = %chain.hash,
            full_slot = chain.full.0,
            agreement = chain.agreement,
            "fetching a snapshot chain"
        );
        match attempt::fetch_chain(&context, chain, &local).await {
            Ok(snapshot) => {
                tracing::info!(slot = snapshot.slot, full = %snapshot.full.display(), "snapshot chain fetched");
                return Ok(FetchOutcome::Fetched(snapshot));
            }
            Err(attempt::AttemptError::Ledger(error)) => return Err(error),
            Err(attempt::AttemptError::Failed(error)) => {
                let deadline = Instant::now() >= context.deadline;
                // The last failure is part of the fatal error; only a retried one is logged.
                if candidates.peek().is_some() && !deadline {
                    tracing::warn!(slot = chain.slot, %error, "chain failed; trying the next");
                }
                errors.push(format!("slot {}: {error}", chain.slot));
                if deadline {
                    errors.push("the download deadline passed".into());
                    break;
                }
            }
        }
    }
    Err(FetchError::AllFailed { errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn the_fetch_future_can_be_spawned() {
        let config = FetchConfig::new(PathBuf::from("/nonexistent"));
        let future = fetch_best(&config);
        assert_send(&future);
    }

    #[tokio::test]
    async fn needs_a_source_and_locks_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let config = FetchConfig::new(dir.path().to_path_buf());
        assert!(matches!(
            fetch_best(&config).await,
            Err(FetchError::NoSource)
        ));
        let _held = lock_ledger(dir.path()).await.unwrap();
        assert!(matches!(
            lock_ledger(dir.path()).await,
            Err(FetchError::Busy(_))
        ));
    }
}
