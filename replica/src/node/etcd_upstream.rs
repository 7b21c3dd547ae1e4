//! `--upstream-from-etcd`: follows the replication endpoint that the active validator of a
//! `failover` cluster publishes in etcd. Each newly published endpoint becomes the head of the
//! sync loop's upstream list (the configured upstreams stay behind it as fallbacks), and the
//! sync loop switches to it at once. Until the first value is read the list holds only the
//! configured upstreams (possibly none: the sync loop then waits for it).

use {
    failover::etcd::{EtcdConfig, PublishedUpstream},
    replication_proto::transport::Upstream,
    tokio::{sync::watch, task::JoinHandle},
    tokio_util::sync::CancellationToken,
};

/// Starts watching `cluster`'s published upstream; returns the list for
/// `SyncConfig::updates`. The tasks end with `cancel`.
pub(super) fn spawn(
    cluster: String,
    etcd: EtcdConfig,
    configured: Vec<Upstream>,
    cancel: CancellationToken,
    tasks: &mut Vec<JoinHandle<()>>,
) -> watch::Receiver<Vec<Upstream>> {
    let (list_tx, list) = watch::channel(configured.clone());
    let (published_tx, mut published) = watch::channel::<Option<PublishedUpstream>>(None);
    tracing::info!(cluster, endpoints = ?etcd.endpoints, "following the upstream published in etcd");
    tasks.push(tokio::spawn(failover::publish::watch_upstream(
        etcd,
        cluster,
        published_tx,
        cancel.clone(),
    )));
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                changed = published.changed() => if changed.is_err() { return },
            }
            let Some(value) = published.borrow_and_update().clone() else {
                continue;
            };
            match value.upstream.parse::<Upstream>() {
                Ok(upstream) => {
                    let mut upstreams = vec![upstream];
                    upstreams.extend(configured.iter().filter(|u| **u != upstream).copied());
                    tracing::warn!(node = %value.node, upstream = %value.upstream, token = value.fencing_token, "switching to the published upstream");
                    list_tx.send_replace(upstreams);
                }
                Err(reason) => {
                    tracing::error!(upstream = %value.upstream, %reason, "ignoring an invalid published upstream");
                }
            }
        }
    }));
    list
}
