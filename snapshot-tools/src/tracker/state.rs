//! What the tracker knows about its targets, without I/O: each target's last scraped chains,
//! its run of failed scrapes, and the "best snapshots" order. Time comes in as `now`.

use {
    crate::catalog::{SnapshotInfo, SnapshotSource, rfc3339},
    serde::Serialize,
    std::{
        collections::{BTreeMap, HashMap, HashSet},
        time::SystemTime,
    },
};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetKey {
    pub group: String,
    pub target: String,
}

#[derive(Debug, Clone)]
struct TargetState {
    base_url: String,
    snapshots: Vec<SnapshotInfo>,
    updated_at: Option<SystemTime>,
    /// Failed scrapes in a row.
    failures: u32,
}

/// An element of `GET /v1/snapshots` (Blockdaemon's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackerEntry {
    pub target: String,
    /// Bitwise NOT of the slot (Blockdaemon's sort key).
    pub inverse_slot: u64,
    pub info: SnapshotInfo,
    pub updated_at: String,
}

#[derive(Debug, Default)]
pub struct TargetTable {
    targets: BTreeMap<TargetKey, TargetState>,
}

/// What a failed scrape did to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// The target keeps its entries for now.
    Kept { failures: u32 },
    /// This failure reached the limit: the target's entries were dropped.
    Expired,
    /// The target had no entries already.
    AlreadyEmpty,
}

impl TargetTable {
    /// Sets a group's targets after discovery: new ones are added empty, ones no longer
    /// discovered are dropped at once.
    pub fn set_group_targets(&mut self, group: &str, targets: &[(String, String)]) {
        let wanted: HashMap<&str, &str> = targets
            .iter()
            .map(|(target, base_url)| (target.as_str(), base_url.as_str()))
            .collect();
        self.targets
            .retain(|key, _| key.group != group || wanted.contains_key(key.target.as_str()));
        for (target, base_url) in wanted {
            let state = self
                .targets
                .entry(TargetKey {
                    group: group.to_string(),
                    target: target.to_string(),
                })
                .or_insert_with(|| TargetState {
                    base_url: base_url.to_string(),
                    snapshots: Vec::new(),
                    updated_at: None,
                    failures: 0,
                });
            state.base_url = base_url.to_string();
        }
    }

    /// Drops every group not in `groups` (after a reload).
    pub fn retain_groups(&mut self, groups: &HashSet<String>) {
        self.targets.retain(|key, _| groups.contains(&key.group));
    }

    pub fn record_success(
        &mut self,
        key: &TargetKey,
        snapshots: Vec<SnapshotInfo>,
        now: SystemTime,
    ) {
        if let Some(state) = self.targets.get_mut(key) {
            state.snapshots = snapshots;
            state.updated_at = Some(now);
            state.failures = 0;
        }
    }

    pub fn record_failure(&mut self, key: &TargetKey, max_failures: u32) -> FailureOutcome {
        let Some(state) = self.targets.get_mut(key) else {
            return FailureOutcome::AlreadyEmpty;
        };
        state.failures = state.failures.saturating_add(1);
        if state.updated_at.is_none() {
            FailureOutcome::AlreadyEmpty
        } else if state.failures >= max_failures {
            state.snapshots.clear();
            state.updated_at = None;
            FailureOutcome::Expired
        } else {
            FailureOutcome::Kept {
                failures: state.failures,
            }
        }
    }

    pub fn target_count(&self) -> usize {
        self.targets.len()
    }

    pub fn live_count(&self) -> usize {
        self.targets
            .values()
            .filter(|state| state.updated_at.is_some())
            .count()
    }

    fn sources(
        &self,
    ) -> impl Iterator<Item = (&TargetKey, &TargetState, &SnapshotInfo, SystemTime)> {
        self.targets.iter().flat_map(|(key, state)| {
            state.snapshots.iter().filter_map(move |info| {
                state
                    .updated_at
                    .map(|updated_at| (key, state, info, updated_at))
            })
        })
    }

    /// `GET /v1/best_snapshots?max=N`: at most `max` chains over all targets, best first:
    /// highest slot, then the most targets agreeing on (slot, hash), then the freshest scrape.
    pub fn best(&self, max: usize) -> Vec<SnapshotSource> {
        let mut agreement: HashMap<(u64, &str), HashSet<&str>> = HashMap::new();
        for (key, _, info, _) in self.sources() {
            agreement
                .entry((info.slot, info.hash.as_str()))
                .or_default()
                .insert(key.target.as_str());
        }
        let mut entries: Vec<_> = self
            .sources()
            .map(|(key, state, info, updated_at)| {
                let agreeing = agreement
                    .get(&(info.slot, info.hash.as_str()))
                    .map_or(0, HashSet::len);
                (agreeing, key, state, info, updated_at)
            })
            .collect();
        entries.sort_by(|a, b| {
            b.3.slot
                .cmp(&a.3.slot)
                .then(b.0.cmp(&a.0))
                .then(b.4.cmp(&a.4))
                .then(a.1.target.cmp(&b.1.target))
                .then(a.3.files.len().cmp(&b.3.files.len()))
                .then(a.1.group.cmp(&b.1.group))
        });
        entries
            .into_iter()
            .take(max)
            .map(|(_, key, state, info, updated_at)| SnapshotSource {
                info: info.clone(),
                target: key.target.clone(),
                updated_at: rfc3339(updated_at),
                base_url: Some(state.base_url.clone()),
            })
            .collect()
    }

