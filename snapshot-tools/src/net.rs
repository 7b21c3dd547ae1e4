//! Small pieces shared by the servers and clients: listen addresses, target URLs (one rule
//! for scheme handling, so that `http://http://host` as in Blockdaemon's issue #197 cannot
//! happen), byte sizes on the command line.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    str::FromStr,
};

/// A listen address as Go writes them: `:8458` means every interface.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Some(port) = text.strip_prefix(':') {
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("invalid port in `{text}`"))?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    text.parse()
        .map_err(|_| format!("`{text}` is not an address like `127.0.0.1:8458` or `:8458`"))
}

/// The base URL of a target: a target that already carries a scheme is used as it is;
/// `host:port` gets `scheme`. `api_path` is appended either way. No trailing slash.
pub fn target_base_url(target: &str, scheme: &str, api_path: &str) -> String {
    let target = target.trim().trim_end_matches('/');
    let base = if target.contains("://") {
        target.to_string()
    } else {
        format!("{scheme}://{target}")
    };
    let api_path = api_path.trim_matches('/');
    if api_path.is_empty() {
        base
    } else {
        format!("{base}/{api_path}")
    }
}

/// A byte count with an optional binary suffix: `1048576`, `64KiB`, `32MiB`, `1GiB` (`K`,
/// `M`, `G`, `KB`, `MB`, `GB` mean the same powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a byte size like 64MiB"))?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            _ => return Err(format!("unknown unit in `{text}`")),
        };
        number
            .checked_mul(1 << shift)
            .map(ByteSize)
            .ok_or_else(|| format!("`{text}` is too large"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen(":8458").unwrap(),
            "0.0.0.0:8458".parse().unwrap()
        );
        assert_eq!(
            parse_listen("127.0.0.1:0").unwrap(),
            "127.0.0.1:0".parse().unwrap()
        );
        assert!(parse_listen("nope").is_err());
    }

    #[test]
    fn target_urls_get_one_scheme() {
        assert_eq!(
            target_base_url("node:13080", "http", ""),
            "http://node:13080"
        );
        assert_eq!(
            target_base_url("http://node:13080/", "http", ""),
            "http://node:13080"
        );
        assert_eq!(
            target_base_url("node:13080", "https", "/api/"),
            "https://node:13080/api"
        );
    }

    #[test]
    fn byte_sizes() {
        assert_eq!("5MiB".parse::<ByteSize>().unwrap(), ByteSize(5 << 20));
        assert_eq!("1024".parse::<ByteSize>().unwrap(), ByteSize(1024));
        assert_eq!("2 k".parse::<ByteSize>().unwrap(), ByteSize(2048));
        assert!("x".parse::<ByteSize>().is_err());
    }
}
