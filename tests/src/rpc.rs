//! A raw JSON-RPC client for golden tests: exact bodies, statuses and headers.

use {
    reqwest::blocking::Client,
    serde_json::{Value, json},
    std::time::Duration,
};

/// An HTTP answer as it came.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl HttpAnswer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

#[derive(Debug, Clone)]
pub struct RpcClient {
    url: String,
    http: Client,
}

impl RpcClient {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            // Raw bytes: no Accept-Encoding unless a test asks for it.
            http: Client::builder()
                .timeout(Duration::from_secs(120))
                .no_gzip()
                .build()
                .expect("HTTP client"),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// POSTs `body` as `application/json`.
    pub fn post(&self, body: &str) -> HttpAnswer {
        self.send(
            self.http
                .post(&self.url)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
    }

    pub fn send(&self, request: reqwest::blocking::RequestBuilder) -> HttpAnswer {
        let response = request.send().expect("HTTP request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().expect("HTTP body");
        HttpAnswer {
            status,
            headers,
            body,
        }
    }

    pub fn http(&self) -> &Client {
        &self.http
    }

    /// The whole response object of one call with id 1.
    pub fn call(&self, method: &str, params: Value) -> Value {
        let request = if params.is_null() {
            json!({"jsonrpc": "2.0", "id": 1, "method": method})
        } else {
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        };
        let answer = self.post(&request.to_string());
        assert_eq!(answer.status, 200, "{method}: {answer:?}");
        answer.json()
    }

    /// `result` of a call; panics on an error response.
    pub fn result(&self, method: &str, params: Value) -> Value {
        let response = self.call(method, params.clone());
        match response.get("result") {
            Some(result) => result.clone(),
            None => panic!("{method} {params}: {response}"),
        }
    }

    /// `error` of a call; panics on success.
    pub fn error(&self, method: &str, params: Value) -> Value {
        let response = self.call(method, params.clone());
        match response.get("error") {
            Some(error) => error.clone(),
            None => panic!("{method} {params} should fail: {response}"),
        }
    }
}
