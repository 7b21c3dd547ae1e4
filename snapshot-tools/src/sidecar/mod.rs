//! The sidecar: lists a ledger's archives and serves them over HTTP.
//!
//! Routes (everything else is 404):
//! - `GET /v1/snapshots`: every complete chain, best first (Blockdaemon's `SnapshotInfo`s).
//! - `GET|HEAD /v1/snapshot/<name>` and, as Agave serves them, `/<name>`: a listed archive.
//! - `GET|HEAD /v1/snapshot.tar.zst` (and Blockdaemon's `/v1/snapshot.tar.bz2`): the best full.
//! - `GET /snapshot.tar.bz2`, `/incremental-snapshot.tar.bz2`: Agave's 303 redirects to the
//!   highest full, and to the highest incremental on it.
//! - `GET /metrics`.
//!
//! A request names an archive only by its file name, which is looked up among the names the
//! last directory scan listed; no path is ever built from request input. A scan lists only
//! files that start like archives (compression magic, size, a `version` tar header; see
//! `catalog::scan`), remembering each verdict per file version, and never follows a `remote/`
//! symlink out of the archive directories; a served archive's directory is resolved again and
//! must lie inside one of them.

mod serve;
pub mod throttle;

use {
    crate::{
        catalog::{
            Catalog, CatalogError, LocalArchive,
            scan::{ArchiveScanner, ScanOutcome},
        },
        metrics::SidecarMetrics,
    },
    axum::{
        Json, Router,
        extract::{Path, State},
        http::{HeaderMap, HeaderValue, Method, StatusCode, header},
        response::{IntoResponse, Response},
        routing::get,
    },
    serve::{plain, serve_archive},
    std::{
        io,
        net::SocketAddr,
        path::PathBuf,
        sync::{Arc, Mutex, PoisonError},
    },
    throttle::RateLimiter,
    tokio::{net::TcpListener, task::JoinHandle},
    tokio_util::sync::CancellationToken,
};

pub const DEFAULT_PORT: u16 = 13080;

#[derive(Debug, Clone)]
pub struct SidecarConfig {
    /// Archive directories: the ledger (or `--snapshots`) first, then separate full and
    /// incremental archive directories. Each one's `remote/` is listed too.
    pub archive_dirs: Vec<PathBuf>,
    /// Addresses to listen on (port 0 picks a free port).
    pub listen: Vec<SocketAddr>,
    /// Total upload rate over all transfers, bytes per second.
    pub max_upload_rate: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// Binding a listen address failed.
    #[error("cannot listen on {addr}: {error}")]
    Bind { addr: SocketAddr, error: io::Error },
    /// No address to listen on.
    #[error("no address to listen on")]
    NoAddress,
}

#[derive(Debug)]
struct SidecarState {
    /// Lists the archive directories (a missing one makes a scan fail, and its requests 500,
    /// until it exists); nothing outside them is served.
    scanner: Mutex<ArchiveScanner>,
    metrics: SidecarMetrics,
    limiter: Option<Arc<RateLimiter>>,
}

impl SidecarState {
    fn scan_blocking(&self) -> Result<ScanOutcome, CatalogError> {
        let outcome = self
            .scanner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .scan()?;
        for rejected in &outcome.rejected {
            self.metrics
                .rejected
                .with_label_values(&[rejected.error.reason()])
                .inc();
        }
        self.metrics
            .rejected
            .with_label_values(&["remote_symlink"])
            .inc_by(outcome.refused_dirs.len() as u64);
        self.metrics
            .rejected_files
            .set(outcome.rejected_files as i64);
        self.metrics
            .archives
            .set(outcome.catalog.archives().len() as i64);
        Ok(outcome)
    }

    async fn scan(self: &Arc<Self>) -> Result<Catalog, Response> {
        let state = self.clone();
        match tokio::task::spawn_blocking(move || state.scan_blocking()).await {
            Ok(Ok(outcome)) => Ok(outcome.catalog),
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot list the archive directories");
                Err(plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot list snapshots\n",
                ))
            }
            Err(_) => Err(plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")),
        }
    }
}

/// A running sidecar.
#[derive(Debug)]
pub struct SidecarHandle {
    /// The bound addresses, in the order of `SidecarConfig::listen`.
    pub addrs: Vec<SocketAddr>,
    tasks: Vec<JoinHandle<io::Result<()>>>,
}

