//! Prometheus metrics of the sidecar, tracker and mirror. Names are `snapshot_<component>_…`
//! with a unit suffix; labels are noted beside each name and never hold a slot or a peer.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Requests served; labels `route` (`list`, `archive`, `best_full`, `redirect`, `other`) and
/// `status` (the HTTP status code).
pub const SIDECAR_REQUESTS_TOTAL: &str = "snapshot_sidecar_requests_total";
/// Requests that asked for a byte range (answered 206 or 416).
pub const SIDECAR_RANGE_REQUESTS_TOTAL: &str = "snapshot_sidecar_range_requests_total";
/// Archive bytes sent.
pub const SIDECAR_SENT_BYTES_TOTAL: &str = "snapshot_sidecar_sent_bytes_total";
/// Archive transfers in progress.
pub const SIDECAR_TRANSFERS: &str = "snapshot_sidecar_transfers";
/// Archives listed at the last scan.
pub const SIDECAR_ARCHIVES: &str = "snapshot_sidecar_archives";
/// Files named like archives that are not archives, each counted once per version of the
/// file (size, mtime), and `remote/` symlinks leading outside the archive directories, once;
/// label `reason` (`size`, `magic`, `header`, `format`, `unreadable`, `remote_symlink`).
pub const SIDECAR_REJECTED_TOTAL: &str = "snapshot_sidecar_rejected_total";
/// Files named like archives that were not listed at the last scan.
pub const SIDECAR_REJECTED_FILES: &str = "snapshot_sidecar_rejected_files";

/// Scrapes of targets; label `result` (`ok`, `error`).
pub const TRACKER_SCRAPES_TOTAL: &str = "snapshot_tracker_scrapes_total";
/// Time one scrape of one target took.
pub const TRACKER_SCRAPE_DURATION_SECONDS: &str = "snapshot_tracker_scrape_duration_seconds";
/// Targets currently known (discovered), and how many of them have live entries.
pub const TRACKER_TARGETS: &str = "snapshot_tracker_targets";
pub const TRACKER_LIVE_TARGETS: &str = "snapshot_tracker_live_targets";
/// Targets forgotten after too many failed scrapes in a row.
pub const TRACKER_EXPIRED_TARGETS_TOTAL: &str = "snapshot_tracker_expired_targets_total";
/// Target discovery failures (file or HTTP discovery); the previous list is kept.
pub const TRACKER_DISCOVERY_ERRORS_TOTAL: &str = "snapshot_tracker_discovery_errors_total";
/// Configuration reloads; label `result` (`ok`, `error`).
pub const TRACKER_RELOADS_TOTAL: &str = "snapshot_tracker_reloads_total";

/// Archive uploads; label `result` (`uploaded`, `skipped`, `error`).
pub const MIRROR_UPLOADS_TOTAL: &str = "snapshot_mirror_uploads_total";
/// Bytes uploaded.
pub const MIRROR_UPLOADED_BYTES_TOTAL: &str = "snapshot_mirror_uploaded_bytes_total";
/// Objects deleted by retention.
pub const MIRROR_DELETED_OBJECTS_TOTAL: &str = "snapshot_mirror_deleted_objects_total";
/// Refresh rounds; label `result` (`ok`, `error`).
pub const MIRROR_ROUNDS_TOTAL: &str = "snapshot_mirror_rounds_total";
/// The head slot `latest.json` points at (a value, not a label).
pub const MIRROR_LATEST_SLOT: &str = "snapshot_mirror_latest_slot";

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let counter = IntCounter::new(name, help).expect("valid metric");
    registry
        .register(Box::new(counter.clone()))
        .expect("metric registered once");
    counter
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let counter = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(counter.clone()))
        .expect("metric registered once");
    counter
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let gauge = IntGauge::new(name, help).expect("valid metric");
    registry
        .register(Box::new(gauge.clone()))
        .expect("metric registered once");
    gauge
}

