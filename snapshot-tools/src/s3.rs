//! A small S3 client: requests signed by `rusty-s3` (sans-IO SigV4, presigned URLs) and sent
//! with reqwest. Only what the mirror and fetch need: list (ListObjectsV2, paged), HEAD, GET,
//! PUT, multipart (create, upload part, complete, abort) and DELETE.

use {
    bytes::Bytes,
    futures::StreamExt,
    reqwest::{StatusCode, Url, header},
    rusty_s3::{Bucket, Credentials, S3Action, UrlStyle, actions::ListObjectsV2},
    std::time::Duration,
};

/// How long a signed request URL stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(3600);
/// Largest error body kept for a message.
const ERROR_BODY_LIMIT: usize = 4096;

/// Where a mirror lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The endpoint, e.g. `https://s3.us-east-1.amazonaws.com` or `http://127.0.0.1:9000`.
    pub endpoint: Url,
    pub bucket: String,
    /// Prepended to every object name (e.g. `mainnet/`).
    pub prefix: String,
    pub region: String,
    /// Virtual-hosted-style URLs (`<bucket>.<endpoint host>`) instead of path-style.
    pub virtual_host: bool,
}

pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The location cannot make a bucket URL.
    #[error("invalid S3 location: {0}")]
    Location(String),
    /// The request could not be sent or its answer read.
    #[error("S3 {op} {key}: {}", crate::net::error_text(.error))]
    Http {
        op: &'static str,
        key: String,
        error: reqwest::Error,
    },
    /// The server answered with an error status (or an error document).
    #[error("S3 {op} {key}: HTTP {status}: {message}")]
    Status {
        op: &'static str,
        key: String,
        status: StatusCode,
        message: String,
    },
    /// The answer did not parse.
    #[error("S3 {op} {key}: unexpected answer: {message}")]
    Answer {
        op: &'static str,
        key: String,
        message: String,
    },
}

/// An object as listed or HEADed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// Without the surrounding quotes.
    pub etag: Option<String>,
}

#[derive(Debug, Clone)]
pub struct S3Client {
    bucket: Bucket,
    credentials: Option<Credentials>,
    http: reqwest::Client,
    prefix: String,
}

pub fn unquote_etag(etag: &str) -> String {
    etag.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_ascii_lowercase()
}

async fn error_message(response: reqwest::Response) -> String {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() >= ERROR_BODY_LIMIT {
            body.truncate(ERROR_BODY_LIMIT);
            break;
        }
    }
    let text = String::from_utf8_lossy(&body);
    // S3 error documents: <Error><Code>..</Code><Message>..</Message></Error>.
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_string())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => text.trim().chars().take(200).collect(),
    }
}

impl S3Client {
    /// `credentials` `None` sends unsigned requests (a public bucket).
    pub fn new(
        location: &S3Location,
        credentials: Option<Credentials>,
        http: reqwest::Client,
    ) -> Result<Self, S3Error> {
        let style = if location.virtual_host {
            UrlStyle::VirtualHost
        } else {
            UrlStyle::Path
        };
        let bucket = Bucket::new(
            location.endpoint.clone(),
            style,
            location.bucket.clone(),
            location.region.clone(),
        )
        .map_err(|error| S3Error::Location(format!("{error:?}")))?;
        Ok(Self {
            bucket,
            credentials,
            http,
            prefix: location.prefix.clone(),
        })
    }

