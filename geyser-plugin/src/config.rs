//! The plugin's JSON configuration, the file agave-validator is given with
//! `--geyser-plugin-config <json>`.
//!
//! ```json
//! {
//!   "libpath": "/opt/replica/libgeyser_plugin.so",
//!   "bind": "0.0.0.0:8900",
//!   "identity": "/etc/replica/plugin-identity.json",
//!   "allowed_replicas": ["7Np41oeYqPefeNQEHSv1UDhYrehxin3NStELsSKCT4K2"],
//!   "data_dir": "/var/lib/replica-plugin",
//!   "retention_slots": 9000,
//!   "metrics_bind": "127.0.0.1:9105",
//!   "handoff": { "max_events": 524288, "max_bytes": 2147483648 },
//!   "buffer": { "max_bytes": 8589934592, "memory_rooted_slots": 32 }
//! }
//! ```
//!
//! Unknown keys are errors (a typo must not silently fall back to a default). Defaults live once,
//! in the `DEFAULT_*` constants and the sections' `Default` impls.

use {
    replication_proto::{Pubkey, transport::ClientAllowlist},
    serde::{Deserialize, Serialize},
    std::{
        collections::HashSet,
        net::SocketAddr,
        path::{Path, PathBuf},
    },
};

/// Replication server address when `bind` is not given.
pub const DEFAULT_BIND: &str = "0.0.0.0:8900";
/// Rooted slots kept in the delta log: 9,000 slots ≈ 1 hour at 400 ms, enough for a replica to
/// download and load a snapshot (incremental archives are ≤ ~25 minutes old) and catch up.
pub const DEFAULT_RETENTION_SLOTS: u64 = 9_000;
/// Events (account writes, statuses, block metadata) the hand-off queue holds: mainnet writes
/// ~20–40k accounts per slot, so this is ~15 slots of slack for the collector thread.
pub const DEFAULT_HANDOFF_MAX_EVENTS: usize = 512 * 1024;
/// Bytes of account data the hand-off queue holds (≈ 10–20 busy mainnet slots).
pub const DEFAULT_HANDOFF_MAX_BYTES: usize = 2 * 1024 * 1024 * 1024;
/// Bytes of not-yet-rooted slots held in memory (≈ 150 busy mainnet slots, far more than the
/// ~32-slot gap between processed and rooted in a healthy cluster).
pub const DEFAULT_BUFFER_MAX_BYTES: usize = 8 * 1024 * 1024 * 1024;
/// Most recently rooted slots also kept in memory, so replicas that are current never read disk.
pub const DEFAULT_MEMORY_ROOTED_SLOTS: usize = 32;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("failed to read config file {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape (unknown keys included).
    #[error("invalid config file {}: {source}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// The values are inconsistent.
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// The whole plugin configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// Path of this library; read by agave-validator, ignored here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub libpath: Option<PathBuf>,
    /// UDP address of the replication server (QUIC). Port 0 picks a free port.
    #[serde(default = "default_bind")]
    pub bind: SocketAddr,
    /// The server's identity: a Solana keypair file (JSON array of 64 bytes).
    pub identity: PathBuf,
    /// Replica identities allowed to connect (base58).
    #[serde(default, with = "base58_pubkeys")]
    pub allowed_replicas: Vec<Pubkey>,
    /// Accept any replica that proves an identity (`allowed_replicas` must then be empty).
    #[serde(default)]
    pub allow_any_replica: bool,
    /// Directory of the retained delta log (created if missing).
    pub data_dir: PathBuf,
    /// Rooted slots kept in the delta log (by slot number: slots older than the newest root
    /// minus this are deleted).
    #[serde(default = "default_retention_slots")]
    pub retention_slots: u64,
    /// Address of the Prometheus `/metrics` endpoint (HTTP); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_bind: Option<SocketAddr>,
    /// Written (JSON: `replication`, `identity`, `metrics`) once the server listens, so that
    /// tests and supervisors can wait on it and learn the addresses bound to port 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_file: Option<PathBuf>,
    /// The bounded queue between the validator's threads and the collector.
    #[serde(default)]
    pub handoff: HandoffConfig,
    /// Memory held for slots that are not yet rooted.
    #[serde(default)]
    pub buffer: BufferConfig,
}

fn default_bind() -> SocketAddr {
    DEFAULT_BIND
        .parse()
        .expect("DEFAULT_BIND is a socket address")
}

const fn default_retention_slots() -> u64 {
    DEFAULT_RETENTION_SLOTS
}

/// Sizing of the hand-off queue. When it is full, events are dropped (never waited for) and the
/// slots they belong to become unavailable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HandoffConfig {
    /// Events held at most.
    pub max_events: usize,
    /// Bytes (account data plus a fixed per-event overhead) held at most.
    pub max_bytes: usize,
}

impl Default for HandoffConfig {
    fn default() -> Self {
        Self {
            max_events: DEFAULT_HANDOFF_MAX_EVENTS,
            max_bytes: DEFAULT_HANDOFF_MAX_BYTES,
        }
    }
}

/// Memory held by the collector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BufferConfig {
    /// Bytes of not-yet-rooted slots; a slot whose writes would exceed it is shed (unavailable).
    pub max_bytes: usize,
    /// Recently rooted slots kept in memory besides the delta log.
    pub memory_rooted_slots: usize,
}

