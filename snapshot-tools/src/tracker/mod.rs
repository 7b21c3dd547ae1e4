//! The tracker: scrapes sidecars and answers which snapshots are best.
//!
//! Public listener: `GET /v1/best_snapshots?max=N` and `GET /v1/snapshots` (Blockdaemon's
//! shapes). Internal listener: `GET /metrics` and `POST /reload`, which re-reads the YAML
//! and replaces the scrapers (a bad file is refused and the running configuration kept).
//! State lives in memory only, so several trackers can run behind a load balancer.

pub mod config;
pub mod discovery;
mod scrape;
pub mod state;

use {
    crate::metrics::TrackerMetrics,
    axum::{
        Json, Router,
        extract::{Query, State},
        http::StatusCode,
        response::{IntoResponse, Response},
        routing::{get, post},
    },
    config::{ConfigError, TrackerConfig},
    scrape::GroupScraper,
    serde::Deserialize,
    state::TargetTable,
    std::{
        collections::HashSet,
        io,
        net::SocketAddr,
        path::PathBuf,
        sync::{Arc, RwLock},
        time::Duration,
    },
    tokio::{net::TcpListener, sync::Semaphore, task::JoinHandle},
    tokio_util::sync::CancellationToken,
};

/// `max` when the query has none.
pub const DEFAULT_BEST_MAX: usize = 10;
/// The most `best_snapshots` answers; larger or negative `max` values mean this.
pub const BEST_MAX_LIMIT: usize = 100;

