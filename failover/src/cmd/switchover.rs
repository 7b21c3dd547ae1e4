//! `failover switchover --config <toml> --to <node>`: a planned hand-off.

use {
    crate::{etcd, switchover},
    anyhow::Context,
    std::{path::PathBuf, process::ExitCode, time::Duration},
};

#[derive(Debug, clap::Args)]
pub struct SwitchoverArgs {
    /// An agent configuration of the cluster (its etcd keys and cluster name are used).
    #[arg(long, value_name = "TOML")]
    pub config: PathBuf,
    /// The node that should become active.
    #[arg(long, value_name = "NODE")]
    pub to: String,
    /// Give up (and withdraw the request) after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout_secs: u64,
}

pub fn run(args: SwitchoverArgs) -> anyhow::Result<ExitCode> {
    let config = crate::config::AgentConfig::from_file(&args.config)?;
    let etcd_config = config
        .check_etcd()
        .with_context(|| format!("invalid configuration {}", args.config.display()))?;
    anyhow::ensure!(
        crate::config::valid_name(&args.to),
        "--to {:?} is not a node name",
        args.to
    );
    super::runtime()?.block_on(async {
        let client = etcd::connect(&etcd_config).await?;
        let cluster = etcd::EtcdCluster::new(client, &config.cluster, etcd_config.timeout);
        let status = switchover::switchover(
            &cluster,
            &config.cluster,
            &args.to,
            Duration::from_secs(args.timeout_secs),
        )
        .await?;
        println!("{}", serde_json::to_string_pretty(&status)?);
        Ok(ExitCode::SUCCESS)
    })
}
