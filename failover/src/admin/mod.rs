//! A client of Agave's admin RPC: JSON-RPC 2.0 over the Unix socket `<ledger>/admin.rpc`
//! (`agave-validator` `admin_rpc_service.rs`), framed as [`framing`] describes.
//!
//! The methods used: `contactInfo` (the node's current identity is its `id`), `setIdentity`
//! (a keypair file the validator reads) and `setIdentityFromBytes` (the keypair's 64 bytes as a
//! JSON array). Both take `require_tower`: with it the validator refuses to switch unless it can
//! restore a tower for the new identity from its tower storage (`Tower::restore`: the file
//! exists, its signature verifies with the new identity, and it is that identity's tower). Agave
//! 3.x takes `[keypair, require_tower]`; Agave 4.x adds `require_vote_history`
//! (`[keypair, require_tower, require_vote_history]`). Each rejects the other's arity with
//! "invalid params", so the client tries the 4.x form first and falls back once, remembering
//! which the validator speaks.

pub mod framing;

use {
    serde::Deserialize,
    serde_json::{Value, json},
    solana_keypair::Keypair,
    solana_pubkey::Pubkey,
    std::{
        path::{Path, PathBuf},
        str::FromStr,
        sync::atomic::{AtomicU8, Ordering},
        time::Duration,
    },
    tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::UnixStream,
    },
};

/// The admin RPC socket's file name in the ledger directory.
pub const SOCKET_NAME: &str = "admin.rpc";

/// JSON-RPC's "invalid params" code, which Agave uses for a refused identity switch.
pub const INVALID_PARAMS: i64 = -32602;

/// The admin RPC socket of the validator whose ledger is `ledger`.
pub fn socket_path(ledger: &Path) -> PathBuf {
    ledger.join(SOCKET_NAME)
}

/// Why an admin RPC call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The socket could not be reached (the validator is not running, or not yet listening).
    #[error("cannot reach the validator's admin RPC {}: {source}", .path.display())]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("admin RPC {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// No complete reply within the timeout.
    #[error("admin RPC {} did not answer {method} within {timeout:?}", .path.display())]
    Timeout {
        path: PathBuf,
        method: String,
        timeout: Duration,
    },
    /// The validator answered with a JSON-RPC error (e.g. no tower for the new identity).
    #[error("the validator refused {method}: {message} ({code})")]
    Rpc {
        method: String,
        code: i64,
        message: String,
    },
    /// The reply is not a JSON-RPC reply of the expected shape.
    #[error("unexpected admin RPC reply to {method}: {reason}")]
    Reply { method: String, reason: String },
}

impl AdminError {
    /// Whether the validator refused the request itself (as opposed to not being reached).
    pub fn is_refusal(&self) -> bool {
        matches!(self, AdminError::Rpc { .. })
    }
}

/// What `contactInfo` says of the node (the fields this crate uses).
#[derive(Debug, Clone, Deserialize)]
pub struct ContactInfo {
    /// The node's current identity.
    pub id: String,
}

const API_UNKNOWN: u8 = 0;
/// `[keypair, require_tower]`.
const API_AGAVE_3: u8 = 3;
/// `[keypair, require_tower, require_vote_history]`.
const API_AGAVE_4: u8 = 4;

/// A client of one validator's admin RPC socket; one connection per call.
#[derive(Debug)]
pub struct AdminClient {
    path: PathBuf,
    timeout: Duration,
    api: AtomicU8,
}

impl AdminClient {
    /// A client of `<ledger>/admin.rpc`, each call bounded by `timeout`.
    pub fn new(ledger: &Path, timeout: Duration) -> Self {
        Self::with_socket(socket_path(ledger), timeout)
    }

    /// A client of the socket at `path`.
    pub fn with_socket(path: PathBuf, timeout: Duration) -> Self {
        Self {
            path,
            timeout,
            api: AtomicU8::new(API_UNKNOWN),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.path
    }

    /// One JSON-RPC call; returns its `result`.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, AdminError> {
        self.call_within(method, params, self.timeout).await
    }

