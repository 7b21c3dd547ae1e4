//! Agave-compatible JSON-RPC over HTTP (not built yet).

use {
    crate::state::ReplicaState,
    serde::{Deserialize, Serialize},
    std::{net::SocketAddr, sync::Arc},
    tokio_util::sync::CancellationToken,
};

/// The `[rpc]` section of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpcConfig {
    /// Address of the JSON-RPC HTTP listener; none disables JSON-RPC.
    pub bind: Option<SocketAddr>,
}

/// JSON-RPC flags of `replica run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RpcArgs {
    /// Serve JSON-RPC over HTTP on this address (port 0 picks a free port).
    #[arg(long)]
    pub rpc_bind: Option<SocketAddr>,
}

impl RpcArgs {
    pub fn apply(&self, config: &mut RpcConfig) {
        if let Some(bind) = self.rpc_bind {
            config.bind = Some(bind);
        }
    }
}

/// A running JSON-RPC server.
#[derive(Debug)]
pub struct RpcServer {
    pub local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RpcServer {
    pub async fn spawn(
        _state: Arc<ReplicaState>,
        config: RpcConfig,
        _registry: &prometheus::Registry,
        _cancel: CancellationToken,
    ) -> anyhow::Result<Self> {
        let bind = config
            .bind
            .ok_or_else(|| anyhow::anyhow!("no RPC bind address"))?;
        anyhow::bail!("JSON-RPC is not implemented yet (asked to bind {bind})")
    }

    pub async fn join(self) {
        let _ = self.task.await;
    }
}
