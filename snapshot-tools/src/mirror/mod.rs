//! The mirror: keeps an S3-compatible bucket in step with the tracker's best chain.
//!
//! Each round: ask the trackers for the best chains; list the bucket (ListObjectsV2); upload
//! the best chain's archives the bucket lacks (full first), streaming from a sidecar that
//! offers them and falling back to the next one; verify each upload ([`upload`]); write
//! `latest.json` ([`index`]) for the best chain now in the bucket; then delete what the
//! retention rule drops ([`retention`]), so `latest.json` never names a deleted object.

pub mod index;
pub mod retention;
pub mod upload;

use {
    crate::{
        archive::ArchiveName,
        catalog::{SnapshotInfo, chains_of},
        fetch::source::{group_chains, query_tracker, sidecar_url},
        metrics::MirrorMetrics,
        net::target_base_url,
        s3::{S3Client, S3Error, S3Location},
    },
    base64::Engine,
    index::{LATEST_JSON, LATEST_JSON_LIMIT, LatestIndex},
    md5::{Digest, Md5},
    serde::Serialize,
    std::{collections::BTreeMap, time::Duration},
    tokio_util::sync::CancellationToken,
    upload::{UploadOptions, upload_from},
};

pub const DEFAULT_REFRESH: Duration = Duration::from_secs(30);
/// Full snapshots kept (Agave keeps 2 locally by default).
pub const DEFAULT_RETAIN_FULLS: usize = 2;
/// Incrementals kept per kept full (Agave keeps 4 for its newest full).
pub const DEFAULT_RETAIN_INCREMENTALS: usize = 4;
/// Archives from this size are uploaded in parts.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 64 << 20;
pub const DEFAULT_PART_SIZE: u64 = 32 << 20;
pub const DEFAULT_PART_CONCURRENCY: usize = 4;
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Chains asked of each tracker.
const TRACKER_MAX: usize = 10;

#[derive(Debug, Clone)]
pub struct MirrorConfig {
    pub trackers: Vec<String>,
    pub location: S3Location,
    pub credentials: Option<rusty_s3::Credentials>,
    pub refresh: Duration,
    /// Full snapshots kept; 0 keeps everything.
    pub retain_fulls: usize,
    pub retain_incrementals: usize,
    pub upload: UploadOptions,
    /// Time limit of tracker requests, connects, and stalls while streaming.
    pub request_timeout: Duration,
}

impl MirrorConfig {
    pub fn new(trackers: Vec<String>, location: S3Location) -> Self {
        Self {
            trackers,
            location,
            credentials: None,
            refresh: DEFAULT_REFRESH,
            retain_fulls: DEFAULT_RETAIN_FULLS,
            retain_incrementals: DEFAULT_RETAIN_INCREMENTALS,
            upload: UploadOptions {
                multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
                part_size: DEFAULT_PART_SIZE,
                part_concurrency: DEFAULT_PART_CONCURRENCY,
            },
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// No tracker answered.
    #[error("no tracker answered: {0}")]
    Tracker(String),
    #[error(transparent)]
    S3(#[from] S3Error),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
}

/// What one round did, by file name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoundReport {
    pub uploaded: Vec<String>,
    pub skipped: Vec<String>,
    pub deleted: Vec<String>,
    pub errors: Vec<String>,
    /// The head slot `latest.json` names, if any.
    pub latest_slot: Option<u64>,
    pub latest_written: bool,
}

#[derive(Debug)]
pub struct Mirror {
    config: MirrorConfig,
    client: reqwest::Client,
    s3: S3Client,
    metrics: MirrorMetrics,
}

fn uploader() -> String {
    format!("snapshot-tools mirror {}", env!("CARGO_PKG_VERSION"))
}

impl Mirror {
    pub fn new(config: MirrorConfig, registry: &prometheus::Registry) -> Result<Self, MirrorError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.request_timeout)
            .read_timeout(config.request_timeout.max(Duration::from_secs(1)))
            .build()
            .map_err(|error| MirrorError::Client(error.to_string()))?;
        let s3 = S3Client::new(&config.location, config.credentials.clone(), client.clone())?;
        Ok(Self {
            config,
            client,
            s3,
            metrics: MirrorMetrics::new(registry),
        })
    }

