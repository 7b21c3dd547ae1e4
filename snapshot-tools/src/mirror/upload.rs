//! Streaming one archive from a sidecar into S3, and checking what S3 stored.
//!
//! Below the multipart threshold the body streams straight into one PUT; above it, parts of
//! `part_size` are cut from the stream, each sent with `Content-MD5` (so S3 rejects a part
//! damaged on the way), at most `part_concurrency` in flight; memory stays bounded by
//! `part_size × (part_concurrency + 1)`. A failed multipart upload is aborted.
//!
//! Verification after the upload: HEAD must report the size the source announced, and the
//! ETag must equal the MD5 we computed over the bytes we sent: for a single PUT the hex MD5
//! of the object, for multipart the hex MD5 of the concatenated part MD5s followed by
//! `-<parts>`. That is how S3 forms ETags for objects not encrypted with SSE-KMS/SSE-C, and
//! MinIO, Garage, Ceph RGW and s3s-fs follow it. A mismatch deletes the object.

use {
    crate::s3::{S3Client, S3Error},
    base64::Engine,
    bytes::{Bytes, BytesMut},
    futures::StreamExt,
    md5::{Digest, Md5},
    reqwest::{StatusCode, Url},
    std::{
        collections::VecDeque,
        sync::{Arc, Mutex},
    },
    tokio::task::JoinHandle,
};

/// S3 allows at most this many parts.
const MAX_PARTS: u64 = 10_000;
/// And parts (but the last) of at least 5 MiB.
const MIN_PART: u64 = 5 << 20;

#[derive(Debug, Clone, Copy)]
pub struct UploadOptions {
    pub multipart_threshold: u64,
    pub part_size: u64,
    pub part_concurrency: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Reading from the source failed.
    #[error("source {url}: {message}")]
    Source { url: String, message: String },
    #[error(transparent)]
    S3(#[from] S3Error),
    /// S3 stored something else than what was sent.
    #[error("verification of {key} failed: {message}")]
    Verify { key: String, message: String },
}

/// What one upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub bytes: u64,
    pub parts: u16,
    pub etag: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn part_size_for(len: u64, wanted: u64) -> u64 {
    wanted.max(MIN_PART).max(len.div_ceil(MAX_PARTS))
}

/// Streams `url` into `key`, then verifies the object.
pub async fn upload_from(
    client: &reqwest::Client,
    s3: &S3Client,
    url: Url,
    key: &str,
    expected_size: Option<u64>,
    options: &UploadOptions,
) -> Result<Uploaded, UploadError> {
    let source_error = |message: String| UploadError::Source {
        url: url.to_string(),
        message,
    };
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|error| source_error(crate::net::error_text(&error)))?;
    if response.status() != StatusCode::OK {
        return Err(source_error(format!("HTTP {}", response.status())));
    }
    let len = response
        .content_length()
        .ok_or_else(|| source_error("no Content-Length".into()))?;
    if let Some(expected) = expected_size
        && expected != len
    {
        return Err(source_error(format!(
            "listed with {expected} bytes, served with {len}"
        )));
    }
    let uploaded = if len < options.multipart_threshold {
        put_single(s3, response, key, len).await?
    } else {
        put_multipart(s3, response, key, len, options).await?
    };
    verify(s3, key, &uploaded).await?;
    Ok(uploaded)
}

async fn put_single(
    s3: &S3Client,
    response: reqwest::Response,
    key: &str,
    len: u64,
) -> Result<Uploaded, UploadError> {
    let hasher = Arc::new(Mutex::new(Md5::new()));
    let sink = hasher.clone();
    let body = response.bytes_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            sink.lock().expect("md5 lock").update(bytes);
        }
        chunk
    });
    let etag = s3
        .put(
            key,
            reqwest::Body::wrap_stream(body),
            len,
            "application/octet-stream",
            None,
        )
        .await?;
    let digest = hasher.lock().expect("md5 lock").clone().finalize();
    let expected = hex(&digest);
    if etag != expected {
        let _ = s3.delete(key).await;
        return Err(UploadError::Verify {
            key: key.to_string(),
            message: format!("ETag {etag}, MD5 of the bytes sent {expected}"),
        });
    }
    Ok(Uploaded {
        bytes: len,
        parts: 1,
        etag,
    })
}

async fn put_multipart(
    s3: &S3Client,
    response: reqwest::Response,
    key: &str,
    len: u64,
    options: &UploadOptions,
) -> Result<Uploaded, UploadError> {
    let part_size = part_size_for(len, options.part_size) as usize;
    let upload_id = s3.create_multipart(key).await?;
    let result = send_parts(s3, response, key, &upload_id, len, part_size, options).await;
    match result {
        Ok(uploaded) => Ok(uploaded),
        Err(error) => {
            if let Err(abort) = s3.abort_multipart(key, &upload_id).await {
                tracing::warn!(key, %abort, "aborting a failed multipart upload failed");
            }
            Err(error)
        }
    }
}

/// Aborts spawned part uploads when the upload fails half-way.
struct PartTasks(VecDeque<JoinHandle<Result<String, UploadError>>>);

