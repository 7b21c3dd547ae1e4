//! The agent's TOML configuration (`failover agent|status|switchover|fence --config`), its
//! defaults (in one place: the `DEFAULT_*` consts and each section's `Default`) and checks.

use {
    crate::{decide::DecideConfig, etcd::EtcdConfig},
    serde::{Deserialize, Serialize},
    solana_keypair::{Keypair, read_keypair_file},
    solana_pubkey::Pubkey,
    solana_signer::Signer,
    std::{
        net::SocketAddr,
        path::{Path, PathBuf},
        str::FromStr,
        time::Duration,
    },
};

/// Lease TTL: a dead node's election key and records vanish this long after its last
/// keep-alive; a node that loses etcd fences well before (see `fence_after_ms`).
pub const DEFAULT_LEASE_TTL_SECS: u64 = 5;
/// Seconds of failed health checks before an active node steps down (if a healthy standby
/// exists).
pub const DEFAULT_FAILOVER_AFTER_SECS: u64 = 30;
/// Seconds between health checks.
pub const DEFAULT_HEALTH_INTERVAL_MS: u64 = 1_000;
/// Slots the local validator may lag the cluster before it counts as unhealthy (Agave's
/// `--health-check-slot-distance` default).
pub const DEFAULT_MAX_SLOT_LAG: u64 = 128;
/// A switchover waits until the staked identity has no leader slot within this many slots.
pub const DEFAULT_RESTART_WINDOW_SLOTS: u64 = 100;
/// How often the tower file is looked at while active (a validator writes it every vote, each
/// ~400 ms slot).
pub const DEFAULT_TOWER_POLL_MS: u64 = 50;
/// Require a vote history for the staked identity (Agave 4.x `setIdentity`; Alpenglow).
pub const DEFAULT_REQUIRE_VOTE_HISTORY: bool = true;

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
    /// A key is missing or has an unusable value.
    #[error("{key}: {reason}")]
    Invalid { key: &'static str, reason: String },
    /// A keypair file cannot be read.
    #[error("{key} {}: {reason}", .path.display())]
    Keypair {
        key: &'static str,
        path: PathBuf,
        reason: String,
    },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// The agent's configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// The failover cluster's name (the etcd key prefix `/failover/<cluster>/`).
    pub cluster: String,
    /// This node's name in the cluster.
    pub node: String,
    /// etcd client URLs (`https://` with the TLS keys below, `http://` without).
    pub etcd_endpoints: Vec<String>,
    /// CA that signed etcd's server certificates.
    pub etcd_ca: Option<PathBuf>,
    /// This node's client certificate and key (etcd `--client-cert-auth`).
    pub etcd_cert: Option<PathBuf>,
    pub etcd_key: Option<PathBuf>,
    /// The validator's ledger: its admin RPC socket `<ledger>/admin.rpc`.
    pub ledger: Option<PathBuf>,
    /// The validator's tower directory (Agave `--tower`); default: the ledger.
    pub tower_dir: Option<PathBuf>,
    /// The staked identity keypair (the one cluster identity only the active node holds).
    pub staked_identity: Option<PathBuf>,
    /// This node's own unstaked identity keypair.
    pub unstaked_identity: Option<PathBuf>,
    /// `addr=pubkey` of the replication endpoint on this host, published while active.
    pub publish_upstream: Option<String>,
    pub lease_ttl_secs: u64,
    /// Trust the lease for this long after the last acknowledged keep-alive was sent; default
    /// half the TTL.
    pub fence_after_ms: Option<u64>,
    /// After a start or a step-down, wait this long before campaigning; default the TTL.
    pub hold_off_secs: Option<u64>,
    /// With no tower in etcd nor locally, let the first active node start a new tower
    /// (`setIdentity` without `require_tower`). Only for a brand-new vote account.
    pub allow_new_tower: bool,
    /// Agave 4.x `setIdentity`'s `require_vote_history` for the staked identity.
    pub require_vote_history: bool,
    /// How often the tower file is looked at while active.
    pub tower_poll_ms: u64,
    /// Prometheus `/metrics` listener.
    pub metrics_bind: Option<SocketAddr>,
    pub health: HealthSection,
}

