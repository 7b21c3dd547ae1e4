//! `relay forward`.

use {
    super::{
        Service, capture::DEFAULT_HEALTH_IDLE_SECS, capture::DEFAULT_RECV_BUFFER_BYTES, read_key,
        resolve, write_ready,
    },
    anyhow::Context,
    clap::Args,
    relay::{
        forward::{
            ForwardConfig, ForwardSockets, Forwarder, dedup, run_forward,
            slots::{self, SlotsView},
        },
        tunnel::{ReplayConfig, replay},
    },
    std::{net::SocketAddr, path::PathBuf},
};

/// Default clock bound between capture time and the forward's clock, seconds.
const DEFAULT_MAX_CLOCK_SKEW_SECS: u64 = replay::DEFAULT_MAX_AGE_NS / 1_000_000_000;

#[derive(Debug, Args)]
pub(crate) struct ForwardArgs {
    /// Receive tunnel datagrams (or, with --raw, socat's datagrams) here.
    #[arg(long, env = "RELAY_LISTEN")]
    listen: SocketAddr,
    /// The validator's TVU address (its --public-tvu-address port on this host).
    #[arg(long, env = "RELAY_TO")]
    to: String,
    /// Tunnel key file (`relay keygen`): datagrams without a valid MAC are dropped.
    #[arg(long, env = "RELAY_KEY_FILE", conflicts_with = "raw")]
    key: Option<PathBuf>,
    /// Accept bare IP + UDP + payload datagrams (`socat -u INTERFACE:<if>,type=2 UDP-SENDTO:..`),
    /// as shred-unwrap.py did. No authentication, no sequence numbers.
    #[arg(long, env = "RELAY_RAW")]
    raw: bool,
    /// Forward only shreds of this shred version.
    #[arg(long, env = "RELAY_SHRED_VERSION")]
    shred_version: Option<u16>,
    /// Serve /metrics and /health here.
    #[arg(long, env = "RELAY_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// /health is not ok after this many seconds without a forwarded shred.
    #[arg(long, env = "RELAY_HEALTH_IDLE_SECS", default_value_t = DEFAULT_HEALTH_IDLE_SECS)]
    health_idle_secs: u64,
    /// Duplicate suppression window, in shreds.
    #[arg(long, env = "RELAY_DEDUP_WINDOW", default_value_t = dedup::DEFAULT_CAPACITY)]
    dedup_window: usize,
    /// Per-slot statistics window, in slots.
    #[arg(long, env = "RELAY_SLOT_WINDOW", default_value_t = slots::DEFAULT_SLOT_WINDOW)]
    slot_window: usize,
    /// Tunnel sequence numbers remembered per session (replay and reordering window).
    #[arg(long, env = "RELAY_REPLAY_WINDOW", default_value_t = replay::DEFAULT_WINDOW)]
    replay_window: u64,
    /// Tunnel sessions tracked at once.
    #[arg(long, env = "RELAY_MAX_SESSIONS", default_value_t = replay::DEFAULT_MAX_SESSIONS)]
    max_sessions: usize,
    /// Largest difference between a datagram's capture time and this host's clock, seconds
    /// (0: no clock check; then replays across a forward restart go undetected).
    #[arg(long, env = "RELAY_MAX_CLOCK_SKEW_SECS", default_value_t = DEFAULT_MAX_CLOCK_SKEW_SECS)]
    max_clock_skew_secs: u64,
    /// Receive buffer of the tunnel socket, bytes.
    #[arg(long, env = "RELAY_RECV_BUFFER_BYTES", default_value_t = DEFAULT_RECV_BUFFER_BYTES)]
    recv_buffer_bytes: usize,
    /// Write the bound addresses here as JSON once listening.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

pub(crate) async fn run(args: ForwardArgs) -> anyhow::Result<()> {
    let key = args.key.as_deref().map(read_key).transpose()?;
    let tvu = resolve(&args.to)?;
    let config = ForwardConfig {
        raw: args.raw,
        key,
        shred_version: args.shred_version,
        dedup_capacity: args.dedup_window,
        slot_window: args.slot_window,
        replay: ReplayConfig {
            window: args.replay_window,
            max_sessions: args.max_sessions,
            max_age_ns: (args.max_clock_skew_secs > 0)
                .then(|| args.max_clock_skew_secs.saturating_mul(1_000_000_000)),
        },
    };
    if config.key.is_none() && !config.raw {
        tracing::warn!("no --key: tunnel datagrams are not authenticated");
    }
    let slots = SlotsView::default();
    let service = Service::start(
        args.metrics_bind,
        args.health_idle_secs,
        Some(slots.clone()),
    )
    .await?;
    let sockets = ForwardSockets::bind(args.listen, tvu, args.recv_buffer_bytes)
        .with_context(|| format!("failed to bind {}", args.listen))?;
    let listen = sockets.local_addr().context("no local address")?;
    super::check_recv_buffer(sockets.recv_buffer(), args.recv_buffer_bytes);
    tracing::info!(
        %listen,
        %tvu,
        raw = config.raw,
        keyed = config.key.is_some(),
        shred_version = ?config.shred_version,
        metrics = ?service.metrics_addr,
        "forwarding"
    );
    write_ready(
        args.ready_file.as_deref(),
        &serde_json::json!({ "listen": listen, "metrics": service.metrics_addr, "to": tvu }),
    )?;
    let forwarder = Forwarder::new(config);
    service
        .run_until_shutdown("relay-forward", move |metrics, health, cancel| {
            run_forward(sockets, forwarder, &metrics, &health, &slots, &cancel)
        })
        .await
}
