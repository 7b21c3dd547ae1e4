//! What a method answers (a serialized result, or one whose tail is still being produced) and
//! how answers become an HTTP body: buffered when every part is ready, streamed otherwise.

use {
    super::error::RpcError,
    bytes::Bytes,
    futures::{
        StreamExt,
        stream::{self, BoxStream},
    },
    std::{
        sync::{Arc, Mutex, PoisonError},
        time::{Duration, Instant},
    },
    tokio::{
        runtime::Handle,
        sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot},
    },
};

/// Chunks a streamed result may have in flight towards the HTTP body.
const STREAM_CHANNEL_CHUNKS: usize = 8;

/// A streamed tail that could not be finished (the store failed mid-stream); the connection
/// is cut so the client sees a truncated body, never a wrong one.
#[derive(Debug, thiserror::Error)]
#[error("streamed JSON-RPC result aborted: {0}")]
pub(crate) struct StreamAborted(pub(crate) String);

pub(crate) type Chunk = Result<Bytes, StreamAborted>;

/// A method's successful answer.
#[derive(Debug)]
pub(crate) enum Reply {
    /// The serialized result.
    Json(Vec<u8>),
    /// A large result: `head` is ready, the rest arrives on `rest` (closed when complete).
    Stream {
        head: Vec<u8>,
        rest: mpsc::Receiver<Chunk>,
    },
}

impl Reply {
    pub(crate) fn json(bytes: Vec<u8>) -> Self {
        Self::Json(bytes)
    }
}

/// One piece of a response body.
#[derive(Debug)]
pub(crate) enum BodyPart {
    Bytes(Bytes),
    Stream(mpsc::Receiver<Chunk>),
}

/// A response body: parts (mostly one buffer), or a stream produced while it is sent.
pub(crate) enum ResponseBody {
    Parts(Vec<BodyPart>),
    Stream(BoxStream<'static, Chunk>),
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Parts(parts) => f.debug_tuple("Parts").field(parts).finish(),
            Self::Stream(_) => f.write_str("Stream"),
        }
    }
}

impl Default for ResponseBody {
    fn default() -> Self {
        Self::Parts(Vec::new())
    }
}

impl ResponseBody {
    /// The whole body, when nothing is streamed.
    pub(crate) fn into_buffered(self) -> Result<Bytes, Self> {
        match self {
            Self::Parts(mut parts) => match parts.as_slice() {
                [] => Ok(Bytes::new()),
                [BodyPart::Bytes(_)] => match parts.pop() {
                    Some(BodyPart::Bytes(bytes)) => Ok(bytes),
                    _ => unreachable!("matched a single buffered part"),
                },
                _ => Err(Self::Parts(parts)),
            },
            stream => Err(stream),
        }
    }

    /// The body as a stream of chunks.
    pub(crate) fn into_stream(self) -> BoxStream<'static, Chunk> {
        match self {
            Self::Parts(parts) => stream::iter(parts)
                .flat_map(|part| match part {
                    BodyPart::Bytes(bytes) => stream::once(async move { Ok(bytes) }).boxed(),
                    BodyPart::Stream(receiver) => {
                        stream::unfold(receiver, |mut receiver| async move {
                            receiver.recv().await.map(|chunk| (chunk, receiver))
                        })
                        .boxed()
                    }
                })
                .boxed(),
            Self::Stream(stream) => stream,
        }
    }
}

/// Builds a [`ResponseBody`], merging adjacent buffered writes.
#[derive(Debug, Default)]
pub(crate) struct BodyWriter {
    parts: Vec<BodyPart>,
    current: Vec<u8>,
}

impl BodyWriter {
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.current
    }

    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.current.extend_from_slice(bytes);
    }

    /// Appends a reply: buffered as is, or its head buffered and its tail streamed.
    pub(crate) fn reply(&mut self, reply: Reply) {
        match reply {
            Reply::Json(bytes) => {
                if self.current.is_empty() && self.parts.is_empty() {
                    self.current = bytes;
                } else {
                    self.current.extend_from_slice(&bytes);
                }
            }
            Reply::Stream { head, rest } => {
                self.current.extend_from_slice(&head);
                self.flush();
                self.parts.push(BodyPart::Stream(rest));
            }
        }
    }

    fn flush(&mut self) {
        if !self.current.is_empty() {
            let bytes = std::mem::take(&mut self.current);
            self.parts.push(BodyPart::Bytes(Bytes::from(bytes)));
        }
    }

    pub(crate) fn finish(mut self) -> ResponseBody {
        self.flush();
        ResponseBody::Parts(self.parts)
    }
}

