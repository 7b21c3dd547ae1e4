//! First-hop verification by the validator's own snapshots. The Geyser plugin cannot compute a
//! lattice hash, so the first replica's state is checked whenever a validator snapshot appears:
//! its file name carries its slot and blake3 of the state's accounts lattice hash, which this
//! replica kept for every retained rooted slot. A match is counted; a mismatch means this
//! replica's state diverged and only a new bootstrap repairs it.
//!
//! Only the trusted sources count when some are configured. Otherwise every archive the
//! trackers list counts, and a slot whose archives disagree with each other proves nothing
//! unless this replica disagrees with all of them.

use {
    crate::state::ReplicaState,
    snapshot_tools::fetch::source::query_tracker,
    solana_clock::Slot,
    solana_hash::Hash,
    std::{
        collections::{BTreeMap, BTreeSet},
        str::FromStr,
        sync::Arc,
        time::Duration,
    },
    tokio_util::sync::CancellationToken,
};

/// How often the trackers are asked for the snapshots they know.
const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Chains asked of each tracker per poll.
const CHAINS_PER_POLL: usize = 16;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Slots already judged (kept bounded).
const REMEMBERED_SLOTS: usize = 4096;

/// A validator snapshot that contradicts this replica's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mismatch {
    pub slot: Slot,
    pub reason: String,
}

/// What the listed archives say of one slot.
#[derive(Debug, Default)]
struct Listed {
    hashes: BTreeSet<Hash>,
    /// One archive's file name, for messages.
    file_name: String,
}

/// What a comparison found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Judgement {
    Match,
    Mismatch,
    /// The archives disagree with each other and one of them agrees with this replica.
    Conflict,
}

fn judge(ours: &Hash, listed: &BTreeSet<Hash>) -> Judgement {
    if !listed.contains(ours) {
        Judgement::Mismatch
    } else if listed.len() == 1 {
        Judgement::Match
    } else {
        Judgement::Conflict
    }
}

/// This replica's lattice-hash checksum at `slot`, if it keeps one (the root, or a rooted slot
/// within the delta log's retention).
fn hash_at(state: &ReplicaState, slot: Slot) -> Option<Hash> {
    let store = state.store();
    match store.root() {
        Some(root) if root.slot == slot => Some(root.lt_hash_checksum()),
        Some(root) if root.slot > slot => store
            .delta_slot(slot)
            .ok()
            .flatten()
            .map(|header| header.accounts_lt_hash),
        _ => None,
    }
}

/// The archives the trackers list, by slot: those of `trusted` targets only, unless empty.
async fn listed_archives(
    client: &reqwest::Client,
    trackers: &[String],
    trusted: &[String],
) -> BTreeMap<Slot, Listed> {
    let mut listed: BTreeMap<Slot, Listed> = BTreeMap::new();
    for tracker in trackers {
        let chains = match query_tracker(client, tracker, CHAINS_PER_POLL, REQUEST_TIMEOUT).await {
            Ok(chains) => chains,
            Err(error) => {
                tracing::debug!(%error, "a tracker did not answer the verification poll");
                continue;
            }
        };
        let files = chains
            .iter()
            .filter(|chain| trusted.is_empty() || trusted.contains(&chain.target))
            .flat_map(|chain| chain.info.files.iter());
        for file in files {
            let Ok(hash) = Hash::from_str(&file.hash) else {
                continue;
            };
            let entry = listed.entry(file.slot).or_default();
            entry.hashes.insert(hash);
            if entry.file_name.is_empty() {
                entry.file_name.clone_from(&file.file_name);
            }
        }
    }
    listed
}

/// Polls the trackers until cancelled; returns the snapshot that contradicts this replica's
/// state, if one does.
pub(super) async fn run(
    state: Arc<ReplicaState>,
    trackers: Vec<String>,
    trusted: Vec<String>,
    cancel: CancellationToken,
) -> Option<Mismatch> {
    if trackers.is_empty() {
        cancel.cancelled().await;
        return None;
    }
    let client = reqwest::Client::new();
    let mut judged: BTreeSet<Slot> = BTreeSet::new();
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return None,
            _ = tick.tick() => {}
        }
        let listed = listed_archives(&client, &trackers, &trusted).await;
        for (slot, listed) in listed {
            if judged.contains(&slot) {
                continue;
            }
            let ours = {
                let state = state.clone();
                tokio::task::spawn_blocking(move || hash_at(&state, slot))
                    .await
                    .ok()
                    .flatten()
            };
            // Not rooted here yet (asked again at the next poll), or past retention.
            let Some(ours) = ours else { continue };
            let node = state.node();
            match judge(&ours, &listed.hashes) {
                Judgement::Match => {
                    node.metrics().snapshots_verified.inc();
                    node.update_verification(|verification| {
                        verification.last_verified_slot =
                            verification.last_verified_slot.max(Some(slot));
                    });
                    tracing::info!(slot, archive = %listed.file_name, "a validator snapshot confirms this replica's state");
                }
                Judgement::Mismatch => {
                    node.metrics().snapshot_mismatches.inc();
                    let theirs: Vec<String> =
                        listed.hashes.iter().map(ToString::to_string).collect();
                    let reason = format!(
                        "at slot {slot} this replica's accounts hash to {ours}; the snapshot {} says {}",
                        listed.file_name,
                        theirs.join(" or ")
                    );
                    tracing::error!(%reason, "this replica's state diverged from the validator's");
                    node.update_verification(|verification| {
                        verification.mismatch = Some(reason.clone());
                    });
                    return Some(Mismatch { slot, reason });
                }
                Judgement::Conflict => {
                    tracing::warn!(slot, hashes = ?listed.hashes, "snapshot sources disagree at this slot; it verifies nothing (list the validators' sidecars with --trusted-snapshot-source)");
                }
            }
            judged.insert(slot);
            while judged.len() > REMEMBERED_SLOTS {
                judged.pop_first();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_verifies_only_when_every_archive_agrees() {
        let (ours, other) = (Hash::new_unique(), Hash::new_unique());
        let set = |hashes: &[Hash]| hashes.iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(judge(&ours, &set(&[ours])), Judgement::Match);
        assert_eq!(judge(&ours, &set(&[other])), Judgement::Mismatch);
        assert_eq!(judge(&ours, &set(&[ours, other])), Judgement::Conflict);
        let third = Hash::new_unique();
        assert_eq!(judge(&ours, &set(&[other, third])), Judgement::Mismatch);
    }
}