    /// One JSON-RPC call bounded by `timeout`.
    pub async fn call_within(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, AdminError> {
        match tokio::time::timeout(timeout, self.exchange(method, params)).await {
            Ok(result) => result,
            Err(_) => Err(AdminError::Timeout {
                path: self.path.clone(),
                method: method.to_string(),
                timeout,
            }),
        }
    }

    async fn exchange(&self, method: &str, params: Value) -> Result<Value, AdminError> {
        let io = |source| AdminError::Io {
            path: self.path.clone(),
            source,
        };
        let mut stream =
            UnixStream::connect(&self.path)
                .await
                .map_err(|source| AdminError::Connect {
                    path: self.path.clone(),
                    source,
                })?;
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let mut bytes = request.to_string().into_bytes();
        bytes.push(b'\n');
        stream.write_all(&bytes).await.map_err(io)?;
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        let text = loop {
            match framing::take_message(&mut buffer) {
                Ok(Some(text)) => break text,
                Ok(None) => {}
                Err(error) => {
                    return Err(AdminError::Reply {
                        method: method.to_string(),
                        reason: error.to_string(),
                    });
                }
            }
            let read = stream.read(&mut chunk).await.map_err(io)?;
            if read == 0 {
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the validator closed the connection without a reply",
                )));
            }
            buffer.extend_from_slice(&chunk[..read]);
        };
        let reply: Value = serde_json::from_str(&text).map_err(|error| AdminError::Reply {
            method: method.to_string(),
            reason: error.to_string(),
        })?;
        if let Some(error) = reply.get("error") {
            return Err(AdminError::Rpc {
                method: method.to_string(),
                code: error["code"].as_i64().unwrap_or_default(),
                message: error["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        reply
            .get("result")
            .cloned()
            .ok_or_else(|| AdminError::Reply {
                method: method.to_string(),
                reason: "neither result nor error".to_string(),
            })
    }

    /// `contactInfo`.
    pub async fn contact_info(&self) -> Result<ContactInfo, AdminError> {
        let result = self.call("contactInfo", json!([])).await?;
        serde_json::from_value(result).map_err(|error| AdminError::Reply {
            method: "contactInfo".to_string(),
            reason: error.to_string(),
        })
    }

    /// The validator's current identity (`contactInfo`'s `id`).
    pub async fn identity(&self) -> Result<Pubkey, AdminError> {
        let info = self.contact_info().await?;
        Pubkey::from_str(&info.id).map_err(|error| AdminError::Reply {
            method: "contactInfo".to_string(),
            reason: format!("id {}: {error}", info.id),
        })
    }

    /// `setIdentity` with the keypair file at `keypair` (a path the validator can read).
    pub async fn set_identity(
        &self,
        keypair: &Path,
        require_tower: bool,
        require_vote_history: bool,
    ) -> Result<(), AdminError> {
        let path = keypair.display().to_string();
        self.set_identity_with(
            "setIdentity",
            json!(path),
            require_tower,
            require_vote_history,
        )
        .await
    }

    /// `setIdentityFromBytes` with `keypair`'s 64 bytes.
    pub async fn set_identity_from_bytes(
        &self,
        keypair: &Keypair,
        require_tower: bool,
        require_vote_history: bool,
    ) -> Result<(), AdminError> {
        let bytes = keypair.to_bytes().to_vec();
        self.set_identity_with(
            "setIdentityFromBytes",
            json!(bytes),
            require_tower,
            require_vote_history,
        )
        .await
    }

    async fn set_identity_with(
        &self,
        method: &str,
        keypair: Value,
        require_tower: bool,
        require_vote_history: bool,
    ) -> Result<(), AdminError> {
        let params = |api| {
            if api == API_AGAVE_3 {
                json!([keypair, require_tower])
            } else {
                json!([keypair, require_tower, require_vote_history])
            }
        };
        let known = self.api.load(Ordering::Relaxed);
        let first = if known == API_UNKNOWN {
            API_AGAVE_4
        } else {
            known
        };
        match self.call(method, params(first)).await {
            Ok(_) => {
                self.api.store(first, Ordering::Relaxed);
                Ok(())
            }
            Err(AdminError::Rpc { code, message, .. })
                if known == API_UNKNOWN && code == INVALID_PARAMS && arity_refused(&message) =>
            {
                let other = if first == API_AGAVE_4 {
                    API_AGAVE_3
                } else {
                    API_AGAVE_4
                };
                tracing::info!(method, "the validator takes the other setIdentity arity");
                self.call(method, params(other)).await?;
                self.api.store(other, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

/// Whether an "invalid params" message is serde's complaint about the number of params.
fn arity_refused(message: &str) -> bool {
    message.contains("invalid length")
}

#[cfg(test)]
mod tests {
    use {super::*, tokio::net::UnixListener};

    /// A validator that refuses three params (Agave 3.x) and records what it was sent.
    async fn agave3(listener: UnixListener, seen: tokio::sync::mpsc::Sender<Value>) {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 1024];
            let request = loop {
                if let Some(text) = framing::take_message(&mut buffer).unwrap() {
                    break serde_json::from_str::<Value>(&text).unwrap();
                }
                let n = stream.read(&mut chunk).await.unwrap();
                buffer.extend_from_slice(&chunk[..n]);
            };
            let reply = if request["params"].as_array().is_some_and(|p| p.len() == 3) {
                json!({"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: invalid length 3, expected fewer elements in array."}})
            } else if request["method"] == "contactInfo" {
                json!({"jsonrpc":"2.0","id":1,"result":{"id":"11111111111111111111111111111111","shred_version":1}})
            } else {
                json!({"jsonrpc":"2.0","id":1,"result":null})
            };
            seen.send(request).await.unwrap();
            let mut bytes = reply.to_string().into_bytes();
            bytes.push(b'\n');
            stream.write_all(&bytes).await.unwrap();
        }
    }

    #[tokio::test]
    async fn falls_back_to_the_agave_3_arity_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(dir.path());
        let listener = UnixListener::bind(&path).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let server = tokio::spawn(agave3(listener, tx));
        let client = AdminClient::new(dir.path(), Duration::from_secs(5));
        client
            .set_identity(Path::new("/k.json"), true, true)
            .await
            .unwrap();
        assert_eq!(
            rx.recv().await.unwrap()["params"],
            json!(["/k.json", true, true])
        );
        assert_eq!(rx.recv().await.unwrap()["params"], json!(["/k.json", true]));
        client
            .set_identity(Path::new("/u.json"), false, false)
            .await
            .unwrap();
        assert_eq!(
            rx.recv().await.unwrap()["params"],
            json!(["/u.json", false])
        );
        assert_eq!(client.identity().await.unwrap(), Pubkey::default());
        server.abort();
    }

    #[tokio::test]
    async fn an_absent_validator_is_a_connect_error() {
        let dir = tempfile::tempdir().unwrap();
        let client = AdminClient::new(dir.path(), Duration::from_secs(1));
        assert!(matches!(
            client.identity().await,
            Err(AdminError::Connect { .. })
        ));
    }
}
