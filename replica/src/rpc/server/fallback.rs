//! `--rpc-fallback`: calls outside the account subset go to a full node, one call per request,
//! and its response object is returned as it came (so a load balancer can send everything to
//! replicas).

use {
    super::{envelope::Params, error::RpcError},
    serde_json::{Map, Value, value::RawValue},
    std::time::Duration,
};

/// Time allowed for the full node to answer one forwarded call.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub(crate) struct Fallback {
    url: String,
    client: reqwest::Client,
}

impl Fallback {
    /// A forwarder to `url` (http or https); `Err` says what is wrong with it.
    pub(crate) fn new(url: &str) -> Result<Self, String> {
        let parsed =
            reqwest::Url::parse(url).map_err(|error| format!("invalid URL {url}: {error}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("must be an http(s) URL, got {url}"));
        }
        let client = reqwest::Client::builder()
            .timeout(FORWARD_TIMEOUT)
            .build()
            .map_err(|error| format!("building the HTTP client: {error}"))?;
        Ok(Self {
            url: url.to_string(),
            client,
        })
    }

    /// Sends one call; the full node's response object for it.
    pub(crate) async fn forward(
        &self,
        method: &str,
        params: Params,
        id: &Value,
    ) -> Result<Box<RawValue>, RpcError> {
        let mut call = Map::new();
        call.insert("jsonrpc".into(), Value::from("2.0"));
        call.insert("id".into(), id.clone());
        call.insert("method".into(), Value::from(method));
        if params != Params::None {
            call.insert("params".into(), Value::from(params));
        }
        let failed = |what: String| {
            tracing::warn!(url = %self.url, method, error = %what, "RPC fallback failed");
            RpcError::Unavailable(format!("rpc fallback {}: {what}", self.url))
        };
        let response = self
            .client
            .post(&self.url)
            .json(&call)
            .send()
            .await
            .map_err(|error| failed(error.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(format!("HTTP {status}")));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| failed(error.to_string()))?;
        let raw: Box<RawValue> = serde_json::from_slice(&body)
            .map_err(|error| failed(format!("invalid JSON: {error}")))?;
        if !raw.get().trim_start().starts_with('{') {
            return Err(failed("answer is not a JSON-RPC response object".into()));
        }
        Ok(raw)
    }
}
