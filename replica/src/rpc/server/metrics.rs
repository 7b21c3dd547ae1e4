//! JSON-RPC metrics, prefixed `replica_rpc_`. The `method` label holds a served method name,
//! `fallback` for forwarded calls or `unknown`; never a parameter.

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

/// Calls by method (label `method`).
pub(crate) const REQUESTS_TOTAL: &str = "replica_rpc_requests_total";
/// Failed calls by method and JSON-RPC error code (labels `method`, `code`).
pub(crate) const ERRORS_TOTAL: &str = "replica_rpc_errors_total";
/// Call latency until the result is ready (label `method`); streamed bodies excluded.
pub(crate) const REQUEST_DURATION_SECONDS: &str = "replica_rpc_request_duration_seconds";
/// Scan responses streamed in two passes because they outgrew the in-memory buffer.
pub(crate) const SCANS_STREAMED_TOTAL: &str = "replica_rpc_scans_streamed_total";
/// Blocking tasks (store reads and scans) running or waiting for a permit.
pub(crate) const BLOCKING_QUEUE_LEN: &str = "replica_rpc_blocking_queue_len";
/// Scans admitted and not past their first pass: reading, or waiting for their turn.
pub(crate) const SCANS_IN_PROGRESS: &str = "replica_rpc_scans_in_progress";
/// Point reads queued for the reader threads.
pub(crate) const POINT_READ_QUEUE_LEN: &str = "replica_rpc_point_read_queue_len";
/// Open HTTP connections.
pub(crate) const CONNECTIONS: &str = "replica_rpc_connections";

#[derive(Debug, Clone)]
pub(crate) struct RpcMetrics {
    pub(crate) requests: IntCounterVec,
    pub(crate) errors: IntCounterVec,
    pub(crate) duration: HistogramVec,
    pub(crate) scans_streamed: IntCounter,
    pub(crate) blocking_queue_len: IntGauge,
    pub(crate) scans_in_progress: IntGauge,
    pub(crate) point_read_queue_len: IntGauge,
    pub(crate) connections: IntGauge,
}

impl RpcMetrics {
    /// Creates the metrics and registers them; a second server on the same registry (tests)
    /// keeps its own unregistered copies.
    pub(crate) fn new(registry: &Registry) -> Self {
        let metrics = Self {
            requests: IntCounterVec::new(
                Opts::new(REQUESTS_TOTAL, "JSON-RPC calls by method"),
                &["method"],
            )
            .expect("valid metric"),
            errors: IntCounterVec::new(
                Opts::new(
                    ERRORS_TOTAL,
                    "Failed JSON-RPC calls by method and error code",
                ),
                &["method", "code"],
            )
            .expect("valid metric"),
            duration: HistogramVec::new(
                HistogramOpts::new(REQUEST_DURATION_SECONDS, "JSON-RPC call latency").buckets(
                    vec![
                        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                        0.25, 0.5, 1.0, 2.5, 10.0,
                    ],
                ),
                &["method"],
            )
            .expect("valid metric"),
            scans_streamed: IntCounter::new(
                SCANS_STREAMED_TOTAL,
                "Scan responses streamed in two passes",
            )
            .expect("valid metric"),
            blocking_queue_len: IntGauge::new(
                BLOCKING_QUEUE_LEN,
                "Blocking JSON-RPC tasks running or waiting",
            )
            .expect("valid metric"),
            scans_in_progress: IntGauge::new(
                SCANS_IN_PROGRESS,
                "JSON-RPC scans admitted and not past their first pass",
            )
            .expect("valid metric"),
            point_read_queue_len: IntGauge::new(
                POINT_READ_QUEUE_LEN,
                "Point reads queued for the JSON-RPC reader threads",
            )
            .expect("valid metric"),
            connections: IntGauge::new(CONNECTIONS, "Open JSON-RPC HTTP connections")
                .expect("valid metric"),
        };
        for collector in [
            Box::new(metrics.requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.errors.clone()),
            Box::new(metrics.duration.clone()),
            Box::new(metrics.scans_streamed.clone()),
            Box::new(metrics.blocking_queue_len.clone()),
            Box::new(metrics.scans_in_progress.clone()),
            Box::new(metrics.point_read_queue_len.clone()),
            Box::new(metrics.connections.clone()),
        ] {
            if let Err(error) = registry.register(collector) {
                tracing::debug!(%error, "JSON-RPC metric already registered");
            }
        }
        metrics
    }
}
