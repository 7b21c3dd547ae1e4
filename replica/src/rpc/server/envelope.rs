//! The JSON-RPC 2.0 envelope exactly as Agave's jsonrpc-core 18 reads and writes it: the
//! request types below carry jsonrpc-core's serde attributes, so odd requests (unknown fields,
//! bad ids, a non-array `params`, a missing `jsonrpc`) fail the same way; responses put
//! `result`/`error` before `id` and leave `jsonrpc` out when the request had none.

use {
    super::{
        Server,
        error::RpcError,
        reply::{BodyPart, BodyWriter, Reply, ResponseBody},
    },
    futures::StreamExt,
    jsonrpsee::types::ErrorObjectOwned,
    serde::{
        Deserialize, Deserializer,
        de::{self, Visitor},
    },
    serde_json::{Map, Value, value::RawValue},
    std::{fmt, sync::Arc, time::Instant},
};

/// The protocol version; only "2.0" deserializes.
#[derive(Debug, PartialEq, Clone, Copy, Eq)]
pub(crate) enum Version {
    V2,
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Version, D::Error> {
        deserializer.deserialize_identifier(VersionVisitor)
    }
}

struct VersionVisitor;

impl Visitor<'_> for VersionVisitor {
    type Value = Version;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        match value {
            "2.0" => Ok(Version::V2),
            _ => Err(de::Error::custom("invalid version")),
        }
    }
}

/// A request id: u64, string or null, echoed with its type.
#[derive(Debug, PartialEq, Clone, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(untagged)]
pub(crate) enum Id {
    #[default]
    Null,
    Num(u64),
    Str(String),
}

impl Id {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Id::Null => out.extend_from_slice(b"null"),
            Id::Num(number) => super::json::write_u64(out, *number),
            Id::Str(text) => super::json::write_str(out, text),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Id::Null => Value::Null,
            Id::Num(number) => Value::from(*number),
            Id::Str(text) => Value::from(text.as_str()),
        }
    }
}

/// Call parameters. The variant names matter: their Debug form is the `data` of
/// "No parameters were expected".
#[derive(Debug, PartialEq, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(untagged)]
pub(crate) enum Params {
    #[default]
    None,
    Array(Vec<Value>),
    Map(Map<String, Value>),
}

