//! The subcommands of `failover`: clap arguments and `run(args)` each.

pub mod agent;
pub mod fence;
pub mod guard;
pub mod status;
pub mod switchover;

use {
    crate::config::{AgentConfig, CheckedConfig},
    anyhow::Context,
    std::path::Path,
};

/// A runtime for one subcommand.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("failover")
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Reads and checks the agent configuration at `path`.
pub fn load(path: &Path) -> anyhow::Result<CheckedConfig> {
    let config = AgentConfig::from_file(path)?;
    config
        .check()
        .with_context(|| format!("invalid configuration {}", path.display()))
}
