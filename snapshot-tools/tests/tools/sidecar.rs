//! The sidecar on a fixture ledger: listing, HEAD and Range, Agave's redirects, and 404 for
//! every path that is not a listed archive.

use {
    crate::support::{Sidecar, client, copy_into, fixture, get_json},
    reqwest::{StatusCode, header},
    std::{
        io::{Read, Write},
        net::TcpStream,
        path::Path,
        time::Duration,
    },
};

/// The fixture ledger: full 1 and incremental 1→2 in the ledger, full 2 (lz4) in `remote/`,
/// plus files a sidecar must not serve.
fn fixture_ledger(ledger: &Path) {
    copy_into(&fixture("snapshot-1-"), ledger);
    copy_into(&fixture("incremental-snapshot-1-2-"), ledger);
    copy_into(&fixture("snapshot-2-"), &ledger.join("remote"));
    let full1 = fixture("snapshot-1-");
    let name = full1.file_name().unwrap().to_str().unwrap();
    std::fs::copy(&full1, ledger.join(format!("tmp-{name}"))).unwrap();
    // An empty (incomplete) archive at a higher slot.
    std::fs::write(
        ledger.join("snapshot-9-28uuGLSjbsLD59sj9bz76cpCtNeJncYMAEHZf5UqQqQj.tar.zst"),
        b"",
    )
    .unwrap();
    std::fs::write(ledger.join("genesis.tar.bz2"), b"BZh").unwrap();
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_chains_and_redirects_like_agave() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    fixture_ledger(&ledger);
    let sidecar = Sidecar::start(dir.path(), &ledger, 0, &[]).await;
    let http = client();

    let list: serde_json::Value = get_json(&format!("{}/v1/snapshots", sidecar.url())).await;
    let list = list.as_array().unwrap();
    // Full 2 (remote/, lz4), incremental 1→2 on full 1, full 1.
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(list[0]["slot"], 2);
    assert_eq!(list[0]["files"][0]["ext"], ".tar.lz4");
    assert_eq!(list[1]["slot"], 2);
    assert_eq!(list[1]["files"].as_array().unwrap().len(), 2);
    assert_eq!(list[1]["files"][0]["base_slot"], 1);
    assert_eq!(list[2]["slot"], 1);
    assert!(list[2]["files"][0].get("base_slot").is_none());
    let size = std::fs::metadata(fixture("snapshot-1-")).unwrap().len();
    assert_eq!(list[2]["size"], size);
    assert!(
        list[2]["files"][0]["mod_time"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    let full2 = name_of(&fixture("snapshot-2-"));
    let incremental = name_of(&fixture("incremental-snapshot-1-2-"));
    let response = http
        .get(format!("{}/snapshot.tar.bz2", sidecar.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        format!("/{full2}").as_str()
    );
    // The highest incremental whose base is the highest full: none (full 2 has none).
    let response = http
        .get(format!("{}/incremental-snapshot.tar.bz2", sidecar.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // With full 2 gone, full 1 is the highest full and the incremental is on it.
    std::fs::remove_file(ledger.join("remote").join(&full2)).unwrap();
    let response = http
        .get(format!("{}/incremental-snapshot.tar.bz2", sidecar.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(location, format!("/{incremental}"));
    // The redirect target is served at the root, like Agave.
    let body = http
        .get(format!("{}{location}", sidecar.url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        body,
        std::fs::read(fixture("incremental-snapshot-1-2-")).unwrap()
    );
    // /v1/snapshot.tar.zst is the best full itself, under its real name.
    let response = http
        .get(format!("{}/v1/snapshot.tar.zst", sidecar.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.contains(&name_of(&fixture("snapshot-1-"))),
        "{disposition}"
    );
    assert_eq!(response.bytes().await.unwrap().len() as u64, size);

    let metrics = http
        .get(format!("{}/metrics", sidecar.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("snapshot_sidecar_requests_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("snapshot_sidecar_sent_bytes_total"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    fixture_ledger(&ledger);
    let sidecar = Sidecar::start(dir.path(), &ledger, 0, &[]).await;
    let http = client();
    let path = fixture("snapshot-1-");
    let bytes = std::fs::read(&path).unwrap();
    let len = bytes.len() as u64;
    let url = format!("{}/v1/snapshot/{}", sidecar.url(), name_of(&path));

    let head = http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()[header::CONTENT_LENGTH],
        len.to_string().as_str()
    );
    assert_eq!(head.headers()[header::ACCEPT_RANGES], "bytes");
    let last_modified = head.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_string();
    let modified = std::fs::metadata(ledger.join(name_of(&path)))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(last_modified, httpdate::fmt_http_date(modified));
    let etag = head.headers()[header::ETAG].to_str().unwrap().to_string();
    assert!(head.bytes().await.unwrap().is_empty());

    let range = |value: &str| {
        http.get(&url)
            .header(header::RANGE, value.to_string())
            .send()
    };
    let response = range("bytes=10-19").await.unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        response.headers()[header::CONTENT_RANGE],
        format!("bytes 10-19/{len}").as_str()
    );
    assert_eq!(response.headers()[header::CONTENT_LENGTH], "10");
    assert_eq!(response.bytes().await.unwrap(), bytes[10..20]);

    let response = range("bytes=100-").await.unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.bytes().await.unwrap(), bytes[100..]);

    let response = range("bytes=-5").await.unwrap();
    assert_eq!(response.bytes().await.unwrap(), bytes[bytes.len() - 5..]);

    let response = range(&format!("bytes={len}-")).await.unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        response.headers()[header::CONTENT_RANGE],
        format!("bytes */{len}").as_str()
    );

    // HEAD with a range: 206 headers, no body.
    let response = http
        .head(&url)
        .header(header::RANGE, "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.headers()[header::CONTENT_LENGTH], "1");

    // If-Range that still matches: the range; a stale validator: the whole file.
    for (validator, status) in [
        (etag.as_str(), StatusCode::PARTIAL_CONTENT),
        (last_modified.as_str(), StatusCode::PARTIAL_CONTENT),
        ("\"stale\"", StatusCode::OK),
    ] {
        let response = http
            .get(&url)
            .header(header::RANGE, "bytes=5-")
            .header(header::IF_RANGE, validator)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "If-Range {validator}");
    }
    // Several ranges are ignored: the whole file.
    let response = range("bytes=0-1,5-6").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().len() as u64, len);
    assert!(
        sidecar
            .metric("snapshot_sidecar_range_requests_total")
            .await
            >= 8.0
    );
}

/// Sends a raw request line, so that `..` reaches the server as written.
fn raw_status(addr: std::net::SocketAddr, path: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status for {path}: {answer:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_listed_archive_names_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    fixture_ledger(&ledger);
    std::fs::write(dir.path().join("secret.tar.zst"), b"secret").unwrap();
    // A symlink with an archive name pointing outside the ledger.
    let outside = dir.path().join("outside");
    copy_into(&fixture("snapshot-2-"), &outside);
    std::os::unix::fs::symlink(
        outside.join(name_of(&fixture("snapshot-2-"))),
        ledger.join("snapshot-5-28uuGLSjbsLD59sj9bz76cpCtNeJncYMAEHZf5UqQqQj.tar.lz4"),
    )
    .unwrap();
    let sidecar = Sidecar::start(dir.path(), &ledger, 0, &[]).await;
    let full1 = name_of(&fixture("snapshot-1-"));
    let addr = sidecar.addr;
    let statuses = tokio::task::spawn_blocking(move || {
        let paths = [
            "/../secret.tar.zst".to_string(),
            "/v1/snapshot/../../secret.tar.zst".to_string(),
            "/v1/snapshot/..%2Fsecret.tar.zst".to_string(),
            "/v1/snapshot/%2E%2E%2Fsecret.tar.zst".to_string(),
            "/v1/snapshot/%2Fetc%2Fpasswd".to_string(),
            "/etc/passwd".to_string(),
            "/v1/snapshot/genesis.tar.bz2".to_string(),
            "/genesis.tar.bz2".to_string(),
            format!("/v1/snapshot/tmp-{full1}"),
            format!("/tmp-{full1}"),
            format!("/v1/snapshot/remote%2F{full1}"),
            format!("/v1/snapshot/ledger/{full1}"),
            format!("/v1/snapshot/./{full1}"),
            "/v1/snapshot/snapshot-9-28uuGLSjbsLD59sj9bz76cpCtNeJncYMAEHZf5UqQqQj.tar.zst"
                .to_string(),
            "/v1/snapshot/snapshot-5-28uuGLSjbsLD59sj9bz76cpCtNeJncYMAEHZf5UqQqQj.tar.lz4"
                .to_string(),
            "/v1/snapshot/".to_string(),
            "/v1/".to_string(),
            "/".to_string(),
            "/ledger".to_string(),
        ];
        let ok = raw_status(addr, &format!("/v1/snapshot/{full1}"));
        let statuses: Vec<(String, u16)> = paths
            .iter()
            .map(|path| (path.clone(), raw_status(addr, path)))
            .collect();
        (ok, statuses)
    })
    .await
    .unwrap();
    assert_eq!(statuses.0, 200);
    for (path, status) in statuses.1 {
        assert_eq!(status, 404, "{path} must be 404");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_the_addresses_of_an_interface() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    fixture_ledger(&ledger);
    let ready = dir.path().join("lo.ready");
    let mut proc = crate::support::Proc::spawn(
        std::process::Command::new(crate::support::BIN)
            .args(["sidecar", "--interface", "lo", "--port", "0"])
            .arg("--ledger")
            .arg(&ledger)
            .arg("--ready-file")
            .arg(&ready),
        dir.path().join("lo.log"),
    );
    let value = crate::support::wait_ready(&ready, &mut proc).await;
    let addrs: Vec<std::net::SocketAddr> = value["listen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|addr| addr.as_str().unwrap().parse().unwrap())
        .collect();
    assert!(!addrs.is_empty());
    for addr in addrs {
        assert!(addr.ip().is_loopback(), "{addr}");
        let url = format!("http://{addr}/v1/snapshots");
        let response = client().get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_alike_archives_and_a_remote_symlink_out_are_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    copy_into(&fixture("snapshot-1-"), &ledger);
    // 19 bytes that start with the zstd magic, named as the newest full archive.
    let junk = "snapshot-900-28uuGLSjbsLD59sj9bz76cpCtNeJncYMAEHZf5UqQqQj.tar.zst";
    let mut bytes = vec![0x28, 0xb5, 0x2f, 0xfd];
    bytes.resize(19, 0);
    std::fs::write(ledger.join(junk), &bytes).unwrap();
    // `remote/` is a symlink to a directory outside the ledger holding a genuine archive.
    let outside = dir.path().join("outside");
    copy_into(&fixture("snapshot-2-"), &outside);
    std::os::unix::fs::symlink(&outside, ledger.join("remote")).unwrap();
    let sidecar = Sidecar::start(dir.path(), &ledger, 0, &[]).await;
    let http = client();
    let full1 = name_of(&fixture("snapshot-1-"));
    let full2 = name_of(&fixture("snapshot-2-"));

    for _ in 0..3 {
        let list: serde_json::Value = get_json(&format!("{}/v1/snapshots", sidecar.url())).await;
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|chain| chain["files"][0]["file_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec![full1.as_str()], "{list}");
    }
    // The best full is the genuine archive, for every route that picks one.
    let response = http
        .get(format!("{}/snapshot.tar.bz2", sidecar.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        format!("/{full1}").as_str()
    );
    for route in ["/v1/snapshot.tar.zst", "/v1/snapshot.tar.bz2"] {
        let response = http
            .get(format!("{}{route}", sidecar.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{route}");
        let disposition = response.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .to_string();
        assert!(disposition.contains(&full1), "{route}: {disposition}");
    }
    for name in [junk, full2.as_str()] {
        for prefix in ["/v1/snapshot/", "/"] {
            let response = http
                .get(format!("{}{prefix}{name}", sidecar.url()))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{prefix}{name}");
        }
    }
    // Counted once each, logged once each, however often the directory was listed.
    assert_eq!(sidecar.metric("snapshot_sidecar_rejected_total").await, 2.0);
    assert_eq!(sidecar.metric("snapshot_sidecar_rejected_files").await, 1.0);
    let log = sidecar.proc.log_text();
    assert_eq!(
        log.matches("not listing a file named like a snapshot archive")
            .count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("not reading `remote/`").count(), 1, "{log}");
}

/// A library caller (e.g. `replica dev`) may start a sidecar before a directory exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_appears_later_is_listed_then() {
    let dir = tempfile::tempdir().unwrap();
    let later = dir.path().join("later");
    let registry = prometheus::Registry::new();
    let cancel = tokio_util::sync::CancellationToken::new();
    let handle = snapshot_tools::sidecar::spawn(
        snapshot_tools::sidecar::SidecarConfig {
            archive_dirs: vec![later.clone()],
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            max_upload_rate: None,
        },
        &registry,
        cancel.clone(),
    )
    .await
    .unwrap();
    let url = format!("http://{}/v1/snapshots", handle.addrs[0]);
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    copy_into(&fixture("snapshot-2-"), &later);
    let list: serde_json::Value = get_json(&url).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let name = name_of(&fixture("snapshot-2-"));
    let response = client()
        .get(format!("http://{}/{name}", handle.addrs[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    cancel.cancel();
    handle.join().await.unwrap();
}