impl SidecarHandle {
    /// Waits for every listener to stop (after the token is cancelled).
    pub async fn join(self) -> io::Result<()> {
        for task in self.tasks {
            task.await.map_err(io::Error::other)??;
        }
        Ok(())
    }
}

/// The sidecar's routes over `archive_dirs`, with `/metrics` from `registry`.
fn router(state: Arc<SidecarState>, registry: prometheus::Registry) -> Router {
    Router::new()
        .route("/v1/snapshots", get(list))
        .route("/v1/snapshot/{name}", get(archive))
        .route("/v1/snapshot.tar.zst", get(best_full))
        .route("/v1/snapshot.tar.bz2", get(best_full))
        .route("/snapshot.tar.bz2", get(redirect_full))
        .route("/incremental-snapshot.tar.bz2", get(redirect_incremental))
        .route("/{name}", get(archive))
        .fallback(not_found)
        .with_state(state)
        .merge(common::metrics::router(registry))
}

/// Binds every address and serves until `shutdown` is cancelled.
pub async fn spawn(
    config: SidecarConfig,
    registry: &prometheus::Registry,
    shutdown: CancellationToken,
) -> Result<SidecarHandle, SidecarError> {
    if config.listen.is_empty() {
        return Err(SidecarError::NoAddress);
    }
    let state = Arc::new(SidecarState {
        scanner: Mutex::new(ArchiveScanner::new(&config.archive_dirs)),
        metrics: SidecarMetrics::new(registry),
        limiter: config
            .max_upload_rate
            .map(|rate| Arc::new(RateLimiter::new(rate))),
    });
    let app = router(state, registry.clone());
    let mut addrs = Vec::new();
    let mut listeners = Vec::new();
    for addr in config.listen {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|error| SidecarError::Bind { addr, error })?;
        addrs.push(
            listener
                .local_addr()
                .map_err(|error| SidecarError::Bind { addr, error })?,
        );
        listeners.push(listener);
    }
    let tasks = listeners
        .into_iter()
        .map(|listener| {
            let app = app.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown.cancelled_owned())
                    .await
            })
        })
        .collect();
    Ok(SidecarHandle { addrs, tasks })
}

fn count(state: &SidecarState, route: &str, response: Response) -> Response {
    state
        .metrics
        .requests
        .with_label_values(&[route, response.status().as_str()])
        .inc();
    response
}

async fn not_found(State(state): State<Arc<SidecarState>>) -> Response {
    count(
        &state,
        "other",
        plain(StatusCode::NOT_FOUND, "snapshot not found\n"),
    )
}

async fn list(State(state): State<Arc<SidecarState>>) -> Response {
    let response = match state.scan().await {
        Ok(catalog) => Json(catalog.infos()).into_response(),
        Err(response) => response,
    };
    count(&state, "list", response)
}

async fn archive(
    State(state): State<Arc<SidecarState>>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let response = match state.scan().await {
        Ok(catalog) => match catalog.get(&name) {
            Some(archive) => serve_archive(&state, &catalog, archive, &method, &headers).await,
            None => plain(StatusCode::NOT_FOUND, "snapshot not found\n"),
        },
        Err(response) => response,
    };
    count(&state, "archive", response)
}

async fn best_full(
    State(state): State<Arc<SidecarState>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let response = match state.scan().await {
        Ok(catalog) => match catalog.best_full() {
            Some(archive) => serve_archive(&state, &catalog, archive, &method, &headers).await,
            None => plain(StatusCode::NOT_FOUND, "no snapshot available\n"),
        },
        Err(response) => response,
    };
    count(&state, "best_full", response)
}

fn see_other(archive: Option<&LocalArchive>) -> Response {
    let Some(archive) = archive else {
        return plain(StatusCode::NOT_FOUND, "no snapshot available\n");
    };
    let location = format!("/{}", archive.name);
    match HeaderValue::from_str(&location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)], location).into_response(),
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    }
}

async fn redirect_full(State(state): State<Arc<SidecarState>>) -> Response {
    let response = match state.scan().await {
        Ok(catalog) => see_other(catalog.best_full()),
        Err(response) => response,
    };
    count(&state, "redirect", response)
}

async fn redirect_incremental(State(state): State<Arc<SidecarState>>) -> Response {
    let response = match state.scan().await {
        Ok(catalog) => see_other(catalog.best_incremental()),
        Err(response) => response,
    };
    count(&state, "redirect", response)
}
