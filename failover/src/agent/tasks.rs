//! The agent's background tasks, each feeding a `watch` channel the decision loop reads: the
//! lease keep-alive, the cluster state reader, the health checks, the validator's identity,
//! and the node record publisher.

use {
    crate::{
        admin::AdminClient,
        decide::LeaseView,
        etcd::{ClusterView, EtcdCluster, NodeRecord},
        health::HealthChecker,
        metrics::Metrics,
    },
    solana_pubkey::Pubkey,
    std::{
        sync::{
            Arc,
            atomic::{AtomicBool, Ordering},
        },
        time::{Duration, Instant},
    },
    tokio::sync::watch,
    tokio_util::sync::CancellationToken,
};

/// Keeps this node's lease alive: grants one, sends a keep-alive every `interval`, and
/// publishes when the newest acknowledged one was sent. A lease etcd says is gone is replaced
/// by a new one (the old one's keys went with it).
pub(super) async fn keep_lease(
    etcd: EtcdCluster,
    ttl: Duration,
    interval: Duration,
    lease: watch::Sender<LeaseView>,
    metrics: Metrics,
    cancel: CancellationToken,
) {
    let ttl_secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    let mut grant_failures = 0u64;
    'grant: loop {
        let sent = Instant::now();
        let id = match etcd.grant(ttl_secs).await {
            Ok(id) => {
                grant_failures = 0;
                id
            }
            Err(error) => {
                metrics.etcd_errors.with_label_values(&["lease"]).inc();
                // The first failure, then every 20th (about every 10 s at TTL 5 s).
                if grant_failures.is_multiple_of(20) {
                    tracing::warn!(%error, failures = grant_failures + 1, "cannot grant a lease");
                }
                grant_failures += 1;
                if sleep_or_cancel(interval, &cancel).await {
                    return;
                }
                continue;
            }
        };
        tracing::info!(lease = id, ttl = ?ttl, "lease granted");
        lease.send_replace(LeaseView {
            id: Some(id),
            confirmed_at: Some(sent),
            lost: false,
        });
        let mut stream_failures = 0u64;
        // A lease etcd no longer has is answered with TTL 0 (etcd renews leases on a leader
        // change, so an outage longer than the TTL does not by itself end one).
        loop {
            let opened = etcd.keep_alive_stream(id).await;
            let (mut keeper, mut stream) = match opened {
                Ok(pair) => pair,
                Err(error) => {
                    metrics.etcd_errors.with_label_values(&["lease"]).inc();
                    if stream_failures.is_multiple_of(20) {
                        tracing::warn!(%error, lease = id, failures = stream_failures + 1, "cannot open the keep-alive stream");
                    }
                    stream_failures += 1;
                    if sleep_or_cancel(interval, &cancel).await {
                        return;
                    }
                    continue;
                }
            };
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let sent = Instant::now();
                let answered = tokio::time::timeout(ttl / 2, async {
                    keeper.keep_alive().await?;
                    stream.message().await
                })
                .await;
                match answered {
                    Ok(Ok(Some(response))) if response.ttl() > 0 => {
                        if stream_failures > 0 {
                            tracing::info!(lease = id, "keep-alives acknowledged again");
                        }
                        stream_failures = 0;
                        lease.send_modify(|view| view.confirmed_at = Some(sent));
                    }
                    Ok(Ok(Some(_))) => {
                        tracing::error!(
                            lease = id,
                            "etcd says the lease is gone; granting a new one"
                        );
                        lease.send_modify(|view| view.lost = true);
                        continue 'grant;
                    }
                    Ok(Ok(None)) => {
                        tracing::warn!(lease = id, "the keep-alive stream ended; reopening");
                        break;
                    }
                    Ok(Err(error)) => {
                        metrics.etcd_errors.with_label_values(&["lease"]).inc();
                        if stream_failures.is_multiple_of(20) {
                            tracing::warn!(%error, lease = id, "keep-alive failed; reopening");
                        }
                        stream_failures += 1;
                        break;
                    }
                    Err(_) => {
                        metrics.etcd_errors.with_label_values(&["lease"]).inc();
                        if stream_failures.is_multiple_of(20) {
                            tracing::warn!(lease = id, "keep-alive unanswered; reopening");
                        }
                        stream_failures += 1;
                        break;
                    }
                }
            }
            if sleep_or_cancel(interval / 2, &cancel).await {
                return;
            }
        }
    }
}

/// A cluster read and when it was sent.
pub(super) type ViewAt = Option<(ClusterView, Instant)>;

