//! `snapshot-tools sidecar`: serve a ledger's snapshot archives over HTTP.

use {
    crate::{
        net::ByteSize,
        sidecar::{self, DEFAULT_PORT, SidecarConfig},
    },
    anyhow::Context,
    clap::ArgGroup,
    std::{
        net::{IpAddr, Ipv4Addr, SocketAddr},
        path::PathBuf,
        process::ExitCode,
    },
};

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("address").args(["interface", "bind"])))]
pub struct SidecarArgs {
    /// The validator's ledger directory (its archives and `remote/`).
    #[arg(long)]
    pub ledger: PathBuf,
    /// Archive directory when not the ledger (Agave's `--snapshots`). Default: the ledger.
    #[arg(long)]
    pub snapshots: Option<PathBuf>,
    /// Separate directory of full archives (Agave's flag of the same name). Default: none
    /// (the archive directory holds them).
    #[arg(long)]
    pub full_snapshot_archive_path: Option<PathBuf>,
    /// Separate directory of incremental archives (Agave's flag of the same name). Default:
    /// none (the archive directory holds them).
    #[arg(long)]
    pub incremental_snapshot_archive_path: Option<PathBuf>,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Listen only on this network interface's addresses. Default: every interface.
    #[arg(long)]
    pub interface: Option<String>,
    /// Listen only on this address (default: every interface).
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// Cap on the total upload rate, bytes per second (e.g. `100MiB`). Default: no cap.
    #[arg(long)]
    pub max_upload_rate: Option<ByteSize>,
    /// Write the bound addresses as JSON (`{"listen": ["ip:port", ...]}`) once listening.
    /// Default: no file.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
}

fn interface_addresses(name: &str) -> anyhow::Result<Vec<IpAddr>> {
    let addresses: Vec<IpAddr> = if_addrs::get_if_addrs()
        .context("listing network interfaces")?
        .into_iter()
        .filter(|interface| interface.name == name)
        .map(|interface| interface.ip())
        // Link-local IPv6 needs a scope id to bind; those addresses are skipped.
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80))
        .collect();
    anyhow::ensure!(
        !addresses.is_empty(),
        "network interface `{name}` has no usable address"
    );
    Ok(addresses)
}

pub fn run(args: SidecarArgs) -> anyhow::Result<ExitCode> {
    let ips = match (&args.interface, args.bind) {
        (Some(name), _) => interface_addresses(name)?,
        (None, Some(ip)) => vec![ip],
        (None, None) => vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)],
    };
    let mut archive_dirs = vec![args.snapshots.clone().unwrap_or(args.ledger.clone())];
    archive_dirs.extend(args.full_snapshot_archive_path.clone());
    archive_dirs.extend(args.incremental_snapshot_archive_path.clone());
    archive_dirs.dedup();
    for dir in &archive_dirs {
        anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    }
    let config = SidecarConfig {
        archive_dirs,
        listen: ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, args.port))
            .collect(),
        max_upload_rate: args.max_upload_rate.map(|size| size.0),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let shutdown = common::shutdown::token_on_signal();
        let registry = prometheus::Registry::new();
        let handle = sidecar::spawn(config, &registry, shutdown).await?;
        tracing::info!(addrs = ?handle.addrs, "sidecar listening");
        if let Some(path) = &args.ready_file {
            common::ready::write(path, &serde_json::json!({ "listen": handle.addrs }))
                .with_context(|| format!("writing the ready file {}", path.display()))?;
        }
        handle.join().await.context("serving")?;
        Ok(ExitCode::SUCCESS)
    })
}
