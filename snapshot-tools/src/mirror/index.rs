//! `latest.json`: the index object a mirror keeps beside the archives, with the keys of
//! Blockdaemon's agave-snapshot-uploader (`slot`, `hash`, `timestamp`, `full_snapshot_*`,
//! `incremental_snapshot_*`, `status`, `uploaded_by`) plus `snapshots`, every complete chain
//! in the bucket best first in the sidecar's `SnapshotInfo` shape, which `fetch` reads.

use {
    crate::{
        archive::Slot,
        catalog::{SnapshotFile, SnapshotInfo},
    },
    serde::{Deserialize, Serialize},
};

pub const LATEST_JSON: &str = "latest.json";
/// Largest `latest.json` a reader accepts.
pub const LATEST_JSON_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestIndex {
    /// Head of the best chain.
    pub slot: Slot,
    pub hash: String,
    /// When this index was written, Unix seconds.
    #[serde(default)]
    pub timestamp: serde_json::Value,
    pub full_snapshot_slot: Slot,
    pub full_snapshot_hash: String,
    pub full_snapshot_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_snapshot_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental_snapshot_slot: Option<Slot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental_snapshot_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental_snapshot_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental_snapshot_size: Option<u64>,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub uploaded_by: String,
    #[serde(default)]
    pub snapshots: Vec<SnapshotInfo>,
}

fn last_segment(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    path.rsplit('/')
        .next()
        .filter(|segment| !segment.is_empty())
}

impl LatestIndex {
    /// The chains this index offers, best first: `snapshots` when present, else the one chain
    /// named by the `*_snapshot_url` keys (as Blockdaemon's uploader writes them).
    pub fn chains(&self) -> Vec<SnapshotInfo> {
        if !self.snapshots.is_empty() {
            return self.snapshots.clone();
        }
        let file = |url: &str, size: Option<u64>| -> Option<SnapshotFile> {
            let name = last_segment(url)?.parse().ok()?;
            Some(SnapshotFile::new(&name, size, None))
        };
        let Some(full) = file(&self.full_snapshot_url, self.full_snapshot_size) else {
            return Vec::new();
        };
        let mut files = Vec::new();
        if let Some(url) = &self.incremental_snapshot_url {
            match file(url, self.incremental_snapshot_size) {
                Some(incremental) => files.push(incremental),
                None => return Vec::new(),
            }
        }
        files.push(full);
        let head = &files[0];
        vec![SnapshotInfo {
            slot: head.slot,
            hash: head.hash.clone(),
            size: files.iter().filter_map(|file| file.size).sum(),
            files,
        }]
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::archive::{ArchiveFormat, ArchiveName},
        solana_hash::Hash,
    };

    #[test]
    fn chains_from_urls_of_an_uploader_index() {
        let full = ArchiveName::full(100, Hash::new_from_array([1; 32]), ArchiveFormat::TarZstd);
        let incremental = ArchiveName::incremental(
            100,
            150,
            Hash::new_from_array([2; 32]),
            ArchiveFormat::TarZstd,
        );
        let json = serde_json::json!({
            "solana_version": "2.2.0",
            "slot": 150, "hash": incremental.hash.to_string(),
            "timestamp": "2025-01-01T00:00:00Z",
            "full_snapshot_slot": 100, "full_snapshot_hash": full.hash.to_string(),
            "full_snapshot_url": format!("https://cdn.example/b/{full}"),
            "incremental_snapshot_slot": 150,
            "incremental_snapshot_hash": incremental.hash.to_string(),
            "incremental_snapshot_url": format!("https://cdn.example/b/{incremental}?x=1"),
        });
        let index: LatestIndex = serde_json::from_value(json).unwrap();
        let chains = index.chains();
        assert_eq!(chains.len(), 1);
        let names = chains[0].chain_names().unwrap();
        assert_eq!(names.full, full);
        assert_eq!(names.incremental.unwrap().0, incremental);
    }
}
