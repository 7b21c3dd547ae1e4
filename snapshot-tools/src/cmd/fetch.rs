//! `snapshot-tools fetch` (not built yet).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct FetchArgs {}

pub fn run(_args: FetchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`fetch` is not implemented yet")
}
