//! The etcd adapter: connection (plain or mTLS), the key layout of a cluster, the lease, the
//! election, fenced writes, and reading the cluster's state.
//!
//! Keys, under `/failover/<cluster>/`:
//!
//! | key | value | bound to |
//! |---|---|---|
//! | `election` | the active node's name; its creation revision is the **fencing token** | the active node's lease |
//! | `tower` | [`TowerRecord`]: the newest tower, its writer and token | nothing (it outlives nodes) |
//! | `upstream` | [`PublishedUpstream`]: the active node's replication endpoint | the active node's lease |
//! | `nodes/<node>` | [`NodeRecord`]: identity, health, tower slot | that node's lease |
//! | `handoff` | [`Handoff`]: the only node that may campaign next | a short lease of its own |
//! | `switchover` | [`Handoff`]: a requested planned switchover | the requester's lease |
//!
//! Every write an active node makes (tower, upstream, resignation, hand-off) is a transaction
//! whose comparison is `create_revision(election) == token`: once the key expired with the
//! lease, or belongs to a newer election, the write does not happen.

use {
    etcd_client::{
        Certificate, Client, Compare, CompareOp, ConnectOptions, GetOptions, Identity,
        LeaseKeepAliveStream, LeaseKeeper, PutOptions, TlsOptions, Txn, TxnOp, TxnOpResponse,
    },
    serde::{Deserialize, Serialize},
    std::{path::PathBuf, time::Duration},
};

/// How to reach etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// `http://host:port` or `https://host:port`.
    pub endpoints: Vec<String>,
    /// CA bundle that signed the servers' certificates.
    pub ca: Option<PathBuf>,
    /// Client certificate and key (etcd's `--client-cert-auth`).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Bound of each request (and of connecting).
    pub timeout: Duration,
}

/// Why an etcd operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// A TLS file could not be read.
    #[error("reading {what} {}: {source}", .path.display())]
    TlsFile {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The client could not be set up (bad endpoint, bad TLS material).
    #[error("etcd endpoints {endpoints:?}: {reason}")]
    Setup {
        endpoints: Vec<String>,
        reason: String,
    },
    /// A request failed (unreachable, TLS handshake refused, permission denied, ...).
    #[error("etcd {op}: {source}")]
    Request {
        op: &'static str,
        source: etcd_client::Error,
    },
    /// A request did not complete in time.
    #[error("etcd {op} did not answer within {timeout:?}")]
    Timeout { op: &'static str, timeout: Duration },
    /// A value in etcd is not what this crate writes there.
    #[error("etcd key {key}: {reason}")]
    Invalid { key: String, reason: String },
}

/// Connects (lazily: the first request reaches the servers).
pub async fn connect(config: &EtcdConfig) -> Result<Client, EtcdError> {
    let setup = |reason: String| EtcdError::Setup {
        endpoints: config.endpoints.clone(),
        reason,
    };
    let mut options = ConnectOptions::new()
        .with_connect_timeout(config.timeout)
        .with_timeout(config.timeout)
        .with_keep_alive(Duration::from_secs(2), config.timeout)
        // A member cut off from the quorum fails requests at once instead of serving them.
        .with_require_leader(true);
    if config.ca.is_some() || config.cert.is_some() {
        let read = |what, path: &PathBuf| {
            std::fs::read(path).map_err(|source| EtcdError::TlsFile {
                what,
                path: path.clone(),
                source,
            })
        };
        let mut tls = TlsOptions::new();
        if let Some(ca) = &config.ca {
            tls = tls.ca_certificate(Certificate::from_pem(read("CA", ca)?));
        }
        match (&config.cert, &config.key) {
            (Some(cert), Some(key)) => {
                tls = tls.identity(Identity::from_pem(
                    read("certificate", cert)?,
                    read("key", key)?,
                ));
            }
            (None, None) => {}
            _ => {
                return Err(setup(
                    "a client certificate needs its key and vice versa".into(),
                ));
            }
        }
        options = options.with_tls(tls);
    }
    Client::connect(&config.endpoints, Some(options))
        .await
        .map_err(|error| setup(error.to_string()))
}

/// The keys of one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(cluster: &str) -> Self {
        Self {
            prefix: format!("/failover/{cluster}/"),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn election(&self) -> String {
        format!("{}election", self.prefix)
    }

    pub fn tower(&self) -> String {
        format!("{}tower", self.prefix)
    }

    pub fn upstream(&self) -> String {
        format!("{}upstream", self.prefix)
    }

    pub fn handoff(&self) -> String {
        format!("{}handoff", self.prefix)
    }

    pub fn switchover(&self) -> String {
        format!("{}switchover", self.prefix)
    }

    pub fn nodes(&self) -> String {
        format!("{}nodes/", self.prefix)
    }

    pub fn node(&self, node: &str) -> String {
        format!("{}nodes/{node}", self.prefix)
    }
}

/// The newest tower, as the active node pushed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TowerRecord {
    /// The node that wrote (or adopted and pushed) it.
    pub node: String,
    /// Its fencing token when it wrote it.
    pub fencing_token: i64,
    /// The staked identity (the tower's node and signer).
    pub identity: String,
    pub last_vote_slot: Option<u64>,
    pub root: Option<u64>,
    /// The tower file's bytes, base64.
    pub tower: String,
}

