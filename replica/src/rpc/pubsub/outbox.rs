//! One WebSocket connection's notification queue, bounded in items and bytes (per connection
//! and over all connections), and the task that moves it into the connection's jsonrpsee
//! sinks. A connection whose queue overflows is disconnected: it never slows the feed or other
//! clients.

use {
    super::metrics::PubSubMetrics,
    jsonrpsee::{SubscriptionSink, core::server::SubscriptionMessage},
    serde_json::value::RawValue,
    std::{
        collections::{HashMap, VecDeque},
        sync::{
            Arc, Mutex,
            atomic::{AtomicUsize, Ordering},
        },
        time::Instant,
    },
    tokio::sync::Notify,
    tokio_util::sync::CancellationToken,
};

/// A subscription's id, unique over all connections.
pub(crate) type SubscriptionId = u64;

/// Queue bounds.
#[derive(Debug, Clone)]
pub(crate) struct QueueLimits {
    pub(crate) items: usize,
    pub(crate) bytes: usize,
    /// Bytes queued over all connections, and their bound.
    pub(crate) total: Arc<AtomicUsize>,
    pub(crate) max_total: usize,
}

/// A notification's `result`, shared by every subscription it goes to.
#[derive(Debug)]
pub(crate) struct Notification {
    pub(crate) result: Box<str>,
    /// When its slot entered the view it announces.
    pub(crate) at: Instant,
    /// The notification method (a metric label).
    pub(crate) method: &'static str,
}

#[derive(Debug)]
struct Queued {
    subscription: SubscriptionId,
    notification: Arc<Notification>,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Queued>,
    bytes: usize,
    sinks: HashMap<SubscriptionId, SubscriptionSink>,
}

#[derive(Debug)]
pub(crate) struct Outbox {
    pub(crate) connection: usize,
    state: Mutex<State>,
    wake: Notify,
    disconnect: CancellationToken,
    limits: QueueLimits,
    metrics: PubSubMetrics,
}

impl Outbox {
    pub(crate) fn new(
        connection: usize,
        disconnect: CancellationToken,
        limits: QueueLimits,
        metrics: PubSubMetrics,
    ) -> Self {
        Self {
            connection,
            state: Mutex::default(),
            wake: Notify::new(),
            disconnect,
            limits,
            metrics,
        }
    }

    pub(crate) fn disconnected(&self) -> &CancellationToken {
        &self.disconnect
    }

    pub(crate) fn add_sink(&self, id: SubscriptionId, sink: SubscriptionSink) {
        self.state
            .lock()
            .expect("outbox lock")
            .sinks
            .insert(id, sink);
    }

    /// Drops a subscription's sink; its queued notifications are skipped.
    pub(crate) fn remove_sink(&self, id: SubscriptionId) {
        self.state.lock().expect("outbox lock").sinks.remove(&id);
    }

    /// The ids of the subscriptions open on this connection.
    pub(crate) fn subscriptions(&self) -> Vec<SubscriptionId> {
        let state = self.state.lock().expect("outbox lock");
        state.sinks.keys().copied().collect()
    }

    /// Queues a notification; a connection that is too far behind is disconnected instead.
    pub(crate) fn push(&self, subscription: SubscriptionId, notification: &Arc<Notification>) {
        if self.disconnect.is_cancelled() {
            return;
        }
        let size = notification.result.len();
        let mut state = self.state.lock().expect("outbox lock");
        let total = self.limits.total.load(Ordering::Relaxed);
        let over = state.queue.len() >= self.limits.items
            || state.bytes + size > self.limits.bytes
            || (total + size > self.limits.max_total && !state.queue.is_empty());
        if over {
            let (items, bytes) = (state.queue.len(), state.bytes);
            self.clear(&mut state);
            drop(state);
            tracing::warn!(
                connection = self.connection,
                queued_items = items,
                queued_bytes = bytes,
                "PubSub client cannot keep up; disconnecting it"
            );
            self.metrics.slow_disconnects.inc();
            self.disconnect.cancel();
            return;
        }
        state.bytes += size;
        self.limits.total.fetch_add(size, Ordering::Relaxed);
        self.metrics.queued_bytes.add(size as i64);
        self.metrics.queued.inc();
        state.queue.push_back(Queued {
            subscription,
            notification: notification.clone(),
        });
        drop(state);
        self.wake.notify_one();
    }

    fn clear(&self, state: &mut State) {
        self.limits.total.fetch_sub(state.bytes, Ordering::Relaxed);
        self.metrics.queued_bytes.sub(state.bytes as i64);
        self.metrics.queued.sub(state.queue.len() as i64);
        state.bytes = 0;
        state.queue.clear();
    }

    /// Empties the queue and drops the sinks (the connection is gone).
    pub(crate) fn close(&self) {
        let mut state = self.state.lock().expect("outbox lock");
        self.clear(&mut state);
        state.sinks.clear();
    }

    fn pop(&self) -> Option<(Option<SubscriptionSink>, Arc<Notification>)> {
        let mut state = self.state.lock().expect("outbox lock");
        let queued = state.queue.pop_front()?;
        let size = queued.notification.result.len();
        state.bytes -= size;
        self.limits.total.fetch_sub(size, Ordering::Relaxed);
        self.metrics.queued_bytes.sub(size as i64);
        self.metrics.queued.dec();
        let sink = state.sinks.get(&queued.subscription).cloned();
        Some((sink, queued.notification))
    }

    /// Moves queued notifications into the connection's sinks until it is disconnected.
    pub(crate) async fn drain(self: Arc<Self>) {
        loop {
            let Some((sink, notification)) = self.pop() else {
                tokio::select! {
                    _ = self.disconnect.cancelled() => return,
                    _ = self.wake.notified() => continue,
                }
            };
            let Some(sink) = sink else { continue };
            let Ok(raw) = RawValue::from_string(notification.result.to_string()) else {
                continue;
            };
            let sent = tokio::select! {
                _ = self.disconnect.cancelled() => return,
                sent = sink.send(SubscriptionMessage::from(raw)) => sent,
            };
            if sent.is_ok() {
                self.metrics
                    .notifications
                    .with_label_values(&[notification.method])
                    .inc();
                self.metrics
                    .latency
                    .observe(notification.at.elapsed().as_secs_f64());
            }
        }
    }
}
