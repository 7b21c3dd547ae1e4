//! `snapshot-tools tracker`: scrape sidecars and answer which snapshots are best.

use {
    crate::{net::parse_listen, tracker},
    anyhow::Context,
    std::{net::SocketAddr, path::PathBuf, process::ExitCode},
};

#[derive(Debug, clap::Args)]
pub struct TrackerArgs {
    /// YAML configuration (Blockdaemon's format plus `http_targets`, `scrape_timeout`,
    /// `max_failed_scrapes`). Re-read on `POST /reload` (internal listener) and on SIGHUP.
    #[arg(long)]
    pub config: PathBuf,
    /// Public API address (`:8458` means every interface; port 0 picks a free one).
    #[arg(long, default_value = ":8458", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Address of `/metrics` and `/reload`.
    #[arg(long, default_value = ":8457", value_parser = parse_listen)]
    pub internal_listen: SocketAddr,
    /// Write `{"listen": "ip:port", "internal_listen": "ip:port"}` once listening. Default: no
    /// file.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
}

pub fn run(args: TrackerArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let shutdown = common::shutdown::token_on_signal();
        let registry = prometheus::Registry::new();
        let tracker = tracker::Tracker::start(args.config.clone(), &registry, shutdown.clone())
            .await
            .context("loading the tracker configuration")?;
        let handle = tracker::serve(
            tracker.clone(),
            registry,
            args.listen,
            args.internal_listen,
            shutdown.clone(),
        )
        .await
        .context("binding the tracker's listeners")?;
        tracing::info!(listen = %handle.listen, internal_listen = %handle.internal_listen, "tracker listening");
        if let Some(path) = &args.ready_file {
            common::ready::write(
                path,
                &serde_json::json!({
                    "listen": handle.listen,
                    "internal_listen": handle.internal_listen,
                }),
            )
            .with_context(|| format!("writing the ready file {}", path.display()))?;
        }
        let hangups = {
            let tracker = tracker.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let Ok(mut hangup) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        Some(()) = hangup.recv() => {
                            if let Err(error) = tracker.reload().await {
                                tracing::warn!(%error, "reload on SIGHUP refused");
                            }
                        }
                    }
                }
            })
        };
        let served = handle.join().await;
        tracker.stop().await;
        let _ = hangups.await;
        served.context("serving")?;
        Ok(ExitCode::SUCCESS)
    })
}
