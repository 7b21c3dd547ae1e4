//! `relay forward`.

use {
    super::{Service, check_recv_buffer, load_config, read_key, resolve, write_ready},
    anyhow::Context,
    clap::Args,
    relay::{
        config::ForwardConfig,
        forward::{ForwardSockets, Forwarder, ForwarderConfig, run_forward, slots::SlotsView},
        tunnel::ReplayConfig,
    },
    std::{net::SocketAddr, path::PathBuf},
};

#[derive(Debug, Args)]
pub(crate) struct ForwardArgs {
    /// Settings file (TOML, section [forward]); flags override it.
    #[arg(long, env = "RELAY_CONFIG")]
    config: Option<PathBuf>,
    /// Check the settings, print them as TOML, and exit.
    #[arg(long)]
    check: bool,
    /// Receive tunnel datagrams (or, with --raw, socat's datagrams) here.
    #[arg(long, env = "RELAY_LISTEN")]
    listen: Option<SocketAddr>,
    /// The validator's TVU address (its --public-tvu-address port on this host).
    #[arg(long, env = "RELAY_TO")]
    to: Option<String>,
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
    /// Serve /metrics, /health and /slots here.
    #[arg(long, env = "RELAY_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// /health is not ok after this many seconds without a forwarded shred [default: 10].
    #[arg(long, env = "RELAY_HEALTH_IDLE_SECS")]
    health_idle_secs: Option<u64>,
    /// Duplicate suppression window, in shreds [default: 65536].
    #[arg(long, env = "RELAY_DEDUP_WINDOW")]
    dedup_window: Option<usize>,
    /// Per-slot statistics window, in slots [default: 64].
    #[arg(long, env = "RELAY_SLOT_WINDOW")]
    slot_window: Option<usize>,
    /// Tunnel sequence numbers remembered per session [default: 4096].
    #[arg(long, env = "RELAY_REPLAY_WINDOW")]
    replay_window: Option<u64>,
    /// Tunnel sessions tracked at once [default: 8].
    #[arg(long, env = "RELAY_MAX_SESSIONS")]
    max_sessions: Option<usize>,
    /// Largest difference between a datagram's capture time and this host's clock, seconds
    /// (0: no clock check; then replays across a forward restart go undetected) [default: 30].
    #[arg(long, env = "RELAY_MAX_CLOCK_SKEW_SECS")]
    max_clock_skew_secs: Option<u64>,
    /// Receive buffer of the tunnel socket, bytes [default: 8388608].
    #[arg(long, env = "RELAY_RECV_BUFFER_BYTES")]
    recv_buffer_bytes: Option<usize>,
    /// Write the bound addresses here as JSON once listening.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

impl ForwardArgs {
    /// Flags over `file`. `--raw` or `--key` given by flag replaces the file's choice.
    fn settings(&self, file: ForwardConfig) -> ForwardConfig {
        let (raw, key_file) = if self.raw || self.key.is_some() {
            (self.raw, self.key.clone())
        } else {
            (file.raw, file.key_file)
        };
        ForwardConfig {
            listen: self.listen.or(file.listen),
            to: self.to.clone().or(file.to),
            key_file,
            raw,
            shred_version: self.shred_version.or(file.shred_version),
            metrics_bind: self.metrics_bind.or(file.metrics_bind),
            health_idle_secs: self.health_idle_secs.unwrap_or(file.health_idle_secs),
            dedup_window: self.dedup_window.unwrap_or(file.dedup_window),
            slot_window: self.slot_window.unwrap_or(file.slot_window),
            replay_window: self.replay_window.unwrap_or(file.replay_window),
            max_sessions: self.max_sessions.unwrap_or(file.max_sessions),
            max_clock_skew_secs: self.max_clock_skew_secs.unwrap_or(file.max_clock_skew_secs),
            recv_buffer_bytes: self.recv_buffer_bytes.unwrap_or(file.recv_buffer_bytes),
        }
    }
}

pub(crate) async fn run(args: ForwardArgs) -> anyhow::Result<()> {
    let settings = args.settings(load_config(args.config.as_deref())?.forward);
    settings.validate()?;
    if args.check {
        print!(
            "{}",
            toml::to_string(&settings).context("cannot print the settings")?
        );
        return Ok(());
    }
    let (Some(listen), Some(to)) = (settings.listen, settings.to.as_deref()) else {
        anyhow::bail!("listen and to are required");
    };
    let key = settings.key_file.as_deref().map(read_key).transpose()?;
    let tvu = resolve(to)?;
    let config = ForwarderConfig {
        raw: settings.raw,
        key,
        shred_version: settings.shred_version,
        dedup_capacity: settings.dedup_window,
        slot_window: settings.slot_window,
        replay: ReplayConfig {
            window: settings.replay_window,
            max_sessions: settings.max_sessions,
            max_age_ns: (settings.max_clock_skew_secs > 0)
                .then(|| settings.max_clock_skew_secs.saturating_mul(1_000_000_000)),
        },
    };
    if config.key.is_none() && !config.raw {
        tracing::warn!("no key: tunnel datagrams are not authenticated");
    }
    let slots = SlotsView::default();
    let service = Service::start(
        settings.metrics_bind,
        settings.health_idle_secs,
        Some(slots.clone()),
    )
    .await?;
    let sockets = ForwardSockets::bind(listen, tvu, settings.recv_buffer_bytes)
        .with_context(|| format!("failed to bind {listen}"))?;
    let listen = sockets.local_addr().context("no local address")?;
    check_recv_buffer(sockets.recv_buffer(), settings.recv_buffer_bytes);
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

#[cfg(test)]
mod tests {
    use {super::*, clap::Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ForwardArgs,
    }

    fn args(flags: &[&str]) -> ForwardArgs {
        let mut argv = vec!["forward"];
        argv.extend_from_slice(flags);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn no_flags_and_an_empty_file_give_the_defaults() {
        let file = relay::config::RelayConfig::parse("").unwrap().forward;
        assert_eq!(args(&[]).settings(file), ForwardConfig::default());
    }

    #[test]
    fn flags_win_over_the_file() {
        let file = relay::config::RelayConfig::parse(
            "[forward]\nkey_file = \"/k\"\ndedup_window = 5\nto = \"a:1\"\n",
        )
        .unwrap()
        .forward;
        let settings = args(&["--raw", "--to", "b:2"]).settings(file);
        assert!(settings.raw);
        assert_eq!(settings.key_file, None, "--raw replaces the file's key");
        assert_eq!(settings.to.as_deref(), Some("b:2"));
        assert_eq!(settings.dedup_window, 5);
    }
}
