//! `failover status --config <toml>`: prints the cluster's status as JSON.

use {
    crate::{etcd, status},
    anyhow::Context,
    std::{path::PathBuf, process::ExitCode},
};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// An agent configuration of the cluster (its etcd keys and cluster name are used).
    #[arg(long, value_name = "TOML")]
    pub config: PathBuf,
}

pub fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let config = crate::config::AgentConfig::from_file(&args.config)?;
    let etcd_config = config
        .check_etcd()
        .with_context(|| format!("invalid configuration {}", args.config.display()))?;
    super::runtime()?.block_on(async {
        let client = etcd::connect(&etcd_config).await?;
        let cluster = etcd::EtcdCluster::new(client, &config.cluster, etcd_config.timeout);
        let status = status::read(&cluster, &config.cluster)
            .await
            .with_context(|| format!("reading cluster {} from etcd", config.cluster))?;
        println!("{}", serde_json::to_string_pretty(&status)?);
        Ok(ExitCode::SUCCESS)
    })
}