impl Drop for PartTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

async fn send_parts(
    s3: &S3Client,
    response: reqwest::Response,
    key: &str,
    upload_id: &str,
    len: u64,
    part_size: usize,
    options: &UploadOptions,
) -> Result<Uploaded, UploadError> {
    let mut stream = response.bytes_stream();
    let mut in_flight = PartTasks(VecDeque::new());
    let mut etags: Vec<String> = Vec::new();
    let mut part_md5s: Vec<u8> = Vec::new();
    let mut buffer = BytesMut::with_capacity(part_size);
    let mut sent = 0u64;
    let mut number: u16 = 0;
    let mut ended = false;
    let join = |result: Result<Result<String, UploadError>, tokio::task::JoinError>| {
        result.map_err(|error| UploadError::Verify {
            key: key.to_string(),
            message: format!("part upload task: {error}"),
        })?
    };
    loop {
        // Fill one part (or take the rest at the end of the stream).
        while !ended && buffer.len() < part_size {
            match stream.next().await {
                Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
                Some(Err(error)) => {
                    return Err(UploadError::Source {
                        url: key.to_string(),
                        message: error.to_string(),
                    });
                }
                None => ended = true,
            }
        }
        if buffer.is_empty() {
            break;
        }
        if in_flight.0.len() >= options.part_concurrency.max(1) {
            let task = in_flight.0.pop_front().expect("not empty");
            etags.push(join(task.await)?);
        }
        let take = buffer.len().min(part_size);
        let part: Bytes = buffer.split_to(take).freeze();
        buffer.reserve(part_size);
        number = number.checked_add(1).ok_or_else(|| UploadError::Verify {
            key: key.to_string(),
            message: "too many parts".into(),
        })?;
        let digest = Md5::digest(&part);
        part_md5s.extend_from_slice(&digest);
        let expected = hex(&digest);
        let content_md5 = base64::engine::general_purpose::STANDARD.encode(digest);
        sent += part.len() as u64;
        let (s3, key, upload_id, part_number) =
            (s3.clone(), key.to_string(), upload_id.to_string(), number);
        in_flight.0.push_back(tokio::spawn(async move {
            let etag = s3
                .upload_part(&key, &upload_id, part_number, part, &content_md5)
                .await?;
            if etag != expected {
                return Err(UploadError::Verify {
                    key,
                    message: format!("part {part_number}: ETag {etag}, MD5 {expected}"),
                });
            }
            Ok(etag)
        }));
    }
    while let Some(task) = in_flight.0.pop_front() {
        etags.push(join(task.await)?);
    }
    if sent != len {
        return Err(UploadError::Source {
            url: key.to_string(),
            message: format!("the body had {sent} bytes, not {len}"),
        });
    }
    let etag = s3.complete_multipart(key, upload_id, &etags).await?;
    let expected = format!("{}-{}", hex(&Md5::digest(&part_md5s)), etags.len());
    if etag != expected {
        let _ = s3.delete(key).await;
        return Err(UploadError::Verify {
            key: key.to_string(),
            message: format!("ETag {etag}, expected {expected}"),
        });
    }
    Ok(Uploaded {
        bytes: len,
        parts: number,
        etag,
    })
}

/// HEAD the object: its size and ETag must be those of the upload.
async fn verify(s3: &S3Client, key: &str, uploaded: &Uploaded) -> Result<(), UploadError> {
    let fail = |message: String| UploadError::Verify {
        key: key.to_string(),
        message,
    };
    let object = s3
        .head(key)
        .await?
        .ok_or_else(|| fail("the object is missing after the upload".into()))?;
    if object.size != uploaded.bytes {
        let _ = s3.delete(key).await;
        return Err(fail(format!(
            "stored {} bytes, sent {}",
            object.size, uploaded.bytes
        )));
    }
    if let Some(etag) = &object.etag
        && *etag != uploaded.etag
    {
        let _ = s3.delete(key).await;
        return Err(fail(format!(
            "stored ETag {etag}, upload ETag {}",
            uploaded.etag
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_respect_s3_limits() {
        assert_eq!(part_size_for(1 << 30, 1 << 20), MIN_PART);
        assert_eq!(part_size_for(1 << 30, 32 << 20), 32 << 20);
        // 1 TiB in at most 10,000 parts.
        assert!(part_size_for(1 << 40, 32 << 20) * MAX_PARTS >= 1 << 40);
    }

    #[test]
    fn multipart_etag_formula() {
        // md5("a") and md5("b") concatenated, md5 of that, "-2".
        let parts = [Md5::digest(b"a"), Md5::digest(b"b")];
        let joined: Vec<u8> = parts.iter().flat_map(|d| d.to_vec()).collect();
        assert_eq!(hex(&parts[0]), "0cc175b9c0f1b6a831c399e269772661");
        // What S3 reports for a two-part upload of "a" and "b".
        assert_eq!(
            format!("{}-{}", hex(&Md5::digest(&joined)), parts.len()),
            "96e024ba2074fe77e8e965ba43a704be-2"
        );
    }
}