#[derive(Debug, Clone)]
pub struct SidecarMetrics {
    pub requests: IntCounterVec,
    pub range_requests: IntCounter,
    pub sent_bytes: IntCounter,
    pub transfers: IntGauge,
    pub archives: IntGauge,
    pub rejected: IntCounterVec,
    pub rejected_files: IntGauge,
}

impl SidecarMetrics {
    pub fn new(registry: &Registry) -> Self {
        Self {
            requests: counter_vec(
                registry,
                SIDECAR_REQUESTS_TOTAL,
                "Requests served",
                &["route", "status"],
            ),
            range_requests: counter(
                registry,
                SIDECAR_RANGE_REQUESTS_TOTAL,
                "Requests with a byte range",
            ),
            sent_bytes: counter(registry, SIDECAR_SENT_BYTES_TOTAL, "Archive bytes sent"),
            transfers: gauge(registry, SIDECAR_TRANSFERS, "Archive transfers in progress"),
            archives: gauge(
                registry,
                SIDECAR_ARCHIVES,
                "Archives listed at the last scan",
            ),
            rejected: counter_vec(
                registry,
                SIDECAR_REJECTED_TOTAL,
                "Files named like archives that are not archives, and remote/ symlinks leading outside",
                &["reason"],
            ),
            rejected_files: gauge(
                registry,
                SIDECAR_REJECTED_FILES,
                "Files named like archives not listed at the last scan",
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TrackerMetrics {
    pub scrapes: IntCounterVec,
    pub scrape_duration: Histogram,
    pub targets: IntGauge,
    pub live_targets: IntGauge,
    pub expired_targets: IntCounter,
    pub discovery_errors: IntCounter,
    pub reloads: IntCounterVec,
}

impl TrackerMetrics {
    pub fn new(registry: &Registry) -> Self {
        let scrape_duration = Histogram::with_opts(
            HistogramOpts::new(
                TRACKER_SCRAPE_DURATION_SECONDS,
                "Time one scrape of one target took",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect("valid metric");
        registry
            .register(Box::new(scrape_duration.clone()))
            .expect("metric registered once");
        Self {
            scrapes: counter_vec(
                registry,
                TRACKER_SCRAPES_TOTAL,
                "Scrapes of targets",
                &["result"],
            ),
            scrape_duration,
            targets: gauge(registry, TRACKER_TARGETS, "Targets known"),
            live_targets: gauge(registry, TRACKER_LIVE_TARGETS, "Targets with live entries"),
            expired_targets: counter(
                registry,
                TRACKER_EXPIRED_TARGETS_TOTAL,
                "Targets forgotten after failed scrapes",
            ),
            discovery_errors: counter(
                registry,
                TRACKER_DISCOVERY_ERRORS_TOTAL,
                "Target discovery failures",
            ),
            reloads: counter_vec(
                registry,
                TRACKER_RELOADS_TOTAL,
                "Configuration reloads",
                &["result"],
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MirrorMetrics {
    pub uploads: IntCounterVec,
    pub uploaded_bytes: IntCounter,
    pub deleted_objects: IntCounter,
    pub rounds: IntCounterVec,
    pub latest_slot: IntGauge,
}

impl MirrorMetrics {
    pub fn new(registry: &Registry) -> Self {
        Self {
            uploads: counter_vec(
                registry,
                MIRROR_UPLOADS_TOTAL,
                "Archive uploads",
                &["result"],
            ),
            uploaded_bytes: counter(registry, MIRROR_UPLOADED_BYTES_TOTAL, "Bytes uploaded"),
            deleted_objects: counter(
                registry,
                MIRROR_DELETED_OBJECTS_TOTAL,
                "Objects deleted by retention",
            ),
            rounds: counter_vec(registry, MIRROR_ROUNDS_TOTAL, "Refresh rounds", &["result"]),
            latest_slot: gauge(
                registry,
                MIRROR_LATEST_SLOT,
                "Head slot latest.json points at",
            ),
        }
    }
}
