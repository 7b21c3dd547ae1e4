//! `failover fence --config <toml>`: switches the local validator to its unstaked identity,
//! without etcd. systemd runs it after the agent stops for any reason (`ExecStopPost=`), so a
//! crashed, killed or hung (watchdog) agent never leaves its validator on the staked identity.

use {
    crate::admin::AdminClient,
    anyhow::Context,
    std::{process::ExitCode, time::Duration},
};

#[derive(Debug, clap::Args)]
pub struct FenceArgs {
    /// The agent's TOML configuration.
    #[arg(long, value_name = "TOML")]
    pub config: std::path::PathBuf,
}

pub fn run(args: FenceArgs) -> anyhow::Result<ExitCode> {
    let checked = super::load(&args.config)?;
    let identities = checked.identities()?;
    super::runtime()?.block_on(async {
        let admin = AdminClient::new(&checked.ledger, Duration::from_secs(5));
        admin
            .set_identity(&identities.unstaked_path, false, false)
            .await
            .context("fencing the validator")?;
        println!("{}", identities.unstaked_pubkey());
        Ok(ExitCode::SUCCESS)
    })
}
