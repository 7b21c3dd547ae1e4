//! `failover switchover --to <node>`: a planned hand-off. The command writes a request in
//! etcd; the active node's agent waits for a restart window (no leader slot of the staked
//! identity soon), fences its validator, pushes the final tower and names the target as the
//! only node that may campaign; the target adopts the tower and takes the identity. The
//! command returns once the target's validator holds the tower's identity.

use {
    crate::{
        etcd::{ClusterView, EtcdCluster, EtcdError},
        status::ClusterStatus,
    },
    std::time::{Duration, Instant},
};

/// How often the command looks at the cluster while waiting.
const POLL: Duration = Duration::from_millis(200);

/// Why a switchover did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SwitchoverError {
    #[error(transparent)]
    Etcd(#[from] EtcdError),
    /// No node is active: the election, not a switchover, picks one.
    #[error("no node of cluster {cluster} is active; the election will pick one")]
    NoActive { cluster: String },
    /// The target is not alive or not healthy.
    #[error("node {node} is not a healthy live member of the cluster (nodes: {nodes:?})")]
    TargetUnavailable { node: String, nodes: Vec<String> },
    /// The hand-off did not complete in time; the request was withdrawn.
    #[error(
        "{to} did not become active within {timeout:?} (the active node waits for a restart window); the request was withdrawn"
    )]
    Timeout { to: String, timeout: Duration },
}

/// Whether `to` is active and its validator holds the tower's (staked) identity.
fn done(view: &ClusterView, to: &str, staked: Option<&str>) -> bool {
    view.election.as_ref().is_some_and(|e| e.node == to)
        && view.nodes.iter().any(|record| {
            record.node == to
                && record.identity.is_some()
                && staked.is_none_or(|staked| record.identity.as_deref() == Some(staked))
        })
}

/// Requests a switchover to `to` and waits for it (at most `timeout`).
pub async fn switchover(
    etcd: &EtcdCluster,
    cluster: &str,
    to: &str,
    timeout: Duration,
) -> Result<ClusterStatus, SwitchoverError> {
    let view = etcd.view(None).await?;
    let staked = etcd.tower(None).await?.map(|record| record.identity);
    if done(&view, to, staked.as_deref()) {
        tracing::info!(to, "already active");
        return Ok(ClusterStatus::from_view(cluster, &view));
    }
    if view.election.is_none() {
        return Err(SwitchoverError::NoActive {
            cluster: cluster.to_string(),
        });
    }
    if !view.nodes.iter().any(|r| r.node == to && r.healthy) {
        return Err(SwitchoverError::TargetUnavailable {
            node: to.to_string(),
            nodes: view.nodes.iter().map(|r| r.node.clone()).collect(),
        });
    }
    let ttl = i64::try_from(timeout.as_secs().max(5)).unwrap_or(i64::MAX);
    let lease = etcd.grant(ttl).await?;
    etcd.request_switchover(to, lease).await?;
    tracing::info!(to, ?timeout, "switchover requested");
    let deadline = Instant::now() + timeout;
    loop {
        tokio::time::sleep(POLL).await;
        match etcd.view(None).await {
            Ok(view) if done(&view, to, staked.as_deref()) => {
                let _ = etcd.revoke(lease).await;
                return Ok(ClusterStatus::from_view(cluster, &view));
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot read the cluster state"),
        }
        if Instant::now() >= deadline {
            let _ = etcd.cancel_switchover().await;
            let _ = etcd.revoke(lease).await;
            return Err(SwitchoverError::Timeout {
                to: to.to_string(),
                timeout,
            });
        }
    }
}
