//! The tracker's YAML configuration: Blockdaemon's format (`scrape_interval`, `target_groups`
//! with `scheme`, `api_path`, `basic_auth`, `bearer_auth`, `tls_config`, `static_targets`,
//! `file_targets`) plus `http_targets` (which they documented and never built) and the expiry
//! and timeout keys. Unknown keys are errors.

use {
    serde::{Deserialize, Deserializer},
    std::{path::PathBuf, time::Duration},
};

pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(15);
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// A target is forgotten after this many failed scrapes in a row (45 s at the default
/// interval).
pub const DEFAULT_MAX_FAILED_SCRAPES: u32 = 3;
/// Scrapes in flight at once, over all groups of one tracker.
pub const DEFAULT_MAX_CONCURRENT_SCRAPES: usize = 64;
/// Largest `/v1/snapshots` answer accepted from a target; a sidecar lists a handful of chains.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 << 20;

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

const fn default_scrape_interval() -> Duration {
    DEFAULT_SCRAPE_INTERVAL
}
const fn default_scrape_timeout() -> Duration {
    DEFAULT_SCRAPE_TIMEOUT
}
const fn default_max_failed_scrapes() -> u32 {
    DEFAULT_MAX_FAILED_SCRAPES
}
const fn default_max_concurrent_scrapes() -> usize {
    DEFAULT_MAX_CONCURRENT_SCRAPES
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerConfig {
    /// How often every target is scraped (Go duration syntax, e.g. `15s`).
    #[serde(default = "default_scrape_interval", deserialize_with = "duration")]
    pub scrape_interval: Duration,
    /// Time limit of one scrape request, and of one HTTP discovery request.
    #[serde(default = "default_scrape_timeout", deserialize_with = "duration")]
    pub scrape_timeout: Duration,
    /// Failed scrapes in a row after which a target's entries are dropped.
    #[serde(default = "default_max_failed_scrapes")]
    pub max_failed_scrapes: u32,
    /// Scrapes in flight at once.
    #[serde(default = "default_max_concurrent_scrapes")]
    pub max_concurrent_scrapes: usize,
    #[serde(default)]
    pub target_groups: Vec<TargetGroup>,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            scrape_interval: DEFAULT_SCRAPE_INTERVAL,
            scrape_timeout: DEFAULT_SCRAPE_TIMEOUT,
            max_failed_scrapes: DEFAULT_MAX_FAILED_SCRAPES,
            max_concurrent_scrapes: DEFAULT_MAX_CONCURRENT_SCRAPES,
            target_groups: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Targets that share a scheme, path, credentials and TLS settings. Every configured
/// discovery source is used and their targets are merged.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// A label.
    pub group: String,
    #[serde(default)]
    pub scheme: Scheme,
    /// Prefix before `/v1/snapshots` on the targets.
    #[serde(default)]
    pub api_path: String,
    pub basic_auth: Option<BasicAuth>,
    pub bearer_auth: Option<BearerAuth>,
    pub tls_config: Option<TlsConfig>,
    pub static_targets: Option<StaticTargets>,
    pub file_targets: Option<FileTargets>,
    pub http_targets: Option<HttpTargets>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BearerAuth {
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of CA certificates to trust (besides the system's).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key, for mutual TLS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticTargets {
    pub targets: Vec<String>,
}

/// A file of targets: one `host:port` per line (`#` comments), or a JSON list of strings, or
/// Prometheus file-SD JSON (`[{"targets": [...]}]`). Re-read on every scrape round.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTargets {
    pub path: PathBuf,
}

/// A URL answering the target list in any of the formats of [`FileTargets`] (Prometheus
/// HTTP-SD included). Fetched on every scrape round with the group's TLS and credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTargets {
    pub url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The YAML is malformed or has unknown keys.
    #[error("parsing {}: {error}", .path.display())]
    Parse {
        path: PathBuf,
        error: serde_yaml_ng::Error,
    },
    /// A value is out of range.
    #[error("{0}")]
    Invalid(String),
}

impl TrackerConfig {
    pub fn from_yaml(text: &str, path: &std::path::Path) -> Result<Self, ConfigError> {
        let config: Self = if text.trim().is_empty() {
            Self::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|error| ConfigError::Parse {
                path: path.to_path_buf(),
                error,
            })?
        };
        config.validate()?;
        Ok(config)
    }

    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_yaml(&text, path)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.scrape_interval < Duration::from_millis(10) {
            return Err(ConfigError::Invalid(
                "scrape_interval must be at least 10ms".into(),
            ));
        }
        if self.scrape_timeout.is_zero() || self.max_failed_scrapes == 0 {
            return Err(ConfigError::Invalid(
                "scrape_timeout and max_failed_scrapes must be positive".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for group in &self.target_groups {
            if !names.insert(&group.group) {
                return Err(ConfigError::Invalid(format!(
                    "target group `{}` is defined twice",
                    group.group
                )));
            }
            if group.basic_auth.is_some() && group.bearer_auth.is_some() {
                return Err(ConfigError::Invalid(format!(
                    "target group `{}` has both basic_auth and bearer_auth",
                    group.group
                )));
            }
            if let Some(tls) = &group.tls_config
                && tls.cert_file.is_some() != tls.key_file.is_some()
            {
                return Err(ConfigError::Invalid(format!(
                    "target group `{}`: cert_file and key_file go together",
                    group.group
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use {super::*, std::path::Path};

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(
            TrackerConfig::from_yaml("", Path::new("x")).unwrap(),
            TrackerConfig::default()
        );
    }

    #[test]
    fn parses_blockdaemon_config_and_extensions() {
        let text = r#"
scrape_interval: 1m30s
max_failed_scrapes: 5
target_groups:
  - group: mainnet
    scheme: https
    api_path: /sidecar
    basic_auth: {username: u, password: p}
    tls_config: {insecure_skip_verify: true}
    static_targets: {targets: ["10.0.0.1:13080", "10.0.0.2:13080"]}
    file_targets: {path: /etc/targets.txt}
    http_targets: {url: "http://discovery/targets"}
"#;
        let config = TrackerConfig::from_yaml(text, Path::new("x")).unwrap();
        assert_eq!(config.scrape_interval, Duration::from_secs(90));
        assert_eq!(config.scrape_timeout, DEFAULT_SCRAPE_TIMEOUT);
        assert_eq!(config.max_failed_scrapes, 5);
        let group = &config.target_groups[0];
        assert_eq!(group.scheme, Scheme::Https);
        assert_eq!(group.static_targets.as_ref().unwrap().targets.len(), 2);
        assert!(group.tls_config.as_ref().unwrap().insecure_skip_verify);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let unknown = "target_groups:\n  - group: a\n    consul_sd_config: {host: x}\n";
        let error = TrackerConfig::from_yaml(unknown, Path::new("x")).unwrap_err();
        assert!(error.to_string().contains("consul_sd_config"), "{error}");
        assert!(TrackerConfig::from_yaml("scrape_interval: soon\n", Path::new("x")).is_err());
        let twice = "target_groups:\n  - group: a\n  - group: a\n";
        assert!(TrackerConfig::from_yaml(twice, Path::new("x")).is_err());
    }
}
