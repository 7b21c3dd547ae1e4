//! The replica's configuration: TOML file sections with defaults, overridden by flags.
//! Precedence is flag, then file, then `Default`.

use {
    crate::store::{IndexConfig, IndexKind, StoreConfig},
    replication_proto::transport::Upstream,
    serde::{Deserialize, Serialize},
    snapshot_tools::s3::S3Location,
    solana_pubkey::Pubkey,
    std::{
        path::{Path, PathBuf},
        str::FromStr,
    },
};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", .path.display())]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    /// A key in a setting is not a valid pubkey (`what` names the setting).
    #[error("{what} {key}: {reason}")]
    InvalidKey {
        what: &'static str,
        key: String,
        reason: String,
    },
    #[error("--upstream {value}: {reason}")]
    Upstream { value: String, reason: String },
    #[error("--ledger is required")]
    NoLedger,
    #[error("[s3] {0}")]
    S3(String),
    /// `--upstream-from-etcd` (`[replication.etcd]`) cannot be used as configured.
    #[error("--upstream-from-etcd: {0}")]
    Etcd(String),
}

const DEFAULT_BLOCK_CACHE_MB: usize = 256;
const DEFAULT_SORT_MEMORY_MB: usize = 1024;
const DEFAULT_BACKGROUND_JOBS: i32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicaConfig {
    /// Directory holding the store and the replica's own state.
    pub ledger: Option<PathBuf>,
    /// Snapshot archives to bootstrap from when the ledger holds no store: a full archive and
    /// optionally an incremental one.
    pub snapshot_archives: Vec<PathBuf>,
    /// Check the snapshot's lattice hash before accepting it.
    pub verify_snapshot: bool,
    /// Written as JSON once the replica is ready.
    pub ready_file: Option<PathBuf>,
    /// Node identity keypair (a Solana keypair file): replication TLS identity and getIdentity.
    pub identity: Option<PathBuf>,
    /// Address of the Prometheus `/metrics` listener.
    pub metrics_bind: Option<std::net::SocketAddr>,
    pub accounts_index: AccountsIndexSection,
    pub store: StoreSection,
    pub rpc: crate::rpc::RpcConfig,
    pub pubsub: crate::rpc::PubSubConfig,
    pub replication: ReplicationSection,
    /// Trackers to bootstrap through when the ledger holds no store (or a new bootstrap is
    /// needed): base URLs such as `http://tracker:8458`.
    pub trackers: Vec<String>,
    /// The snapshot sources (tracker targets, `host:port` as the trackers list them, e.g. the
    /// sidecars beside the validators) whose archives verify this replica's state and bootstrap
    /// it; empty: every source the trackers list.
    pub trusted_snapshot_sources: Vec<String>,
    pub snapshots: crate::snapshot::SnapshotConfig,
    /// An S3-compatible mirror to bootstrap from when no tracker's sources can serve.
    pub s3: S3Section,
    /// Read consistency across the replicas behind one load balancer.
    pub fleet: crate::fleet::FleetConfig,
}

/// Where a snapshot mirror bucket is; credentials come from `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` (none: unsigned requests to a public bucket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Section {
    /// Endpoint URL, e.g. `https://s3.us-east-1.amazonaws.com`; goes with `bucket`.
    pub url: Option<String>,
    pub bucket: Option<String>,
    /// Key prefix (`mainnet` → `mainnet/<file>`).
    pub prefix: String,
    /// Signing region.
    pub region: String,
    /// Virtual-hosted-style URLs (`<bucket>.<host>`) instead of path-style.
    pub virtual_host: bool,
}

impl Default for S3Section {
    fn default() -> Self {
        Self {
            url: None,
            bucket: None,
            prefix: String::new(),
            region: snapshot_tools::s3::DEFAULT_REGION.to_string(),
            virtual_host: false,
        }
    }
}

/// Following upstreams and serving downstream replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationSection {
    /// Seconds the preferred (first) upstream must answer again before this replica leaves
    /// the fallback it moved to.
    pub return_after_secs: u64,
    /// Upstreams as `addr=pubkey`, in order of preference.
    pub upstreams: Vec<String>,
    /// UDP address to serve downstream replicas on.
    pub bind: Option<std::net::SocketAddr>,
    /// Identities allowed to replicate from this node; empty allows any identity.
    pub allowed_replicas: Vec<String>,
    /// Follow the upstream a failover cluster's active validator publishes in etcd.
    pub etcd: EtcdUpstreamSection,
}

/// Seconds the preferred upstream answers again before the replica returns to it.
const DEFAULT_RETURN_AFTER_SECS: u64 = 30;