/// Health checks of the local validator; with no `rpc_url` it counts as healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthSection {
    /// The local validator's JSON-RPC URL (`getHealth`, `getSlot`, leader schedule).
    pub rpc_url: Option<String>,
    /// A cluster RPC URL to measure the local slot lag against.
    pub cluster_rpc_url: Option<String>,
    pub max_slot_lag: u64,
    pub interval_ms: u64,
    /// Failed checks for this long make an active node step down.
    pub failover_after_secs: u64,
    /// Switchovers wait for no leader slot within this many slots.
    pub restart_window_slots: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            cluster: String::new(),
            node: String::new(),
            etcd_endpoints: Vec::new(),
            etcd_ca: None,
            etcd_cert: None,
            etcd_key: None,
            ledger: None,
            tower_dir: None,
            staked_identity: None,
            unstaked_identity: None,
            publish_upstream: None,
            lease_ttl_secs: DEFAULT_LEASE_TTL_SECS,
            fence_after_ms: None,
            hold_off_secs: None,
            allow_new_tower: false,
            require_vote_history: DEFAULT_REQUIRE_VOTE_HISTORY,
            tower_poll_ms: DEFAULT_TOWER_POLL_MS,
            metrics_bind: None,
            health: HealthSection::default(),
        }
    }
}

impl Default for HealthSection {
    fn default() -> Self {
        Self {
            rpc_url: None,
            cluster_rpc_url: None,
            max_slot_lag: DEFAULT_MAX_SLOT_LAG,
            interval_ms: DEFAULT_HEALTH_INTERVAL_MS,
            failover_after_secs: DEFAULT_FAILOVER_AFTER_SECS,
            restart_window_slots: DEFAULT_RESTART_WINDOW_SLOTS,
        }
    }
}

/// Names used in etcd keys: letters, digits, `-`, `_`, `.`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks `addr=pubkey`.
pub fn parse_upstream(value: &str) -> Result<(SocketAddr, Pubkey), String> {
    let (addr, key) = value
        .split_once('=')
        .ok_or_else(|| format!("{value:?} is not addr=pubkey"))?;
    let addr = addr
        .parse()
        .map_err(|error| format!("address {addr:?}: {error}"))?;
    let key = Pubkey::from_str(key).map_err(|error| format!("pubkey {key:?}: {error}"))?;
    Ok((addr, key))
}

/// Checks the etcd keys of any command (the endpoints and TLS material).
pub fn etcd_config(
    endpoints: &[String],
    ca: Option<&Path>,
    cert: Option<&Path>,
    key: Option<&Path>,
    timeout: Duration,
) -> Result<EtcdConfig, ConfigError> {
    if endpoints.is_empty() {
        return Err(invalid("etcd_endpoints", "at least one endpoint is needed"));
    }
    let tls = ca.is_some() || cert.is_some() || key.is_some();
    for endpoint in endpoints {
        let scheme_ok = if tls {
            endpoint.starts_with("https://")
        } else {
            endpoint.starts_with("http://")
        };
        if !scheme_ok {
            return Err(invalid(
                "etcd_endpoints",
                format!(
                    "{endpoint}: use {} URLs {}",
                    if tls { "https://" } else { "http://" },
                    if tls {
                        "with etcd_ca/etcd_cert/etcd_key"
                    } else {
                        "without TLS keys (or set etcd_ca, etcd_cert and etcd_key)"
                    }
                ),
            ));
        }
    }
    if cert.is_some() != key.is_some() {
        return Err(invalid(
            "etcd_cert",
            "etcd_cert and etcd_key go together (a client certificate and its key)",
        ));
    }
    if tls && ca.is_none() {
        return Err(invalid(
            "etcd_ca",
            "TLS needs the CA that signed etcd's certificate",
        ));
    }
    Ok(EtcdConfig {
        endpoints: endpoints.to_vec(),
        ca: ca.map(Path::to_path_buf),
        cert: cert.map(Path::to_path_buf),
        key: key.map(Path::to_path_buf),
        timeout,
    })
}

/// A configuration checked for consistency (no file is read but the config itself).
#[derive(Debug, Clone)]
pub struct CheckedConfig {
    pub config: AgentConfig,
    pub etcd: EtcdConfig,
    pub ledger: PathBuf,
    pub tower_dir: PathBuf,
    pub staked_identity: PathBuf,
    pub unstaked_identity: PathBuf,
    pub lease_ttl: Duration,
    pub decide: DecideConfig,
    /// Bound of each admin RPC call.
    pub admin_timeout: Duration,
    /// Interval of keep-alives.
    pub keep_alive_interval: Duration,
}

impl AgentConfig {
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

    /// Checks what `status` and `switchover` need: the cluster and etcd.
    pub fn check_etcd(&self) -> Result<EtcdConfig, ConfigError> {
        if !valid_name(&self.cluster) {
            return Err(invalid(
                "cluster",
                format!(
                    "{:?}: 1 to 64 letters, digits, '-', '_' or '.'",
                    self.cluster
                ),
            ));
        }
        etcd_config(
            &self.etcd_endpoints,
            self.etcd_ca.as_deref(),
            self.etcd_cert.as_deref(),
            self.etcd_key.as_deref(),
            self.etcd_timeout(),
        )
    }

