use {
    clap::{Parser, Subcommand},
    snapshot_tools::cmd,
    std::process::ExitCode,
};

/// Agave snapshot archives: inspect them, serve them, track, fetch and mirror them.
#[derive(Debug, Parser)]
#[command(name = "snapshot-tools", version)]
struct Cli {
    /// Log as JSON lines.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what archives hold and verify their lattice hash.
    Inspect(cmd::inspect::InspectArgs),
    /// Serve a ledger's archives over HTTP.
    Sidecar(cmd::sidecar::SidecarArgs),
    /// Scrape sidecars and answer which snapshots are best.
    Tracker(cmd::tracker::TrackerArgs),
    /// Download the best snapshot chain into a ledger.
    Fetch(cmd::fetch::FetchArgs),
    /// Keep an S3-compatible bucket in step with the tracker's best archives.
    Mirror(cmd::mirror::MirrorArgs),
    /// Write a synthetic archive for load tests and benchmarks.
    Synthesize(cmd::synthesize::SynthesizeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::tracing::init(cli.log_json);
    let result = match cli.command {
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Sidecar(args) => cmd::sidecar::run(args),
        Command::Tracker(args) => cmd::tracker::run(args),
        Command::Fetch(args) => cmd::fetch::run(args),
        Command::Mirror(args) => cmd::mirror::run(args),
        Command::Synthesize(args) => cmd::synthesize::run(args),
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::FAILURE
    })
}