impl Default for ReplicationSection {
    fn default() -> Self {
        Self {
            return_after_secs: DEFAULT_RETURN_AFTER_SECS,
            upstreams: Vec::new(),
            bind: None,
            allowed_replicas: Vec::new(),
            etcd: EtcdUpstreamSection::default(),
        }
    }
}

/// `--upstream-from-etcd <cluster> --etcd-endpoint <url> [--etcd-ca --etcd-cert --etcd-key]`:
/// the upstream published by the active node of a `failover` cluster, followed as it changes
/// (ahead of `upstreams`, which stay as fallbacks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EtcdUpstreamSection {
    /// The failover cluster's name; unset: not following etcd.
    pub cluster: Option<String>,
    /// etcd client URLs (`https://` with the TLS files, `http://` without).
    pub endpoints: Vec<String>,
    /// CA of etcd's certificates, and this replica's client certificate and key.
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// Each etcd request's bound when following the published upstream.
const ETCD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl Default for ReplicaConfig {
    fn default() -> Self {
        Self {
            ledger: None,
            snapshot_archives: Vec::new(),
            verify_snapshot: true,
            ready_file: None,
            identity: None,
            metrics_bind: None,
            accounts_index: AccountsIndexSection::default(),
            store: StoreSection::default(),
            rpc: crate::rpc::RpcConfig::default(),
            pubsub: crate::rpc::PubSubConfig::default(),
            replication: ReplicationSection::default(),
            trackers: Vec::new(),
            trusted_snapshot_sources: Vec::new(),
            snapshots: crate::snapshot::SnapshotConfig::default(),
            s3: S3Section::default(),
            fleet: crate::fleet::FleetConfig::default(),
        }
    }
}

/// Agave's `--account-index`, `--account-index-exclude-key`, `--account-index-include-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsIndexSection {
    pub indexes: Vec<IndexKind>,
    pub exclude_keys: Vec<String>,
    pub include_keys: Vec<String>,
}

impl Default for AccountsIndexSection {
    fn default() -> Self {
        Self {
            indexes: IndexKind::ALL.to_vec(),
            exclude_keys: Vec::new(),
            include_keys: Vec::new(),
        }
    }
}

impl AccountsIndexSection {
    pub fn to_index_config(&self) -> Result<IndexConfig, ConfigError> {
        let parse = |keys: &[String]| -> Result<_, ConfigError> {
            keys.iter()
                .map(|key| parse_pubkey("index key", key))
                .collect()
        };
        Ok(IndexConfig {
            enabled: self.indexes.iter().copied().collect(),
            exclude_keys: parse(&self.exclude_keys)?,
            include_keys: parse(&self.include_keys)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// RocksDB block cache, shared by all column families.
    pub block_cache_mb: usize,
    /// Memory for the external sorts of a bootstrap load (~350 MB of archive per 1 M accounts
    /// beyond this spills to disk).
    pub sort_memory_mb: usize,
    pub background_jobs: i32,
    /// fsync every commit (power-loss safety); process crashes are safe either way.
    pub sync_writes: bool,
    /// Rooted slots kept for downstream replicas; size it to cover a bootstrap (snapshot age +
    /// download + load).
    pub delta_log_retention_slots: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            block_cache_mb: DEFAULT_BLOCK_CACHE_MB,
            sort_memory_mb: DEFAULT_SORT_MEMORY_MB,
            background_jobs: DEFAULT_BACKGROUND_JOBS,
            sync_writes: false,
            delta_log_retention_slots: crate::store::DEFAULT_DELTA_LOG_RETENTION_SLOTS,
        }
    }
}

impl ReplicaConfig {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The ledger directory, which every start needs.
    pub fn ledger(&self) -> Result<&Path, ConfigError> {
        self.ledger.as_deref().ok_or(ConfigError::NoLedger)
    }

    /// The upstreams, parsed, in order of preference.
    pub fn upstreams(&self) -> Result<Vec<Upstream>, ConfigError> {
        self.replication
            .upstreams
            .iter()
            .map(|value| {
                value.parse().map_err(|reason| ConfigError::Upstream {
                    value: value.clone(),
                    reason,
                })
            })
            .collect()
    }

    /// The snapshot mirror, if a bucket is configured.
    pub fn s3_location(&self) -> Result<Option<S3Location>, ConfigError> {
        let s3 = &self.s3;
        match (&s3.url, &s3.bucket) {
            (None, None) => Ok(None),
            (Some(url), Some(bucket)) => {
                let endpoint = url
                    .parse()
                    .map_err(|error| ConfigError::S3(format!("url {url}: {error}")))?;
                let mut prefix = s3.prefix.trim_start_matches('/').to_string();
                if !prefix.is_empty() && !prefix.ends_with('/') {
                    prefix.push('/');
                }
                Ok(Some(S3Location {
                    endpoint,
                    bucket: bucket.clone(),
                    prefix,
                    region: s3.region.clone(),
                    virtual_host: s3.virtual_host,
                }))
            }
            _ => Err(ConfigError::S3("url and bucket go together".into())),
        }
    }

