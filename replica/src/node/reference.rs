//! The cluster reference for health: the confirmed slot of a reference JSON-RPC node
//! (`--health-reference`), or else the newest snapshot slot the trackers know (a replica below
//! a snapshot the cluster already published is behind).

use {
    crate::state::NodeStatus,
    snapshot_tools::fetch::source::query_tracker,
    std::{sync::Arc, time::Duration},
    tokio_util::sync::CancellationToken,
};

const POLL_INTERVAL: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Keeps `node`'s reference slot current until cancelled.
pub(super) async fn run(
    node: Arc<NodeStatus>,
    reference: Option<String>,
    trackers: Vec<String>,
    cancel: CancellationToken,
) {
    if reference.is_none() && trackers.is_empty() {
        return;
    }
    let client = reqwest::Client::new();
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let slot = match &reference {
            Some(url) => reference_slot(&client, url).await,
            None => newest_snapshot_slot(&client, &trackers).await,
        };
        if let Some(slot) = slot {
            node.set_reference(slot);
        }
    }
}

async fn reference_slot(client: &reqwest::Client, url: &str) -> Option<u64> {
    let answer: serde_json::Value = client
        .post(url)
        .timeout(REQUEST_TIMEOUT)
        .json(
            &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "getSlot",
            "params": [{"commitment": "confirmed"}]}),
        )
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    answer["result"].as_u64()
}

async fn newest_snapshot_slot(client: &reqwest::Client, trackers: &[String]) -> Option<u64> {
    let mut newest = None;
    for tracker in trackers {
        if let Ok(chains) = query_tracker(client, tracker, 1, REQUEST_TIMEOUT).await {
            newest = newest.max(chains.iter().map(|chain| chain.info.slot).max());
        }
    }
    newest
}