impl Default for BufferConfig {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_BUFFER_MAX_BYTES,
            memory_rooted_slots: DEFAULT_MEMORY_ROOTED_SLOTS,
        }
    }
}

impl PluginConfig {
    /// A configuration with defaults for everything but identity, data directory and bind.
    pub fn new(identity: PathBuf, data_dir: PathBuf, bind: SocketAddr) -> Self {
        Self {
            libpath: None,
            bind,
            identity,
            allowed_replicas: Vec::new(),
            allow_any_replica: false,
            data_dir,
            retention_slots: DEFAULT_RETENTION_SLOTS,
            metrics_bind: None,
            ready_file: None,
            handoff: HandoffConfig::default(),
            buffer: BufferConfig::default(),
        }
    }

    /// Reads and validates a config file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Self = serde_json::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: &str| Err(ConfigError::Invalid(msg.to_string()));
        if self.allow_any_replica && !self.allowed_replicas.is_empty() {
            return invalid("allow_any_replica is true but allowed_replicas is not empty");
        }
        if !self.allow_any_replica && self.allowed_replicas.is_empty() {
            return invalid(
                "allowed_replicas is empty and allow_any_replica is false: no replica could connect",
            );
        }
        if self.retention_slots == 0 {
            return invalid("retention_slots must be at least 1");
        }
        if self.handoff.max_events == 0 || self.handoff.max_bytes == 0 {
            return invalid("handoff.max_events and handoff.max_bytes must be positive");
        }
        if self.buffer.max_bytes == 0 {
            return invalid("buffer.max_bytes must be positive");
        }
        Ok(())
    }

    /// The allowlist for the replication server.
    pub fn allowlist(&self) -> ClientAllowlist {
        if self.allow_any_replica {
            ClientAllowlist::AllowAny
        } else {
            ClientAllowlist::Only(
                self.allowed_replicas
                    .iter()
                    .copied()
                    .collect::<HashSet<_>>(),
            )
        }
    }

    /// Writes the configuration as JSON (for simulators and tests that load the plugin the way
    /// the validator does).
    pub fn write(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, json)
    }
}

/// `Vec<Pubkey>` as base58 strings (the derived serde form is a byte array).
mod base58_pubkeys {
    use {
        replication_proto::Pubkey,
        serde::{Deserialize, Deserializer, Serializer, de::Error, ser::SerializeSeq},
    };

    pub(super) fn serialize<S: Serializer>(keys: &[Pubkey], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(keys.len()))?;
        for key in keys {
            seq.serialize_element(&key.to_string())?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Pubkey>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| {
                s.parse::<Pubkey>()
                    .map_err(|e| D::Error::custom(format!("bad pubkey {s:?}: {e}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deploy_example_loads_and_sets_every_field() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/geyser-plugin.json");
        let config = PluginConfig::load(&path).unwrap();
        assert_eq!(config.allowed_replicas.len(), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        let shown: serde_json::Value = serde_json::from_str(&text).unwrap();
        let all: serde_json::Value = serde_json::to_value(&config).unwrap();
        for key in all.as_object().unwrap().keys() {
            assert!(
                shown.get(key).is_some(),
                "deploy/geyser-plugin.json lacks {key}"
            );
        }
    }

    fn parse(json: &str) -> Result<PluginConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, json).unwrap();
        PluginConfig::load(&path)
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let config = parse(
            r#"{"libpath": "/x.so", "identity": "/id.json", "data_dir": "/d", "allow_any_replica": true}"#,
        )
        .unwrap();
        let mut expected = PluginConfig::new("/id.json".into(), "/d".into(), default_bind());
        expected.libpath = Some("/x.so".into());
        expected.allow_any_replica = true;
        assert_eq!(config, expected);
        assert_eq!(config.allowlist(), ClientAllowlist::AllowAny);
    }

    #[test]
    fn full_example_parses() {
        let key = Pubkey::new_unique();
        let config = parse(&format!(
            r#"{{
              "libpath": "/opt/libgeyser_plugin.so",
              "bind": "127.0.0.1:0",
              "identity": "/id.json",
              "allowed_replicas": ["{key}"],
              "data_dir": "/d",
              "retention_slots": 100,
              "metrics_bind": "127.0.0.1:9105",
              "handoff": {{ "max_events": 10 }},
              "buffer": {{ "memory_rooted_slots": 4 }}
            }}"#
        ))
        .unwrap();
        assert_eq!(config.retention_slots, 100);
        assert_eq!(config.handoff.max_events, 10);
        assert_eq!(config.handoff.max_bytes, DEFAULT_HANDOFF_MAX_BYTES);
        assert_eq!(config.buffer.memory_rooted_slots, 4);
        assert!(config.allowlist().allows(&key));
        assert!(!config.allowlist().allows(&Pubkey::new_unique()));
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let base = r#""identity": "/id.json", "data_dir": "/d""#;
        assert!(matches!(
            parse(&format!(
                r#"{{{base}, "allow_any_replica": true, "retention": 5}}"#
            )),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            parse(&format!(
                r#"{{{base}, "allow_any_replica": true, "handoff": {{"max_event": 1}}}}"#
            )),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            parse(&format!(r#"{{{base}}}"#)),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            parse(r#"{"data_dir": "/d", "allow_any_replica": true}"#),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            parse(&format!(
                r#"{{{base}, "allow_any_replica": true, "retention_slots": 0}}"#
            )),
            Err(ConfigError::Invalid(_))
        ));
    }
}
