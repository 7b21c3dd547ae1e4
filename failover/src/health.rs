//! Health checks of the local validator through its JSON-RPC: `getHealth`, the slot lag
//! against a cluster RPC, and (for switchovers) whether a leader slot of the staked identity
//! comes soon.

use {
    serde_json::{Value, json},
    solana_pubkey::Pubkey,
    std::time::Duration,
};

/// The result of one round of checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub healthy: bool,
    /// Why not, when unhealthy.
    pub reason: Option<String>,
}

/// Checks one validator's RPC.
#[derive(Debug, Clone)]
pub struct HealthChecker {
    http: reqwest::Client,
    rpc_url: Option<String>,
    cluster_rpc_url: Option<String>,
    max_slot_lag: u64,
    restart_window_slots: u64,
}

impl HealthChecker {
    /// With no `rpc_url` every check passes and the restart window is always open.
    pub fn new(
        rpc_url: Option<String>,
        cluster_rpc_url: Option<String>,
        max_slot_lag: u64,
        restart_window_slots: u64,
        timeout: Duration,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Self {
            http,
            rpc_url,
            cluster_rpc_url,
            max_slot_lag,
            restart_window_slots,
        }
    }

    async fn call(&self, url: &str, method: &str, params: Value) -> Result<Value, String> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|error| format!("{method} at {url}: {error}"))?;
        let reply: Value = response
            .json()
            .await
            .map_err(|error| format!("{method} at {url}: {error}"))?;
        if let Some(error) = reply.get("error") {
            return Err(format!(
                "{method} at {url}: {}",
                error["message"].as_str().unwrap_or("error")
            ));
        }
        reply
            .get("result")
            .cloned()
            .ok_or_else(|| format!("{method} at {url}: no result"))
    }

    async fn slot(&self, url: &str) -> Result<u64, String> {
        self.call(url, "getSlot", json!([{"commitment": "processed"}]))
            .await?
            .as_u64()
            .ok_or_else(|| format!("getSlot at {url}: not a slot"))
    }

    /// One round: `getHealth` is "ok", and the local slot is within `max_slot_lag` of the
    /// cluster's.
    pub async fn check(&self) -> HealthReport {
        let Some(url) = &self.rpc_url else {
            return HealthReport {
                healthy: true,
                reason: None,
            };
        };
        let unhealthy = |reason: String| HealthReport {
            healthy: false,
            reason: Some(reason),
        };
        match self.call(url, "getHealth", json!([])).await {
            Ok(value) if value == "ok" => {}
            Ok(value) => return unhealthy(format!("getHealth said {value}")),
            Err(reason) => return unhealthy(reason),
        }
        if let Some(cluster) = &self.cluster_rpc_url {
            let (local, remote) = match tokio::join!(self.slot(url), self.slot(cluster)) {
                (Ok(local), Ok(remote)) => (local, remote),
                (Err(reason), _) => return unhealthy(reason),
                // The cluster's RPC failing says nothing about this validator.
                (_, Err(reason)) => {
                    tracing::warn!(%reason, "the cluster RPC did not answer; slot lag unchecked");
                    return HealthReport {
                        healthy: true,
                        reason: None,
                    };
                }
            };
            let lag = remote.saturating_sub(local);
            if lag > self.max_slot_lag {
                return unhealthy(format!(
                    "slot {local} lags the cluster's {remote} by {lag} > {}",
                    self.max_slot_lag
                ));
            }
        }
        HealthReport {
            healthy: true,
            reason: None,
        }
    }

    /// Whether `identity` has no leader slot within the restart window from the current slot
    /// (`getEpochInfo` and `getLeaderSchedule`). Open with no RPC configured; closed when the
    /// RPC does not answer.
    pub async fn restart_window_open(&self, identity: &Pubkey) -> bool {
        let Some(url) = &self.rpc_url else {
            return true;
        };
        let result = async {
            let info = self.call(url, "getEpochInfo", json!([])).await?;
            let absolute = info["absoluteSlot"].as_u64().ok_or("no absoluteSlot")?;
            let index = info["slotIndex"].as_u64().ok_or("no slotIndex")?;
            let epoch_start = absolute.saturating_sub(index);
            let schedule = self
                .call(
                    url,
                    "getLeaderSchedule",
                    json!([null, {"identity": identity.to_string()}]),
                )
                .await?;
            let slots = schedule
                .get(identity.to_string())
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let end = absolute.saturating_add(self.restart_window_slots);
            Ok::<bool, String>(
                !slots
                    .iter()
                    .filter_map(Value::as_u64)
                    .map(|offset| epoch_start + offset)
                    .any(|slot| slot >= absolute && slot <= end),
            )
        }
        .await;
        result.unwrap_or_else(|reason| {
            tracing::warn!(%reason, "cannot tell the leader schedule; the restart window stays closed");
            false
        })
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        tokio::{
            io::{AsyncReadExt, AsyncWriteExt},
            net::TcpListener,
        },
    };

    /// A JSON-RPC server answering each method with a fixed result.
    async fn serve(answers: Vec<(&'static str, Value)>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let answers = answers.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 8192];
                    let mut read = 0;
                    let body = loop {
                        let n = stream.read(&mut buffer[read..]).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        read += n;
                        let text = String::from_utf8_lossy(&buffer[..read]).into_owned();
                        if let Some((head, body)) = text.split_once("\r\n\r\n") {
                            let length = head
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            if body.len() >= length {
                                break body.to_string();
                            }
                        }
                    };
                    let request: Value = serde_json::from_str(&body).unwrap_or_default();
                    let method = request["method"].as_str().unwrap_or_default();
                    let result = answers
                        .iter()
                        .find(|(name, _)| *name == method)
                        .map(|(_, value)| json!({"jsonrpc":"2.0","id":1,"result":value}))
                        .unwrap_or_else(|| json!({"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"Node is behind"}}));
                    let body = result.to_string();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn health_and_slot_lag() {
        let local = serve(vec![("getHealth", json!("ok")), ("getSlot", json!(1000))]).await;
        let close = serve(vec![("getSlot", json!(1100))]).await;
        let far = serve(vec![("getSlot", json!(1200))]).await;
        let timeout = Duration::from_secs(5);
        let checker = HealthChecker::new(Some(local.clone()), Some(close), 128, 10, timeout);
        assert!(checker.check().await.healthy);
        let checker = HealthChecker::new(Some(local), Some(far), 128, 10, timeout);
        let report = checker.check().await;
        assert!(!report.healthy);
        assert!(report.reason.unwrap().contains("lags"));
        let behind = serve(vec![]).await;
        let checker = HealthChecker::new(Some(behind), None, 128, 10, timeout);
        assert!(
            checker
                .check()
                .await
                .reason
                .unwrap()
                .contains("Node is behind")
        );
        let none = HealthChecker::new(None, None, 128, 10, timeout);
        assert!(none.check().await.healthy);
        assert!(none.restart_window_open(&Pubkey::default()).await);
    }

    #[tokio::test]
    async fn the_restart_window_follows_the_leader_schedule() {
        let identity = Pubkey::new_unique();
        let info = json!({"absoluteSlot": 1050, "slotIndex": 50});
        let soon = serve(vec![
            ("getEpochInfo", info.clone()),
            ("getLeaderSchedule", json!({identity.to_string(): [40, 55]})),
        ])
        .await;
        let later = serve(vec![
            ("getEpochInfo", info),
            (
                "getLeaderSchedule",
                json!({identity.to_string(): [40, 500]}),
            ),
        ])
        .await;
        let timeout = Duration::from_secs(5);
        let checker = HealthChecker::new(Some(soon), None, 128, 100, timeout);
        assert!(!checker.restart_window_open(&identity).await);
        let checker = HealthChecker::new(Some(later), None, 128, 100, timeout);
        assert!(checker.restart_window_open(&identity).await);
    }
}
