//! `relay capture`.

use {
    super::{Service, read_key, resolve, write_ready},
    anyhow::Context,
    clap::Args,
    relay::capture::{CaptureSource, TunnelSender, run_capture},
    std::{net::SocketAddr, path::PathBuf},
};

/// The validators' TVU port the write-up mirrors.
pub(crate) const DEFAULT_PORT: u16 = 20000;
/// Health turns not-ok after this long without a packet.
pub(crate) const DEFAULT_HEALTH_IDLE_SECS: u64 = 10;
/// Socket receive buffer: about 0.1 s of a 200 Mbit/s burst.
pub(crate) const DEFAULT_RECV_BUFFER_BYTES: usize = 8 << 20;

#[derive(Debug, Args)]
pub(crate) struct CaptureArgs {
    /// Interface to capture from (AF_PACKET; the switch mirrors the TVU traffic onto it).
    #[arg(
        long,
        env = "RELAY_INTERFACE",
        required_unless_present = "listen",
        conflicts_with = "listen"
    )]
    interface: Option<String>,
    /// Take shreds from a UDP socket bound here instead (the TVU address is local).
    #[arg(long, env = "RELAY_LISTEN")]
    listen: Option<SocketAddr>,
    /// UDP destination port to capture.
    #[arg(long, env = "RELAY_PORT", default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Tunnel destination (a `relay forward --listen` address); repeat for several.
    #[arg(long = "to", env = "RELAY_TO", value_delimiter = ',', required = true)]
    to: Vec<String>,
    /// Tunnel key file (`relay keygen`): adds a MAC to every datagram.
    #[arg(long, env = "RELAY_KEY_FILE")]
    key: Option<PathBuf>,
    /// Serve /metrics and /health here.
    #[arg(long, env = "RELAY_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// /health is not ok after this many seconds without a captured packet.
    #[arg(long, env = "RELAY_HEALTH_IDLE_SECS", default_value_t = DEFAULT_HEALTH_IDLE_SECS)]
    health_idle_secs: u64,
    /// Receive buffer of the capture socket, bytes.
    #[arg(long, env = "RELAY_RECV_BUFFER_BYTES", default_value_t = DEFAULT_RECV_BUFFER_BYTES)]
    recv_buffer_bytes: usize,
    /// Write the bound addresses here as JSON once capturing.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

pub(crate) async fn run(args: CaptureArgs) -> anyhow::Result<()> {
    let key = args.key.as_deref().map(read_key).transpose()?;
    let destinations = args
        .to
        .iter()
        .map(|to| resolve(to))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let service = Service::start(args.metrics_bind, args.health_idle_secs, None).await?;
    let source = match (&args.interface, args.listen) {
        (Some(interface), _) => {
            CaptureSource::interface(interface, args.port, args.recv_buffer_bytes)
                .with_context(|| format!("failed to capture on {interface} (needs CAP_NET_RAW)"))?
        }
        (None, Some(listen)) => CaptureSource::udp(listen, args.recv_buffer_bytes)
            .with_context(|| format!("failed to bind {listen}"))?,
        (None, None) => anyhow::bail!("--interface or --listen is required"),
    };
    super::check_recv_buffer(source.recv_buffer(), args.recv_buffer_bytes);
    let bare = matches!(source, CaptureSource::Udp(_));
    let sender = TunnelSender::new(rand::random(), key.clone(), bare);
    tracing::info!(
        interface = ?args.interface,
        listen = ?source.local_addr(),
        port = args.port,
        to = ?destinations,
        keyed = key.is_some(),
        session = sender.session(),
        metrics = ?service.metrics_addr,
        "capturing"
    );
    write_ready(
        args.ready_file.as_deref(),
        &serde_json::json!({
            "interface": args.interface,
            "listen": source.local_addr(),
            "metrics": service.metrics_addr,
            "session": sender.session(),
        }),
    )?;
    service
        .run_until_shutdown("relay-capture", move |metrics, health, cancel| {
            run_capture(source, sender, &destinations, &metrics, &health, &cancel)
        })
        .await
}
