//! `failover guard --config <toml>` (started by the agent, not by operators): fences the
//! validator when the agent stops renewing its trust or exits. See [`crate::guard`].

use {
    crate::{admin::AdminClient, guard},
    std::{path::PathBuf, process::ExitCode, time::Duration},
    tokio::io::BufReader,
};

#[derive(Debug, clap::Args)]
pub struct GuardArgs {
    /// The agent's TOML configuration.
    #[arg(long, value_name = "TOML")]
    pub config: PathBuf,
}

pub fn run(args: GuardArgs) -> anyhow::Result<ExitCode> {
    let checked = super::load(&args.config)?;
    let identities = checked.identities()?;
    super::runtime()?.block_on(async {
        let admin = AdminClient::new(
            &checked.ledger,
            checked.admin_timeout.max(Duration::from_millis(500)),
        );
        guard::run(
            admin,
            identities.unstaked_path,
            BufReader::new(tokio::io::stdin()),
        )
        .await;
        Ok(ExitCode::SUCCESS)
    })
}
