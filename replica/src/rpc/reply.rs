//! What a method answers (a serialized result, or one whose tail is still being produced) and
//! how answers become an HTTP body: buffered when every part is ready, streamed otherwise.

use {
    bytes::Bytes,
    futures::{Stream, StreamExt, stream},
    tokio::sync::mpsc,
};

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
