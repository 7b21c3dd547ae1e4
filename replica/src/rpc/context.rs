//! What every method sees: the replica state, the RPC configuration, the method table and the
//! bounded pools that run blocking store reads off the async runtime.

use {
    super::{
        config::RpcConfig,
        error::RpcError,
        fallback::Fallback,
        methods::largest_accounts::LargestAccountsCache,
        metrics::RpcMetrics,
        reads::PointReads,
        registry::Methods,
        reply::{Chunk, Reply, StreamAborted},
    },
    crate::state::ReplicaState,
    bytes::Bytes,
    solana_hash::Hash,
    std::sync::Arc,
    tokio::sync::{Semaphore, mpsc, oneshot},
};

/// Chunks a streamed result may have in flight towards the HTTP body.
const STREAM_CHANNEL_CHUNKS: usize = 8;

/// The version this node reports (getVersion, `context.apiVersion`).
#[derive(Debug, Clone)]
pub(crate) struct NodeVersion {
    /// `major.minor.patch` of the Agave line whose RPC this replica reproduces.
    pub(crate) solana_core: String,
    /// First 4 bytes of that line's feature-set identifier.
    pub(crate) feature_set: u32,
}

impl NodeVersion {
    pub(crate) fn current() -> Self {
        let version = solana_version::Version::default();
        Self {
            solana_core: version.to_string(),
            feature_set: version.feature_set,
        }
    }
}

#[derive(Debug)]
pub(crate) struct RpcContext {
    pub(crate) state: Arc<ReplicaState>,
    pub(crate) config: RpcConfig,
    pub(crate) methods: Methods,
    pub(crate) metrics: RpcMetrics,
    pub(crate) version: NodeVersion,
    /// From `--genesis-hash`; a snapshot does not carry it.
    pub(crate) genesis_hash: Option<Hash>,
    pub(crate) largest_accounts: LargestAccountsCache,
    /// Reader threads for getAccountInfo, getMultipleAccounts and getBalance.
    pub(crate) reads: PointReads,
    fallback: Option<Fallback>,
    blocking: Arc<Semaphore>,
    scans: Arc<Semaphore>,
}

impl RpcContext {
    pub(crate) fn new(
        state: Arc<ReplicaState>,
        config: RpcConfig,
        methods: Methods,
        metrics: RpcMetrics,
        genesis_hash: Option<Hash>,
        fallback: Option<Fallback>,
        reads: PointReads,
    ) -> Self {
        Self {
            reads,
            blocking: Arc::new(Semaphore::new(config.blocking_threads.max(1))),
            scans: Arc::new(Semaphore::new(config.max_concurrent_scans.max(1))),
            state,
            config,
            methods,
            metrics,
            version: NodeVersion::current(),
            genesis_hash,
            largest_accounts: LargestAccountsCache::default(),
            fallback,
        }
    }

    pub(crate) fn api_version(&self) -> &str {
        &self.version.solana_core
    }

    /// The fallback node for `method`, unless it is one Agave removed (those stay -32601).
    pub(crate) fn fallback_for(&self, method: &str) -> Option<&Fallback> {
        if super::api::legacy::REMOVED_METHODS.contains(&method) {
            return None;
        }
        self.fallback.as_ref()
    }

    /// Runs `read` on a blocking thread, at most `blocking_threads` at once.
    pub(crate) async fn blocking<T, F>(&self, read: F) -> Result<T, RpcError>
    where
        T: Send + 'static,
        F: FnOnce(&ReplicaState) -> Result<T, RpcError> + Send + 'static,
    {
        self.metrics.blocking_queue_len.inc();
        let result = async {
            let permit = self
                .blocking
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| RpcError::Internal("blocking pool closed".to_string()))?;
            let state = self.state.clone();
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                read(&state)
            })
            .await
            .map_err(|error| RpcError::Internal(format!("blocking read failed: {error}")))?
        }
        .await;
        self.metrics.blocking_queue_len.dec();
        result
    }

    /// Runs a scan on a blocking thread, at most `max_concurrent_scans` at once. The scan
    /// answers by returning a reply, or by starting a stream through its [`Streamer`] and
    /// writing the rest while the response goes out.
    pub(crate) async fn scan<F>(&self, scan: F) -> Result<Reply, RpcError>
    where
        F: FnOnce(&ReplicaState, &mut Streamer) -> Result<Reply, RpcError> + Send + 'static,
    {
        self.metrics.blocking_queue_len.inc();
        let result = async {
            let permit = self
                .scans
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| RpcError::Internal("scan pool closed".to_string()))?;
            let state = self.state.clone();
            let (head_tx, head_rx) = oneshot::channel();
            let streamed = self.metrics.scans_streamed.clone();
            let task = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let mut streamer = Streamer {
                    head: Some(head_tx),
                    streamed,
                };
                let result = scan(&state, &mut streamer);
                match streamer.head.take() {
                    Some(head) => {
                        let _ = head.send(result);
                    }
                    None => {
                        if let Err(error) = result {
                            tracing::warn!(%error, "streamed scan failed after its head was sent");
                        }
                    }
                }
            });
            match head_rx.await {
                Ok(result) => result,
                // The task ended without answering: it panicked.
                Err(_) => Err(RpcError::Internal(match task.await {
                    Err(error) => format!("scan failed: {error}"),
                    Ok(()) => "scan ended without an answer".to_string(),
                })),
            }
        }
        .await;
        self.metrics.blocking_queue_len.dec();
        result
    }
}

/// Lets a scan start answering before it has finished.
#[derive(Debug)]
pub(crate) struct Streamer {
    head: Option<oneshot::Sender<Result<Reply, RpcError>>>,
    streamed: prometheus::IntCounter,
}

impl Streamer {
    /// Whether the request is gone (client disconnected), so the scan can stop early.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.head.as_ref().is_some_and(|head| head.is_closed())
    }

    /// Answers now with `head`; the returned sink takes the rest of the result.
    pub(crate) fn start(&mut self, head: Vec<u8>) -> StreamSink {
        let (sender, rest) = mpsc::channel(STREAM_CHANNEL_CHUNKS);
        if let Some(head_tx) = self.head.take() {
            self.streamed.inc();
            let _ = head_tx.send(Ok(Reply::Stream { head, rest }));
        }
        StreamSink { sender }
    }
}

/// The rest of a streamed result.
#[derive(Debug)]
pub(crate) struct StreamSink {
    sender: mpsc::Sender<Chunk>,
}

impl StreamSink {
    /// Sends a chunk, waiting while the client is slow; false once the client is gone.
    pub(crate) fn send(&self, bytes: Vec<u8>) -> bool {
        self.sender.blocking_send(Ok(Bytes::from(bytes))).is_ok()
    }

    /// Cuts the response: the client sees a truncated body.
    pub(crate) fn abort(&self, why: String) {
        let _ = self.sender.blocking_send(Err(StreamAborted(why)));
    }
}