    /// Credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and
    /// `AWS_SESSION_TOKEN`), if set.
    pub fn credentials_from_env() -> Option<Credentials> {
        Credentials::from_env()
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The object key of a file name: the prefix and the name.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The unsigned URL of an object (what goes into `latest.json`).
    pub fn object_url(&self, key: &str) -> Url {
        self.bucket.object_url(key)
    }

    fn creds(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// A signed GET URL for `key`, valid for `valid_for` (at most 7 days).
    pub fn get_url(&self, key: &str, valid_for: Duration) -> Url {
        self.bucket
            .get_object(self.creds(), key)
            .sign(valid_for.clamp(Duration::from_secs(1), Duration::from_secs(7 * 24 * 3600)))
    }

    async fn send(
        &self,
        op: &'static str,
        key: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, S3Error> {
        request.send().await.map_err(|error| S3Error::Http {
            op,
            key: key.to_string(),
            error,
        })
    }

    async fn expect_success(
        op: &'static str,
        key: &str,
        response: reqwest::Response,
    ) -> Result<reqwest::Response, S3Error> {
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(S3Error::Status {
                op,
                key: key.to_string(),
                status: response.status(),
                message: error_message(response).await,
            })
        }
    }

    async fn text(
        op: &'static str,
        key: &str,
        response: reqwest::Response,
    ) -> Result<String, S3Error> {
        response.text().await.map_err(|error| S3Error::Http {
            op,
            key: key.to_string(),
            error,
        })
    }

    /// Every object under the prefix (ListObjectsV2, following continuation tokens).
    pub async fn list(&self) -> Result<Vec<ObjectInfo>, S3Error> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = self.bucket.list_objects_v2(self.creds());
            if !self.prefix.is_empty() {
                action.with_prefix(self.prefix.as_str());
            }
            if let Some(token) = &token {
                action.with_continuation_token(token.as_str());
            }
            let url = action.sign(SIGNED_FOR);
            let response = self.send("list", &self.prefix, self.http.get(url)).await?;
            let response = Self::expect_success("list", &self.prefix, response).await?;
            let text = Self::text("list", &self.prefix, response).await?;
            let page = ListObjectsV2::parse_response(&text).map_err(|error| S3Error::Answer {
                op: "list",
                key: self.prefix.clone(),
                message: error.to_string(),
            })?;
            objects.extend(page.contents.into_iter().map(|content| ObjectInfo {
                key: content.key,
                size: content.size.unwrap_or(0),
                etag: content.etag.as_deref().map(unquote_etag),
            }));
            match page.next_continuation_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => break,
            }
        }
        Ok(objects)
    }

    /// HEAD: `None` when the object does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, S3Error> {
        let url = self.bucket.head_object(self.creds(), key).sign(SIGNED_FOR);
        let response = self.send("head", key, self.http.head(url)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = Self::expect_success("head", key, response).await?;
        let size = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| S3Error::Answer {
                op: "head",
                key: key.to_string(),
                message: "no Content-Length".into(),
            })?;
        let etag = response
            .headers()
            .get(header::ETAG)
            .and_then(|value| value.to_str().ok())
            .map(unquote_etag);
        Ok(Some(ObjectInfo {
            key: key.to_string(),
            size,
            etag,
        }))
    }

    /// GET of a small object (at most `limit` bytes); `None` when it does not exist.
    pub async fn get_small(&self, key: &str, limit: usize) -> Result<Option<Bytes>, S3Error> {
        let url = self.get_url(key, SIGNED_FOR);
        let response = self.send("get", key, self.http.get(url)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = Self::expect_success("get", key, response).await?;
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| S3Error::Http {
                op: "get",
                key: key.to_string(),
                error,
            })?;
            if body.len() + chunk.len() > limit {
                return Err(S3Error::Answer {
                    op: "get",
                    key: key.to_string(),
                    message: format!("object over {limit} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body.into()))
    }

    fn etag_of(
        op: &'static str,
        key: &str,
        response: &reqwest::Response,
    ) -> Result<String, S3Error> {
        response
            .headers()
            .get(header::ETAG)
            .and_then(|value| value.to_str().ok())
            .map(unquote_etag)
            .ok_or_else(|| S3Error::Answer {
                op,
                key: key.to_string(),
                message: "no ETag".into(),
            })
    }

    /// PUT of `len` bytes from `body`; returns the ETag.
    pub async fn put(
        &self,
        key: &str,
        body: reqwest::Body,
        len: u64,
        content_type: &str,
        content_md5: Option<&str>,
    ) -> Result<String, S3Error> {
        let url = self.bucket.put_object(self.creds(), key).sign(SIGNED_FOR);
        let mut request = self
            .http
            .put(url)
            .header(header::CONTENT_LENGTH, len)
            .header(header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(md5) = content_md5 {
            request = request.header("content-md5", md5);
        }
        let response = self.send("put", key, request).await?;
        let response = Self::expect_success("put", key, response).await?;
        Self::etag_of("put", key, &response)
    }

    pub async fn create_multipart(&self, key: &str) -> Result<String, S3Error> {
        let url = self
            .bucket
            .create_multipart_upload(self.creds(), key)
            .sign(SIGNED_FOR);
        let response = self
            .send("create multipart", key, self.http.post(url))
            .await?;
        let response = Self::expect_success("create multipart", key, response).await?;
        let text = Self::text("create multipart", key, response).await?;
        let parsed =
            rusty_s3::actions::CreateMultipartUpload::parse_response(&text).map_err(|error| {
                S3Error::Answer {
                    op: "create multipart",
                    key: key.to_string(),
                    message: error.to_string(),
                }
            })?;
        Ok(parsed.upload_id().to_string())
    }

    /// Uploads part `number` (from 1); returns its ETag.
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u16,
        bytes: Bytes,
        content_md5: &str,
    ) -> Result<String, S3Error> {
        let url = self
            .bucket
            .upload_part(self.creds(), key, number, upload_id)
            .sign(SIGNED_FOR);
        let request = self
            .http
            .put(url)
            .header(header::CONTENT_LENGTH, bytes.len())
            .header("content-md5", content_md5)
            .body(bytes);
        let response = self.send("upload part", key, request).await?;
        let response = Self::expect_success("upload part", key, response).await?;
        Self::etag_of("upload part", key, &response)
    }

    /// Completes an upload with its parts' ETags in order; returns the object's ETag.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        etags: &[String],
    ) -> Result<String, S3Error> {
        let action = self.bucket.complete_multipart_upload(
            self.creds(),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let url = action.sign(SIGNED_FOR);
        let body = action.body();
        let response = self
            .send("complete multipart", key, self.http.post(url).body(body))
            .await?;
        let response = Self::expect_success("complete multipart", key, response).await?;
        let text = Self::text("complete multipart", key, response).await?;
        // A 200 answer can still carry an error document.
        if text.contains("<Error>") {
            return Err(S3Error::Answer {
                op: "complete multipart",
                key: key.to_string(),
                message: text.chars().take(300).collect(),
            });
        }
        let parsed =
            rusty_s3::actions::CompleteMultipartUploadResponse::parse(&text).map_err(|error| {
                S3Error::Answer {
                    op: "complete multipart",
                    key: key.to_string(),
                    message: error.to_string(),
                }
            })?;
        Ok(unquote_etag(parsed.etag()))
    }

    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), S3Error> {
        let url = self
            .bucket
            .abort_multipart_upload(self.creds(), key, upload_id)
            .sign(SIGNED_FOR);
        let response = self
            .send("abort multipart", key, self.http.delete(url))
            .await?;
        Self::expect_success("abort multipart", key, response).await?;
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> Result<(), S3Error> {
        let url = self
            .bucket
            .delete_object(self.creds(), key)
            .sign(SIGNED_FOR);
        let response = self.send("delete", key, self.http.delete(url)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Self::expect_success("delete", key, response).await?;
        Ok(())
    }
}