#[derive(Debug)]
struct Generation {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Scrapers over one configuration file, and the table they fill.
#[derive(Debug)]
pub struct Tracker {
    config_path: PathBuf,
    table: Arc<RwLock<TargetTable>>,
    metrics: TrackerMetrics,
    generation: tokio::sync::Mutex<Option<Generation>>,
    shutdown: CancellationToken,
}

impl Tracker {
    /// Loads `config_path` and starts scraping.
    pub async fn start(
        config_path: PathBuf,
        registry: &prometheus::Registry,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, ConfigError> {
        let tracker = Arc::new(Self {
            config_path,
            table: Arc::default(),
            metrics: TrackerMetrics::new(registry),
            generation: tokio::sync::Mutex::new(None),
            shutdown,
        });
        tracker.reload().await?;
        Ok(tracker)
    }

    /// Re-reads the configuration; on success the old scrapers stop and new ones start at once.
    pub async fn reload(&self) -> Result<(), ConfigError> {
        let result = self.try_reload().await;
        let label = if result.is_ok() { "ok" } else { "error" };
        self.metrics.reloads.with_label_values(&[label]).inc();
        result
    }

    async fn try_reload(&self) -> Result<(), ConfigError> {
        let path = self.config_path.clone();
        let config = tokio::task::spawn_blocking(move || TrackerConfig::load(&path))
            .await
            .map_err(|error| ConfigError::Invalid(error.to_string()))??;
        let scrapers = config
            .target_groups
            .iter()
            .map(|group| GroupScraper::new(group, &config))
            .collect::<Result<Vec<_>, _>>()?;
        let mut generation = self.generation.lock().await;
        if let Some(old) = generation.take() {
            old.stop.cancel();
            for task in old.tasks {
                let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
            }
        }
        let groups: HashSet<String> = scrapers.iter().map(|s| s.name().to_string()).collect();
        self.table
            .write()
            .expect("target table lock")
            .retain_groups(&groups);
        let stop = self.shutdown.child_token();
        let permits = Arc::new(Semaphore::new(config.max_concurrent_scrapes.max(1)));
        let tasks = scrapers
            .into_iter()
            .map(|scraper| {
                tokio::spawn(scraper.run(
                    self.table.clone(),
                    self.metrics.clone(),
                    permits.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        *generation = Some(Generation { stop, tasks });
        tracing::info!(path = %self.config_path.display(), groups = groups.len(), "configuration loaded");
        Ok(())
    }

    /// Stops the scrapers and waits for them.
    pub async fn stop(&self) {
        if let Some(old) = self.generation.lock().await.take() {
            old.stop.cancel();
            for task in old.tasks {
                let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
            }
        }
    }

    pub fn best(&self, max: usize) -> Vec<crate::catalog::SnapshotSource> {
        self.table.read().expect("target table lock").best(max)
    }

    pub fn entries(&self) -> Vec<state::TrackerEntry> {
        self.table.read().expect("target table lock").entries()
    }
}

#[derive(Debug, Deserialize)]
struct BestQuery {
    max: Option<String>,
}

/// Blockdaemon's `fetch` sends `max=-1`: negative means "as many as allowed".
fn parse_max(max: Option<&str>) -> Result<usize, String> {
    match max.map(str::trim) {
        None | Some("") => Ok(DEFAULT_BEST_MAX),
        Some(text) => {
            let value: i64 = text
                .parse()
                .map_err(|_| format!("max must be an integer, not `{text}`"))?;
            Ok(if value < 0 {
                BEST_MAX_LIMIT
            } else {
                (value as u64).min(BEST_MAX_LIMIT as u64) as usize
            })
        }
    }
}

async fn best_snapshots(
    State(tracker): State<Arc<Tracker>>,
    Query(query): Query<BestQuery>,
) -> Response {
    match parse_max(query.max.as_deref()) {
        Ok(max) => Json(tracker.best(max)).into_response(),
        Err(message) => (StatusCode::BAD_REQUEST, message + "\n").into_response(),
    }
}

async fn snapshots(State(tracker): State<Arc<Tracker>>) -> Response {
    Json(tracker.entries()).into_response()
}

async fn reload(State(tracker): State<Arc<Tracker>>) -> Response {
    match tracker.reload().await {
        Ok(()) => (StatusCode::OK, "reloaded\n").into_response(),
        Err(error) => {
            tracing::warn!(%error, "reload refused");
            (
                StatusCode::BAD_REQUEST,
                format!("reload refused: {error}\n"),
            )
                .into_response()
        }
    }
}

/// The tracker's two listeners.
#[derive(Debug)]
pub struct TrackerHandle {
    pub listen: SocketAddr,
    pub internal_listen: SocketAddr,
    tasks: Vec<JoinHandle<io::Result<()>>>,
}

impl TrackerHandle {
    pub async fn join(self) -> io::Result<()> {
        for task in self.tasks {
            task.await.map_err(io::Error::other)??;
        }
        Ok(())
    }
}

/// Serves the public API on `listen` and `/metrics` + `/reload` on `internal_listen`.
pub async fn serve(
    tracker: Arc<Tracker>,
    registry: prometheus::Registry,
    listen: SocketAddr,
    internal_listen: SocketAddr,
    shutdown: CancellationToken,
) -> io::Result<TrackerHandle> {
    let public = Router::new()
        .route("/v1/best_snapshots", get(best_snapshots))
        .route("/v1/snapshots", get(snapshots))
        .with_state(tracker.clone());
    let internal = Router::new()
        .route("/reload", post(reload))
        .with_state(tracker)
        .merge(common::metrics::router(registry));
    let public_listener = TcpListener::bind(listen).await?;
    let internal_listener = TcpListener::bind(internal_listen).await?;
    let handle_addrs = (
        public_listener.local_addr()?,
        internal_listener.local_addr()?,
    );
    let tasks = [(public_listener, public), (internal_listener, internal)]
        .into_iter()
        .map(|(listener, router)| {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown.cancelled_owned())
                    .await
            })
        })
        .collect();
    Ok(TrackerHandle {
        listen: handle_addrs.0,
        internal_listen: handle_addrs.1,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_is_exact_and_bounded() {
        assert_eq!(parse_max(None), Ok(DEFAULT_BEST_MAX));
        assert_eq!(parse_max(Some("3")), Ok(3));
        assert_eq!(parse_max(Some("0")), Ok(0));
        assert_eq!(parse_max(Some("-1")), Ok(BEST_MAX_LIMIT));
        assert_eq!(parse_max(Some("100000")), Ok(BEST_MAX_LIMIT));
        assert!(parse_max(Some("x")).is_err());
    }
}
