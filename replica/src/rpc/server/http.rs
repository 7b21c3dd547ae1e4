//! HTTP as Agave's jsonrpc-http-server 18 serves it (rpc-spec §1): the registry's plain paths
//! (`/health`, the supply paths) first, whatever the method; every other path is JSON-RPC (POST with a JSON content
//! type; OPTIONS; else 405), with the body limit (413), UTF-8 check (400), Agave's CORS, and
//! every JSON-RPC outcome as 200. Responses are gzip-compressed when the client asks.

use {
    super::{Server, envelope},
    axum::{
        Router,
        body::Body,
        extract::{Request, State},
        http::{HeaderMap, HeaderValue, Method, StatusCode, header},
        response::Response,
    },
    futures::StreamExt,
    std::sync::Arc,
    tower_http::compression::CompressionLayer,
};

const JSON: &str = "application/json; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
const ALLOWED_METHODS: &str = "OPTIONS, POST";
const CORS_MAX_AGE: &str = "86400";

pub(crate) fn router<C: Send + Sync + 'static>(server: Arc<Server<C>>) -> Router {
    let gzip = server.config.gzip;
    let router = Router::new().fallback(handle::<C>).with_state(server);
    if gzip {
        router.layer(CompressionLayer::new())
    } else {
        router
    }
}

async fn handle<C: Send + Sync + 'static>(
    State(server): State<Arc<Server<C>>>,
    request: Request,
) -> Response {
    match server.registry.path(request.uri().path()) {
        Some(path) => {
            let (status, body) = path(server.app.clone()).await;
            bare(status, body)
        }
        None => json_rpc(&server, request).await,
    }
}

/// A response with a body and no content type, as Agave's request middleware writes them.
fn bare(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
}

fn with_type(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

async fn json_rpc<C: Send + Sync + 'static>(server: &Arc<Server<C>>, request: Request) -> Response {
    let headers = request.headers();
    let allow_origin =
        cors::allow_origin(header_str(headers, "origin"), header_str(headers, "host"));
    let allow_headers = cors::allow_headers(headers);
    let is_options = request.method() == Method::OPTIONS;
    let mut response = match (&allow_origin, request.method()) {
        (cors::AllowOrigin::Invalid, _) => with_type(
            StatusCode::FORBIDDEN,
            TEXT,
            "Origin of the request is not whitelisted. CORS headers would not be sent and any side-effects were cancelled as well.\n",
        ),
        (_, &Method::POST) if is_json(headers.get(header::CONTENT_TYPE)) => {
            call(server, request).await
        }
        (_, &Method::POST) => with_type(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TEXT,
            "Supplied content type is not allowed. Content-Type: application/json is required\n",
        ),
        (_, &Method::OPTIONS) => with_type(StatusCode::OK, JSON, Body::empty()),
        _ => with_type(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "Used HTTP Method is not allowed. POST or OPTIONS is required\n",
        ),
    };
    let headers = response.headers_mut();
    if is_options {
        headers.insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    }
    if let cors::AllowOrigin::Ok(origin) = allow_origin {
        headers.append(header::VARY, HeaderValue::from_static("origin"));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(CORS_MAX_AGE),
        );
        if let Some(allow_headers) = allow_headers {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
        }
    }
    response
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Marks a response as the last on its connection (`Connection: close`).
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The three content types jsonrpc-http-server accepts, compared case-insensitively.
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            [
                "application/json",
                "application/json; charset=utf-8",
                "application/json;charset=utf-8",
            ]
            .iter()
            .any(|accepted| value.eq_ignore_ascii_case(accepted))
        })
}

