//! `snapshot-tools mirror` (not built yet).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct MirrorArgs {}

pub fn run(_args: MirrorArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`mirror` is not implemented yet")
}