impl From<Params> for Value {
    fn from(params: Params) -> Value {
        match params {
            Params::Array(values) => Value::Array(values),
            Params::Map(map) => Value::Object(map),
            Params::None => Value::Null,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MethodCall {
    pub(crate) jsonrpc: Option<Version>,
    pub(crate) method: String,
    #[serde(default)]
    pub(crate) params: Params,
    pub(crate) id: Id,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Notification {
    #[allow(dead_code)]
    pub(crate) jsonrpc: Option<Version>,
    #[allow(dead_code)]
    pub(crate) method: String,
    #[serde(default)]
    #[allow(dead_code)]
    pub(crate) params: Params,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Call {
    MethodCall(MethodCall),
    #[allow(dead_code)]
    Notification(Notification),
    Invalid {
        #[serde(default)]
        id: Id,
    },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Request {
    Single(Call),
    Batch(Vec<Call>),
}

/// One call's outcome.
#[derive(Debug)]
pub(crate) enum Outcome {
    Result(Reply),
    Error(ErrorObjectOwned),
    /// A whole response object from the fallback node, written as it came.
    Forwarded(Box<RawValue>),
}

#[derive(Debug)]
pub(crate) struct Output {
    /// Whether `"jsonrpc":"2.0"` is written (jsonrpc-core echoes the request's version).
    jsonrpc: bool,
    outcome: Outcome,
    id: Id,
}

impl Output {
    fn failure(jsonrpc: bool, error: RpcError, id: Id) -> Self {
        Self {
            jsonrpc,
            outcome: Outcome::Error(error.into()),
            id,
        }
    }

    fn write(self, body: &mut BodyWriter) {
        let out = body.buffer();
        match self.outcome {
            Outcome::Forwarded(raw) => out.extend_from_slice(raw.get().as_bytes()),
            Outcome::Result(reply) => {
                out.extend_from_slice(if self.jsonrpc {
                    b"{\"jsonrpc\":\"2.0\",\"result\":"
                } else {
                    b"{\"result\":"
                });
                body.reply(reply);
                let out = body.buffer();
                out.extend_from_slice(b",\"id\":");
                self.id.write(out);
                out.push(b'}');
            }
            Outcome::Error(error) => {
                out.extend_from_slice(if self.jsonrpc {
                    b"{\"jsonrpc\":\"2.0\",\"error\":"
                } else {
                    b"{\"error\":"
                });
                serde_json::to_writer(&mut *out, &error).expect("error objects serialize");
                out.extend_from_slice(b",\"id\":");
                self.id.write(out);
                out.push(b'}');
            }
        }
    }
}

/// Answers a request body (valid UTF-8): the response body, empty when nothing is answered
/// (notifications only, or an empty batch).
pub(crate) async fn handle<C: Send + Sync + 'static>(
    server: &Arc<Server<C>>,
    body: &str,
) -> ResponseBody {
    let mut writer = BodyWriter::default();
    let request = match serde_json::from_str::<Request>(body) {
        Ok(request) => request,
        Err(_) => {
            Output::failure(true, RpcError::Parse, Id::Null).write(&mut writer);
            writer.extend(b"\n");
            return writer.finish();
        }
    };
    match request {
        Request::Single(call) => {
            if let Some(output) = call_output(server, call).await {
                output.write(&mut writer);
                writer.extend(b"\n");
            }
        }
        Request::Batch(calls) => return batch(server.clone(), calls).await,
    }
    writer.finish()
}

/// Calls of one batch evaluated at once: a batch holds at most this many scan permits, so one
/// client cannot take every scan slot.
const BATCH_CONCURRENCY: usize = 2;
/// A batch answer is buffered (one body with its length) up to this size, then streamed.
const BATCH_BUFFER_BYTES: usize = 1 << 20;

/// A batch: calls evaluated in order, at most [`BATCH_CONCURRENCY`] at a time, each output
/// written as soon as those before it are; past [`BATCH_BUFFER_BYTES`] the answer is streamed,
/// so a client that stops reading stops the evaluation and holds little memory.
async fn batch<C: Send + Sync + 'static>(server: Arc<Server<C>>, calls: Vec<Call>) -> ResponseBody {
    let mut outputs = futures::stream::iter(calls)
        .map(move |call| {
            let server = server.clone();
            async move { call_output(&server, call).await }
        })
        .buffered(BATCH_CONCURRENCY)
        .filter_map(futures::future::ready)
        .boxed();
    let mut buffered: Vec<u8> = Vec::new();
    let mut first = true;
    loop {
        let Some(output) = outputs.next().await else {
            if !first {
                buffered.extend_from_slice(b"]\n");
            }
            return ResponseBody::Parts(if buffered.is_empty() {
                Vec::new()
            } else {
                vec![BodyPart::Bytes(buffered.into())]
            });
        };
        let mut writer = BodyWriter::default();
        writer.extend(if first { b"[" } else { b"," });
        first = false;
        output.write(&mut writer);
        match writer.finish().into_buffered() {
            Ok(bytes) if buffered.len() + bytes.len() <= BATCH_BUFFER_BYTES => {
                buffered.extend_from_slice(&bytes);
            }
            Ok(bytes) => {
                return streamed_batch(
                    buffered,
                    ResponseBody::Parts(vec![BodyPart::Bytes(bytes)]),
                    outputs,
                );
            }
            Err(body) => return streamed_batch(buffered, body, outputs),
        }
    }
}

/// The rest of a batch as a stream: what was buffered, the output that outgrew it, then each
/// later output as it is produced.
fn streamed_batch(
    buffered: Vec<u8>,
    current: ResponseBody,
    rest: futures::stream::BoxStream<'static, Output>,
) -> ResponseBody {
    let later = rest.flat_map(|output| {
        let mut writer = BodyWriter::default();
        writer.extend(b",");
        output.write(&mut writer);
        writer.finish().into_stream()
    });
    let head = futures::stream::once(async move { Ok(bytes::Bytes::from(buffered)) });
    let tail = futures::stream::once(async { Ok(bytes::Bytes::from_static(b"]\n")) });
    ResponseBody::Stream(
        head.chain(current.into_stream())
            .chain(later)
            .chain(tail)
            .boxed(),
    )
}

async fn call_output<C: Send + Sync + 'static>(
    server: &Arc<Server<C>>,
    call: Call,
) -> Option<Output> {
    match call {
        Call::MethodCall(call) => Some(method_output(server, call).await),
        // Agave registers no notification handlers: nothing runs, nothing is answered.
        Call::Notification(_) => None,
        Call::Invalid { id } => Some(Output::failure(true, RpcError::InvalidRequest, id)),
    }
}

async fn method_output<C: Send + Sync + 'static>(
    server: &Arc<Server<C>>,
    call: MethodCall,
) -> Output {
    let MethodCall {
        jsonrpc,
        method,
        params,
        id,
    } = call;
    if jsonrpc.is_none() {
        return Output::failure(false, RpcError::UnsupportedVersion, id);
    }
    let Some((name, handler)) = server.registry.method(&method) else {
        if let Some(fallback) = server.fallback_for(&method) {
            server
                .metrics
                .requests
                .with_label_values(&["fallback"])
                .inc();
            let outcome = fallback.forward(&method, params, &id.to_value()).await;
            return match outcome {
                Ok(raw) => Output {
                    jsonrpc: true,
                    outcome: Outcome::Forwarded(raw),
                    id,
                },
                Err(error) => Output::failure(true, error, id),
            };
        }
        server
            .metrics
            .requests
            .with_label_values(&["unknown"])
            .inc();
        return Output::failure(true, RpcError::MethodNotFound, id);
    };
    let started = Instant::now();
    server.metrics.requests.with_label_values(&[name]).inc();
    let result = handler(server.app.clone(), params).await;
    server
        .metrics
        .duration
        .with_label_values(&[name])
        .observe(started.elapsed().as_secs_f64());
    match result {
        Ok(reply) => Output {
            jsonrpc: true,
            outcome: Outcome::Result(reply),
            id,
        },
        Err(error) => {
            server
                .metrics
                .errors
                .with_label_values(&[name, &error.code().to_string()])
                .inc();
            Output::failure(true, error, id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Request, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn envelope_parses_like_jsonrpc_core() {
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","id":1,"method":"getSlot"}"#).unwrap(),
            Request::Single(Call::MethodCall(MethodCall { id: Id::Num(1), .. }))
        ));
        // No id: a notification.
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","method":"getSlot"}"#).unwrap(),
            Request::Single(Call::Notification(_))
        ));
        // Unknown field, wrong version string, non-array params: invalid, id kept.
        for text in [
            r#"{"jsonrpc":"2.0","id":"x","method":"getSlot","extra":1}"#,
            r#"{"jsonrpc":"1.0","id":"x","method":"getSlot"}"#,
            r#"{"jsonrpc":"2.0","id":"x","method":"getSlot","params":5}"#,
            r#"{"jsonrpc":"2.0","id":"x"}"#,
        ] {
            match parse(text).unwrap() {
                Request::Single(Call::Invalid { id }) => assert_eq!(id, Id::Str("x".into())),
                other => panic!("{text}: {other:?}"),
            }
        }
        // Missing jsonrpc is a call without a version.
        assert!(matches!(
            parse(r#"{"id":1,"method":"getSlot"}"#).unwrap(),
            Request::Single(Call::MethodCall(MethodCall { jsonrpc: None, .. }))
        ));
        // Ids that are not u64, string or null fail the whole request.
        for text in [
            r#"{"jsonrpc":"2.0","id":-1,"method":"getSlot"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"getSlot"}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"getSlot"},5]"#,
            "{not json",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        assert!(matches!(parse("[]").unwrap(), Request::Batch(calls) if calls.is_empty()));
        assert_eq!(
            format!("{:?}", serde_json::from_str::<Params>(r#"[{}]"#).unwrap()),
            "Array([Object {}])"
        );
    }
}
