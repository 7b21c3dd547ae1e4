//! `failover status`: the cluster as etcd sees it.

use {
    crate::etcd::{ClusterView, EtcdCluster, EtcdError},
    serde::Serialize,
};

/// `{"cluster", "active", "fencingToken", "nodes": [{"node", "identity", "healthy",
/// "towerSlot"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub cluster: String,
    /// The node holding the election.
    pub active: Option<String>,
    /// The election key's creation revision.
    pub fencing_token: Option<i64>,
    /// Every node whose lease is alive, by name.
    pub nodes: Vec<NodeStatus>,
}

/// One node as it publishes itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    pub node: String,
    /// The identity its validator holds (null when the agent cannot reach the validator).
    pub identity: Option<String>,
    pub healthy: bool,
    /// The last vote slot of the newest tower the node wrote or adopted.
    pub tower_slot: Option<u64>,
}

impl ClusterStatus {
    pub fn from_view(cluster: &str, view: &ClusterView) -> Self {
        Self {
            cluster: cluster.to_string(),
            active: view.election.as_ref().map(|e| e.node.clone()),
            fencing_token: view.election.as_ref().map(|e| e.token),
            nodes: view
                .nodes
                .iter()
                .map(|record| NodeStatus {
                    node: record.node.clone(),
                    identity: record.identity.clone(),
                    healthy: record.healthy,
                    tower_slot: record.tower_slot,
                })
                .collect(),
        }
    }
}

/// Reads the cluster's status.
pub async fn read(etcd: &EtcdCluster, cluster: &str) -> Result<ClusterStatus, EtcdError> {
    Ok(ClusterStatus::from_view(cluster, &etcd.view(None).await?))
}
