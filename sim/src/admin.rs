//! The subset of Agave's admin RPC the simulated validator serves on `<ledger>/admin.rpc`:
//! JSON-RPC 2.0 over a Unix socket with `jsonrpc-ipc-server`'s framing (requests found by brace
//! matching, each reply followed by `\n`): `contactInfo`, `setIdentity` and
//! `setIdentityFromBytes` (`[keypair, require_tower]` as Agave 3.x, or with Agave 4.x's third
//! `require_vote_history`, which the simulator ignores).

use {
    crate::validator::ValidatorIdentity,
    failover::admin::framing,
    serde_json::{Value, json},
    std::{
        path::{Path, PathBuf},
        sync::{Arc, Mutex},
        time::{SystemTime, UNIX_EPOCH},
    },
    tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::{UnixListener, UnixStream},
        task::JoinHandle,
    },
    tokio_util::sync::CancellationToken,
};

/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 16;

/// A running admin RPC server.
#[derive(Debug)]
pub struct AdminServer {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl AdminServer {
    /// Binds `<ledger>/admin.rpc` (replacing a stale socket file) and serves on the current
    /// runtime until `cancel`.
    pub fn spawn(
        ledger: &Path,
        identity: Arc<Mutex<ValidatorIdentity>>,
        cancel: CancellationToken,
    ) -> std::io::Result<Self> {
        let path = failover::admin::socket_path(ledger);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        let listener = UnixListener::bind(&path)?;
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let permit = tokio::select! {
                    _ = cancel.cancelled() => break,
                    permit = slots.clone().acquire_owned() => permit,
                };
                let Ok(permit) = permit else { break };
                let accepted = tokio::select! {
                    _ = cancel.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok((stream, _)) => {
                        let identity = identity.clone();
                        connections.spawn(async move {
                            serve(stream, identity).await;
                            drop(permit);
                        });
                    }
                    Err(error) => tracing::warn!(%error, "admin RPC accept failed"),
                }
                while connections.try_join_next().is_some() {}
            }
            connections.shutdown().await;
        });
        tracing::info!(path = %path.display(), "admin RPC listening");
        Ok(Self { path, task })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for the server to stop (after its `cancel` fired) and removes the socket file.
    pub async fn join(self) {
        let _ = self.task.await;
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve(mut stream: UnixStream, identity: Arc<Mutex<ValidatorIdentity>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let message = match framing::take_message(&mut buffer) {
            Ok(Some(message)) => message,
            Ok(None) => match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => {
                    buffer.extend_from_slice(&chunk[..read]);
                    continue;
                }
            },
            Err(error) => {
                tracing::warn!(%error, "closing an admin RPC connection");
                return;
            }
        };
        let reply = handle(&message, &identity);
        let mut bytes = reply.to_string().into_bytes();
        bytes.push(b'\n');
        if stream.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

fn error(id: &Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "error": {"code": code, "message": message.into()}, "id": id})
}

/// One request (a batch is answered as Agave's server does: unsupported here, an error).
fn handle(message: &str, identity: &Mutex<ValidatorIdentity>) -> Value {
    let Ok(request) = serde_json::from_str::<Value>(message) else {
        return error(&Value::Null, -32700, "Parse error");
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return error(&id, -32600, "Invalid request");
    };
    let params = request
        .get("params")
        .cloned()
        .unwrap_or_else(|| Value::Array(Vec::new()));
    let mut identity = identity.lock().unwrap_or_else(|p| p.into_inner());
    let result = match method {
        "contactInfo" => Ok(contact_info(&identity)),
        "setIdentity" | "setIdentityFromBytes" => {
            let Some((keypair, require_tower)) = set_identity_params(&params) else {
                return error(
                    &id,
                    -32602,
                    format!(
                        "Invalid params: expected [keypair, require_tower(, require_vote_history)], got {params}."
                    ),
                );
            };
            let switched = if method == "setIdentity" {
                match keypair.as_str() {
                    Some(path) => identity.set_identity_file(path, require_tower),
                    None => return error(&id, -32602, "Invalid params: keypair path."),
                }
            } else {
                let bytes: Option<Vec<u8>> = keypair.as_array().and_then(|items| {
                    items
                        .iter()
                        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                        .collect()
                });
                match bytes {
                    Some(bytes) => identity.set_identity_bytes(&bytes, require_tower),
                    None => return error(&id, -32602, "Invalid params: keypair bytes."),
                }
            };
            switched.map(|()| Value::Null).map_err(|e| e.to_string())
        }
        _ => return error(&id, -32601, "Method not found"),
    };
    match result {
        Ok(result) => json!({"jsonrpc": "2.0", "result": result, "id": id}),
        Err(message) => error(&id, -32602, message),
    }
}

