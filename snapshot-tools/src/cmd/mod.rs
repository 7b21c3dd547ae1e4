//! The command line: [`Cli`], one module per subcommand (clap arguments and
//! `run(args) -> anyhow::Result<ExitCode>`), and how a fatal error becomes one line on stderr
//! and an exit code ([`Fatal`], [`report`]).

pub mod fetch;
pub mod inspect;
pub mod mirror;
pub mod output;
pub mod sidecar;
pub mod synthesize;
pub mod tracker;

use {
    clap::{Parser, Subcommand},
    std::{fmt, io::Write, process::ExitCode},
};

/// Agave snapshot archives: inspect them, serve them, track, fetch and mirror them.
#[derive(Debug, Parser)]
#[command(name = "snapshot-tools", version)]
pub struct Cli {
    /// Log as JSON lines (default: text, coloured only on a terminal).
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what archives hold and verify them (Agave's manifest checks and the lattice hash).
    Inspect(inspect::InspectArgs),
    /// Serve a ledger's archives over HTTP.
    Sidecar(sidecar::SidecarArgs),
    /// Scrape sidecars and answer which snapshots are best.
    Tracker(tracker::TrackerArgs),
    /// Download the best snapshot chain into a ledger.
    Fetch(fetch::FetchArgs),
    /// Keep an S3-compatible bucket in step with the tracker's best archives.
    Mirror(mirror::MirrorArgs),
    /// Write a synthetic archive for load tests and benchmarks.
    Synthesize(synthesize::SynthesizeArgs),
}

impl Cli {
    /// Runs the command; a fatal error is printed as one line and mapped to its exit code.
    pub fn run(self) -> ExitCode {
        let result = match self.command {
            Command::Inspect(args) => inspect::run(args),
            Command::Sidecar(args) => sidecar::run(args),
            Command::Tracker(args) => tracker::run(args),
            Command::Fetch(args) => fetch::run(args),
            Command::Mirror(args) => mirror::run(args),
            Command::Synthesize(args) => synthesize::run(args),
        };
        result.unwrap_or_else(|error| report(&error))
    }
}

/// Exit code of a run that failed (the default for any error).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of bad arguments (clap's), and of `inspect` on archives that do not verify.
pub const EXIT_USAGE: u8 = 2;

/// A fatal error that maps to a specific exit code. Its message is the wrapped error's, with
/// its causes; it has no `source()` of its own, so `{:#}` prints every cause once.
#[derive(Debug)]
pub struct Fatal {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Fatal {
    /// Wraps `error` so that the process exits with `code`.
    pub fn wrap(code: u8, error: impl Into<anyhow::Error>) -> anyhow::Error {
        anyhow::Error::new(Self {
            code,
            error: error.into(),
        })
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Fatal {}

/// Prints `error` as the one line `error: <message>: <cause>: ...` on stderr (nothing else
/// reports a fatal error) and returns its exit code: a [`Fatal`]'s, else [`EXIT_FAILURE`].
pub fn report(error: &anyhow::Error) -> ExitCode {
    let code = error
        .downcast_ref::<Fatal>()
        .map_or(EXIT_FAILURE, |fatal| fatal.code);
    // A closed stderr has nowhere to report to; exit with the code anyway.
    let _ = writeln!(std::io::stderr().lock(), "error: {error:#}");
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use {super::*, clap::CommandFactory};

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every argument of every subcommand says what it does; every optional value without a
    /// default value says what happens without it.
    #[test]
    fn every_flag_is_documented() {
        let missing = common::cli::undocumented_flags(&Cli::command());
        assert!(missing.is_empty(), "{missing:#?}");
    }

    #[test]
    fn fatal_errors_keep_their_code_and_print_each_cause_once() {
        let error = Fatal::wrap(
            EXIT_USAGE,
            anyhow::anyhow!("the root cause").context("the archive does not verify"),
        );
        assert_eq!(report(&error), ExitCode::from(EXIT_USAGE));
        assert_eq!(
            format!("{error:#}"),
            "the archive does not verify: the root cause"
        );
        assert_eq!(
            report(&anyhow::anyhow!("plain")),
            ExitCode::from(EXIT_FAILURE)
        );
    }
}