    /// The published upstream to follow, if `[replication.etcd]` names a cluster.
    pub fn etcd_upstream(
        &self,
    ) -> Result<Option<(String, failover::etcd::EtcdConfig)>, ConfigError> {
        let section = &self.replication.etcd;
        let Some(cluster) = &section.cluster else {
            if !section.endpoints.is_empty() {
                return Err(ConfigError::Etcd(
                    "etcd endpoints are set but no cluster to follow".into(),
                ));
            }
            return Ok(None);
        };
        if !failover::config::valid_name(cluster) {
            return Err(ConfigError::Etcd(format!(
                "{cluster:?} is not a cluster name (letters, digits, '-', '_', '.')"
            )));
        }
        if self.identity.is_none() {
            return Err(ConfigError::Etcd(
                "needs --identity (the validators' plugins allow replicas by identity)".into(),
            ));
        }
        let etcd = failover::config::etcd_config(
            &section.endpoints,
            section.ca.as_deref(),
            section.cert.as_deref(),
            section.key.as_deref(),
            ETCD_TIMEOUT,
        )
        .map_err(|error| ConfigError::Etcd(error.to_string()))?;
        Ok(Some((cluster.clone(), etcd)))
    }

    /// The identities allowed to replicate from this node (empty: any identity).
    pub fn allowed_replicas(&self) -> Result<Vec<Pubkey>, ConfigError> {
        self.replication
            .allowed_replicas
            .iter()
            .map(|key| parse_pubkey("--allowed-replica", key))
            .collect()
    }

    pub fn store_config(&self) -> Result<StoreConfig, ConfigError> {
        Ok(StoreConfig {
            indexes: self.accounts_index.to_index_config()?,
            block_cache_bytes: self.store.block_cache_mb << 20,
            background_jobs: self.store.background_jobs,
            sync_writes: self.store.sync_writes,
            // Incrementals are cut from the delta log, so it must reach back to the last full.
            delta_log_retention_slots: if self.snapshots.enabled() {
                self.store.delta_log_retention_slots.max(
                    self.snapshots.full_interval_slots + self.snapshots.incremental_interval_slots,
                )
            } else {
                self.store.delta_log_retention_slots
            },
        })
    }
}

fn parse_pubkey(what: &'static str, key: &str) -> Result<Pubkey, ConfigError> {
    Pubkey::from_str(key).map_err(|error| ConfigError::InvalidKey {
        what,
        key: key.to_string(),
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default() {
        let config: ReplicaConfig = toml::from_str("").unwrap();
        assert_eq!(config, ReplicaConfig::default());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<ReplicaConfig>("ledgr = \"/x\"").is_err());
        assert!(toml::from_str::<ReplicaConfig>("[store]\nblock_cache = 1").is_err());
    }

    #[test]
    fn the_etcd_section_is_checked() {
        let parse = |text: &str| {
            toml::from_str::<ReplicaConfig>(text)
                .unwrap()
                .etcd_upstream()
        };
        assert!(parse("").unwrap().is_none());
        let ok = "identity = \"/i.json\"\n[replication.etcd]\ncluster = \"c\"\nendpoints = [\"http://127.0.0.1:2379\"]\n";
        let (cluster, etcd) = parse(ok).unwrap().unwrap();
        assert_eq!(cluster, "c");
        assert_eq!(etcd.endpoints, ["http://127.0.0.1:2379"]);
        assert!(parse(&ok.replace("identity = \"/i.json\"", "")).is_err());
        assert!(parse(&ok.replace("http://", "https://")).is_err());
        assert!(parse(&ok.replace("cluster = \"c\"", "")).is_err());
        assert!(parse(&ok.replace("endpoints = [\"http://127.0.0.1:2379\"]", "")).is_err());
    }

    #[test]
    fn index_sections_parse() {
        let config: ReplicaConfig = toml::from_str(
            "[accounts_index]\nindexes = [\"program-id\", \"spl-token-owner\"]\nexclude_keys = [\"TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA\"]\n",
        )
        .unwrap();
        let indexes = config.accounts_index.to_index_config().unwrap();
        assert!(indexes.is_enabled(IndexKind::ProgramId));
        assert!(!indexes.is_enabled(IndexKind::SplTokenMint));
        assert_eq!(indexes.exclude_keys.len(), 1);
    }
}
