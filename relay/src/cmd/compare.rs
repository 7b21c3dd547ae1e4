//! `relay compare`.

use {
    super::{
        Service,
        capture::{DEFAULT_HEALTH_IDLE_SECS, DEFAULT_RECV_BUFFER_BYTES},
        write_ready,
    },
    anyhow::Context,
    clap::Args,
    relay::compare::{self, CompareSources, run_compare},
    std::{net::SocketAddr, path::PathBuf},
};

#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// Interface turbine reaches the validator on (direct shreds).
    #[arg(long, env = "RELAY_DIRECT_INTERFACE")]
    direct_interface: String,
    /// Interface `relay forward` sends the relayed shreds through (usually `lo`).
    #[arg(long, env = "RELAY_RELAYED_INTERFACE", default_value = "lo")]
    relayed_interface: String,
    /// The validator's TVU port on this host.
    #[arg(long, env = "RELAY_PORT")]
    port: u16,
    /// Shreds remembered for the comparison.
    #[arg(long, env = "RELAY_COMPARE_WINDOW", default_value_t = compare::DEFAULT_WINDOW)]
    window: usize,
    /// Serve /metrics and /health here.
    #[arg(long, env = "RELAY_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// /health is not ok after this many seconds without a shred on either path.
    #[arg(long, env = "RELAY_HEALTH_IDLE_SECS", default_value_t = DEFAULT_HEALTH_IDLE_SECS)]
    health_idle_secs: u64,
    /// Receive buffer of each capture socket, bytes.
    #[arg(long, env = "RELAY_RECV_BUFFER_BYTES", default_value_t = DEFAULT_RECV_BUFFER_BYTES)]
    recv_buffer_bytes: usize,
    /// Write the bound addresses here as JSON once capturing.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

pub(crate) async fn run(args: CompareArgs) -> anyhow::Result<()> {
    let service = Service::start(args.metrics_bind, args.health_idle_secs, None).await?;
    let sources = CompareSources::open(
        &args.direct_interface,
        &args.relayed_interface,
        args.port,
        args.recv_buffer_bytes,
    )
    .with_context(|| {
        format!(
            "failed to capture on {} and {} (needs CAP_NET_RAW)",
            args.direct_interface, args.relayed_interface
        )
    })?;
    tracing::info!(
        direct = %args.direct_interface,
        relayed = %args.relayed_interface,
        port = args.port,
        metrics = ?service.metrics_addr,
        "comparing relayed and direct shreds"
    );
    write_ready(
        args.ready_file.as_deref(),
        &serde_json::json!({ "metrics": service.metrics_addr }),
    )?;
    let window = args.window;
    service
        .run_until_shutdown("relay-compare", move |metrics, health, cancel| {
            run_compare(sources, window, &metrics, &health, &cancel)
        })
        .await
}
