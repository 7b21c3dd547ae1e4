//! Following the active validator's published replication endpoint: what
//! `replica run --upstream-from-etcd <cluster>` uses. The active node's agent writes
//! `/failover/<cluster>/upstream` (bound to its lease, under its fencing token) when it takes
//! the staked identity; this watcher reports every new value at once. A deleted key (the active
//! node's lease expired) changes nothing: the last endpoint stays the best guess until the next
//! active node publishes its own.

use {
    crate::etcd::{self, EtcdCluster, EtcdConfig, EtcdError, Keys, PublishedUpstream},
    etcd_client::{EventType, WatchOptions},
    std::time::Duration,
    tokio::sync::watch,
    tokio_util::sync::CancellationToken,
};

/// Pause before reconnecting after a failure.
const RETRY: Duration = Duration::from_millis(500);

/// Watches the published upstream of `cluster` until `cancel`, sending each new value (the
/// current one first). Failures are logged and retried; the function returns only when
/// cancelled.
pub async fn watch_upstream(
    config: EtcdConfig,
    cluster: String,
    updates: watch::Sender<Option<PublishedUpstream>>,
    cancel: CancellationToken,
) {
    let mut failing = false;
    loop {
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            result = follow(&config, &cluster, &updates) => result,
        };
        if let Err(error) = result {
            if !failing {
                tracing::warn!(%error, cluster, "watching the published upstream failed; retrying");
            }
            failing = true;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

async fn follow(
    config: &EtcdConfig,
    cluster: &str,
    updates: &watch::Sender<Option<PublishedUpstream>>,
) -> Result<(), EtcdError> {
    let client = etcd::connect(config).await?;
    let etcd = EtcdCluster::new(client.clone(), cluster, config.timeout);
    let key = Keys::new(cluster).upstream();
    let view = etcd.view(None).await?;
    if let Some(upstream) = view.upstream {
        send(updates, upstream);
    }
    let mut watcher = client.watch_client();
    let options = WatchOptions::new().with_start_revision(view.revision + 1);
    let mut stream = watcher
        .watch(key.clone(), Some(options))
        .await
        .map_err(|source| EtcdError::Request {
            op: "watch",
            source,
        })?;
    tracing::info!(cluster, key, "watching the published upstream");
    while let Some(response) = stream
        .message()
        .await
        .map_err(|source| EtcdError::Request {
            op: "watch",
            source,
        })?
    {
        if response.canceled() {
            return Err(EtcdError::Invalid {
                key,
                reason: format!("watch cancelled: {}", response.cancel_reason()),
            });
        }
        for event in response.events() {
            if event.event_type() != EventType::Put {
                continue;
            }
            let Some(kv) = event.kv() else { continue };
            match serde_json::from_slice::<PublishedUpstream>(kv.value()) {
                Ok(upstream) => send(updates, upstream),
                Err(error) => tracing::warn!(%error, key, "ignoring an invalid published upstream"),
            }
        }
    }
    Err(EtcdError::Invalid {
        key,
        reason: "the watch ended".into(),
    })
}

fn send(updates: &watch::Sender<Option<PublishedUpstream>>, upstream: PublishedUpstream) {
    updates.send_if_modified(|current| {
        if current.as_ref() == Some(&upstream) {
            return false;
        }
        tracing::info!(node = %upstream.node, upstream = %upstream.upstream, token = upstream.fencing_token, "published upstream");
        *current = Some(upstream);
        true
    });
}
