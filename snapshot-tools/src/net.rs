//! Small pieces shared by the servers and clients: listen addresses, target URLs (one rule
//! for scheme handling, so that `http://http://host` as in Blockdaemon's issue #197 cannot
//! happen), byte sizes on the command line.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    str::FromStr,
};

/// One line for an error and its causes, each cause once: `error: cause: cause`. Libraries
/// such as reqwest keep the useful cause (`Connection refused`) in `source()` and out of
/// `Display`; logging `%error` alone would lose it. A reqwest error's URL is left out: the
/// caller names what it asked.
pub fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    if let Some(url) = error
        .downcast_ref::<reqwest::Error>()
        .and_then(reqwest::Error::url)
    {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut cause = error.source();
    while let Some(error) = cause {
        let more = error.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = error.source();
    }
    text
}

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
    use {
        super::*,
        std::{error::Error, path::PathBuf},
    };

    fn io(text: &str) -> std::io::Error {
        std::io::Error::other(text.to_string())
    }

    /// The texts of an error and its `source()` chain.
    fn chain(error: &(dyn Error + 'static)) -> Vec<String> {
        let mut texts = vec![error.to_string()];
        let mut next = error.source();
        while let Some(cause) = next {
            texts.push(cause.to_string());
            next = cause.source();
        }
        texts
    }

    /// `{:#}` (anyhow) prints an error and its sources: no cause may appear twice.
    #[test]
    fn error_types_print_each_cause_once() {
        use crate::{
            archive::{
                ArchiveError, ArchiveErrorKind, ChainError, manifest::ManifestError,
                storage::StorageError, writer::WriteError,
            },
            catalog::CatalogError,
            fetch::{FetchError, download::DownloadError},
            sidecar::SidecarError,
            tracker::config::ConfigError,
        };
        let path = PathBuf::from("/ledger/x");
        let errors: Vec<Box<dyn Error + Send + Sync>> = vec![
            Box::new(CatalogError::List {
                dir: path.clone(),
                error: io("denied"),
            }),
            Box::new(ConfigError::Read {
                path: path.clone(),
                error: io("missing"),
            }),
            Box::new(FetchError::Ledger {
                path: path.clone(),
                error: io("full"),
            }),
            Box::new(DownloadError::Disk {
                path: path.clone(),
                error: io("full"),
            }),
            Box::new(SidecarError::Bind {
                addr: "127.0.0.1:1".parse().unwrap(),
                error: io("in use"),
            }),
            Box::new(WriteError::Io {
                path: path.clone(),
                error: io("full"),
            }),
            Box::new(ChainError::Sort {
                dir: path.clone(),
                error: io("full"),
            }),
            Box::new(ChainError::Archive(Box::new(ArchiveError::archive(
                &path,
                ArchiveErrorKind::Storage(StorageError::Io {
                    offset: 8,
                    error: io("cut"),
                }),
            )))),
            Box::new(ChainError::Archive(Box::new(ArchiveError::archive(
                &path,
                ArchiveErrorKind::Manifest(ManifestError::Malformed {
                    what: "bank fields",
                    position: 3,
                    error: Box::new(bincode::ErrorKind::SizeLimit),
                }),
            )))),
            Box::new(ArchiveError::archive(
                &path,
                ArchiveErrorKind::Open(io("gone")),
            )),
        ];
        for error in &errors {
            let texts = chain(error.as_ref());
            for pair in texts.windows(2) {
                assert!(
                    !pair[0].contains(&pair[1]),
                    "`{}` repeats its cause `{}`",
                    pair[0],
                    pair[1]
                );
            }
            // The message itself still tells the cause.
            let text = error_text(error.as_ref());
            assert_eq!(text, texts.join(": "));
            assert!(
                [
                    "denied",
                    "missing",
                    "full",
                    "in use",
                    "cut",
                    "size limit",
                    "gone"
                ]
                .iter()
                .any(|cause| text.contains(cause)),
                "{text}"
            );
        }
    }

    #[test]
    fn error_text_adds_the_causes_display_leaves_out() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(error_text(&Outer(io("inner"))), "outer: inner");
        #[derive(Debug, thiserror::Error)]
        #[error("outer: {0}")]
        struct Repeating(#[source] std::io::Error);
        assert_eq!(error_text(&Repeating(io("inner"))), "outer: inner");
    }

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