    /// Each etcd request's bound: a quarter of the TTL, at most 2 s.
    fn etcd_timeout(&self) -> Duration {
        (Duration::from_secs(self.lease_ttl_secs.max(1)) / 4).min(Duration::from_secs(2))
    }

    /// Checks everything the agent needs, without reading files.
    pub fn check(&self) -> Result<CheckedConfig, ConfigError> {
        let etcd = self.check_etcd()?;
        if !valid_name(&self.node) {
            return Err(invalid(
                "node",
                format!("{:?}: 1 to 64 letters, digits, '-', '_' or '.'", self.node),
            ));
        }
        let ledger = self
            .ledger
            .clone()
            .ok_or_else(|| invalid("ledger", "the validator's ledger directory is required"))?;
        let staked_identity = self
            .staked_identity
            .clone()
            .ok_or_else(|| invalid("staked_identity", "required"))?;
        let unstaked_identity = self
            .unstaked_identity
            .clone()
            .ok_or_else(|| invalid("unstaked_identity", "required"))?;
        if staked_identity == unstaked_identity {
            return Err(invalid(
                "unstaked_identity",
                "must be another keypair than staked_identity",
            ));
        }
        if let Some(upstream) = &self.publish_upstream {
            parse_upstream(upstream).map_err(|reason| invalid("publish_upstream", reason))?;
        }
        if !(2..=3600).contains(&self.lease_ttl_secs) {
            return Err(invalid(
                "lease_ttl_secs",
                format!("{} is outside 2..=3600", self.lease_ttl_secs),
            ));
        }
        let lease_ttl = Duration::from_secs(self.lease_ttl_secs);
        // The fence must be complete before the TTL: trust the lease for fence_after, then
        // allow one decision tick, one admin call that may be under way and the fence call.
        let admin_timeout = (lease_ttl / 8).min(Duration::from_secs(1));
        let fence_after = self
            .fence_after_ms
            .map_or(lease_ttl / 2, Duration::from_millis);
        let tick = Duration::from_millis(self.tower_poll_ms);
        if fence_after.is_zero() || fence_after + tick + 2 * admin_timeout >= lease_ttl {
            return Err(invalid(
                "fence_after_ms",
                format!(
                    "{fence_after:?} leaves no time to fence within the {lease_ttl:?} TTL \
                     (needs fence_after + tower_poll_ms + 2 × {admin_timeout:?} < TTL)"
                ),
            ));
        }
        if !(10..=1000).contains(&self.tower_poll_ms) {
            return Err(invalid(
                "tower_poll_ms",
                format!("{} is outside 10..=1000", self.tower_poll_ms),
            ));
        }
        let health = &self.health;
        for (key, url) in [
            ("health.rpc_url", &health.rpc_url),
            ("health.cluster_rpc_url", &health.cluster_rpc_url),
        ] {
            if let Some(url) = url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err(invalid(key, format!("{url}: an http:// or https:// URL")));
            }
        }
        if health.cluster_rpc_url.is_some() && health.rpc_url.is_none() {
            return Err(invalid(
                "health.cluster_rpc_url",
                "the slot lag needs health.rpc_url (the local validator) too",
            ));
        }
        if health.interval_ms < 100 {
            return Err(invalid("health.interval_ms", "at least 100"));
        }
        let hold_off = Duration::from_secs(self.hold_off_secs.unwrap_or(self.lease_ttl_secs));
        Ok(CheckedConfig {
            config: self.clone(),
            etcd,
            tower_dir: self.tower_dir.clone().unwrap_or_else(|| ledger.clone()),
            ledger,
            staked_identity,
            unstaked_identity,
            lease_ttl,
            decide: DecideConfig {
                fence_after,
                hold_off,
                failover_after: Duration::from_secs(health.failover_after_secs),
            },
            admin_timeout,
            keep_alive_interval: (lease_ttl / 6).max(Duration::from_millis(100)),
        })
    }
}

/// The two identities, read.
#[derive(Debug)]
pub struct Identities {
    pub staked: Keypair,
    pub unstaked: Keypair,
    /// Absolute paths (the validator reads them for `setIdentity`).
    pub staked_path: PathBuf,
    pub unstaked_path: PathBuf,
}

impl Identities {
    pub fn staked_pubkey(&self) -> Pubkey {
        self.staked.pubkey()
    }

    pub fn unstaked_pubkey(&self) -> Pubkey {
        self.unstaked.pubkey()
    }
}