/// `[keypair, require_tower]` or `[keypair, require_tower, require_vote_history]`.
fn set_identity_params(params: &Value) -> Option<(Value, bool)> {
    let items = params.as_array()?;
    if !(2..=3).contains(&items.len()) {
        return None;
    }
    let require_tower = items[1].as_bool()?;
    if let Some(extra) = items.get(2) {
        extra.as_bool()?;
    }
    Some((items[0].clone(), require_tower))
}

/// Agave's `AdminRpcContactInfo` (field names as it serializes them): the identity, and no
/// sockets (the simulator has none of a validator's).
fn contact_info(identity: &ValidatorIdentity) -> Value {
    let unspecified = "0.0.0.0:0";
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    json!({
        "id": identity.identity().to_string(),
        "gossip": unspecified,
        "tvu": unspecified,
        "serve_repair_quic": unspecified,
        "tpu": unspecified,
        "tpu_forwards": unspecified,
        "tpu_vote": unspecified,
        "rpc": unspecified,
        "rpc_pubsub": unspecified,
        "serve_repair": unspecified,
        "last_updated_timestamp": now,
        "shred_version": 0,
    })
}

#[cfg(test)]
mod tests {
    use {
        super::*, failover::admin::AdminClient, solana_keypair::Keypair, solana_signer::Signer,
        std::time::Duration,
    };

    #[tokio::test]
    async fn agaves_admin_client_switches_identity_with_require_tower() {
        let dir = tempfile::tempdir().unwrap();
        let staked = Keypair::new();
        let unstaked = Keypair::new();
        let staked_path = dir.path().join("staked.json");
        solana_keypair::write_keypair_file(&staked, &staked_path).unwrap();
        let identity = Arc::new(Mutex::new(ValidatorIdentity::new(
            dir.path(),
            staked.pubkey(),
            unstaked.insecure_clone(),
        )));
        let cancel = CancellationToken::new();
        let server = AdminServer::spawn(dir.path(), identity.clone(), cancel.clone()).unwrap();
        let client = AdminClient::new(dir.path(), Duration::from_secs(5));
        assert_eq!(client.identity().await.unwrap(), unstaked.pubkey());
        let refused = client
            .set_identity(&staked_path, true, true)
            .await
            .unwrap_err();
        assert!(refused.is_refusal());
        assert!(refused.to_string().contains("Unable to load tower file"));
        client
            .set_identity_from_bytes(&staked, false, true)
            .await
            .unwrap();
        assert_eq!(client.identity().await.unwrap(), staked.pubkey());
        // Two messages in one write, and Agave 3.x's two params.
        let mut stream = UnixStream::connect(server.path()).await.unwrap();
        stream
            .write_all(
                br#"{"jsonrpc":"2.0","id":1,"method":"contactInfo","params":[]} {"jsonrpc":"2.0","id":2,"method":"nope"}"#,
            )
            .await
            .unwrap();
        let mut replies = String::new();
        let mut chunk = [0u8; 4096];
        while replies.matches('\n').count() < 2 {
            let n = stream.read(&mut chunk).await.unwrap();
            replies.push_str(std::str::from_utf8(&chunk[..n]).unwrap());
        }
        let lines: Vec<Value> = replies
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["result"]["id"], staked.pubkey().to_string());
        assert_eq!(lines[1]["error"]["code"], -32601);
        cancel.cancel();
        server.join().await;
        assert!(!failover::admin::socket_path(dir.path()).exists());
    }
}
