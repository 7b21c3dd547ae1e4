//! Settings of the three long-running subcommands, one TOML file for all roles
//! (`deploy/relay.toml`), one section each. Precedence: command-line flag (or its `RELAY_*`
//! environment variable), then the file, then these defaults, which live here only.

use {
    crate::{
        compare,
        forward::{dedup, slots},
        tunnel::replay,
    },
    serde::{Deserialize, Serialize},
    std::{net::SocketAddr, path::PathBuf},
    thiserror::Error,
};

/// The validators' TVU port the write-up mirrors.
pub const DEFAULT_PORT: u16 = 20000;
/// `/health` turns not-ok after this long without a packet.
pub const DEFAULT_HEALTH_IDLE_SECS: u64 = 10;
/// Socket receive buffer: about 0.1 s of a 200 Mbit/s burst.
pub const DEFAULT_RECV_BUFFER_BYTES: usize = 8 << 20;
/// Largest distance between a tunnel datagram's capture time and the forward's clock.
pub const DEFAULT_MAX_CLOCK_SKEW_SECS: u64 = replay::DEFAULT_MAX_AGE_NS / 1_000_000_000;
/// The interface `relay forward` delivers through when its `--to` is local.
pub const DEFAULT_RELAYED_INTERFACE: &str = "lo";

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// `[capture]`: `relay capture`.
    pub capture: CaptureConfig,
    /// `[forward]`: `relay forward`.
    pub forward: ForwardConfig,
    /// `[compare]`: `relay compare`.
    pub compare: CompareConfig,
}

/// `relay capture`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Interface the switch mirrors the TVU traffic onto (or `listen`).
    pub interface: Option<String>,
    /// UDP socket to take shreds from instead of an interface.
    pub listen: Option<SocketAddr>,
    /// UDP destination port captured.
    pub port: u16,
    /// Tunnel destinations (`relay forward` listen addresses, `host:port`).
    pub to: Vec<String>,
    /// Tunnel key file.
    pub key_file: Option<PathBuf>,
    /// `/metrics` and `/health` address.
    pub metrics_bind: Option<SocketAddr>,
    /// `/health` idle bound, seconds.
    pub health_idle_secs: u64,
    /// Capture socket receive buffer, bytes.
    pub recv_buffer_bytes: usize,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            interface: None,
            listen: None,
            port: DEFAULT_PORT,
            to: Vec::new(),
            key_file: None,
            metrics_bind: None,
            health_idle_secs: DEFAULT_HEALTH_IDLE_SECS,
            recv_buffer_bytes: DEFAULT_RECV_BUFFER_BYTES,
        }
    }
}

/// `relay forward`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardConfig {
    /// Where tunnel (or raw) datagrams arrive.
    pub listen: Option<SocketAddr>,
    /// The validator's TVU address (`host:port`).
    pub to: Option<String>,
    /// Tunnel key file.
    pub key_file: Option<PathBuf>,
    /// Bare IP + UDP + shred datagrams (socat `type=2`), no tunnel header.
    pub raw: bool,
    /// Forward only this shred version.
    pub shred_version: Option<u16>,
    /// `/metrics`, `/health` and `/slots` address.
    pub metrics_bind: Option<SocketAddr>,
    /// `/health` idle bound, seconds.
    pub health_idle_secs: u64,
    /// Duplicate window, shreds (~ a few busy slots).
    pub dedup_window: usize,
    /// Per-slot statistics window, slots (~25 s).
    pub slot_window: usize,
    /// Tunnel sequence numbers remembered per session.
    pub replay_window: u64,
    /// Tunnel sessions tracked at once.
    pub max_sessions: usize,
    /// Clock bound for tunnel datagrams, seconds (0: off).
    pub max_clock_skew_secs: u64,
    /// Tunnel socket receive buffer, bytes.
    pub recv_buffer_bytes: usize,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        Self {
            listen: None,
            to: None,
            key_file: None,
            raw: false,
            shred_version: None,
            metrics_bind: None,
            health_idle_secs: DEFAULT_HEALTH_IDLE_SECS,
            dedup_window: dedup::DEFAULT_CAPACITY,
            slot_window: slots::DEFAULT_SLOT_WINDOW,
            replay_window: replay::DEFAULT_WINDOW,
            max_sessions: replay::DEFAULT_MAX_SESSIONS,
            max_clock_skew_secs: DEFAULT_MAX_CLOCK_SKEW_SECS,
            recv_buffer_bytes: DEFAULT_RECV_BUFFER_BYTES,
        }
    }
}