/// The active node's replication endpoint, for replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedUpstream {
    pub node: String,
    /// `addr=pubkey`.
    pub upstream: String,
    pub fencing_token: i64,
}

/// What a node publishes about itself (bound to its lease).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRecord {
    pub node: String,
    /// The identity the local validator holds, if known.
    pub identity: Option<String>,
    pub healthy: bool,
    /// The last vote slot of the newest tower this node wrote or adopted.
    pub tower_slot: Option<u64>,
    /// The replication endpoint it would publish when active.
    pub upstream: Option<String>,
}

/// A planned hand-off, or a request for one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    pub to: String,
}

/// The election key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Election {
    pub node: String,
    /// The key's creation revision.
    pub token: i64,
    pub lease: i64,
}

/// The cluster's state as one read saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    pub election: Option<Election>,
    pub handoff: Option<Handoff>,
    pub switchover: Option<Handoff>,
    pub upstream: Option<PublishedUpstream>,
    pub nodes: Vec<NodeRecord>,
    /// The etcd revision of the read.
    pub revision: i64,
}

/// One cluster's keys over one etcd client.
#[derive(Clone)]
pub struct EtcdCluster {
    client: Client,
    keys: Keys,
    timeout: Duration,
}

impl std::fmt::Debug for EtcdCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdCluster")
            .field("keys", &self.keys)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl EtcdCluster {
    pub fn new(client: Client, cluster: &str, timeout: Duration) -> Self {
        Self {
            client,
            keys: Keys::new(cluster),
            timeout,
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn bounded<T>(
        &self,
        op: &'static str,
        timeout: Option<Duration>,
        future: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, EtcdError> {
        let timeout = timeout.unwrap_or(self.timeout).min(self.timeout);
        match tokio::time::timeout(timeout, future).await {
            Ok(result) => result.map_err(|source| EtcdError::Request { op, source }),
            Err(_) => Err(EtcdError::Timeout { op, timeout }),
        }
    }

    /// Grants a lease of `ttl` seconds.
    pub async fn grant(&self, ttl: i64) -> Result<i64, EtcdError> {
        let mut lease = self.client.lease_client();
        let granted = self
            .bounded("lease grant", None, lease.grant(ttl, None))
            .await?;
        Ok(granted.id())
    }

    /// Opens a keep-alive stream for `lease`.
    pub async fn keep_alive_stream(
        &self,
        lease: i64,
    ) -> Result<(LeaseKeeper, LeaseKeepAliveStream), EtcdError> {
        let mut client = self.client.lease_client();
        self.bounded("lease keep-alive", None, client.keep_alive(lease))
            .await
    }

    /// Revokes `lease` (its keys go with it).
    pub async fn revoke(&self, lease: i64) -> Result<(), EtcdError> {
        let mut client = self.client.lease_client();
        self.bounded("lease revoke", None, client.revoke(lease))
            .await
            .map(drop)
    }

    /// Creates the election key for `node` under `lease` if it is vacant; returns the fencing
    /// token if this call created it.
    pub async fn campaign(
        &self,
        node: &str,
        lease: i64,
        timeout: Option<Duration>,
    ) -> Result<Option<i64>, EtcdError> {
        let key = self.keys.election();
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key,
                node,
                Some(PutOptions::new().with_lease(lease)),
            )]);
        let mut kv = self.client.kv_client();
        let response = self.bounded("campaign", timeout, kv.txn(txn)).await?;
        Ok(response
            .succeeded()
            .then(|| response.header().map(|h| h.revision()))
            .flatten())
    }

    fn fenced(&self, token: i64) -> Compare {
        Compare::create_revision(self.keys.election(), CompareOp::Equal, token)
    }

    /// Runs `ops` only while the election key has creation revision `token`; returns whether
    /// they ran.
    async fn fenced_txn(
        &self,
        op: &'static str,
        token: i64,
        ops: Vec<TxnOp>,
        timeout: Option<Duration>,
    ) -> Result<bool, EtcdError> {
        let txn = Txn::new().when([self.fenced(token)]).and_then(ops);
        let mut kv = self.client.kv_client();
        Ok(self.bounded(op, timeout, kv.txn(txn)).await?.succeeded())
    }

    /// Writes the tower under `token`.
    pub async fn push_tower(
        &self,
        token: i64,
        record: &TowerRecord,
        timeout: Option<Duration>,
    ) -> Result<bool, EtcdError> {
        let value = json(record);
        self.fenced_txn(
            "tower push",
            token,
            vec![TxnOp::put(self.keys.tower(), value, None)],
            timeout,
        )
        .await
    }

    /// Publishes the upstream under `token`, bound to `lease`.
    pub async fn publish_upstream(
        &self,
        token: i64,
        lease: i64,
        upstream: &PublishedUpstream,
        timeout: Option<Duration>,
    ) -> Result<bool, EtcdError> {
        self.fenced_txn(
            "upstream publish",
            token,
            vec![TxnOp::put(
                self.keys.upstream(),
                json(upstream),
                Some(PutOptions::new().with_lease(lease)),
            )],
            timeout,
        )
        .await
    }

    /// Deletes the election key (and the published upstream) under `token`.
    pub async fn resign(&self, token: i64, timeout: Option<Duration>) -> Result<bool, EtcdError> {
        self.fenced_txn(
            "resign",
            token,
            vec![
                TxnOp::delete(self.keys.election(), None),
                TxnOp::delete(self.keys.upstream(), None),
            ],
            timeout,
        )
        .await
    }

    /// Under `token`: writes the final tower, deletes the election key, the upstream and the
    /// switchover request, and names `to` as the next node under `handoff_lease`.
    pub async fn hand_off(
        &self,
        token: i64,
        to: &str,
        tower: Option<&TowerRecord>,
        handoff_lease: i64,
        timeout: Option<Duration>,
    ) -> Result<bool, EtcdError> {
        let mut ops = Vec::new();
        if let Some(tower) = tower {
            ops.push(TxnOp::put(self.keys.tower(), json(tower), None));
        }
        ops.extend([
            TxnOp::delete(self.keys.election(), None),
            TxnOp::delete(self.keys.upstream(), None),
            TxnOp::delete(self.keys.switchover(), None),
            TxnOp::put(
                self.keys.handoff(),
                json(&Handoff { to: to.to_string() }),
                Some(PutOptions::new().with_lease(handoff_lease)),
            ),
        ]);
        self.fenced_txn("hand-off", token, ops, timeout).await
    }

    /// Writes this node's record under `lease`.
    pub async fn put_node(
        &self,
        record: &NodeRecord,
        lease: i64,
        timeout: Option<Duration>,
    ) -> Result<(), EtcdError> {
        let mut kv = self.client.kv_client();
        self.bounded(
            "node record",
            timeout,
            kv.put(
                self.keys.node(&record.node),
                json(record),
                Some(PutOptions::new().with_lease(lease)),
            ),
        )
        .await
        .map(drop)
    }

    /// Writes a switchover request under `lease`.
    pub async fn request_switchover(&self, to: &str, lease: i64) -> Result<(), EtcdError> {
        let mut kv = self.client.kv_client();
        self.bounded(
            "switchover request",
            None,
            kv.put(
                self.keys.switchover(),
                json(&Handoff { to: to.to_string() }),
                Some(PutOptions::new().with_lease(lease)),
            ),
        )
        .await
        .map(drop)
    }

    /// Deletes the switchover request.
    pub async fn cancel_switchover(&self) -> Result<(), EtcdError> {
        let mut kv = self.client.kv_client();
        self.bounded(
            "switchover cancel",
            None,
            kv.delete(self.keys.switchover(), None),
        )
        .await
        .map(drop)
    }

    /// The newest tower record, if any.
    pub async fn tower(&self, timeout: Option<Duration>) -> Result<Option<TowerRecord>, EtcdError> {
        let key = self.keys.tower();
        let mut kv = self.client.kv_client();
        let response = self
            .bounded("tower read", timeout, kv.get(key.clone(), None))
            .await?;
        response
            .kvs()
            .first()
            .map(|kv| parse(&key, kv.value()))
            .transpose()
    }

    /// Reads the election, hand-off, switchover, upstream and node records at one revision.
    pub async fn view(&self, timeout: Option<Duration>) -> Result<ClusterView, EtcdError> {
        let keys = &self.keys;
        let txn = Txn::new().and_then([
            TxnOp::get(keys.election(), None),
            TxnOp::get(keys.handoff(), None),
            TxnOp::get(keys.switchover(), None),
            TxnOp::get(keys.upstream(), None),
            TxnOp::get(keys.nodes(), Some(GetOptions::new().with_prefix())),
        ]);
        let mut kv = self.client.kv_client();
        let response = self.bounded("state read", timeout, kv.txn(txn)).await?;
        let mut view = ClusterView {
            revision: response.header().map_or(0, |h| h.revision()),
            ..ClusterView::default()
        };
        let ranges: Vec<_> = response
            .op_responses()
            .into_iter()
            .map(|op| match op {
                TxnOpResponse::Get(get) => get.kvs().to_vec(),
                _ => Vec::new(),
            })
            .collect();
        if let Some(kv) = ranges.first().and_then(|kvs| kvs.first()) {
            view.election = Some(Election {
                node: String::from_utf8_lossy(kv.value()).into_owned(),
                token: kv.create_revision(),
                lease: kv.lease(),
            });
        }
        let one = |index: usize| ranges.get(index).and_then(|kvs| kvs.first());
        if let Some(kv) = one(1) {
            view.handoff = Some(parse(&keys.handoff(), kv.value())?);
        }
        if let Some(kv) = one(2) {
            view.switchover = Some(parse(&keys.switchover(), kv.value())?);
        }
        if let Some(kv) = one(3) {
            view.upstream = Some(parse(&keys.upstream(), kv.value())?);
        }
        if let Some(nodes) = ranges.get(4) {
            for kv in nodes {
                let key = String::from_utf8_lossy(kv.key()).into_owned();
                match parse::<NodeRecord>(&key, kv.value()) {
                    Ok(record) => view.nodes.push(record),
                    Err(error) => tracing::warn!(%error, "ignoring a node record"),
                }
            }
        }
        view.nodes.sort_by(|a, b| a.node.cmp(&b.node));
        Ok(view)
    }
}

fn json(value: &impl Serialize) -> String {
    // Serializing these plain structs cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn parse<T: serde::de::DeserializeOwned>(key: &str, value: &[u8]) -> Result<T, EtcdError> {
    serde_json::from_slice(value).map_err(|error| EtcdError::Invalid {
        key: key.to_string(),
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_live_under_the_cluster() {
        let keys = Keys::new("mainnet-a");
        assert_eq!(keys.election(), "/failover/mainnet-a/election");
        assert_eq!(keys.node("b"), "/failover/mainnet-a/nodes/b");
        assert!(keys.node("b").starts_with(&keys.nodes()));
        assert!(!keys.nodes().starts_with(&keys.election()));
    }

    #[test]
    fn records_use_camel_case() {
        let record = NodeRecord {
            node: "a".into(),
            identity: None,
            healthy: true,
            tower_slot: Some(5),
            upstream: None,
        };
        let text = json(&record);
        assert!(text.contains("\"towerSlot\":5"), "{text}");
        assert_eq!(parse::<NodeRecord>("k", text.as_bytes()).unwrap(), record);
        assert!(parse::<NodeRecord>("k", b"{").is_err());
    }
}