/// How long a scan reads before scans waiting for a permit get their turn.
const SCAN_TURN: Duration = Duration::from_millis(50);

/// What a scan may hold only while it reads the store: its permit of the scan pool. It is
/// given back while the scan waits for a slow client, and after each [`SCAN_TURN`] of reading
/// while other scans wait (the pool is fair, so they read first), so a few large scans cannot
/// keep a small one waiting until they finish.
#[derive(Debug)]
pub(crate) struct ScanPermit {
    permit: Option<OwnedSemaphorePermit>,
    pool: Arc<Semaphore>,
    runtime: Handle,
    turn_started: Instant,
    /// Held until the scan's first pass ends (it answers, or starts streaming).
    admission: Option<Admission>,
}

/// A scan's place among those under way, counted in the in-progress gauge while held.
#[derive(Debug)]
pub(crate) struct Admission {
    _permit: OwnedSemaphorePermit,
    in_progress: prometheus::IntGauge,
}

impl Admission {
    pub(crate) fn new(permit: OwnedSemaphorePermit, in_progress: prometheus::IntGauge) -> Self {
        in_progress.inc();
        Self {
            _permit: permit,
            in_progress,
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.in_progress.dec();
    }
}

impl ScanPermit {
    pub(crate) fn new(
        permit: OwnedSemaphorePermit,
        pool: Arc<Semaphore>,
        runtime: Handle,
        admission: Admission,
    ) -> Self {
        Self {
            permit: Some(permit),
            pool,
            runtime,
            turn_started: Instant::now(),
            admission: Some(admission),
        }
    }

    /// Gives the permit back until [`Self::reacquire`].
    fn release(&mut self) {
        self.permit = None;
    }

    /// Waits for a permit again (behind the scans already waiting); false if the pool closed.
    fn reacquire(&mut self) -> bool {
        match self.runtime.block_on(self.pool.clone().acquire_owned()) {
            Ok(taken) => {
                self.permit = Some(taken);
                self.turn_started = Instant::now();
                true
            }
            Err(_) => false,
        }
    }

    /// Lets waiting scans read first once this one has read for a turn; false if the pool
    /// closed meanwhile.
    fn take_turns(&mut self) -> bool {
        if self.permit.is_none() || self.turn_started.elapsed() < SCAN_TURN {
            return true;
        }
        // A fair semaphore hands a free permit to its waiters at once: one left over means
        // nobody waits.
        if self.pool.available_permits() > 0 {
            self.turn_started = Instant::now();
            return true;
        }
        self.release();
        self.reacquire()
    }
}

/// Why a scan stops early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// The client went away: nobody reads the answer.
    Gone,
    /// The scan ran past its time limit.
    TimedOut,
}

impl StopReason {
    pub(crate) fn into_error(self, limit: Option<Duration>) -> RpcError {
        match self {
            Self::Gone => RpcError::Internal("the client went away".to_string()),
            Self::TimedOut => RpcError::Scan(format!(
                "scan aborted: the scan ran longer than {} s",
                limit.unwrap_or_default().as_secs()
            )),
        }
    }
}

/// Lets a scan start answering before it has finished.
#[derive(Debug)]
pub(crate) struct Streamer {
    head: Option<oneshot::Sender<Result<Reply, RpcError>>>,
    streamed: prometheus::IntCounter,
    /// Behind a lock because the scan's stop check, which takes turns, reads `&self`.
    permit: Mutex<Option<ScanPermit>>,
    deadline: Option<Instant>,
    time_limit: Option<Duration>,
    write_timeout: Duration,
}

