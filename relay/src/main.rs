//! `relay`: the TVU shred relay. See the README section "Shred relay (`relay`)".

mod cmd;

use clap::{Parser, Subcommand};

/// TVU shred relay: capture shreds at a relay site, tunnel them, forward them to a validator.
#[derive(Debug, Parser)]
#[command(name = "relay", version, about)]
struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "RELAY_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Capture UDP to the TVU port (AF_PACKET on an interface, or a UDP socket) and tunnel it.
    Capture(cmd::capture::CaptureArgs),
    /// Receive the tunnel (or socat's raw datagrams), check, unwrap and forward to the TVU.
    Forward(cmd::forward::ForwardArgs),
    /// On the validator's host: which path, relayed or direct, delivers each shred first.
    Compare(cmd::compare::CompareArgs),
    /// Write a new random tunnel key file.
    Keygen(cmd::keygen::KeygenArgs),
    /// Send genuine-layout test shreds (for tests and the benchmark).
    #[command(hide = true)]
    TestSend(cmd::test_send::TestSendArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    common::tracing::init(cli.log_json);
    match cli.command {
        Command::Keygen(args) => cmd::keygen::run(args),
        Command::TestSend(args) => cmd::test_send::run(args),
        Command::Capture(args) => cmd::runtime()?.block_on(cmd::capture::run(args)),
        Command::Forward(args) => cmd::runtime()?.block_on(cmd::forward::run(args)),
        Command::Compare(args) => cmd::runtime()?.block_on(cmd::compare::run(args)),
    }
}
