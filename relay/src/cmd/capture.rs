//! `relay capture`.

use {
    super::{Service, check_recv_buffer, load_config, read_key, resolve, write_ready},
    anyhow::Context,
    clap::Args,
    relay::{
        capture::{CaptureSource, TunnelSender, run_capture},
        config::CaptureConfig,
    },
    std::{net::SocketAddr, path::PathBuf},
};

#[derive(Debug, Args)]
pub(crate) struct CaptureArgs {
    /// Settings file (TOML, section [capture]); flags override it.
    #[arg(long, env = "RELAY_CONFIG")]
    config: Option<PathBuf>,
    /// Check the settings, print them as TOML, and exit.
    #[arg(long)]
    check: bool,
    /// Interface to capture from (AF_PACKET; the switch mirrors the TVU traffic onto it).
    #[arg(long, env = "RELAY_INTERFACE", conflicts_with = "listen")]
    interface: Option<String>,
    /// Take shreds from a UDP socket bound here instead (the TVU address is local).
    #[arg(long, env = "RELAY_LISTEN")]
    listen: Option<SocketAddr>,
    /// UDP destination port to capture [default: 20000].
    #[arg(long, env = "RELAY_PORT")]
    port: Option<u16>,
    /// Tunnel destination (a `relay forward --listen` address); repeat for several.
    #[arg(long = "to", env = "RELAY_TO", value_delimiter = ',')]
    to: Vec<String>,
    /// Tunnel key file (`relay keygen`): adds a MAC to every datagram.
    #[arg(long, env = "RELAY_KEY_FILE")]
    key: Option<PathBuf>,
    /// Serve /metrics and /health here.
    #[arg(long, env = "RELAY_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// /health is not ok after this many seconds without a captured packet [default: 10].
    #[arg(long, env = "RELAY_HEALTH_IDLE_SECS")]
    health_idle_secs: Option<u64>,
    /// Receive buffer of the capture socket, bytes [default: 8388608].
    #[arg(long, env = "RELAY_RECV_BUFFER_BYTES")]
    recv_buffer_bytes: Option<usize>,
    /// Write the bound addresses here as JSON once capturing.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

impl CaptureArgs {
    /// Flags over `file`. A source given by flag (interface or listen) replaces the file's.
    fn settings(&self, file: CaptureConfig) -> CaptureConfig {
        let (interface, listen) = if self.interface.is_some() || self.listen.is_some() {
            (self.interface.clone(), self.listen)
        } else {
            (file.interface, file.listen)
        };
        CaptureConfig {
            interface,
            listen,
            port: self.port.unwrap_or(file.port),
            to: if self.to.is_empty() {
                file.to
            } else {
                self.to.clone()
            },
            key_file: self.key.clone().or(file.key_file),
            metrics_bind: self.metrics_bind.or(file.metrics_bind),
            health_idle_secs: self.health_idle_secs.unwrap_or(file.health_idle_secs),
            recv_buffer_bytes: self.recv_buffer_bytes.unwrap_or(file.recv_buffer_bytes),
        }
    }
}

pub(crate) async fn run(args: CaptureArgs) -> anyhow::Result<()> {
    let settings = args.settings(load_config(args.config.as_deref())?.capture);
    settings.validate()?;
    if args.check {
        print!(
            "{}",
            toml::to_string(&settings).context("cannot print the settings")?
        );
        return Ok(());
    }
    let key = settings.key_file.as_deref().map(read_key).transpose()?;
    let destinations = settings
        .to
        .iter()
        .map(|to| resolve(to))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let service = Service::start(settings.metrics_bind, settings.health_idle_secs, None).await?;
    let source = match (&settings.interface, settings.listen) {
        (Some(interface), _) => {
            CaptureSource::interface(interface, settings.port, settings.recv_buffer_bytes)
                .with_context(|| format!("failed to capture on {interface} (needs CAP_NET_RAW)"))?
        }
        (None, Some(listen)) => CaptureSource::udp(listen, settings.recv_buffer_bytes)
            .with_context(|| format!("failed to bind {listen}"))?,
        (None, None) => anyhow::bail!("interface or listen is required"),
    };
    check_recv_buffer(source.recv_buffer(), settings.recv_buffer_bytes);
    let bare = matches!(source, CaptureSource::Udp(_));
    let sender = TunnelSender::new(rand::random(), key.clone(), bare);
    tracing::info!(
        interface = ?settings.interface,
        listen = ?source.local_addr(),
        port = settings.port,
        to = ?destinations,
        keyed = key.is_some(),
        session = sender.session(),
        metrics = ?service.metrics_addr,
        "capturing"
    );
    write_ready(
        args.ready_file.as_deref(),
        &serde_json::json!({
            "interface": settings.interface,
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

#[cfg(test)]
mod tests {
    use {super::*, clap::Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: CaptureArgs,
    }

    fn args(flags: &[&str]) -> CaptureArgs {
        let mut argv = vec!["capture"];
        argv.extend_from_slice(flags);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn no_flags_and_an_empty_file_give_the_defaults() {
        let file = relay::config::RelayConfig::parse("").unwrap().capture;
        assert_eq!(args(&[]).settings(file), CaptureConfig::default());
    }

    #[test]
    fn flags_win_over_the_file() {
        let file = relay::config::RelayConfig::parse(
            "[capture]\ninterface = \"eth1\"\nport = 1\nto = [\"a:1\"]\nhealth_idle_secs = 3\n",
        )
        .unwrap()
        .capture;
        let settings =
            args(&["--listen", "127.0.0.1:5", "--to", "b:2", "--port", "7"]).settings(file);
        assert_eq!(
            settings.interface, None,
            "a source flag replaces the file's source"
        );
        assert_eq!(settings.listen, Some("127.0.0.1:5".parse().unwrap()));
        assert_eq!(
            (settings.port, settings.to.as_slice()),
            (7, &["b:2".to_owned()][..])
        );
        assert_eq!(
            settings.health_idle_secs, 3,
            "the file wins over the default"
        );
    }
}
