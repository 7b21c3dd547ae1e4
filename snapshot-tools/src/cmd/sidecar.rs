//! `snapshot-tools sidecar` (not built yet).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SidecarArgs {}

pub fn run(_args: SidecarArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`sidecar` is not implemented yet")
}
