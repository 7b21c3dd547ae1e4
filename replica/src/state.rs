//! The replica's shared state. [`ReplicaState`] is one store with its confirmed overlay;
//! [`NodeStatus`] is what the node knows beyond one store (its upstream, health inputs,
//! bootstrap progress, verification, metrics, the change notifier), so it survives a new
//! bootstrap; [`ServedState`] is the store that JSON-RPC and downstream replicas read now, swapped
//! atomically when a new bootstrap completes.

use {
    crate::{
        bank::{BankView, overlay::Overlay},
        feed::{FEED_CAPACITY, FeedSender, SlotEvent},
        metrics::{GaugeValues, ReplicaMetrics},
        store::{AccountsStore, BankFields, StoreError},
    },
    arc_swap::ArcSwap,
    serde::Serialize,
    solana_clock::Slot,
    solana_hash::Hash,
    solana_pubkey::Pubkey,
    std::{
        sync::{Arc, Mutex, RwLock},
        time::Instant,
    },
};

/// Commitment levels as clients send them; `processed` is answered at `confirmed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Commitment {
    Processed,
    Confirmed,
    #[default]
    Finalized,
}

/// What the node knows of its upstream, for health and `getReplicaStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamStatus {
    /// How operators named it, e.g. `127.0.0.1:8100=<pubkey>`.
    pub name: String,
    /// The newest confirmed slot the upstream has reported.
    pub confirmed_slot: Slot,
}

/// Where the node is in a bootstrap.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum BootstrapStatus {
    /// Serving its store; no bootstrap under way.
    #[default]
    Idle,
    /// Looking for (and downloading) a newer snapshot chain.
    Fetching { reason: String },
    /// Loading a snapshot chain beside the store it serves.
    Loading {
        slot: Slot,
        /// Fraction of the archive read, 0 to 1.
        progress: f64,
    },
    /// The last attempt failed; the node keeps serving its store and tries again.
    Failed { reason: String },
}

/// The outcome of comparing this replica's state with the validator's own snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// The newest slot whose snapshot hash matched this replica's.
    pub last_verified_slot: Option<Slot>,
    /// A snapshot whose hash this replica's state at its slot does not match.
    pub mismatch: Option<String>,
}

/// What the node knows beyond one store; shared by every store it serves in turn.
#[derive(Debug)]
pub struct NodeStatus {
    identity: Pubkey,
    registry: prometheus::Registry,
    metrics: ReplicaMetrics,
    /// Bumped on every change of the overlay or the root (and on a new store): downstream
    /// long-polls and PubSub wait on it.
    changes: tokio::sync::watch::Sender<u64>,
    upstream: RwLock<Option<UpstreamStatus>>,
    /// When an upstream last answered.
    upstream_contact: Mutex<Option<Instant>>,
    /// The newest confirmed slot served and when it was first served.
    confirmed: Mutex<Option<(Slot, Instant)>>,
    /// A cluster reference slot (a reference RPC node, or the newest snapshot a tracker knows)
    /// and when it was read.
    reference: Mutex<Option<(Slot, Instant)>>,
    bootstrap: RwLock<BootstrapStatus>,
    verification: RwLock<Verification>,
    /// Slots as they are confirmed and rooted, for PubSub.
    feed: FeedSender,
    fleet: crate::fleet::Fleet,
}

impl NodeStatus {
    pub fn new(identity: Pubkey) -> Self {
        let registry = prometheus::Registry::new();
        let metrics = ReplicaMetrics::new(&registry);
        Self {
            identity,
            registry,
            metrics,
            changes: tokio::sync::watch::Sender::new(0),
            upstream: RwLock::default(),
            upstream_contact: Mutex::default(),
            confirmed: Mutex::default(),
            reference: Mutex::default(),
            bootstrap: RwLock::default(),
            verification: RwLock::default(),
            feed: tokio::sync::broadcast::Sender::new(FEED_CAPACITY),
            fleet: crate::fleet::Fleet::default(),
        }
    }

    /// Fleet consistency (off unless enabled).
    pub fn fleet(&self) -> &crate::fleet::Fleet {
        &self.fleet
    }

    /// Publishes slot events in order (dropped when nobody listens).
    pub fn publish(&self, events: impl IntoIterator<Item = SlotEvent>) {
        for event in events {
            let _ = self.feed.send(Arc::new(event));
        }
    }

    pub fn subscribe_feed(&self) -> tokio::sync::broadcast::Receiver<Arc<SlotEvent>> {
        self.feed.subscribe()
    }

    pub fn identity(&self) -> &Pubkey {
        &self.identity
    }

