//! Subcommands: clap arguments and `run`. Shared here: the runtime, the key file, the HTTP
//! endpoint, the data-path thread and the ready file.

pub(crate) mod capture;
pub(crate) mod compare;
pub(crate) mod forward;
pub(crate) mod keygen;
pub(crate) mod test_send;

use {
    anyhow::Context,
    relay::{
        forward::slots::SlotsView,
        metrics::{Health, Metrics},
        tunnel::Key,
        unix_nanos,
    },
    std::{
        net::{SocketAddr, ToSocketAddrs},
        path::Path,
        sync::Arc,
        thread::JoinHandle,
        time::Duration,
    },
    tokio_util::sync::CancellationToken,
};

/// How long shutdown waits for each task or thread.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The runtime for signals and HTTP; the data path runs on its own thread.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to build the tokio runtime")
}

/// Reads the settings file, or gives the defaults without one.
pub(crate) fn load_config(path: Option<&Path>) -> anyhow::Result<relay::config::RelayConfig> {
    let Some(path) = path else {
        return Ok(relay::config::RelayConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read settings file {}", path.display()))?;
    relay::config::RelayConfig::parse(&text)
        .with_context(|| format!("bad settings file {}", path.display()))
}

/// Reads a key file written by `relay keygen`.
pub(crate) fn read_key(path: &Path) -> anyhow::Result<Key> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read key file {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "key file is readable by group or others");
        }
    }
    Key::parse(&text).with_context(|| format!("bad key file {}", path.display()))
}

/// Resolves `host:port` (first address).
pub(crate) fn resolve(target: &str) -> anyhow::Result<SocketAddr> {
    target
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {target}"))?
        .next()
        .with_context(|| format!("{target} resolves to no address"))
}

/// Metrics, health and the shutdown token of a long-running subcommand, plus its HTTP task.
pub(crate) struct Service {
    pub(crate) metrics: Metrics,
    pub(crate) health: Arc<Health>,
    pub(crate) cancel: CancellationToken,
    pub(crate) metrics_addr: Option<SocketAddr>,
    http: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Service {
    /// Creates the metrics, the signal-driven token and (with `bind`) the HTTP endpoint.
    pub(crate) async fn start(
        bind: Option<SocketAddr>,
        health_idle_secs: u64,
        slots: Option<SlotsView>,
    ) -> anyhow::Result<Self> {
        let metrics = Metrics::new().context("failed to register metrics")?;
        let health = Arc::new(Health::new(
            health_idle_secs.saturating_mul(1_000_000_000),
            unix_nanos(),
        ));
        let cancel = common::shutdown::token_on_signal();
        let (metrics_addr, http) = match bind {
            Some(addr) => {
                let (bound, task) = relay::http::spawn(
                    addr,
                    metrics.registry.clone(),
                    health.clone(),
                    slots,
                    cancel.clone(),
                )
                .await
                .with_context(|| format!("failed to bind metrics on {addr}"))?;
                (Some(bound), Some(task))
            }
            None => (None, None),
        };
        Ok(Self {
            metrics,
            health,
            cancel,
            metrics_addr,
            http,
        })
    }

    /// Runs `work` on a named thread; when it returns (error or shutdown) the service is
    /// cancelled. Waits for cancellation, then joins the thread and the HTTP task.
    pub(crate) async fn run_until_shutdown(
        self,
        thread_name: &str,
        work: impl FnOnce(Metrics, Arc<Health>, CancellationToken) -> std::io::Result<()>
        + Send
        + 'static,
    ) -> anyhow::Result<()> {
        let (metrics, health, cancel) = (
            self.metrics.clone(),
            self.health.clone(),
            self.cancel.clone(),
        );
        let thread: JoinHandle<std::io::Result<()>> = std::thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || {
                let result = work(metrics, health, cancel.clone());
                cancel.cancel();
                result
            })
            .context("failed to spawn the data-path thread")?;
        self.cancel.cancelled().await;
        let joined = tokio::time::timeout(
            JOIN_TIMEOUT,
            tokio::task::spawn_blocking(move || thread.join()),
        )
        .await
        .context("data-path thread did not stop in time")?
        .context("join task failed")?;
        if let Some(http) = self.http {
            match tokio::time::timeout(JOIN_TIMEOUT, http).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(error))) => tracing::warn!(%error, "metrics server failed"),
                Ok(Err(error)) => tracing::warn!(%error, "metrics server task failed"),
                Err(_) => tracing::warn!("metrics server did not stop in time"),
            }
        }
        match joined {
            Ok(result) => result.context("data path failed")?,
            Err(_) => anyhow::bail!("data-path thread panicked"),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Writes the ready file, if asked for.
pub(crate) fn write_ready(path: Option<&Path>, value: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(path) = path {
        common::ready::write(path, value)
            .with_context(|| format!("failed to write ready file {}", path.display()))?;
    }
    Ok(())
}

/// Warns when the kernel granted a smaller receive buffer than asked for (`net.core.rmem_max`
/// caps it without `CAP_NET_ADMIN`): bursts would then be dropped by the kernel.
pub(crate) fn check_recv_buffer(granted: std::io::Result<usize>, requested: usize) {
    match granted {
        Ok(granted) if granted < requested => tracing::warn!(
            granted,
            requested,
            "receive buffer capped by net.core.rmem_max; raise it (deploy/relay-sysctl.conf)"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "cannot read the receive buffer size"),
    }
}
