//! The server in-process over a small synthetic store: health against an upstream, the
//! confirmed view over the overlay, and what `processed` and `minContextSlot` read.

use {
    super::{RpcConfig, RpcServer},
    crate::{
        bank::overlay::OverlaySlot,
        state::{ReplicaState, ServedState, UpstreamStatus},
        store::{Account, IndexConfig, SlotMeta, workload},
    },
    serde_json::{Value, json},
    snapshot_tools::{
        archive::ArchiveFormat,
        synthetic::{SyntheticAccounts, TOKEN_PROGRAM, token_account_data},
    },
    solana_hash::Hash,
    solana_pubkey::Pubkey,
    std::{collections::BTreeMap, sync::Arc},
    tokio_util::sync::CancellationToken,
};

const SNAPSHOT_SLOT: u64 = 10;

struct Harness {
    state: Arc<ReplicaState>,
    url: String,
    http: reqwest::Client,
    accounts: SyntheticAccounts,
    cancel: CancellationToken,
    server: Option<RpcServer>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let accounts = SyntheticAccounts::new(7);
        let archive = accounts
            .write_archive(dir.path(), 200, SNAPSHOT_SLOT, ArchiveFormat::TarZstd)
            .unwrap();
        let store = workload::load_store(&dir.path().join("accounts"), &archive).unwrap();
        let state =
            Arc::new(ReplicaState::new(Arc::new(store), Pubkey::new_unique(), None).unwrap());
        let config = RpcConfig {
            bind: Some("127.0.0.1:0".parse().unwrap()),
            ..RpcConfig::default()
        };
        let cancel = CancellationToken::new();
        let server = RpcServer::spawn(
            Arc::new(ServedState::new(state.clone())),
            config,
            &prometheus::Registry::new(),
            cancel.clone(),
        )
        .await
        .unwrap();
        Self {
            state,
            url: format!("http://{}/", server.local_addr),
            http: reqwest::Client::new(),
            accounts,
            cancel,
            server: Some(server),
            _dir: dir,
        }
    }

    /// Stops the server and joins its reader threads, so no thread still holds the store when
    /// its directory is removed or the process exits.
    async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(server) = self.server.take() {
            server.join().await;
        }
    }

    async fn call(&self, method: &str, params: Value) -> Value {
        self.http
            .post(&self.url)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn health(&self) -> String {
        self.http
            .get(format!("{}health", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Confirms slot `SNAPSHOT_SLOT + 1` in the overlay with `accounts` written.
    fn confirm(&self, accounts: BTreeMap<Pubkey, Option<Account>>) -> u64 {
        let slot = SNAPSHOT_SLOT + 1;
        let meta = SlotMeta {
            slot,
            parent: SNAPSHOT_SLOT,
            blockhash: Hash::new_from_array([9; 32]),
            block_height: Some(slot),
            block_time: None,
            executed_transaction_count: None,
            transaction_count: None,
        };
        let overlay_slot = OverlaySlot::new(meta, accounts, &IndexConfig::default(), 1, None);
        let mut overlay = self.state.overlay().write().unwrap();
        overlay.insert(Arc::new(overlay_slot));
        overlay.set_confirmed_tip((slot, meta.blockhash));
        slot
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_upstream() {
    let harness = Harness::start().await;
    assert_eq!(harness.health().await, "ok");
    assert_eq!(
        harness.call("getHealth", Value::Null).await["result"],
        json!("ok")
    );
    let status = harness.call("getReplicaStatus", Value::Null).await["result"].clone();
    assert_eq!(status["upstream"], Value::Null);
    assert_eq!(status["slotsBehind"], Value::Null);
    assert_eq!(status["rootSlot"], json!(SNAPSHOT_SLOT));
    assert_eq!(status["accounts"], json!(200));

    // An upstream that has not reported a slot yet: unknown.
    let upstream = |confirmed_slot| UpstreamStatus {
        name: "127.0.0.1:8100=validator".to_string(),
        confirmed_slot,
    };
    harness.state.set_upstream(Some(upstream(0)));
    assert_eq!(harness.health().await, "unknown");
    assert_eq!(
        harness.call("getHealth", Value::Null).await["error"],
        json!({"code": -32005, "message": "Node is unhealthy", "data": {"numSlotsBehind": null}})
    );
    // Within 128 slots, answering, and slots arriving: ok.
    harness
        .state
        .set_upstream(Some(upstream(SNAPSHOT_SLOT + 128)));
    harness.state.node().upstream_answered();
    harness.state.notify_change();
    assert_eq!(harness.health().await, "ok");
    // The same seen 6 s later (the default limit is 5 s): no news is not ok.
    let limits = RpcConfig::default().health_limits();
    let later = std::time::Instant::now() + std::time::Duration::from_secs(6);
    assert_eq!(
        crate::health::check_at(&harness.state, limits, later),
        crate::health::Health::Unknown
    );
    // A reference (e.g. the cluster's newest snapshot) far ahead: behind even though the
    // upstream is close.
    harness.state.node().set_reference(SNAPSHOT_SLOT + 1_000);
    assert_eq!(harness.health().await, "behind");
    harness.state.node().set_reference(SNAPSHOT_SLOT);
    assert_eq!(harness.health().await, "ok");
    let status = harness.call("getReplicaStatus", Value::Null).await["result"].clone();
    assert_eq!(status["upstream"], json!("127.0.0.1:8100=validator"));
    assert_eq!(status["slotsBehind"], json!(128));
    // Beyond: behind, with Agave's message.
    harness
        .state
        .set_upstream(Some(upstream(SNAPSHOT_SLOT + 129)));
    assert_eq!(harness.health().await, "behind");
    assert_eq!(
        harness.call("getHealth", Value::Null).await["error"],
        json!({"code": -32005, "message": "Node is behind by 129 slots", "data": {"numSlotsBehind": 129}})
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_and_processed_read_the_overlay() {
    let harness = Harness::start().await;
    let changed = harness.accounts.pubkey(6); // a system account
    let owner = Pubkey::new_unique();
    let mint = harness.accounts.mint(0);
    let new_token = Pubkey::new_unique();
    let before = harness
        .call("getBalance", json!([changed.to_string()]))
        .await["result"]["value"]
        .as_u64()
        .unwrap();
    let slot = harness.confirm(BTreeMap::from([
        (
            changed,
            Some(Account {
                lamports: before + 5,
                rent_epoch: u64::MAX,
                owner: Pubkey::default(),
                executable: false,
                slot: SNAPSHOT_SLOT + 1,
                data: Vec::new(),
            }),
        ),
        (
            new_token,
            Some(Account {
                lamports: 2_039_280,
                rent_epoch: u64::MAX,
                owner: TOKEN_PROGRAM,
                executable: false,
                slot: SNAPSHOT_SLOT + 1,
                data: token_account_data(&mint, &owner, 77, None),
            }),
        ),
    ]));
    let balance = |commitment: &'static str| {
        let harness = &harness;
        async move {
            harness
                .call(
                    "getBalance",
                    json!([changed.to_string(), {"commitment": commitment}]),
                )
                .await["result"]
                .clone()
        }
    };
    assert_eq!(
        balance("finalized").await,
        json!({"context": {"apiVersion": balance("finalized").await["context"]["apiVersion"], "slot": SNAPSHOT_SLOT}, "value": before})
    );
    for commitment in ["confirmed", "processed"] {
        let answer = balance(commitment).await;
        assert_eq!(answer["context"]["slot"], json!(slot), "{commitment}");
        assert_eq!(answer["value"], json!(before + 5), "{commitment}");
    }
    assert_eq!(
        harness
            .call("getSlot", json!([{"commitment": "processed"}]))
            .await["result"],
        json!(slot)
    );
    // minContextSlot is checked against the view the commitment reads.
    assert_eq!(
        harness
            .call(
                "getBalance",
                json!([changed.to_string(), {"minContextSlot": slot}])
            )
            .await["error"],
        json!({"code": -32016, "message": "Minimum context slot has not been reached", "data": {"contextSlot": SNAPSHOT_SLOT}})
    );
    let reached = harness
        .call(
            "getBalance",
            json!([changed.to_string(), {"commitment": "confirmed", "minContextSlot": slot}]),
        )
        .await;
    assert_eq!(reached["result"]["value"], json!(before + 5));
    // Index scans merge the overlay's entries.
    let tokens = |commitment: &'static str| {
        let harness = &harness;
        async move {
            harness
                .call(
                    "getTokenAccountsByOwner",
                    json!([owner.to_string(), {"programId": TOKEN_PROGRAM.to_string()}, {"encoding": "base64", "commitment": commitment}]),
                )
                .await["result"]["value"]
                .clone()
        }
    };
    assert_eq!(tokens("finalized").await, json!([]));
    let confirmed = tokens("confirmed").await;
    assert_eq!(confirmed.as_array().unwrap().len(), 1);
    assert_eq!(confirmed[0]["pubkey"], json!(new_token.to_string()));
    harness.stop().await;
}
