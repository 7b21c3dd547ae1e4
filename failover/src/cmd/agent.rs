//! `failover agent --config <toml>`: the agent of one validator host.

use {
    crate::{agent, guard::Guard},
    anyhow::Context,
    std::{path::PathBuf, process::ExitCode},
};

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The agent's TOML configuration.
    #[arg(long, value_name = "TOML")]
    pub config: PathBuf,
    /// Once running, write {"cluster", "node", "metrics", "adminRpc"} as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
    /// Check the configuration (and read the keypairs and TLS files), print it, and exit.
    #[arg(long)]
    pub check: bool,
    /// Run without the fence guard process (which fences the validator if this agent dies or
    /// freezes). Only for tests of the agent alone.
    #[arg(long, hide = true)]
    pub no_guard: bool,
}

pub fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let checked = super::load(&args.config)?;
    checked.check_files()?;
    let identities = checked.identities()?;
    if args.check {
        println!("{}", toml::to_string_pretty(&checked.config)?);
        eprintln!(
            "staked identity {}, unstaked identity {}",
            identities.staked_pubkey(),
            identities.unstaked_pubkey()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let cancel = common::shutdown::token_on_signal();
        let ready_file = args.ready_file.clone();
        let mut ready_error = None;
        let guard = if args.no_guard {
            None
        } else {
            let program = std::env::current_exe().context("locating the failover binary")?;
            let config = std::fs::canonicalize(&args.config)
                .with_context(|| format!("resolving {}", args.config.display()))?;
            Some(Guard::new(program, config))
        };
        agent::run(checked, identities, guard, cancel, |ready| {
            if let Some(path) = &ready_file
                && let Err(error) = common::ready::write(path, ready)
            {
                ready_error =
                    Some(anyhow::Error::new(error).context(format!("writing {}", path.display())));
            }
        })
        .await
        .context("the agent failed")?;
        match ready_error {
            Some(error) => Err(error),
            None => Ok(ExitCode::SUCCESS),
        }
    })
}
