//! The replica's shared state: the store, the confirmed overlay, and what the node knows of its
//! upstream. Readers pick a bank view by commitment; the sync task updates the overlay.

use {
    crate::{
        bank::{BankView, overlay::Overlay},
        store::{AccountsStore, BankFields, StoreError},
    },
    solana_clock::Slot,
    solana_hash::Hash,
    solana_pubkey::Pubkey,
    std::sync::{Arc, RwLock},
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

#[derive(Debug)]
pub struct ReplicaState {
    store: Arc<AccountsStore>,
    overlay: RwLock<Overlay>,
    upstream: RwLock<Option<UpstreamStatus>>,
    identity: Pubkey,
    genesis_hash: Option<Hash>,
    bank_fields: Option<BankFields>,
    /// Bumped on every change of the overlay or the root: downstream long-polls wait on it.
    changes: tokio::sync::watch::Sender<u64>,
    /// Set when the upstream can no longer bring this replica forward (retention passed, or the
    /// state diverged): the store must be bootstrapped again from a newer snapshot.
    needs_bootstrap: RwLock<Option<String>>,
    registry: prometheus::Registry,
    metrics: crate::metrics::ReplicaMetrics,
}

impl ReplicaState {
    pub fn new(
        store: Arc<AccountsStore>,
        identity: Pubkey,
        genesis_hash: Option<Hash>,
    ) -> Result<Self, StoreError> {
        let bank_fields = store.bank_fields()?;
        let registry = prometheus::Registry::new();
        let metrics = crate::metrics::ReplicaMetrics::new(&registry);
        Ok(Self {
            store,
            overlay: RwLock::default(),
            upstream: RwLock::default(),
            identity,
            genesis_hash,
            bank_fields,
            changes: tokio::sync::watch::Sender::new(0),
            needs_bootstrap: RwLock::default(),
            registry,
            metrics,
        })
    }

    pub fn store(&self) -> &Arc<AccountsStore> {
        &self.store
    }

    pub fn identity(&self) -> &Pubkey {
        &self.identity
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
        let root = self.root_slot()?;
        let tip = self.overlay.read().expect("overlay lock").confirmed_tip();
        Some(tip.map_or(root, |(slot, _)| slot.max(root)))
    }

    /// The node's Prometheus registry (replica, RPC and replication metrics).
    pub fn registry(&self) -> &prometheus::Registry {
        &self.registry
    }

    pub fn metrics(&self) -> &crate::metrics::ReplicaMetrics {
        &self.metrics
    }

    /// Announces a change of the overlay or the root.
    pub fn notify_change(&self) {
        self.changes.send_modify(|seq| *seq += 1);
    }

    /// The change sequence number.
    pub fn change_seq(&self) -> u64 {
        *self.changes.borrow()
    }

    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub fn needs_bootstrap(&self) -> Option<String> {
        self.needs_bootstrap.read().expect("bootstrap lock").clone()
    }

    pub fn set_needs_bootstrap(&self, reason: Option<String>) {
        *self.needs_bootstrap.write().expect("bootstrap lock") = reason;
    }

    pub fn upstream(&self) -> Option<UpstreamStatus> {
        self.upstream.read().expect("upstream lock").clone()
    }

    pub fn set_upstream(&self, status: Option<UpstreamStatus>) {
        *self.upstream.write().expect("upstream lock") = status;
    }

    /// The view a commitment reads. Without a complete confirmed chain, `confirmed` reads the
    /// root.
    pub fn bank(&self, commitment: Commitment) -> Result<BankView<'_>, StoreError> {
        let chain = match commitment {
            Commitment::Finalized => Vec::new(),
            Commitment::Confirmed | Commitment::Processed => {
                let root = self.store.root_slot().unwrap_or_default();
                let overlay = self.overlay.read().expect("overlay lock");
                overlay
                    .confirmed_tip()
                    .and_then(|tip| overlay.chain(tip, root))
                    .unwrap_or_default()
            }
        };
        BankView::new(&self.store, chain)
    }
}