    /// `GET /v1/snapshots`: every entry, by target then slot descending.
    pub fn entries(&self) -> Vec<TrackerEntry> {
        let mut entries: Vec<_> = self
            .sources()
            .map(|(key, _, info, updated_at)| TrackerEntry {
                target: key.target.clone(),
                inverse_slot: !info.slot,
                info: info.clone(),
                updated_at: rfc3339(updated_at),
            })
            .collect();
        entries.sort_by(|a, b| {
            a.target
                .cmp(&b.target)
                .then(a.inverse_slot.cmp(&b.inverse_slot))
        });
        entries
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::{
            archive::{ArchiveFormat, ArchiveName},
            catalog::SnapshotFile,
        },
        solana_hash::Hash,
        std::time::Duration,
    };

    fn info(slot: u64, seed: u8) -> SnapshotInfo {
        let name = ArchiveName::full(
            slot,
            Hash::new_from_array([seed; 32]),
            ArchiveFormat::TarZstd,
        );
        SnapshotInfo {
            slot,
            hash: name.hash.to_string(),
            files: vec![SnapshotFile::new(&name, Some(1), None)],
            size: 1,
        }
    }

    fn key(target: &str) -> TargetKey {
        TargetKey {
            group: "g".into(),
            target: target.into(),
        }
    }

    fn table(targets: &[&str]) -> TargetTable {
        let mut table = TargetTable::default();
        let targets: Vec<_> = targets
            .iter()
            .map(|t| (t.to_string(), format!("http://{t}")))
            .collect();
        table.set_group_targets("g", &targets);
        table
    }

    #[test]
    fn best_prefers_slot_then_agreement_then_freshness() {
        let mut table = table(&["a", "b", "c", "d"]);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let t1 = t0 + Duration::from_secs(1);
        // a alone has slot 300 with hash 9; b and c agree on slot 200 hash 2, d disagrees.
        table.record_success(&key("a"), vec![info(300, 9), info(100, 1)], t0);
        table.record_success(&key("b"), vec![info(200, 2)], t0);
        table.record_success(&key("c"), vec![info(200, 2)], t1);
        table.record_success(&key("d"), vec![info(200, 3)], t1);
        let best = table.best(10);
        let order: Vec<_> = best
            .iter()
            .map(|s| (s.target.as_str(), s.info.slot))
            .collect();
        assert_eq!(
            order,
            vec![("a", 300), ("c", 200), ("b", 200), ("d", 200), ("a", 100)]
        );
        assert_eq!(best[0].base_url.as_deref(), Some("http://a"));
        // Exactly N, never N + 1.
        assert_eq!(table.best(2).len(), 2);
        assert_eq!(table.best(0).len(), 0);
        assert_eq!(table.entries().len(), 5);
    }

    #[test]
    fn targets_expire_after_failed_scrapes_and_recover() {
        let mut table = table(&["a"]);
        let now = SystemTime::UNIX_EPOCH;
        table.record_success(&key("a"), vec![info(100, 1)], now);
        assert_eq!(
            table.record_failure(&key("a"), 3),
            FailureOutcome::Kept { failures: 1 }
        );
        assert_eq!(table.best(10).len(), 1);
        assert_eq!(
            table.record_failure(&key("a"), 3),
            FailureOutcome::Kept { failures: 2 }
        );
        assert_eq!(table.record_failure(&key("a"), 3), FailureOutcome::Expired);
        assert!(table.best(10).is_empty());
        assert_eq!(table.live_count(), 0);
        assert_eq!(
            table.record_failure(&key("a"), 3),
            FailureOutcome::AlreadyEmpty
        );
        table.record_success(&key("a"), vec![info(100, 1)], now);
        assert_eq!(table.best(10).len(), 1);
    }

    #[test]
    fn undiscovered_targets_are_dropped() {
        let mut table = table(&["a", "b"]);
        table.record_success(&key("a"), vec![info(100, 1)], SystemTime::UNIX_EPOCH);
        table.record_success(&key("b"), vec![info(100, 1)], SystemTime::UNIX_EPOCH);
        table.set_group_targets("g", &[("b".into(), "http://b".into())]);
        assert_eq!(table.target_count(), 1);
        assert_eq!(table.best(10)[0].target, "b");
        table.retain_groups(&HashSet::new());
        assert_eq!(table.target_count(), 0);
    }
}
