//! `snapshot-tools tracker` (not built yet).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct TrackerArgs {}

pub fn run(_args: TrackerArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`tracker` is not implemented yet")
}
