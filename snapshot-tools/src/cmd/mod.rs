//! One module per subcommand: clap arguments and `run(args) -> anyhow::Result<ExitCode>`.

pub mod fetch;
pub mod inspect;
pub mod mirror;
pub mod sidecar;
pub mod synthesize;
pub mod tracker;