impl Streamer {
    pub(crate) fn new(
        head: oneshot::Sender<Result<Reply, RpcError>>,
        streamed: prometheus::IntCounter,
        permit: ScanPermit,
        time_limit: Option<Duration>,
        write_timeout: Duration,
    ) -> Self {
        Self {
            head: Some(head),
            streamed,
            permit: Mutex::new(Some(permit)),
            deadline: time_limit.map(|limit| Instant::now() + limit),
            time_limit,
            write_timeout,
        }
    }

    /// Whether the request is gone (client disconnected), so the scan can stop early.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.head.as_ref().is_some_and(|head| head.is_closed())
    }

    /// Why the scan should stop now, if it should: the client is gone, or time is up. Called
    /// every few thousand accounts read, it also lets waiting scans take their turn.
    pub(crate) fn stop_reason(&self) -> Option<StopReason> {
        let pool_open = self
            .permit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
            .is_none_or(ScanPermit::take_turns);
        if self.is_cancelled() || !pool_open {
            return Some(StopReason::Gone);
        }
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
            .then_some(StopReason::TimedOut)
    }

    /// The error to stop the scan with, if it should stop now.
    pub(crate) fn should_stop(&self) -> Option<RpcError> {
        self.stop_reason()
            .map(|reason| reason.into_error(self.time_limit))
    }

    /// Answers now with `head`; the returned sink takes the rest of the result.
    pub(crate) fn start(&mut self, head: Vec<u8>) -> StreamSink {
        let (sender, rest) = mpsc::channel(STREAM_CHANNEL_CHUNKS);
        if let Some(head_tx) = self.head.take() {
            self.streamed.inc();
            let _ = head_tx.send(Ok(Reply::Stream { head, rest }));
        }
        let mut permit = self
            .permit
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // The first pass is over: what is left streams in small chunks.
        if let Some(permit) = permit.as_mut() {
            permit.admission = None;
        }
        StreamSink {
            sender,
            permit,
            write_timeout: self.write_timeout,
        }
    }

    /// Delivers the scan's result, unless it already answered by streaming.
    pub(crate) fn finish(mut self, result: Result<Reply, RpcError>) {
        match self.head.take() {
            Some(head) => {
                let _ = head.send(result);
            }
            None => {
                if let Err(error) = result {
                    tracing::warn!(%error, "streamed scan failed after its head was sent");
                }
            }
        }
    }
}

/// The rest of a streamed result.
#[derive(Debug)]
pub(crate) struct StreamSink {
    sender: mpsc::Sender<Chunk>,
    permit: Option<ScanPermit>,
    write_timeout: Duration,
}

impl StreamSink {
    /// Sends a chunk; false once the client is gone. While the client is slow the scan permit
    /// is given back (other scans run meanwhile) and taken again before the caller reads on; a
    /// client that takes nothing for the write timeout is cut off.
    pub(crate) fn send(&mut self, bytes: Vec<u8>) -> bool {
        let chunk = match self.sender.try_send(Ok(Bytes::from(bytes))) {
            Ok(()) => {
                return self.permit.as_mut().is_none_or(ScanPermit::take_turns);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return false,
            Err(mpsc::error::TrySendError::Full(chunk)) => chunk,
        };
        let Some(permit) = self.permit.as_mut() else {
            return self.sender.blocking_send(chunk).is_ok();
        };
        permit.release();
        let sent = permit.runtime.block_on(tokio::time::timeout(
            self.write_timeout,
            self.sender.send(chunk),
        ));
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return false,
            Err(_) => {
                tracing::debug!(timeout = ?self.write_timeout, "a client read nothing of a streamed scan; cutting it off");
                return false;
            }
        }
        permit.reacquire()
    }

    /// Cuts the response: the client sees a truncated body (the connection is closed), never
    /// a complete-looking one.
    pub(crate) fn abort(&self, why: String) {
        let chunk = match self.sender.try_send(Err(StreamAborted(why))) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
            Err(mpsc::error::TrySendError::Full(chunk)) => chunk,
        };
        match &self.permit {
            // A client that reads nothing meanwhile is cut off by the socket's write timeout.
            Some(permit) => {
                let _ = permit.runtime.block_on(tokio::time::timeout(
                    self.write_timeout,
                    self.sender.send(chunk),
                ));
            }
            None => {
                let _ = self.sender.blocking_send(chunk);
            }
        }
    }
}
