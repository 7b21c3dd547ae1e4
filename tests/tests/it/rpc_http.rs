//! HTTP behaviour as Agave's jsonrpc-http-server (rpc-spec §1): methods, content types, body
//! limit, CORS, `/health`, supply paths, framing and gzip.
//!
//! Checked against Agave 4.2.2's `rpc/src/rpc_service.rs` (paths, body limit 51200, CORS with
//! max-age 86400) and jsonrpc-http-server 18, which it serves through.

use {crate::agave_replica, serde_json::json};

const GET_SLOT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"getSlot"}"#;

#[test]
fn methods_content_types_and_framing() {
    let replica = agave_replica(&[]);
    let rpc = replica.client();
    let http = rpc.http();
    let url = replica.url();
    // Success framing: 200, JSON content type, trailing newline; the path is ignored.
    for path in ["", "foo", "?api-key=x", "v1/deep/path"] {
        let answer = rpc.send(
            http.post(format!("{url}{path}"))
                .header("content-type", "application/json")
                .body(GET_SLOT),
        );
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(answer.body, "{\"jsonrpc\":\"2.0\",\"result\":2,\"id\":1}\n");
    }
    for content_type in [
        "application/json",
        "Application/JSON; charset=UTF-8",
        "application/json;charset=utf-8",
    ] {
        let answer = rpc.send(
            http.post(&url)
                .header("content-type", content_type)
                .body(GET_SLOT),
        );
        assert_eq!(answer.status, 200, "{content_type}");
    }
    for content_type in [
        Some("text/plain"),
        Some("application/json; charset=utf8"),
        None,
    ] {
        let mut request = http.post(&url).body(GET_SLOT);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let answer = rpc.send(request);
        assert_eq!(answer.status, 415, "{content_type:?}");
        assert_eq!(
            answer.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(
            answer.body,
            "Supplied content type is not allowed. Content-Type: application/json is required\n"
        );
    }
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let answer = rpc.send(http.request(method.clone(), &url));
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(
            answer.body,
            "Used HTTP Method is not allowed. POST or OPTIONS is required\n"
        );
    }
    let options = rpc.send(http.request(reqwest::Method::OPTIONS, &url));
    assert_eq!(options.status, 200);
    assert_eq!(options.body, "");
    assert_eq!(options.header("allow"), Some("OPTIONS, POST"));
    assert_eq!(options.header("accept"), Some("application/json"));
    // Not UTF-8.
    let answer = rpc.send(
        http.post(&url)
            .header("content-type", "application/json")
            .body(vec![b'{', 0xff, b'}']),
    );
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body,
        "utf-8 encoding error at byte 1 in request body"
    );
}

#[test]
fn body_limit_is_51200_bytes() {
    let replica = agave_replica(&[]);
    let rpc = replica.client();
    // Padded with spaces to exactly the limit: allowed.
    let mut body = GET_SLOT.to_string();
    body.push_str(&" ".repeat(51200 - body.len()));
    let answer = rpc.post(&body);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["result"], 2);
    body.push(' ');
    let answer = rpc.post(&body);
    assert_eq!(answer.status, 413);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(answer.body, "request body size exceeds allowed maximum");
}

#[test]
fn cors_echoes_the_origin() {
    let replica = agave_replica(&[]);
    let rpc = replica.client();
    let http = rpc.http();
    let url = replica.url();
    let answer = rpc.send(
        http.post(&url)
            .header("content-type", "application/json")
            .header("origin", "https://App.Example.com")
            .body(GET_SLOT),
    );
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        answer.header("access-control-allow-methods"),
        Some("OPTIONS, POST")
    );
    assert_eq!(answer.header("access-control-max-age"), Some("86400"));
    assert!(
        answer
            .headers
            .get_all("vary")
            .iter()
            .any(|value| value == "origin")
    );
    // Preflight: requested headers echoed.
    let preflight = rpc.send(
        http.request(reqwest::Method::OPTIONS, &url)
            .header("origin", "http://localhost:3000")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, solana-client",
            ),
    );
    assert_eq!(preflight.status, 200);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("content-type, solana-client")
    );
    // No Origin: no CORS headers. `Origin: null`: 403.
    let plain = rpc.post(GET_SLOT);
    assert!(plain.header("access-control-allow-origin").is_none());
    let null = rpc.send(
        http.post(&url)
            .header("content-type", "application/json")
            .header("origin", "null")
            .body(GET_SLOT),
    );
    assert_eq!(null.status, 403);
    assert_eq!(
        null.body,
        "Origin of the request is not whitelisted. CORS headers would not be sent and any side-effects were cancelled as well.\n"
    );
}

#[test]
fn health_and_supply_paths() {
    let replica = agave_replica(&[]);
    let rpc = replica.client();
    let http = rpc.http();
    let url = replica.url();
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let health = rpc.send(http.request(method, format!("{url}health")));
        assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    }
    assert_eq!(rpc.result("getHealth", json!(null)), json!("ok"));
    let total = rpc.send(http.get(format!("{url}v0/total-supply")));
    assert_eq!(
        (total.status, total.body.as_str()),
        (200, "1002001.000891185")
    );
    let circulating = rpc.send(http.get(format!("{url}v0/circulating-supply")));
    assert_eq!(circulating.status, 200);
    assert_eq!(circulating.body, "1002001.000891185");
}

#[test]
fn gzip_when_asked() {
    let replica = agave_replica(&[]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"getProgramAccounts","params":["Feature111111111111111111111111111111111111",{"encoding":"base64"}]}"#;
    let post = |client: &reqwest::blocking::Client, accept_gzip: bool| {
        let mut request = client
            .post(replica.url())
            .header("content-type", "application/json")
            .body(body);
        if accept_gzip {
            request = request.header("accept-encoding", "gzip");
        }
        request.send().unwrap()
    };
    let raw_client = reqwest::blocking::Client::builder()
        .no_gzip()
        .build()
        .unwrap();
    let plain = post(&raw_client, false);
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.text().unwrap();
    let compressed = post(&raw_client, true);
    assert_eq!(
        compressed
            .headers()
            .get("content-encoding")
            .map(|value| value.to_str().unwrap()),
        Some("gzip")
    );
    let compressed = compressed.bytes().unwrap();
    assert_eq!(&compressed[..2], &[0x1f, 0x8b]);
    assert!(
        compressed.len() < plain.len() / 2,
        "{} vs {}",
        compressed.len(),
        plain.len()
    );
    // A client that decodes gzip gets the same JSON.
    let decoding_client = reqwest::blocking::Client::builder()
        .gzip(true)
        .build()
        .unwrap();
    assert_eq!(post(&decoding_client, false).text().unwrap(), plain);
}