    /// Rounds every `refresh` until `shutdown`.
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut interval = tokio::time::interval(self.config.refresh);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = interval.tick() => {}
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                result = self.round() => match result {
                    Ok(report) if report.errors.is_empty() => {
                        tracing::info!(uploaded = ?report.uploaded, deleted = ?report.deleted, latest_slot = ?report.latest_slot, "mirror round done");
                    }
                    Ok(report) => {
                        tracing::warn!(errors = ?report.errors, uploaded = ?report.uploaded, "mirror round had errors");
                    }
                    Err(error) => tracing::warn!(%error, "mirror round failed"),
                },
            }
        }
    }

    /// One round; see the module documentation.
    pub async fn round(&self) -> Result<RoundReport, MirrorError> {
        let result = self.try_round().await;
        let label = match &result {
            Ok(report) if report.errors.is_empty() => "ok",
            _ => "error",
        };
        self.metrics.rounds.with_label_values(&[label]).inc();
        result
    }

    async fn try_round(&self) -> Result<RoundReport, MirrorError> {
        let mut report = RoundReport::default();
        // The best chain, and who offers it.
        let mut base_urls: Vec<String> = Vec::new();
        let mut entries = Vec::new();
        let mut tracker_errors = Vec::new();
        let mut answered = false;
        for tracker in &self.config.trackers {
            match query_tracker(
                &self.client,
                tracker,
                TRACKER_MAX,
                self.config.request_timeout,
            )
            .await
            {
                Ok(sources) => {
                    answered = true;
                    for source in sources {
                        let base_url = source
                            .base_url
                            .clone()
                            .unwrap_or_else(|| target_base_url(&source.target, "http", ""));
                        let id = base_urls
                            .iter()
                            .position(|b| *b == base_url)
                            .unwrap_or_else(|| {
                                base_urls.push(base_url);
                                base_urls.len() - 1
                            });
                        entries.push((id, source.info));
                    }
                }
                Err(error) => tracker_errors.push(error),
            }
        }
        if !answered {
            return Err(MirrorError::Tracker(tracker_errors.join("; ")));
        }
        let mut chains = group_chains(&entries);
        chains.sort_by_key(|chain| {
            (
                std::cmp::Reverse(chain.slot),
                std::cmp::Reverse(chain.agreement),
                chain.first_seen,
            )
        });

        // What the bucket has.
        let mut present: BTreeMap<String, (ArchiveName, u64)> = BTreeMap::new();
        for object in self.s3.list().await? {
            let Some(name) = object.key.strip_prefix(self.s3.prefix()) else {
                continue;
            };
            if let Ok(archive) = name.parse::<ArchiveName>()
                && archive.to_string() == name
            {
                present.insert(name.to_string(), (archive, object.size));
            }
        }

        if let Some(best) = chains.first() {
            for offers in [&best.full_offers, &best.incremental_offers] {
                if offers.is_empty() {
                    continue;
                }
                if !self
                    .mirror_file(offers, &base_urls, &mut present, &mut report)
                    .await
                {
                    // An incremental without its full is useless: stop here.
                    break;
                }
            }
        }

        // latest.json for the best chain left after retention, then the deletions.
        let names: Vec<ArchiveName> = present.values().map(|(name, _)| *name).collect();
        let deletions = retention::to_delete(
            &names,
            self.config.retain_fulls,
            self.config.retain_incrementals,
        );
        let remaining: Vec<(ArchiveName, Option<u64>)> = present
            .values()
            .filter(|(name, _)| !deletions.contains(name))
            .map(|(name, size)| (*name, Some(*size)))
            .collect();
        let bucket_chains = chains_of(&remaining);
        if let Some(best) = bucket_chains.first() {
            report.latest_slot = Some(best.slot);
            self.metrics.latest_slot.set(best.slot as i64);
            match self.write_latest(best, &bucket_chains).await {
                Ok(written) => report.latest_written = written,
                Err(error) => {
                    // Do not delete anything while latest.json may be stale.
                    report.errors.push(format!("{LATEST_JSON}: {error}"));
                    return Ok(report);
                }
            }
        }
        for name in deletions {
            let key = self.s3.key(&name.to_string());
            match self.s3.delete(&key).await {
                Ok(()) => {
                    self.metrics.deleted_objects.inc();
                    tracing::info!(%key, "deleted by retention");
                    report.deleted.push(name.to_string());
                }
                Err(error) => report.errors.push(error.to_string()),
            }
        }
        Ok(report)
    }

    /// Makes sure one file of the chain is in the bucket; `false` if no offer could be had.
    async fn mirror_file(
        &self,
        offers: &[crate::fetch::source::FileOffer],
        base_urls: &[String],
        present: &mut BTreeMap<String, (ArchiveName, u64)>,
        report: &mut RoundReport,
    ) -> bool {
        if let Some(offer) = offers.iter().find(|offer| {
            present
                .get(&offer.name.to_string())
                .is_some_and(|(_, size)| offer.size.is_none_or(|listed| listed == *size))
        }) {
            self.metrics.uploads.with_label_values(&["skipped"]).inc();
            report.skipped.push(offer.name.to_string());
            return true;
        }
        for offer in offers {
            let name = offer.name.to_string();
            let key = self.s3.key(&name);
            let url = match sidecar_url(&base_urls[offer.source], &offer.name) {
                Ok(url) => url,
                Err(error) => {
                    report.errors.push(error);
                    continue;
                }
            };
            tracing::info!(%key, source = %base_urls[offer.source], "uploading");
            match upload_from(
                &self.client,
                &self.s3,
                url,
                &key,
                offer.size,
                &self.config.upload,
            )
            .await
            {
                Ok(uploaded) => {
                    self.metrics.uploads.with_label_values(&["uploaded"]).inc();
                    self.metrics.uploaded_bytes.inc_by(uploaded.bytes);
                    tracing::info!(%key, bytes = uploaded.bytes, parts = uploaded.parts, etag = %uploaded.etag, "uploaded and verified");
                    present.insert(name.clone(), (offer.name, uploaded.bytes));
                    report.uploaded.push(name);
                    return true;
                }
                Err(error) => {
                    self.metrics.uploads.with_label_values(&["error"]).inc();
                    tracing::warn!(%key, %error, "upload failed");
                    report.errors.push(format!("{name}: {error}"));
                }
            }
        }
        false
    }

    /// Writes `latest.json` unless it already says the same (the timestamp aside).
    async fn write_latest(
        &self,
        best: &SnapshotInfo,
        chains: &[SnapshotInfo],
    ) -> Result<bool, String> {
        let names = best.chain_names().map_err(|error| error.to_string())?;
        let url = |name: &ArchiveName| {
            self.s3
                .object_url(&self.s3.key(&name.to_string()))
                .to_string()
        };
        let mut index = LatestIndex {
            slot: best.slot,
            hash: best.hash.clone(),
            timestamp: serde_json::Value::Null,
            full_snapshot_slot: names.full.slot,
            full_snapshot_hash: names.full.hash.to_string(),
            full_snapshot_url: url(&names.full),
            full_snapshot_size: names.full_size,
            incremental_snapshot_slot: names.incremental.map(|(name, _)| name.slot),
            incremental_snapshot_hash: names.incremental.map(|(name, _)| name.hash.to_string()),
            incremental_snapshot_url: names.incremental.map(|(name, _)| url(&name)),
            incremental_snapshot_size: names.incremental.and_then(|(_, size)| size),
            status: "completed".into(),
            uploaded_by: uploader(),
            snapshots: chains.to_vec(),
        };
        let key = self.s3.key(LATEST_JSON);
        let existing = self
            .s3
            .get_small(&key, LATEST_JSON_LIMIT)
            .await
            .map_err(|error| error.to_string())?
            .and_then(|body| serde_json::from_slice::<LatestIndex>(&body).ok());
        if let Some(mut existing) = existing {
            existing.timestamp = serde_json::Value::Null;
            if existing == index {
                return Ok(false);
            }
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        index.timestamp = now.into();
        let body = serde_json::to_vec_pretty(&index).map_err(|error| error.to_string())?;
        let digest = Md5::digest(&body);
        let content_md5 = base64::engine::general_purpose::STANDARD.encode(digest);
        let len = body.len() as u64;
        let etag = self
            .s3
            .put(
                &key,
                body.into(),
                len,
                "application/json",
                Some(&content_md5),
            )
            .await
            .map_err(|error| error.to_string())?;
        let expected: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        if etag != expected {
            return Err(format!("ETag {etag}, MD5 {expected}"));
        }
        tracing::info!(%key, slot = index.slot, "latest.json written");
        Ok(true)
    }
}
