//! One tracing set-up for every binary: `RUST_LOG` (default `info`), to stderr, text or JSON.
//!
//! Text output is coloured only when stderr is a terminal (and `NO_COLOR` is unset or empty),
//! so log files, pipes and journald never receive ANSI escape codes.

use {
    std::{ffi::OsStr, io::IsTerminal},
    tracing_subscriber::{EnvFilter, fmt, prelude::*},
};

/// Whether log text may carry ANSI colours: only on a terminal, and not when `NO_COLOR` holds a
/// non-empty value (<https://no-color.org>).
pub fn use_colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json {
        registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init()
    } else {
        let colour = use_colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        );
        registry
            .with(fmt::layer().with_ansi(colour).with_writer(std::io::stderr))
            .try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None));
        assert!(!use_colour(false, Some(OsStr::new(""))));
    }
}
