//! What a method answers (a serialized result, or one whose tail is still being produced) and
//! how answers become an HTTP body: buffered when every part is ready, streamed otherwise.

use {
    super::error::RpcError,
    bytes::Bytes,
    futures::{Stream, StreamExt, stream},
    tokio::sync::{mpsc, oneshot},
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

/// A response body as parts; mostly one buffer.
#[derive(Debug, Default)]
pub(crate) struct ResponseBody {
    parts: Vec<BodyPart>,
}

impl ResponseBody {
    /// The whole body, when nothing is streamed.
    pub(crate) fn into_buffered(mut self) -> Result<Bytes, Self> {
        match self.parts.as_slice() {
            [] => Ok(Bytes::new()),
            [BodyPart::Bytes(_)] => match self.parts.pop() {
                Some(BodyPart::Bytes(bytes)) => Ok(bytes),
                _ => unreachable!("matched a single buffered part"),
            },
            _ => Err(self),
        }
    }

    /// The body as a stream of chunks.
    pub(crate) fn into_stream(self) -> impl Stream<Item = Chunk> + Send + 'static {
        stream::iter(self.parts).flat_map(|part| match part {
            BodyPart::Bytes(bytes) => stream::once(async move { Ok(bytes) }).boxed(),
            BodyPart::Stream(receiver) => stream::unfold(receiver, |mut receiver| async move {
                receiver.recv().await.map(|chunk| (chunk, receiver))
            })
            .boxed(),
        })
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
        ResponseBody { parts: self.parts }
    }
}

/// Lets a scan start answering before it has finished.
#[derive(Debug)]
pub(crate) struct Streamer {
    head: Option<oneshot::Sender<Result<Reply, RpcError>>>,
    streamed: prometheus::IntCounter,
}

impl Streamer {
    pub(crate) fn new(
        head: oneshot::Sender<Result<Reply, RpcError>>,
        streamed: prometheus::IntCounter,
    ) -> Self {
        Self {
            head: Some(head),
            streamed,
        }
    }

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
