//! Downloading one file from one source, resuming with `Range` after a dropped connection.
//!
//! The first request is a plain GET. When the body stops early (connection reset, server
//! killed, no data for `request_timeout`), the download continues from the bytes it has with
//! `Range: bytes=<have>-` and `If-Range` set to the first answer's ETag or Last-Modified, so
//! a file replaced on the server starts over instead of being spliced. A 206 must start
//! exactly at `<have>`; a 200 means start over. Failures without progress are retried with
//! backoff `resume_attempts` times; a 4xx answer is final for this source.

use {
    super::writer::FileWriter,
    crate::range::parse_content_range,
    futures::StreamExt,
    indicatif::ProgressBar,
    reqwest::{StatusCode, Url, header},
    std::{io, path::Path, time::Duration},
    tokio::time::Instant,
};

const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The source answered with a status that retrying will not change.
    #[error("HTTP {0}")]
    Status(StatusCode),
    /// The size differs from what was announced.
    #[error("size mismatch: expected {expected} bytes, got {got}")]
    Size { expected: u64, got: u64 },
    /// A 206 for another range than asked, or a missing length.
    #[error("bad answer: {0}")]
    Answer(String),
    /// Connection failures, with no progress, more than `resume_attempts` times in a row.
    #[error("gave up after {attempts} attempts: {last}")]
    Network { attempts: u32, last: String },
    /// The run's download deadline passed.
    #[error("the download deadline passed")]
    Deadline,
    /// Writing the local file failed.
    #[error("writing {}: {error}", .path.display())]
    Disk {
        path: std::path::PathBuf,
        error: io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct DownloadOptions {
    pub request_timeout: Duration,
    pub resume_attempts: u32,
    pub deadline: Instant,
}

/// What a finished download did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downloaded {
    pub bytes: u64,
    /// Requests that resumed with a Range and got a 206.
    pub resumed: u32,
}

fn header_str(response: &reqwest::Response, name: header::HeaderName) -> Option<&str> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// Downloads into `path` (created or truncated). `url` is asked for before each request
/// (a signed URL may be renewed). `expected_size` is what the source listed, if anything.
pub async fn download(
    client: &reqwest::Client,
    url: &(dyn Fn() -> Result<Url, String> + Sync),
    path: &Path,
    expected_size: Option<u64>,
    options: &DownloadOptions,
    progress: &ProgressBar,
) -> Result<Downloaded, DownloadError> {
    let disk = |error: io::Error| DownloadError::Disk {
        path: path.to_path_buf(),
        error,
    };
    let mut writer = FileWriter::create(path).map_err(disk)?;
    let mut have = 0u64;
    let mut total = expected_size;
    let mut validator: Option<String> = None;
    let mut failures = 0u32;
    let mut resumed = 0u32;
    let mut last_error = String::new();
    if let Some(total) = total {
        progress.set_length(total);
    }

    loop {
        if failures > 0 {
            if failures > options.resume_attempts {
                return Err(DownloadError::Network {
                    attempts: failures,
                    last: last_error,
                });
            }
            let backoff = BACKOFF_START
                .saturating_mul(1 << (failures - 1).min(16))
                .min(BACKOFF_MAX);
            if Instant::now() + backoff >= options.deadline {
                return Err(DownloadError::Deadline);
            }
            tokio::time::sleep(backoff).await;
        }
        if Instant::now() >= options.deadline {
            return Err(DownloadError::Deadline);
        }
        let mut request = client.get(url().map_err(DownloadError::Answer)?);
        if have > 0 {
            request = request.header(header::RANGE, format!("bytes={have}-"));
            if let Some(validator) = &validator {
                request = request.header(header::IF_RANGE, validator);
            }
        }
        let response = match tokio::time::timeout(options.request_timeout, request.send()).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                failures += 1;
                last_error = crate::net::error_text(&error);
                continue;
            }
            Err(_) => {
                failures += 1;
                last_error = "no answer within the request timeout".into();
                continue;
            }
        };
        let status = response.status();
        match status {
            StatusCode::OK => {
                if have > 0 {
                    // The range was not honoured (or the file changed): start over.
                    writer.truncate().await.map_err(disk)?;
                    have = 0;
                    progress.set_position(0);
                }
                let length = response.content_length().or(total).ok_or_else(|| {
                    DownloadError::Answer("no Content-Length and no listed size".into())
                })?;
                if let Some(expected) = total
                    && expected != length
                {
                    return Err(DownloadError::Size {
                        expected,
                        got: length,
                    });
                }
                total = Some(length);
                progress.set_length(length);
                validator = header_str(&response, header::ETAG)
                    .filter(|etag| !etag.starts_with("W/"))
                    .or_else(|| header_str(&response, header::LAST_MODIFIED))
                    .map(str::to_string);
            }
            StatusCode::PARTIAL_CONTENT if have > 0 => {
                let range = header_str(&response, header::CONTENT_RANGE)
                    .and_then(parse_content_range)
                    .ok_or_else(|| DownloadError::Answer("206 without Content-Range".into()))?;
                let (start, _, range_total) = range;
                if start != have || range_total.is_some_and(|t| Some(t) != total) {
                    return Err(DownloadError::Answer(format!(
                        "asked for bytes {have}-, got {range:?}"
                    )));
                }
                resumed += 1;
            }
            StatusCode::RANGE_NOT_SATISFIABLE if total == Some(have) => break,
            status if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
                failures += 1;
                last_error = format!("HTTP {status}");
                continue;
            }
            status => return Err(DownloadError::Status(status)),
        }
        let total_len = total.expect("set by a 200 or kept from it");

        let mut body = response.bytes_stream();
        let mut progressed = false;
        last_error.clear();
        loop {
            match tokio::time::timeout(options.request_timeout, body.next()).await {
                Ok(Some(Ok(chunk))) => {
                    let len = chunk.len() as u64;
                    if have + len > total_len {
                        return Err(DownloadError::Size {
                            expected: total_len,
                            got: have + len,
                        });
                    }
                    writer.write(chunk).await.map_err(disk)?;
                    have += len;
                    progressed = true;
                    progress.inc(len);
                }
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    last_error = crate::net::error_text(&error);
                    break;
                }
                Err(_) => {
                    last_error = "the transfer stalled".into();
                    break;
                }
            }
            if Instant::now() >= options.deadline {
                return Err(DownloadError::Deadline);
            }
        }
        if have == total_len {
            break;
        }
        if last_error.is_empty() {
            last_error = format!("the body ended at {have} of {total_len} bytes");
        }
        failures = if progressed { 1 } else { failures + 1 };
        tracing::debug!(path = %path.display(), have, total = total_len, error = %last_error, "transfer interrupted");
    }

    writer.finish().await.map_err(disk)?;
    Ok(Downloaded {
        bytes: have,
        resumed,
    })
}
