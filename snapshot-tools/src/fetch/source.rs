//! Where archives can come from: sidecars named by trackers (`/v1/best_snapshots`) and an S3
//! mirror (its `latest.json`). Their answers are grouped into [`RemoteChain`]s, each with the
//! offers of every source that has it.

use {
    crate::{
        archive::{ArchiveName, Slot},
        catalog::{SnapshotInfo, SnapshotSource},
        mirror::index::{LATEST_JSON, LATEST_JSON_LIMIT, LatestIndex},
        net::{error_text, target_base_url},
        s3::S3Client,
    },
    futures::StreamExt,
    reqwest::Url,
    solana_hash::Hash,
    std::{collections::HashMap, time::Duration},
};

/// One place to download from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A sidecar: archives at `<base_url>/v1/snapshot/<name>`.
    Sidecar { base_url: String },
    /// The S3 mirror: archives at `<prefix><name>`.
    Mirror,
}

impl Source {
    pub fn label(&self) -> &str {
        match self {
            Source::Sidecar { base_url } => base_url,
            Source::Mirror => "s3-mirror",
        }
    }
}

/// A file as one source offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOffer {
    /// Index into the source list.
    pub source: usize,
    pub name: ArchiveName,
    pub size: Option<u64>,
}

/// A chain (full + optional incremental) identified by slots and hashes, whatever the
/// archive format, with every source's offer of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteChain {
    pub slot: Slot,
    pub hash: Hash,
    pub full: (Slot, Hash),
    /// (slot, hash) of the incremental.
    pub incremental: Option<(Slot, Hash)>,
    pub full_offers: Vec<FileOffer>,
    pub incremental_offers: Vec<FileOffer>,
    /// Distinct sources that have this chain's head state (slot and hash), by any chain.
    pub agreement: usize,
    /// Position of the first offer in the sources' answers (they come best first).
    pub first_seen: usize,
}

/// A chain by (full slot, hash) and optional (incremental slot, hash).
type ChainKey = ((Slot, Hash), Option<(Slot, Hash)>);

/// Groups `(source, chain)` answers, in the order given, into chains.
pub fn group_chains(entries: &[(usize, SnapshotInfo)]) -> Vec<RemoteChain> {
    let mut chains: Vec<RemoteChain> = Vec::new();
    let mut index: HashMap<ChainKey, usize> = HashMap::new();
    let mut heads: HashMap<(Slot, Hash), Vec<usize>> = HashMap::new();
    for (position, (source, info)) in entries.iter().enumerate() {
        let Ok(names) = info.chain_names() else {
            tracing::debug!(slot = info.slot, "skipping a malformed chain");
            continue;
        };
        let full = (names.full.slot, names.full.hash);
        let incremental = names.incremental.map(|(name, _)| (name.slot, name.hash));
        let at = *index.entry((full, incremental)).or_insert_with(|| {
            chains.push(RemoteChain {
                slot: names.head().slot,
                hash: names.head().hash,
                full,
                incremental,
                full_offers: Vec::new(),
                incremental_offers: Vec::new(),
                agreement: 0,
                first_seen: position,
            });
            chains.len() - 1
        });
        let chain = &mut chains[at];
        let add = |offers: &mut Vec<FileOffer>, name: ArchiveName, size| {
            if !offers.iter().any(|o| o.source == *source && o.name == name) {
                offers.push(FileOffer {
                    source: *source,
                    name,
                    size,
                });
            }
        };
        add(&mut chain.full_offers, names.full, names.full_size);
        if let Some((name, size)) = names.incremental {
            add(&mut chain.incremental_offers, name, size);
        }
        let agreeing = heads.entry((chain.slot, chain.hash)).or_default();
        if !agreeing.contains(source) {
            agreeing.push(*source);
        }
    }
    for chain in &mut chains {
        chain.agreement = heads.get(&(chain.slot, chain.hash)).map_or(0, Vec::len);
    }
    chains
}

/// Asks one tracker for its best chains.
pub async fn query_tracker(
    client: &reqwest::Client,
    tracker: &str,
    max: usize,
    timeout: Duration,
) -> Result<Vec<SnapshotSource>, String> {
    let base = target_base_url(tracker, "http", "");
    let url = format!("{base}/v1/best_snapshots?max={max}");
    let response = client
        .get(&url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|error| format!("{url}: {}", error_text(&error)))?;
    if !response.status().is_success() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| format!("{url}: {}", error_text(&error)))?;
        if body.len() + chunk.len() > LATEST_JSON_LIMIT * 4 {
            return Err(format!("{url}: answer too large"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|error| format!("{url}: invalid JSON: {error}"))
}

/// The chains a mirror offers, from its `latest.json`.
pub async fn query_mirror(s3: &S3Client) -> Result<Vec<SnapshotInfo>, String> {
    let key = s3.key(LATEST_JSON);
    let body = s3
        .get_small(&key, LATEST_JSON_LIMIT)
        .await
        .map_err(|error| error.to_string())?
        .ok_or_else(|| format!("the mirror has no {key}"))?;
    let index: LatestIndex =
        serde_json::from_slice(&body).map_err(|error| format!("{key}: invalid JSON: {error}"))?;
    Ok(index.chains())
}

/// The download URL of a sidecar archive.
pub fn sidecar_url(base_url: &str, name: &ArchiveName) -> Result<Url, String> {
    Url::parse(&format!("{base_url}/v1/snapshot/{name}"))
        .map_err(|error| format!("bad source URL {base_url}: {error}"))
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::{archive::ArchiveFormat, catalog::SnapshotFile},
    };

    fn hash(seed: u8) -> Hash {
        Hash::new_from_array([seed; 32])
    }

    fn chain(full: ArchiveName, incremental: Option<ArchiveName>) -> SnapshotInfo {
        let mut files = Vec::new();
        files.extend(incremental.map(|name| SnapshotFile::new(&name, Some(2), None)));
        files.push(SnapshotFile::new(&full, Some(1), None));
        let head = incremental.unwrap_or(full);
        SnapshotInfo {
            slot: head.slot,
            hash: head.hash.to_string(),
            files,
            size: 3,
        }
    }

    #[test]
    fn groups_offers_by_slots_and_hashes() {
        let full_zst = ArchiveName::full(100, hash(1), ArchiveFormat::TarZstd);
        let full_lz4 = ArchiveName::full(100, hash(1), ArchiveFormat::TarLz4);
        let incremental = ArchiveName::incremental(100, 200, hash(2), ArchiveFormat::TarZstd);
        let full200 = ArchiveName::full(200, hash(2), ArchiveFormat::TarZstd);
        let entries = vec![
            (0, chain(full_zst, Some(incremental))),
            (1, chain(full_lz4, Some(incremental))),
            (2, chain(full200, None)),
            (0, chain(full_zst, None)),
        ];
        let chains = group_chains(&entries);
        assert_eq!(chains.len(), 3);
        assert_eq!(chains[0].slot, 200);
        assert_eq!(chains[0].full_offers.len(), 2);
        assert_eq!(chains[0].full_offers[1].name, full_lz4);
        assert_eq!(chains[0].incremental_offers.len(), 2);
        // Three sources have the state at slot 200, by two different chains.
        assert_eq!(chains[0].agreement, 3);
        assert_eq!(chains[1].agreement, 3);
        assert_eq!(chains[1].full, (200, hash(2)));
        assert_eq!(chains[2].slot, 100);
        assert_eq!(chains[2].agreement, 1);
    }
}
