//! PubSub metrics, prefixed `replica_pubsub_`.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

#[derive(Debug, Clone)]
pub(crate) struct PubSubMetrics {
    pub(crate) connections: IntGauge,
    pub(crate) refused_connections: IntCounter,
    pub(crate) subscriptions: IntGaugeVec,
    pub(crate) notifications: IntCounterVec,
    pub(crate) queued_bytes: IntGauge,
    pub(crate) queued: IntGauge,
    pub(crate) slow_disconnects: IntCounter,
    pub(crate) lagged: IntCounter,
    pub(crate) latency: Histogram,
}

impl PubSubMetrics {
    /// Creates the metrics and registers them (a second server on one registry keeps its own).
    pub(crate) fn new(registry: &Registry) -> Self {
        let metrics = Self {
            connections: IntGauge::new(
                "replica_pubsub_connections",
                "Open PubSub WebSocket connections",
            )
            .expect("valid metric"),
            refused_connections: IntCounter::new(
                "replica_pubsub_refused_connections_total",
                "PubSub connections refused at the connection limit",
            )
            .expect("valid metric"),
            subscriptions: IntGaugeVec::new(
                Opts::new(
                    "replica_pubsub_subscriptions",
                    "Open PubSub subscriptions by subscribe method",
                ),
                &["method"],
            )
            .expect("valid metric"),
            notifications: IntCounterVec::new(
                Opts::new(
                    "replica_pubsub_notifications_total",
                    "PubSub notifications sent by notification method",
                ),
                &["method"],
            )
            .expect("valid metric"),
            queued_bytes: IntGauge::new(
                "replica_pubsub_queued_bytes",
                "Bytes of PubSub notifications queued for connections",
            )
            .expect("valid metric"),
            queued: IntGauge::new(
                "replica_pubsub_queued_notifications",
                "PubSub notifications queued for connections",
            )
            .expect("valid metric"),
            slow_disconnects: IntCounter::new(
                "replica_pubsub_slow_client_disconnects_total",
                "PubSub connections disconnected because their queue overflowed",
            )
            .expect("valid metric"),
            lagged: IntCounter::new(
                "replica_pubsub_feed_lagged_total",
                "Times the notifier fell behind the slot feed (its clients were disconnected)",
            )
            .expect("valid metric"),
            latency: Histogram::with_opts(
                HistogramOpts::new(
                    "replica_pubsub_notification_latency_seconds",
                    "From a slot entering the view to its notification handed to the connection",
                )
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    1.0,
                ]),
            )
            .expect("valid metric"),
        };
        for collector in [
            Box::new(metrics.connections.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.refused_connections.clone()),
            Box::new(metrics.subscriptions.clone()),
            Box::new(metrics.notifications.clone()),
            Box::new(metrics.queued_bytes.clone()),
            Box::new(metrics.queued.clone()),
            Box::new(metrics.slow_disconnects.clone()),
            Box::new(metrics.lagged.clone()),
            Box::new(metrics.latency.clone()),
        ] {
            if let Err(error) = registry.register(collector) {
                tracing::debug!(%error, "PubSub metric already registered");
            }
        }
        metrics
    }
}
