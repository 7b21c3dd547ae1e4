//! The server layer: HTTP transport, the JSON-RPC envelope, parameter binding, the method
//! registry, replies (buffered or streamed), errors, metrics, the fallback forwarder and the
//! bounded pools that run blocking work. It never imports a method: the method layer fills a
//! [`Registry`] over its own context `C` and hands it in.

pub(crate) mod config;
pub(crate) mod envelope;
pub(crate) mod error;
pub(crate) mod fallback;
pub(crate) mod http;
pub(crate) mod json;
pub(crate) mod listener;
pub(crate) mod metrics;
pub(crate) mod params;
pub(crate) mod pool;
pub(crate) mod registry;
pub(crate) mod reply;

pub(crate) use {
    config::RpcConfig, envelope::Params, error::RpcError, registry::Registry, reply::Reply,
};
use {fallback::Fallback, metrics::RpcMetrics, std::sync::Arc};

/// What the HTTP handlers see: the registry, the method layer's context, and the server's own
/// settings and metrics.
#[derive(Debug)]
pub(crate) struct Server<C> {
    pub(crate) registry: Registry<C>,
    pub(crate) app: Arc<C>,
    pub(crate) config: RpcConfig,
    pub(crate) metrics: RpcMetrics,
    pub(crate) fallback: Option<Fallback>,
}

impl<C> Server<C> {
    /// The fallback node for `method`, unless the registry keeps it from being forwarded.
    pub(crate) fn fallback_for(&self, method: &str) -> Option<&Fallback> {
        if !self.registry.forwards(method) {
            return None;
        }
        self.fallback.as_ref()
    }
}