/// Reads the cluster's state every `interval`; `None` after a failed read.
pub(super) async fn observe(
    etcd: EtcdCluster,
    interval: Duration,
    view: watch::Sender<ViewAt>,
    metrics: Metrics,
    cancel: CancellationToken,
) {
    let mut failures = 0u64;
    loop {
        let sent = Instant::now();
        match etcd.view(None).await {
            Ok(read) => {
                if failures > 0 {
                    tracing::info!(failures, "etcd answers again");
                }
                failures = 0;
                view.send_replace(Some((read, sent)));
            }
            Err(error) => {
                metrics.etcd_errors.with_label_values(&["read"]).inc();
                if failures == 0 {
                    tracing::warn!(%error, "cannot read the cluster state");
                }
                failures += 1;
                view.send_replace(None);
            }
        }
        if sleep_or_cancel(interval, &cancel).await {
            return;
        }
    }
}

/// Local health: since when the checks fail, and whether the restart window is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct HealthState {
    pub(super) unhealthy_since: Option<Instant>,
    pub(super) restart_window_open: bool,
}

/// Runs the health checks every `interval`; the restart window is asked only while
/// `want_window` is set (a switchover is pending).
pub(super) async fn check_health(
    checker: HealthChecker,
    staked: Pubkey,
    interval: Duration,
    want_window: Arc<AtomicBool>,
    state: watch::Sender<HealthState>,
    metrics: Metrics,
    cancel: CancellationToken,
) {
    loop {
        let checked_at = Instant::now();
        let report = checker.check().await;
        let window = if want_window.load(Ordering::Relaxed) {
            checker.restart_window_open(&staked).await
        } else {
            false
        };
        metrics.healthy.set(i64::from(report.healthy));
        state.send_modify(|health| {
            match (report.healthy, health.unhealthy_since) {
                (true, Some(_)) => {
                    tracing::info!("health checks pass again");
                    health.unhealthy_since = None;
                }
                (false, None) => {
                    tracing::warn!(
                        reason = report.reason.as_deref().unwrap_or(""),
                        "health check failed"
                    );
                    health.unhealthy_since = Some(checked_at);
                }
                _ => {}
            }
            health.restart_window_open = window;
        });
        if sleep_or_cancel(interval, &cancel).await {
            return;
        }
    }
}

/// The local validator as the identity poll sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ValidatorView {
    /// The identity it holds (`None`: unknown, or unreachable).
    pub(super) identity: Option<Pubkey>,
    /// Since when its admin RPC does not answer.
    pub(super) unreachable_since: Option<Instant>,
}

/// Polls the validator's identity (`contactInfo`) every `interval`.
pub(super) async fn poll_identity(
    admin: Arc<AdminClient>,
    interval: Duration,
    validator: watch::Sender<ValidatorView>,
    cancel: CancellationToken,
) {
    loop {
        let asked_at = Instant::now();
        match admin.identity().await {
            Ok(pubkey) => {
                validator.send_if_modified(|view| {
                    if view.unreachable_since.is_some() {
                        tracing::info!(identity = %pubkey, "the validator answers again");
                    }
                    let next = ValidatorView {
                        identity: Some(pubkey),
                        unreachable_since: None,
                    };
                    let changed = *view != next;
                    *view = next;
                    changed
                });
            }
            Err(error) => {
                validator.send_if_modified(|view| {
                    if view.unreachable_since.is_none() {
                        tracing::warn!(%error, "cannot read the validator's identity");
                    }
                    let next = ValidatorView {
                        identity: None,
                        unreachable_since: view.unreachable_since.or(Some(asked_at)),
                    };
                    let changed = *view != next;
                    *view = next;
                    changed
                });
            }
        }
        if sleep_or_cancel(interval, &cancel).await {
            return;
        }
    }
}

/// Writes this node's record (bound to the current lease) when it changes, when the lease
/// changes, and every `interval`.
pub(super) async fn publish_record(
    etcd: EtcdCluster,
    mut record: watch::Receiver<NodeRecord>,
    mut lease: watch::Receiver<LeaseView>,
    interval: Duration,
    metrics: Metrics,
    cancel: CancellationToken,
) {
    let mut written: Option<(NodeRecord, i64)> = None;
    let mut last_write = Instant::now();
    loop {
        let current = record.borrow_and_update().clone();
        let lease_id = lease.borrow_and_update().id;
        if let Some(id) = lease_id {
            let stale = written.as_ref() != Some(&(current.clone(), id))
                || last_write.elapsed() >= interval;
            if stale {
                match etcd.put_node(&current, id, None).await {
                    Ok(()) => {
                        written = Some((current, id));
                        last_write = Instant::now();
                    }
                    Err(error) => {
                        metrics.etcd_errors.with_label_values(&["record"]).inc();
                        tracing::debug!(%error, "cannot write the node record");
                    }
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = record.changed() => {}
            _ = lease.changed() => {}
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// Sleeps, or returns `true` at once when cancelled.
pub(super) async fn sleep_or_cancel(duration: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(duration) => false,
    }
}