/// Reads the body within the limit and answers it.
async fn call<C: Send + Sync + 'static>(server: &Arc<Server<C>>, request: Request) -> Response {
    let limit = server.config.max_request_body_size;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = Vec::with_capacity(declared.min(limit));
    let mut stream = request.into_body().into_data_stream();
    let deadline = tokio::time::Instant::now() + server.config.body_timeout();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => {
                return closing(with_type(
                    StatusCode::REQUEST_TIMEOUT,
                    TEXT,
                    "request body not received in time",
                ));
            }
        };
        let Ok(chunk) = chunk else {
            return with_type(StatusCode::BAD_REQUEST, TEXT, "error reading request body");
        };
        if body.len().saturating_add(chunk.len()) > limit {
            // The rest of the body is not read: the connection cannot be reused.
            return closing(with_type(
                StatusCode::PAYLOAD_TOO_LARGE,
                TEXT,
                "request body size exceeds allowed maximum",
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let text = match std::str::from_utf8(&body) {
        Ok(text) => text,
        Err(error) => {
            return with_type(
                StatusCode::BAD_REQUEST,
                TEXT,
                format!(
                    "utf-8 encoding error at byte {} in request body",
                    error.valid_up_to()
                ),
            );
        }
    };
    let answer = envelope::handle(server, text).await;
    match answer.into_buffered() {
        Ok(bytes) => with_type(StatusCode::OK, JSON, bytes),
        Err(streamed) => with_type(
            StatusCode::OK,
            JSON,
            Body::from_stream(streamed.into_stream()),
        ),
    }
}

/// jsonrpc-server-utils' CORS with Agave's configuration (any origin except `null`, any
/// requested headers).
mod cors {
    use axum::http::{HeaderMap, HeaderValue};

    #[derive(Debug, PartialEq, Eq)]
    pub(super) enum AllowOrigin {
        NotRequired,
        Invalid,
        Ok(HeaderValue),
    }

    /// `Host::parse`: protocol and path stripped, lowercased, `host[:port]`.
    fn host_string(text: &str) -> String {
        let text = text.split("://").nth(1).unwrap_or(text);
        let text = text.split('/').next().unwrap_or_default().to_lowercase();
        let mut parts = text.split(':');
        let host = parts.next().unwrap_or_default();
        match parts.next() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }

    /// `Origin::parse`: `{protocol}://{host}`.
    fn origin_string(origin: &str) -> String {
        let (protocol, host) = match origin.split_once("://") {
            Some((protocol, host)) => (protocol.to_lowercase(), host),
            None => ("http".to_string(), origin),
        };
        format!("{protocol}://{}", host_string(host))
    }

    pub(super) fn allow_origin(origin: Option<&str>, host: Option<&str>) -> AllowOrigin {
        let Some(origin) = origin else {
            return AllowOrigin::NotRequired;
        };
        if let Some(host) = host
            && origin.ends_with(host)
            && host_string(origin.split_once("://").map_or(origin, |(_, rest)| rest)) == host
        {
            return AllowOrigin::NotRequired;
        }
        if origin == "null" {
            return AllowOrigin::Invalid;
        }
        AllowOrigin::Ok(
            HeaderValue::from_str(&origin_string(origin))
                .unwrap_or_else(|_| HeaderValue::from_static("null")),
        )
    }

    /// The requested headers, echoed.
    pub(super) fn allow_headers(headers: &HeaderMap) -> Option<HeaderValue> {
        let requested: Vec<&str> = headers
            .get_all("access-control-request-headers")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(", "))
            .flat_map(|value| value.split(','))
            .collect();
        if requested.is_empty() {
            return None;
        }
        let joined = requested
            .iter()
            .map(|name| {
                if HeaderValue::from_str(name).is_ok() {
                    *name
                } else {
                    "unknown"
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        HeaderValue::from_str(&joined).ok()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn origins_follow_jsonrpc_server_utils() {
            assert_eq!(allow_origin(None, Some("x")), AllowOrigin::NotRequired);
            assert_eq!(allow_origin(Some("null"), Some("x")), AllowOrigin::Invalid);
            assert_eq!(
                allow_origin(Some("http://127.0.0.1:8899"), Some("127.0.0.1:8899")),
                AllowOrigin::NotRequired
            );
            assert_eq!(
                allow_origin(Some("https://App.Example.com"), Some("rpc")),
                AllowOrigin::Ok(HeaderValue::from_static("https://app.example.com"))
            );
            assert_eq!(
                allow_origin(Some("localhost:3000"), Some("rpc")),
                AllowOrigin::Ok(HeaderValue::from_static("http://localhost:3000"))
            );
        }
    }
}
