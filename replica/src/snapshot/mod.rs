//! The replica's own snapshot archives: a full archive every `full_interval_slots` and
//! incrementals on top of it every `incremental_interval_slots`, in Agave's names and format with
//! the lattice hash in the name, pruned like Agave prunes (newest fulls, and the newest
//! incrementals of the newest full). A sidecar beside the replica serves them to new replicas.

mod bank;
pub mod write;

use {
    crate::state::ReplicaState,
    serde::{Deserialize, Serialize},
    snapshot_tools::archive::{ArchiveFormat, ArchiveName},
    solana_clock::Slot,
    std::{
        path::{Path, PathBuf},
        sync::Arc,
    },
    tokio_util::sync::CancellationToken,
    write::{SnapshotWriteError, WrittenSnapshot, write_full, write_incremental},
};

pub const DEFAULT_MAX_FULL_TO_RETAIN: usize = 2;
pub const DEFAULT_MAX_INCREMENTAL_TO_RETAIN: usize = 4;

/// The `[snapshots]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotConfig {
    /// Directory of the replica's archives; default `<ledger>/snapshots`.
    pub dir: Option<PathBuf>,
    /// Slots between full archives; 0 writes none.
    pub full_interval_slots: u64,
    /// Slots between incremental archives; 0 writes none.
    pub incremental_interval_slots: u64,
    pub max_full_to_retain: usize,
    pub max_incremental_to_retain: usize,
    /// Write `.tar.lz4` instead of `.tar.zst`.
    pub lz4: bool,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        Self {
            dir: None,
            full_interval_slots: 0,
            incremental_interval_slots: 0,
            max_full_to_retain: DEFAULT_MAX_FULL_TO_RETAIN,
            max_incremental_to_retain: DEFAULT_MAX_INCREMENTAL_TO_RETAIN,
            lz4: false,
        }
    }
}

impl SnapshotConfig {
    pub fn enabled(&self) -> bool {
        self.full_interval_slots > 0
    }

    pub fn dir(&self, ledger: &Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| ledger.join("snapshots"))
    }

    fn format(&self) -> ArchiveFormat {
        if self.lz4 {
            ArchiveFormat::TarLz4
        } else {
            ArchiveFormat::TarZstd
        }
    }
}

/// Archives in `dir`, parsed from their names.
fn archives(dir: &Path) -> Vec<(ArchiveName, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .filter_map(|path| ArchiveName::from_path(&path).ok().map(|name| (name, path)))
        .collect()
}

