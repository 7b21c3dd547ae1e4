//! `failover`: safe primary/secondary failover of an Agave validator. See the README section
//! "Validator failover (`failover`)".

use {
    clap::{Parser, Subcommand},
    failover::cmd,
    std::process::ExitCode,
};

/// Fenced primary/secondary failover of an Agave validator through etcd.
#[derive(Debug, Parser)]
#[command(name = "failover", version)]
struct Cli {
    /// Log as JSON lines.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent of this validator host.
    Agent(cmd::agent::AgentArgs),
    /// Print the cluster's status as JSON.
    Status(cmd::status::StatusArgs),
    /// Hand the staked identity to another node at the next restart window.
    Switchover(cmd::switchover::SwitchoverArgs),
    /// Switch the local validator to its unstaked identity (systemd `ExecStopPost=`).
    Fence(cmd::fence::FenceArgs),
    /// The agent's fence guard (started by the agent).
    #[command(hide = true)]
    Guard(cmd::guard::GuardArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::tracing::init(cli.log_json);
    let result = match cli.command {
        Command::Agent(args) => cmd::agent::run(args),
        Command::Status(args) => cmd::status::run(args),
        Command::Switchover(args) => cmd::switchover::run(args),
        Command::Fence(args) => cmd::fence::run(args),
        Command::Guard(args) => cmd::guard::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