    /// The node's Prometheus registry (replica, RPC and replication metrics).
    pub fn registry(&self) -> &prometheus::Registry {
        &self.registry
    }

    pub fn metrics(&self) -> &ReplicaMetrics {
        &self.metrics
    }

    pub fn notify_change(&self) {
        self.changes.send_modify(|seq| *seq += 1);
    }

    pub fn change_seq(&self) -> u64 {
        *self.changes.borrow()
    }

    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub fn upstream(&self) -> Option<UpstreamStatus> {
        self.upstream.read().expect("upstream lock").clone()
    }

    /// Records what the upstream reported; `Some` also counts as contact.
    pub fn set_upstream(&self, status: Option<UpstreamStatus>) {
        *self.upstream.write().expect("upstream lock") = status;
    }

    /// An upstream answered now.
    pub fn upstream_answered(&self) {
        *self.upstream_contact.lock().expect("contact lock") = Some(Instant::now());
    }

    pub fn upstream_contact(&self) -> Option<Instant> {
        *self.upstream_contact.lock().expect("contact lock")
    }

    /// Notes the confirmed slot being served; remembers when it last advanced.
    pub fn observe_confirmed(&self, slot: Slot) {
        let mut confirmed = self.confirmed.lock().expect("confirmed lock");
        if confirmed.is_none_or(|(served, _)| slot > served) {
            *confirmed = Some((slot, Instant::now()));
        }
    }

    /// The newest confirmed slot served and when it arrived.
    pub fn confirmed_since(&self) -> Option<(Slot, Instant)> {
        *self.confirmed.lock().expect("confirmed lock")
    }

    pub fn set_reference(&self, slot: Slot) {
        *self.reference.lock().expect("reference lock") = Some((slot, Instant::now()));
    }

    pub fn reference(&self) -> Option<(Slot, Instant)> {
        *self.reference.lock().expect("reference lock")
    }

    pub fn bootstrap(&self) -> BootstrapStatus {
        self.bootstrap.read().expect("bootstrap lock").clone()
    }

    pub fn set_bootstrap(&self, status: BootstrapStatus) {
        *self.bootstrap.write().expect("bootstrap lock") = status;
    }

    pub fn verification(&self) -> Verification {
        self.verification.read().expect("verification lock").clone()
    }

    pub fn update_verification(&self, update: impl FnOnce(&mut Verification)) {
        update(&mut self.verification.write().expect("verification lock"));
    }
}

#[derive(Debug)]
pub struct ReplicaState {
    store: Arc<AccountsStore>,
    overlay: RwLock<Overlay>,
    node: Arc<NodeStatus>,
    genesis_hash: Option<Hash>,
    bank_fields: Option<BankFields>,
    /// Set when the upstream can no longer bring this replica forward (retention passed, or the
    /// state diverged): the store must be bootstrapped again from a newer snapshot.
    needs_bootstrap: RwLock<Option<String>>,
}

impl ReplicaState {
    /// A state with a node status of its own (tests, tools).
    pub fn new(
        store: Arc<AccountsStore>,
        identity: Pubkey,
        genesis_hash: Option<Hash>,
    ) -> Result<Self, StoreError> {
        Self::with_node(store, Arc::new(NodeStatus::new(identity)), genesis_hash)
    }

    /// A state of `node`, which keeps its status across the stores it serves.
    pub fn with_node(
        store: Arc<AccountsStore>,
        node: Arc<NodeStatus>,
        genesis_hash: Option<Hash>,
    ) -> Result<Self, StoreError> {
        let bank_fields = store.bank_fields()?;
        let state = Self {
            store,
            overlay: RwLock::default(),
            node,
            genesis_hash,
            bank_fields,
            needs_bootstrap: RwLock::default(),
        };
        if let Some(slot) = state.confirmed_slot() {
            state.node.observe_confirmed(slot);
        }
        Ok(state)
    }

    pub fn store(&self) -> &Arc<AccountsStore> {
        &self.store
    }

    pub fn node(&self) -> &Arc<NodeStatus> {
        &self.node
    }

    pub fn identity(&self) -> &Pubkey {
        self.node.identity()
    }

    pub fn genesis_hash(&self) -> Option<&Hash> {
        self.genesis_hash.as_ref()
    }

    /// Cluster parameters from the bootstrap snapshot's manifest.
    pub fn bank_fields(&self) -> Option<&BankFields> {
        self.bank_fields.as_ref()
    }

    pub fn overlay(&self) -> &RwLock<Overlay> {
        &self.overlay
    }

    pub fn root_slot(&self) -> Option<Slot> {
        self.store.root_slot()
    }

