//! `relay compare`.

use {
    super::{Service, load_config, write_ready},
    anyhow::Context,
    clap::Args,
    relay::{
        compare::{CompareSources, run_compare},
        config::CompareConfig,
    },
    std::{net::SocketAddr, path::PathBuf},
};

#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// Settings file (TOML, section [compare]); flags override it.
    #[arg(long, env = "RELAY_CONFIG")]
    config: Option<PathBuf>,
    /// Check the settings, print them as TOML, and exit.
    #[arg(long)]
    check: bool,
    /// Interface turbine reaches the validator on (direct shreds).
    #[arg(long, env = "RELAY_DIRECT_INTERFACE")]
    direct_interface: Option<String>,
    /// Interface `relay forward` sends the relayed shreds through [default: lo].
    #[arg(long, env = "RELAY_RELAYED_INTERFACE")]
    relayed_interface: Option<String>,
    /// The validator's TVU port on this host.
    #[arg(long, env = "RELAY_PORT")]
    port: Option<u16>,
    /// Shreds remembered for the comparison [default: 65536].
    #[arg(long, env = "RELAY_COMPARE_WINDOW")]
    window: Option<usize>,
    /// Serve /metrics and /health here.
    #[arg(long, env = "RELAY_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// /health is not ok after this many seconds without a shred on either path [default: 10].
    #[arg(long, env = "RELAY_HEALTH_IDLE_SECS")]
    health_idle_secs: Option<u64>,
    /// Receive buffer of each capture socket, bytes [default: 8388608].
    #[arg(long, env = "RELAY_RECV_BUFFER_BYTES")]
    recv_buffer_bytes: Option<usize>,
    /// Write the bound addresses here as JSON once capturing.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

impl CompareArgs {
    /// Flags over `file`.
    fn settings(&self, file: CompareConfig) -> CompareConfig {
        CompareConfig {
            direct_interface: self.direct_interface.clone().or(file.direct_interface),
            relayed_interface: self
                .relayed_interface
                .clone()
                .unwrap_or(file.relayed_interface),
            port: self.port.or(file.port),
            window: self.window.unwrap_or(file.window),
            metrics_bind: self.metrics_bind.or(file.metrics_bind),
            health_idle_secs: self.health_idle_secs.unwrap_or(file.health_idle_secs),
            recv_buffer_bytes: self.recv_buffer_bytes.unwrap_or(file.recv_buffer_bytes),
        }
    }
}

pub(crate) async fn run(args: CompareArgs) -> anyhow::Result<()> {
    let settings = args.settings(load_config(args.config.as_deref())?.compare);
    settings.validate()?;
    if args.check {
        print!(
            "{}",
            toml::to_string(&settings).context("cannot print the settings")?
        );
        return Ok(());
    }
    let (Some(direct), Some(port)) = (settings.direct_interface.as_deref(), settings.port) else {
        anyhow::bail!("direct_interface and port are required");
    };
    let relayed = settings.relayed_interface.as_str();
    let service = Service::start(settings.metrics_bind, settings.health_idle_secs, None).await?;
    let sources = CompareSources::open(direct, relayed, port, settings.recv_buffer_bytes)
        .with_context(|| {
            format!("failed to capture on {direct} and {relayed} (needs CAP_NET_RAW)")
        })?;
    tracing::info!(
        direct,
        relayed,
        port,
        metrics = ?service.metrics_addr,
        "comparing relayed and direct shreds"
    );
    write_ready(
        args.ready_file.as_deref(),
        &serde_json::json!({ "metrics": service.metrics_addr }),
    )?;
    let window = settings.window;
    service
        .run_until_shutdown("relay-compare", move |metrics, health, cancel| {
            run_compare(sources, window, &metrics, &health, &cancel)
        })
        .await
}