/// Deletes all but the newest `max_full` fulls and the newest `max_incremental` incrementals of
/// the newest full.
pub fn prune(dir: &Path, max_full: usize, max_incremental: usize) -> std::io::Result<Vec<PathBuf>> {
    let mut archives = archives(dir);
    archives.sort_by_key(|(name, _)| std::cmp::Reverse(name.slot));
    let fulls: Vec<Slot> = archives
        .iter()
        .filter(|(name, _)| name.is_full())
        .map(|(name, _)| name.slot)
        .collect();
    let kept_fulls: Vec<Slot> = fulls.iter().take(max_full.max(1)).copied().collect();
    let newest_full = kept_fulls.first().copied();
    let mut kept_incrementals = 0;
    let mut removed = Vec::new();
    for (name, path) in archives {
        let keep = match name.base_slot() {
            None => kept_fulls.contains(&name.slot),
            Some(base) if Some(base) == newest_full && kept_incrementals < max_incremental => {
                kept_incrementals += 1;
                true
            }
            Some(_) => false,
        };
        if !keep {
            std::fs::remove_file(&path)?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// The newest full archive and the newest archive of its chain in `dir`.
fn newest(dir: &Path) -> (Option<Slot>, Option<Slot>) {
    let archives = archives(dir);
    let full = archives
        .iter()
        .filter(|(name, _)| name.is_full())
        .map(|(name, _)| name.slot)
        .max();
    let newest = archives
        .iter()
        .filter(|(name, _)| {
            name.slot >= full.unwrap_or(u64::MAX) && (name.is_full() || name.base_slot() == full)
        })
        .map(|(name, _)| name.slot)
        .max();
    (full, newest)
}

/// Writes archives as the root advances, until cancelled.
pub async fn run(
    state: Arc<ReplicaState>,
    config: SnapshotConfig,
    dir: PathBuf,
    cancel: CancellationToken,
) {
    if let Err(error) = std::fs::create_dir_all(&dir) {
        tracing::error!(dir = %dir.display(), %error, "cannot create the snapshot directory; not writing snapshots");
        return;
    }
    let mut changes = state.subscribe_changes();
    let (mut full, mut latest) = newest(&dir);
    loop {
        let Some(root) = state.root_slot() else {
            return;
        };
        let due_full = full.is_none_or(|full| root >= full + config.full_interval_slots);
        let due_incremental = config.incremental_interval_slots > 0
            && full.is_some_and(|full| root > full)
            && latest.is_none_or(|latest| root >= latest + config.incremental_interval_slots);
        if due_full || due_incremental {
            let store = state.store().clone();
            let (dir_for_task, format) = (dir.clone(), config.format());
            let base = full;
            let written = tokio::task::spawn_blocking(
                move || -> Result<WrittenSnapshot, SnapshotWriteError> {
                    match (due_full, base) {
                        (false, Some(base)) => {
                            match write_incremental(&store, &dir_for_task, base, format) {
                                Err(SnapshotWriteError::DeltaLogGap { .. }) => {
                                    write_full(&store, &dir_for_task, format)
                                }
                                other => other,
                            }
                        }
                        _ => write_full(&store, &dir_for_task, format),
                    }
                },
            )
            .await;
            match written {
                Ok(Ok(snapshot)) => {
                    state.metrics().snapshots_written.inc();
                    tracing::info!(archive = %snapshot.path.display(), slot = snapshot.slot, base = ?snapshot.base_slot, accounts = snapshot.accounts, "wrote snapshot archive");
                    if snapshot.base_slot.is_none() {
                        full = Some(snapshot.slot);
                    }
                    latest = Some(snapshot.slot);
                    match prune(
                        &dir,
                        config.max_full_to_retain,
                        config.max_incremental_to_retain,
                    ) {
                        Ok(removed) if !removed.is_empty() => {
                            tracing::info!(removed = removed.len(), "pruned old snapshot archives")
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, "pruning snapshot archives failed"),
                    }
                }
                Ok(Err(error)) => tracing::error!(%error, "writing a snapshot archive failed"),
                Err(error) => tracing::error!(%error, "the snapshot task failed"),
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use {super::*, solana_hash::Hash};

    #[test]
    fn pruning_keeps_agave_shape() {
        let dir = tempfile::tempdir().unwrap();
        let hash = Hash::new_from_array([7; 32]);
        let touch =
            |name: ArchiveName| std::fs::write(dir.path().join(name.to_string()), b"x").unwrap();
        for slot in [100, 200, 300] {
            touch(ArchiveName::full(slot, hash, ArchiveFormat::TarZstd));
        }
        for slot in [150, 250] {
            touch(ArchiveName::incremental(
                100,
                slot,
                hash,
                ArchiveFormat::TarZstd,
            ));
        }
        for slot in [310, 320, 330] {
            touch(ArchiveName::incremental(
                300,
                slot,
                hash,
                ArchiveFormat::TarZstd,
            ));
        }
        prune(dir.path(), 2, 2).unwrap();
        let mut left: Vec<String> = archives(dir.path())
            .into_iter()
            .map(|(name, _)| format!("{:?}-{}", name.base_slot(), name.slot))
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec!["None-200", "None-300", "Some(300)-320", "Some(300)-330"]
        );
        assert_eq!(newest(dir.path()), (Some(300), Some(330)));
    }
}
