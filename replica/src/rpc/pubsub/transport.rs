//! The PubSub listener: HTTP/1.1 WebSocket upgrades served by jsonrpsee, a connection limit,
//! and a disconnect handle per connection (a client too slow for its queue is cut off alone).

use {
    super::PubSubShared,
    hyper_util::rt::{TokioIo, TokioTimer},
    jsonrpsee::{
        ConnectionId, Methods,
        server::{
            ConnectionState, HttpBody, HttpRequest, HttpResponse, IdProvider, ServerConfig,
            middleware::rpc::RpcServiceBuilder, stop_channel, ws,
        },
        types::SubscriptionId,
    },
    std::{
        convert::Infallible,
        future::Future,
        sync::{
            Arc, Mutex,
            atomic::{AtomicU64, Ordering},
        },
        time::Duration,
    },
    tokio::{
        io::{AsyncRead, AsyncWrite, ReadBuf},
        sync::{OwnedSemaphorePermit, Semaphore},
    },
    tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned},
};

/// Agave's PubSub accepts WebSocket messages of at most 4 KiB.
const MAX_REQUEST_SIZE: u32 = 4096;
/// Responses to calls (not notifications) are small: ids, booleans, getVersion.
const MAX_RESPONSE_SIZE: u32 = 64 * 1024;
/// Messages jsonrpsee buffers per connection; the outbox holds the rest.
const SINK_CAPACITY: u32 = 64;
/// Time to send the upgrade request.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Subscription ids as Agave gives them: one counter over all connections, from 0.
#[derive(Debug, Default)]
struct SequentialIds(AtomicU64);

impl IdProvider for SequentialIds {
    fn next_id(&self) -> SubscriptionId<'static> {
        SubscriptionId::Num(self.0.fetch_add(1, Ordering::Relaxed))
    }
}

fn server_config() -> ServerConfig {
    ServerConfig::builder()
        .ws_only()
        .max_request_body_size(MAX_REQUEST_SIZE)
        .max_response_body_size(MAX_RESPONSE_SIZE)
        .max_subscriptions_per_connection(u32::MAX)
        .set_message_buffer_capacity(SINK_CAPACITY)
        .set_id_provider(SequentialIds::default())
        .build()
}

pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<PubSubShared>,
    methods: Methods,
    max_connections: usize,
    cancel: CancellationToken,
) {
    let config = server_config();
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut next_connection: usize = 0;
    loop {
        let (stream, _) = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::debug!(%error, "PubSub accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            shared.metrics.refused_connections.inc();
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = next_connection;
        next_connection = next_connection.wrapping_add(1);
        let connection = Connection {
            id: connection,
            shared: shared.clone(),
            methods: methods.clone(),
            config: config.clone(),
            disconnect: cancel.child_token(),
        };
        tokio::spawn(connection.serve(stream, permit));
    }
}

/// One client connection and what serving it needs.
#[derive(Clone)]
struct Connection {
    id: usize,
    shared: Arc<PubSubShared>,
    methods: Methods,
    config: ServerConfig,
    disconnect: CancellationToken,
}

impl Connection {
    async fn serve(self, stream: tokio::net::TcpStream, permit: OwnedSemaphorePermit) {
        let permit = Arc::new(Mutex::new(Some(permit)));
        let disconnect = self.disconnect.clone();
        let io = TokioIo::new(Cuttable::new(stream, &disconnect));
        let service =
            hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let taken = permit.lock().expect("permit lock").take();
                let connection = self.clone();
                async move {
                    Ok::<_, Infallible>(match taken {
                        Some(permit) => connection.upgrade(request, permit).await,
                        None => bad_request(),
                    })
                }
            });
        let http = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HANDSHAKE_TIMEOUT)
            .keep_alive(false)
            .serve_connection(io, service)
            .with_upgrades();
        tokio::select! {
            _ = http => {}
            _ = disconnect.cancelled() => {}
        }
    }

    /// Upgrades to a WebSocket served by jsonrpsee; the connection lives until the client
    /// closes it or its outbox disconnects it.
    async fn upgrade(
        self,
        mut request: hyper::Request<hyper::body::Incoming>,
        permit: OwnedSemaphorePermit,
    ) -> HttpResponse {
        request.extensions_mut().insert(ConnectionId::from(self.id));
        let request: HttpRequest<_> = request.map(HttpBody::new);
        let (stop, server_handle) = stop_channel();
        let state = ConnectionState::new(stop, self.id as u32, permit);
        match ws::connect(
            request,
            self.config,
            self.methods,
            state,
            RpcServiceBuilder::new(),
        )
        .await
        {
            Ok((response, serve)) => {
                let outbox = self.shared.open(self.id, self.disconnect.clone());
                let shared = self.shared;
                tokio::spawn(async move {
                    tokio::select! {
                        _ = serve => {}
                        _ = outbox.disconnected().cancelled() => {}
                    }
                    drop(server_handle);
                    shared.close(outbox.connection);
                });
                response
            }
            Err(response) => response,
        }
    }
}

fn bad_request() -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::from("one WebSocket per connection\n"));
    *response.status_mut() = hyper::StatusCode::BAD_REQUEST;
    response
}

/// A socket that fails every read and write once its connection is disconnected, so a task
/// blocked writing to a client that reads nothing ends at once and the socket is closed.
struct Cuttable<S> {
    inner: S,
    read_cut: std::pin::Pin<Box<WaitForCancellationFutureOwned>>,
    write_cut: std::pin::Pin<Box<WaitForCancellationFutureOwned>>,
}

impl<S> Cuttable<S> {
    fn new(inner: S, disconnect: &CancellationToken) -> Self {
        Self {
            inner,
            read_cut: Box::pin(disconnect.clone().cancelled_owned()),
            write_cut: Box::pin(disconnect.clone().cancelled_owned()),
        }
    }
}

fn cut() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "disconnected")
}

impl<S: AsyncRead + Unpin> AsyncRead for Cuttable<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.read_cut.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(Err(cut()));
        }
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Cuttable<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.write_cut.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(Err(cut()));
        }
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.write_cut.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(Err(cut()));
        }
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
