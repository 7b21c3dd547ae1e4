//! The tracker over several sidecars: best-first with hash agreement, exactly `max`,
//! discovery from files and HTTP, expiry of dead targets, and a real reload.

use {
    crate::support::{
        Sidecar, Tracker, archives::write_chain, client, copy_into, get_json, metric, tracker_yaml,
        wait_for,
    },
    reqwest::StatusCode,
    snapshot_tools::archive::ArchiveName,
    std::time::Duration,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_snapshots_prefer_agreement_and_return_exactly_max() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // Slot 200 with one state (a, b agree), slot 200 with another (c), slot 100 (d).
    let agreed = write_chain(&store.join("agreed"), 1, 200, None, 20, 64);
    let other = write_chain(&store.join("other"), 2, 200, None, 20, 64);
    let old = write_chain(&store.join("old"), 3, 100, None, 20, 64);
    let mut sidecars = Vec::new();
    for (name, chain) in [("a", &agreed), ("b", &agreed), ("c", &other), ("d", &old)] {
        let ledger = dir.path().join(name);
        copy_into(&chain.full, &ledger);
        sidecars.push(Sidecar::start(dir.path(), &ledger, 0, &[]).await);
    }
    let targets: Vec<String> = sidecars.iter().map(Sidecar::target).collect();
    let tracker = Tracker::start(dir.path(), &tracker_yaml(&targets, 3)).await;
    tracker.wait_for_targets(&targets).await;

    let best = tracker.best(10).await;
    assert_eq!(best.len(), 4);
    let agreed_hash = ArchiveName::from_path(&agreed.full)
        .unwrap()
        .hash
        .to_string();
    assert_eq!(best[0]["slot"], 200);
    assert_eq!(best[0]["hash"], agreed_hash.as_str());
    assert_eq!(best[1]["hash"], agreed_hash.as_str());
    assert_eq!(best[2]["slot"], 200);
    assert_ne!(best[2]["hash"], agreed_hash.as_str());
    assert_eq!(best[3]["slot"], 100);
    assert_eq!(best[3]["target"], targets[3].as_str());
    assert!(best[0]["updated_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        best[0]["base_url"].as_str().unwrap(),
        format!("http://{}", best[0]["target"].as_str().unwrap())
    );
    // Exactly N (Blockdaemon's returned N + 1).
    assert_eq!(tracker.best(1).await.len(), 1);
    assert_eq!(tracker.best(3).await.len(), 3);
    assert!(tracker.best(0).await.is_empty());
    let all: Vec<serde_json::Value> =
        get_json(&format!("{}/v1/best_snapshots?max=-1", tracker.url())).await;
    assert_eq!(all.len(), 4);
    let response = client()
        .get(format!("{}/v1/best_snapshots?max=many", tracker.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let entries: Vec<serde_json::Value> =
        get_json(&format!("{}/v1/snapshots", tracker.url())).await;
    assert_eq!(entries.len(), 4);
    let entry = entries.iter().find(|e| e["info"]["slot"] == 100).unwrap();
    assert_eq!(entry["inverse_slot"], !100u64);
    assert_eq!(entry["target"], targets[3].as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgets_dead_targets_discovers_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let chain = write_chain(&dir.path().join("store"), 1, 100, None, 10, 32);
    let mut sidecars = Vec::new();
    for name in ["a", "b", "c", "d"] {
        let ledger = dir.path().join(name);
        copy_into(&chain.full, &ledger);
        sidecars.push(Sidecar::start(dir.path(), &ledger, 0, &[]).await);
    }
    let targets: Vec<String> = sidecars.iter().map(Sidecar::target).collect();

    // d is discovered over HTTP: a tiny server answering Prometheus HTTP-SD JSON.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let discovery = listener.local_addr().unwrap();
    let sd_body = format!(r#"[{{"targets": ["{}"], "labels": {{}}}}]"#, targets[3]);
    let server = tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/targets",
            axum::routing::get(move || {
                let body = sd_body.clone();
                async move { body }
            }),
        );
        axum::serve(listener, app).await
    });

    let file = dir.path().join("targets.txt");
    std::fs::write(&file, format!("# file targets\n{}\n", targets[1])).unwrap();
    let yaml = format!(
        "scrape_interval: 100ms\nscrape_timeout: 1s\nmax_failed_scrapes: 2\ntarget_groups:\n\
         \x20 - group: static\n    static_targets: {{targets: [\"{}\"]}}\n\
         \x20 - group: discovered\n    file_targets: {{path: \"{}\"}}\n\
         \x20   http_targets: {{url: \"http://{discovery}/targets\"}}\n",
        targets[0],
        file.display()
    );
    let tracker = Tracker::start(dir.path(), &yaml).await;
    tracker
        .wait_for_targets(&[targets[0].clone(), targets[1].clone(), targets[3].clone()])
        .await;

    // Kill b: after two failed scrapes in a row it is forgotten.
    sidecars[1].proc.kill();
    tracker
        .wait_for_targets(&[targets[0].clone(), targets[3].clone()])
        .await;
    let internal = format!("http://{}", tracker.internal_addr);
    assert!(metric(&internal, "snapshot_tracker_expired_targets_total").await >= 1.0);

    // The file now names c: picked up on the next round, without a reload.
    std::fs::write(&file, format!("{}\n", targets[2])).unwrap();
    tracker
        .wait_for_targets(&[targets[0].clone(), targets[2].clone(), targets[3].clone()])
        .await;

    // A broken config is refused and the running one kept.
    std::fs::write(&tracker.config, "scrape_interval: [").unwrap();
    let response = client()
        .post(format!("{internal}/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(tracker.best(10).await.len(), 3);

    // A real reload: only c remains.
    std::fs::write(&tracker.config, tracker_yaml(&[targets[2].clone()], 2)).unwrap();
    let response = client()
        .post(format!("{internal}/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    tracker.wait_for_targets(&[targets[2].clone()]).await;
    wait_for("the reload metric", Duration::from_secs(5), || async {
        metric(&internal, "snapshot_tracker_reloads_total").await >= 3.0
    })
    .await;
    server.abort();
}
