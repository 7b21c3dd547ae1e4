//! The PubSub methods on a jsonrpsee module: the four subscriptions Agave's account-read
//! subset has, their unsubscribe methods with Agave's semantics (any id of the caller's
//! connection, `Invalid subscription id.` otherwise), and getVersion. Everything else is
//! jsonrpsee's -32601 "Method not found", as in Agave for methods it does not serve.

use {
    super::{
        PubSubShared,
        outbox::SubscriptionId,
        params::{self, Subscription},
        subscriptions::Target,
    },
    crate::rpc::{methods::NodeVersion, server::RpcError},
    jsonrpsee::{
        ConnectionId, Extensions, PendingSubscriptionSink, RpcModule,
        types::{ErrorObjectOwned, Params as RawParams, SubscriptionId as RawId},
    },
    serde_json::json,
    std::sync::Arc,
};

/// Agave's `-32603` when `--rpc-pubsub-max-active-subscriptions` are open.
const LIMIT_REACHED: &str = "Internal Error: Subscription refused. Node subscription limit reached";

type Parse = fn(crate::rpc::server::Params) -> Result<Subscription, RpcError>;

pub(crate) fn module(shared: Arc<PubSubShared>) -> RpcModule<PubSubShared> {
    let mut module = RpcModule::from_arc(shared);
    let subscriptions: [(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Parse,
    ); 4] = [
        (
            "accountSubscribe",
            "accountNotification",
            "accountUnsubscribe",
            "-accountUnsubscribe",
            params::account,
        ),
        (
            "programSubscribe",
            "programNotification",
            "programUnsubscribe",
            "-programUnsubscribe",
            params::program,
        ),
        (
            "slotSubscribe",
            "slotNotification",
            "slotUnsubscribe",
            "-slotUnsubscribe",
            |params| params::none(params).map(|()| Subscription::Slot),
        ),
        (
            "rootSubscribe",
            "rootNotification",
            "rootUnsubscribe",
            "-rootUnsubscribe",
            |params| params::none(params).map(|()| Subscription::Root),
        ),
    ];
    for (subscribe, notification, unsubscribe, internal, parse) in subscriptions {
        module
            .register_subscription_raw(
                subscribe,
                notification,
                internal,
                move |raw, pending, shared, extensions| {
                    let parsed = params::from_raw(raw.as_str()).and_then(parse);
                    shared.subscribe(parsed, pending, extensions);
                },
            )
            .expect("distinct method names");
        // jsonrpsee's own unsubscribe answers `false` for an unknown id; Agave answers an error
        // and takes any id of the connection.
        module.remove_method(internal);
        module
            .register_method(unsubscribe, |raw, shared, extensions| {
                shared.unsubscribe(&raw, extensions)
            })
            .expect("distinct method names");
    }
    let version = NodeVersion::current();
    module
        .register_method("getVersion", move |raw, _, _| {
            params::from_raw(raw.as_str())
                .and_then(params::none)
                .map(|()| json!({"solana-core": version.solana_core, "feature-set": version.feature_set}))
                .map_err(ErrorObjectOwned::from)
        })
        .expect("distinct method names");
    module
}

fn connection(extensions: &Extensions) -> usize {
    extensions
        .get::<ConnectionId>()
        .map_or(usize::MAX, |id| id.0)
}

impl PubSubShared {
    fn subscribe(
        self: &Arc<Self>,
        parsed: Result<Subscription, RpcError>,
        pending: PendingSubscriptionSink,
        extensions: &Extensions,
    ) {
        let shared = self.clone();
        let connection = connection(extensions);
        tokio::spawn(async move {
            let subscription = match parsed {
                Ok(subscription) => subscription,
                Err(error) => return pending.reject(ErrorObjectOwned::from(error)).await,
            };
            let Some(outbox) = shared.outbox(connection) else {
                return;
            };
            if shared.subscriptions.reserve().is_err() {
                let error = ErrorObjectOwned::owned(-32603, LIMIT_REACHED, None::<()>);
                return pending.reject(error).await;
            }
            let RawId::Num(id) = pending.subscription_id() else {
                shared.subscriptions.release();
                return pending
                    .reject(ErrorObjectOwned::owned(
                        -32603,
                        "Internal error",
                        None::<()>,
                    ))
                    .await;
            };
            let method = subscription.method();
            let Ok(sink) = pending.accept().await else {
                shared.subscriptions.release();
                return;
            };
            outbox.add_sink(id, sink);
            shared.subscriptions.insert(Target {
                id,
                outbox: outbox.clone(),
                subscription: Arc::new(subscription),
            });
            shared
                .metrics
                .subscriptions
                .with_label_values(&[method])
                .inc();
            // The connection may have closed while the acceptance was sent.
            if outbox.disconnected().is_cancelled() {
                shared.remove(connection, id);
            }
        });
    }

    fn unsubscribe(
        &self,
        raw: &RawParams<'_>,
        extensions: &Extensions,
    ) -> Result<bool, ErrorObjectOwned> {
        let id: SubscriptionId =
            params::from_raw(raw.as_str()).and_then(params::subscription_id)?;
        if self.remove(connection(extensions), id) {
            Ok(true)
        } else {
            Err(ErrorObjectOwned::owned(
                -32602,
                "Invalid subscription id.",
                None::<()>,
            ))
        }
    }

    /// Closes one subscription of `connection`.
    pub(super) fn remove(&self, connection: usize, id: SubscriptionId) -> bool {
        let Some(target) = self.subscriptions.remove(connection, id) else {
            return false;
        };
        target.outbox.remove_sink(id);
        self.metrics
            .subscriptions
            .with_label_values(&[target.subscription.method()])
            .dec();
        true
    }
}
