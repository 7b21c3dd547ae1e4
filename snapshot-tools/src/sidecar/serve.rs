//! Sending one listed archive: HEAD, a single Range (206 / 416), `If-Range`, Last-Modified,
//! an ETag, Content-Length and `Accept-Ranges: bytes`; the body streamed from the open file.

use {
    super::{SidecarState, throttle::RateLimiter},
    crate::{
        catalog::{Catalog, LocalArchive, scan::resolved_inside},
        metrics::SidecarMetrics,
        range::RangeRequest,
    },
    axum::{
        body::Body,
        http::{HeaderMap, HeaderValue, Method, StatusCode, header},
        response::{IntoResponse, Response},
    },
    bytes::Bytes,
    futures::{Stream, StreamExt},
    std::{
        fs::File,
        io::{self, Seek, SeekFrom},
        os::unix::fs::OpenOptionsExt,
        path::{Path, PathBuf},
        sync::Arc,
        time::{SystemTime, UNIX_EPOCH},
    },
    tokio::io::AsyncReadExt,
    tokio_util::io::ReaderStream,
};

/// Read size for unthrottled transfers.
const CHUNK: usize = 1 << 20;

pub(super) fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

/// Opens a listed archive: its directory, resolved, must still lie inside an archive
/// directory; the file itself is not followed if it is a symlink and must be a regular file.
fn open_archive(path: &Path, roots: &[PathBuf]) -> io::Result<(File, u64, SystemTime)> {
    let path = resolved_inside(path, roots)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() || metadata.len() == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "not a regular file",
        ));
    }
    Ok((
        file,
        metadata.len(),
        metadata.modified().unwrap_or(UNIX_EPOCH),
    ))
}

fn etag(len: u64, modified: SystemTime) -> String {
    let since = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!(
        "\"{len:x}-{:x}-{:x}\"",
        since.as_secs(),
        since.subsec_nanos()
    )
}

/// Counts a transfer in progress for as long as its body lives.
struct TransferGuard(SidecarMetrics);

impl Drop for TransferGuard {
    fn drop(&mut self) {
        self.0.transfers.dec();
    }
}

fn body_stream(
    file: tokio::fs::File,
    len: u64,
    metrics: SidecarMetrics,
    limiter: Option<Arc<RateLimiter>>,
) -> impl Stream<Item = io::Result<Bytes>> + Send {
    let chunk = limiter
        .as_ref()
        .map_or(CHUNK, |limiter| limiter.chunk_size());
    metrics.transfers.inc();
    let guard = TransferGuard(metrics.clone());
    ReaderStream::with_capacity(file.take(len), chunk).then(move |item| {
        let limiter = limiter.clone();
        let metrics = metrics.clone();
        let _guard = &guard;
        async move {
            if let (Ok(bytes), Some(limiter)) = (&item, limiter) {
                limiter.acquire(bytes.len()).await;
            }
            if let Ok(bytes) = &item {
                metrics.sent_bytes.inc_by(bytes.len() as u64);
            }
            item
        }
    })
}

/// Serves `archive`, listed in `catalog`. The path comes from the catalog, never from the
/// request.
pub(super) async fn serve_archive(
    state: &Arc<SidecarState>,
    catalog: &Catalog,
    archive: &LocalArchive,
    method: &Method,
    request: &HeaderMap,
) -> Response {
    let path = archive.path.clone();
    let roots = catalog.roots().to_vec();
    let opened = tokio::task::spawn_blocking(move || open_archive(&path, &roots)).await;
    let (mut file, len, modified) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(error)) if error.kind() == io::ErrorKind::NotFound => {
            return plain(StatusCode::NOT_FOUND, "snapshot not found\n");
        }
        Ok(Err(error)) => {
            tracing::warn!(path = %archive.path.display(), %error, "cannot open an archive");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot open the archive\n",
            );
        }
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    };
    let last_modified = httpdate::fmt_http_date(modified);
    let etag = etag(len, modified);

    let range_header = request
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok());
    // If-Range: the range applies only if the file is still the one the client has.
    let if_range_holds = request
        .get(header::IF_RANGE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| value == etag || value == last_modified);
    let range = if if_range_holds {
        RangeRequest::parse(range_header, len)
    } else {
        RangeRequest::Full
    };
    if range_header.is_some() {
        state.metrics.range_requests.inc();
    }

    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let file_name = archive.name.to_string();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&last_modified) {
        headers.insert(header::LAST_MODIFIED, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }

    let (status, start, count) = match range {
        RangeRequest::Full => (StatusCode::OK, 0, len),
        RangeRequest::Partial { start, end } => {
            if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                headers.insert(header::CONTENT_RANGE, value);
            }
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeRequest::Unsatisfiable => {
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                headers.insert(header::CONTENT_RANGE, value);
            }
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
            return (StatusCode::RANGE_NOT_SATISFIABLE, headers, Body::empty()).into_response();
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    if *method == Method::HEAD {
        return (status, headers, Body::empty()).into_response();
    }
    if start > 0
        && let Err(error) = file.seek(SeekFrom::Start(start))
    {
        tracing::warn!(path = %archive.path.display(), %error, "cannot seek an archive");
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot read the archive\n",
        );
    }
    let stream = body_stream(
        tokio::fs::File::from_std(file),
        count,
        state.metrics.clone(),
        state.limiter.clone(),
    );
    (status, headers, Body::from_stream(stream)).into_response()
}