    /// The slot the `confirmed` view reads.
    pub fn confirmed_slot(&self) -> Option<Slot> {
        let overlay = self.overlay.read().expect("overlay lock");
        let root = self.root_slot()?;
        Some(
            overlay
                .confirmed_tip()
                .into_iter()
                .chain(overlay.rooted_tip())
                .map(|(slot, _)| slot)
                .fold(root, Slot::max),
        )
    }

    /// The slot the `finalized` view reads: the newest rooted slot, committed or still in the
    /// overlay.
    pub fn finalized_slot(&self) -> Option<Slot> {
        let overlay = self.overlay.read().expect("overlay lock");
        let root = self.root_slot()?;
        Some(
            overlay
                .rooted_tip()
                .map_or(root, |(slot, _)| slot.max(root)),
        )
    }

    pub fn registry(&self) -> &prometheus::Registry {
        self.node.registry()
    }

    /// What the gauges show now, with `health` as the health check reports it.
    pub fn gauge_values(&self, health: i64) -> GaugeValues {
        let root = self.root_slot().unwrap_or_default();
        let (sst_bytes, memtable_bytes) = self.store.size_bytes();
        GaugeValues {
            root,
            confirmed: self.confirmed_slot().unwrap_or(root),
            upstream_confirmed: self
                .upstream()
                .map(|upstream| upstream.confirmed_slot)
                .unwrap_or_default(),
            overlay_slots: self.overlay.read().expect("overlay lock").len(),
            accounts: self.store.root().map(|root| root.accounts),
            sst_bytes,
            memtable_bytes,
            needs_bootstrap: self.needs_bootstrap().is_some(),
            health,
            last_verified_slot: self.node.verification().last_verified_slot,
        }
    }

    pub fn metrics(&self) -> &ReplicaMetrics {
        self.node.metrics()
    }

    /// Announces a change of the overlay or the root.
    pub fn notify_change(&self) {
        if let Some(slot) = self.confirmed_slot() {
            self.node.observe_confirmed(slot);
        }
        self.node.notify_change();
    }

    pub fn change_seq(&self) -> u64 {
        self.node.change_seq()
    }

    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.node.subscribe_changes()
    }

    pub fn needs_bootstrap(&self) -> Option<String> {
        self.needs_bootstrap.read().expect("bootstrap lock").clone()
    }

    pub fn set_needs_bootstrap(&self, reason: Option<String>) {
        *self.needs_bootstrap.write().expect("bootstrap lock") = reason;
    }

    pub fn upstream(&self) -> Option<UpstreamStatus> {
        self.node.upstream()
    }

    pub fn set_upstream(&self, status: Option<UpstreamStatus>) {
        self.node.set_upstream(status);
    }

    /// The view a commitment reads: `finalized` the rooted tip, `confirmed` the confirmed tip
    /// (or the rooted one when newer), each over the store's root; without a complete chain,
    /// the root.
    pub fn bank(&self, commitment: Commitment) -> Result<BankView<'_>, StoreError> {
        // The root is read under the overlay lock: a commit prunes what it committed only
        // under the write lock, so the chain down to the root read here is whole.
        let overlay = self.overlay.read().expect("overlay lock");
        let root = self.store.root_slot().unwrap_or_default();
        let rooted = overlay.rooted_tip();
        let tip = match commitment {
            Commitment::Finalized => rooted,
            // Never behind finalized (a rooted slot may arrive before it was confirmed).
            Commitment::Confirmed | Commitment::Processed => overlay
                .confirmed_tip()
                .into_iter()
                .chain(rooted)
                .max_by_key(|tip| tip.0),
        };
        let chain = tip
            .filter(|tip| tip.0 > root)
            .and_then(|tip| overlay.chain(tip, root))
            .unwrap_or_default();
        drop(overlay);
        BankView::new(&self.store, chain)
    }
}

/// The store JSON-RPC and downstream replicas read now. A new bootstrap loads beside it and
/// replaces it in one step; readers that already hold the old one finish on it.
#[derive(Debug)]
pub struct ServedState {
    current: ArcSwap<ReplicaState>,
}

impl ServedState {
    pub fn new(state: Arc<ReplicaState>) -> Self {
        Self {
            current: ArcSwap::new(state),
        }
    }

    /// The state to read now (held for one request or one batch).
    pub fn load(&self) -> Arc<ReplicaState> {
        self.current.load_full()
    }

    /// Serves `state` from now on; returns the one it replaces.
    pub fn replace(&self, state: Arc<ReplicaState>) -> Arc<ReplicaState> {
        let node = state.node().clone();
        let old = self.current.swap(state);
        node.notify_change();
        old
    }
}