/// `relay compare`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompareConfig {
    /// Interface turbine reaches the validator on.
    pub direct_interface: Option<String>,
    /// Interface `relay forward` delivers through.
    pub relayed_interface: String,
    /// The validator's TVU port.
    pub port: Option<u16>,
    /// Shreds remembered for the comparison.
    pub window: usize,
    /// `/metrics` and `/health` address.
    pub metrics_bind: Option<SocketAddr>,
    /// `/health` idle bound, seconds.
    pub health_idle_secs: u64,
    /// Receive buffer of each capture socket, bytes.
    pub recv_buffer_bytes: usize,
}

impl Default for CompareConfig {
    fn default() -> Self {
        Self {
            direct_interface: None,
            relayed_interface: DEFAULT_RELAYED_INTERFACE.to_owned(),
            port: None,
            window: compare::DEFAULT_WINDOW,
            metrics_bind: None,
            health_idle_secs: DEFAULT_HEALTH_IDLE_SECS,
            recv_buffer_bytes: DEFAULT_RECV_BUFFER_BYTES,
        }
    }
}

/// Why a configuration is not usable.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file is not TOML of this shape (unknown keys included).
    #[error("bad configuration file: {0}")]
    Parse(#[from] toml::de::Error),
    /// A required setting is missing or settings contradict each other.
    #[error("{0}")]
    Invalid(&'static str),
}

impl RelayConfig {
    /// Parses a configuration file's text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    /// The file as TOML (what `--check` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

impl CaptureConfig {
    /// Checks that the settings describe a capture.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match (&self.interface, &self.listen) {
            (Some(_), Some(_)) => Err(ConfigError::Invalid(
                "capture: interface and listen exclude each other",
            )),
            (None, None) => Err(ConfigError::Invalid(
                "capture: interface or listen is required",
            )),
            _ if self.to.is_empty() => Err(ConfigError::Invalid("capture: to is required")),
            _ => Ok(()),
        }
    }
}

impl ForwardConfig {
    /// Checks that the settings describe a forward.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.is_none() {
            return Err(ConfigError::Invalid("forward: listen is required"));
        }
        if self.to.is_none() {
            return Err(ConfigError::Invalid("forward: to is required"));
        }
        if self.raw && self.key_file.is_some() {
            return Err(ConfigError::Invalid(
                "forward: raw datagrams carry no MAC, key_file cannot be used with raw",
            ));
        }
        Ok(())
    }
}

impl CompareConfig {
    /// Checks that the settings describe a comparison.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.direct_interface.is_none() {
            return Err(ConfigError::Invalid(
                "compare: direct_interface is required",
            ));
        }
        if self.port.is_none() {
            return Err(ConfigError::Invalid("compare: port is required"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(RelayConfig::parse("").unwrap(), RelayConfig::default());
        assert_eq!(
            RelayConfig::parse("[capture]\n[forward]\n[compare]\n").unwrap(),
            RelayConfig::default()
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(RelayConfig::parse("[capture]\nportt = 1\n").is_err());
        assert!(RelayConfig::parse("[relay]\n").is_err());
    }

    #[test]
    fn the_example_file_is_valid() {
        let config = RelayConfig::parse(include_str!("../../deploy/relay.toml")).unwrap();
        config.capture.validate().unwrap();
        config.forward.validate().unwrap();
        config.compare.validate().unwrap();
        assert_eq!(RelayConfig::parse(&config.to_toml()).unwrap(), config);
    }

    #[test]
    fn validation_names_what_is_missing() {
        let capture = CaptureConfig::default();
        assert!(
            capture
                .validate()
                .unwrap_err()
                .to_string()
                .contains("interface or listen")
        );
        let forward = ForwardConfig {
            listen: Some("127.0.0.1:1".parse().unwrap()),
            to: Some("127.0.0.1:2".into()),
            raw: true,
            key_file: Some("k".into()),
            ..ForwardConfig::default()
        };
        assert!(forward.validate().unwrap_err().to_string().contains("raw"));
    }
}
