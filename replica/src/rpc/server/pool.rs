//! Bounded pools that run blocking work (store reads, scans) off the async runtime: at most
//! `blocking_threads` reads and `max_concurrent_scans` scans reading at once. Scans take turns
//! at reading, so more are under way than read; [`SCANS_ADMITTED_PER_SLOT`] per slot at most,
//! which bounds the memory and threads of first passes in progress.

use {
    super::{
        error::RpcError,
        reply::{Admission, Reply, ScanPermit, Streamer},
    },
    prometheus::{IntCounter, IntGauge},
    std::{sync::Arc, time::Duration},
    tokio::{
        runtime::Handle,
        sync::{Semaphore, oneshot},
    },
};

/// Scans under way (first pass in progress) per slot of `max_concurrent_scans`.
pub(crate) const SCANS_ADMITTED_PER_SLOT: usize = 8;

#[derive(Debug)]
pub(crate) struct Pools {
    blocking: Arc<Semaphore>,
    scans: Arc<Semaphore>,
    /// Scans under way: each holds a permit from admission until its first pass ends.
    admitted: Arc<Semaphore>,
    scans_in_progress: IntGauge,
    /// Blocking tasks running or waiting for a permit.
    queue_len: IntGauge,
    scans_streamed: IntCounter,
    /// How long a scan may read (none: no limit).
    scan_time_limit: Option<Duration>,
    /// How long a streamed scan waits for a client that reads nothing.
    write_timeout: Duration,
}

impl Pools {
    pub(crate) fn new(
        config: &super::RpcConfig,
        queue_len: IntGauge,
        scans_in_progress: IntGauge,
        scans_streamed: IntCounter,
    ) -> Self {
        let scan_slots = config.max_concurrent_scans.max(1);
        Self {
            blocking: Arc::new(Semaphore::new(config.blocking_threads.max(1))),
            scans: Arc::new(Semaphore::new(scan_slots)),
            admitted: Arc::new(Semaphore::new(scan_slots * SCANS_ADMITTED_PER_SLOT)),
            scans_in_progress,
            queue_len,
            scans_streamed,
            scan_time_limit: config.scan_timeout(),
            write_timeout: config.write_timeout(),
        }
    }

    /// Runs `read` against `state` on a blocking thread, at most `blocking_threads` at once.
    pub(crate) async fn blocking<S, T, F>(&self, state: &Arc<S>, read: F) -> Result<T, RpcError>
    where
        S: Send + Sync + 'static,
        T: Send + 'static,
        F: FnOnce(&S) -> Result<T, RpcError> + Send + 'static,
    {
        self.queue_len.inc();
        let result = async {
            let permit = self
                .blocking
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| RpcError::Internal("blocking pool closed".to_string()))?;
            let state = state.clone();
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                read(&state)
            })
            .await
            .map_err(|error| RpcError::Internal(format!("blocking read failed: {error}")))?
        }
        .await;
        self.queue_len.dec();
        result
    }

    /// Runs a scan against `state` on a blocking thread, at most `max_concurrent_scans` at
    /// once. The scan answers by returning a reply, or by starting a stream through its
    /// [`Streamer`] and writing the rest while the response goes out.
    pub(crate) async fn scan<S, F>(&self, state: &Arc<S>, scan: F) -> Result<Reply, RpcError>
    where
        S: Send + Sync + 'static,
        F: FnOnce(&S, &mut Streamer) -> Result<Reply, RpcError> + Send + 'static,
    {
        self.queue_len.inc();
        let result = async {
            let closed = |_| RpcError::Internal("scan pool closed".to_string());
            let admission = self
                .admitted
                .clone()
                .acquire_owned()
                .await
                .map_err(closed)?;
            let admission = Admission::new(admission, self.scans_in_progress.clone());
            let permit = self.scans.clone().acquire_owned().await.map_err(closed)?;
            let state = state.clone();
            let (head_tx, head_rx) = oneshot::channel();
            let streamed = self.scans_streamed.clone();
            let permit = ScanPermit::new(permit, self.scans.clone(), Handle::current(), admission);
            let (time_limit, write_timeout) = (self.scan_time_limit, self.write_timeout);
            let task = tokio::task::spawn_blocking(move || {
                let mut streamer =
                    Streamer::new(head_tx, streamed, permit, time_limit, write_timeout);
                let result = scan(&state, &mut streamer);
                streamer.finish(result);
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
        self.queue_len.dec();
        result
    }
}