impl CheckedConfig {
    /// Reads both keypairs (and checks they differ).
    pub fn identities(&self) -> Result<Identities, ConfigError> {
        let read = |key, path: &Path| -> Result<(Keypair, PathBuf), ConfigError> {
            let error = |reason: String| ConfigError::Keypair {
                key,
                path: path.to_path_buf(),
                reason,
            };
            let absolute = std::fs::canonicalize(path).map_err(|e| error(e.to_string()))?;
            let keypair = read_keypair_file(&absolute).map_err(|e| error(e.to_string()))?;
            Ok((keypair, absolute))
        };
        let (staked, staked_path) = read("staked_identity", &self.staked_identity)?;
        let (unstaked, unstaked_path) = read("unstaked_identity", &self.unstaked_identity)?;
        if staked.pubkey() == unstaked.pubkey() {
            return Err(invalid(
                "unstaked_identity",
                "holds the same key as staked_identity",
            ));
        }
        Ok(Identities {
            staked,
            unstaked,
            staked_path,
            unstaked_path,
        })
    }

    /// Checks that the TLS files exist and are readable.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        for (key, path) in [
            ("etcd_ca", &self.etcd.ca),
            ("etcd_cert", &self.etcd.cert),
            ("etcd_key", &self.etcd.key),
        ] {
            if let Some(path) = path {
                std::fs::metadata(path)
                    .map_err(|error| invalid(key, format!("{}: {error}", path.display())))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
cluster = "mainnet-a"
node = "a"
etcd_endpoints = ["https://10.0.0.5:2379"]
etcd_ca = "certs/etcd-ca.pem"
etcd_cert = "certs/validator.pem"
etcd_key = "certs/validator-key.pem"
ledger = "/mnt/ledger"
staked_identity = "/etc/validator/identity.json"
unstaked_identity = "/etc/validator/unstaked-a.json"
publish_upstream = "10.0.0.10:8900=7aJT1md3Hp6B2wVcYZ37iJv3eCbJtxHQEvLz4ihRFhiv"
lease_ttl_secs = 5
metrics_bind = "127.0.0.1:9300"
"#;

    #[test]
    fn empty_file_is_the_default() {
        let config: AgentConfig = toml::from_str("").unwrap();
        assert_eq!(config, AgentConfig::default());
    }

    #[test]
    fn the_issue_example_checks() {
        let config: AgentConfig = toml::from_str(EXAMPLE).unwrap();
        let checked = config.check().unwrap();
        assert_eq!(checked.decide.fence_after, Duration::from_millis(2500));
        assert_eq!(checked.decide.hold_off, Duration::from_secs(5));
        assert_eq!(checked.tower_dir, PathBuf::from("/mnt/ledger"));
        assert!(checked.admin_timeout * 2 + checked.decide.fence_after < checked.lease_ttl);
    }

    #[test]
    fn bad_configs_are_refused_clearly() {
        let bad = |edit: &str, key: &str| {
            let text = format!("{EXAMPLE}\n{edit}");
            let error = match toml::from_str::<AgentConfig>(&text) {
                Ok(config) => config.check().unwrap_err().to_string(),
                Err(error) => error.to_string(),
            };
            assert!(error.contains(key), "{edit}: {error}");
        };
        bad("lease_ttl = 5", "unknown field");
        bad("fence_after_ms = 4900", "fence_after_ms");
        bad("tower_poll_ms = 0", "");
        let replace = |from: &str, to: &str, key: &str| {
            let text = EXAMPLE.replace(from, to);
            let error = match toml::from_str::<AgentConfig>(&text) {
                Ok(config) => config.check().unwrap_err().to_string(),
                Err(error) => error.to_string(),
            };
            assert!(error.contains(key), "{to}: {error}");
        };
        replace("node = \"a\"", "node = \"a/b\"", "node");
        replace("https://10.0.0.5", "http://10.0.0.5", "etcd_endpoints");
        replace("lease_ttl_secs = 5", "lease_ttl_secs = 1", "lease_ttl_secs");
        replace(
            "etcd_key = \"certs/validator-key.pem\"",
            "",
            "etcd_cert and etcd_key",
        );
        replace(
            "/etc/validator/unstaked-a.json",
            "/etc/validator/identity.json",
            "unstaked_identity",
        );
        replace("=7aJT", "=nope", "publish_upstream");
        replace("ledger = \"/mnt/ledger\"", "", "ledger");
    }

    #[test]
    fn plain_http_needs_no_tls_keys() {
        let config = AgentConfig {
            cluster: "c".into(),
            node: "n".into(),
            etcd_endpoints: vec!["http://127.0.0.1:2379".into()],
            ledger: Some("/l".into()),
            staked_identity: Some("/s.json".into()),
            unstaked_identity: Some("/u.json".into()),
            ..AgentConfig::default()
        };
        assert!(config.check().is_ok());
    }
}
