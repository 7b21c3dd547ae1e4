//! The agent: runs [`Decider`](crate::decide::Decider) every tick on what the background tasks
//! observed, and carries its actions out against the validator's admin RPC, its tower file
//! and etcd. Every call made while the lease is trusted is bounded by what remains of
//! `fence_after`, so the fence is never late behind a hung call.

mod tasks;
mod towers;

use {
    crate::{
        admin::{AdminClient, AdminError},
        config::{CheckedConfig, Identities},
        decide::{Action, Decider, FenceReason, Leadership, LeaseView, Observations, Role},
        etcd::{self, EtcdCluster, EtcdError, NodeRecord, PublishedUpstream},
        guard::{Guard, GuardMessage},
        health::HealthChecker,
        metrics::Metrics,
        notify, tower,
    },
    std::{
        path::PathBuf,
        sync::{Arc, atomic::AtomicBool},
        time::{Duration, Instant, SystemTime},
    },
    tasks::{HealthState, ValidatorView, ViewAt},
    tokio::{sync::watch, task::JoinHandle},
    tokio_util::sync::CancellationToken,
    towers::Adopt,
};

/// How often the cluster state is read.
const VIEW_INTERVAL: Duration = Duration::from_millis(100);
/// How often the validator's identity is polled.
const IDENTITY_INTERVAL: Duration = Duration::from_millis(500);
/// How often this node's record is rewritten even if unchanged.
const RECORD_INTERVAL: Duration = Duration::from_secs(1);
/// How long a shutdown may take to fence and resign.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long background tasks get to stop.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Etcd(#[from] EtcdError),
    #[error("binding metrics on {addr}: {source}")]
    Metrics {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// What the agent listens on, for the ready file.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentReady {
    pub cluster: String,
    pub node: String,
    pub metrics: Option<String>,
    pub admin_rpc: PathBuf,
}

/// The agent's working state.
struct Agent {
    config: CheckedConfig,
    identities: Identities,
    etcd: EtcdCluster,
    admin: Arc<AdminClient>,
    metrics: Metrics,
    decider: Decider,
    tower_path: PathBuf,
    /// The tower bytes last pushed or adopted, and their last vote slot.
    last_tower: Option<Vec<u8>>,
    tower_slot: Option<u64>,
    /// The tower file's (modification time, length) when last read.
    tower_stamp: Option<(SystemTime, u64)>,
    /// Activation without a tower (`allow_new_tower` and none anywhere).
    new_tower: bool,
    lease: watch::Receiver<LeaseView>,
    view: watch::Receiver<ViewAt>,
    health: watch::Receiver<HealthState>,
    validator: watch::Receiver<ValidatorView>,
    record: watch::Sender<NodeRecord>,
    want_window: Arc<AtomicBool>,
    last_role: Role,
    guard: Option<Guard>,
    /// When the staked identity was last set: identity polls sent before then are stale.
    staked_at: Option<Instant>,
    /// Fence attempts failed in a row (logged at the first and every 100th).
    fence_failures: u64,
}

/// Runs the agent until `cancel`; `ready` is called once everything is started. With a
/// `guard`, the fence guard process is kept informed every tick (see [`crate::guard`]).
pub async fn run(
    config: CheckedConfig,
    identities: Identities,
    guard: Option<Guard>,
    cancel: CancellationToken,
    ready: impl FnOnce(&AgentReady),
) -> Result<(), AgentError> {
    let metrics = Metrics::new();
    let client = etcd::connect(&config.etcd).await?;
    let etcd = EtcdCluster::new(client, &config.config.cluster, config.etcd.timeout);
    let tasks_cancel = cancel.child_token();
    let mut handles: Vec<JoinHandle<()>> = Vec::new();
    let metrics_server = match config.config.metrics_bind {
        Some(addr) => Some(
            common::metrics::MetricsServer::spawn(
                addr,
                metrics.registry.clone(),
                tasks_cancel.clone(),
            )
            .map_err(|source| AgentError::Metrics { addr, source })?,
        ),
        None => None,
    };
    let admin = Arc::new(AdminClient::new(&config.ledger, config.admin_timeout));
    let (lease_tx, lease) = watch::channel(Default::default());
    handles.push(tokio::spawn(tasks::keep_lease(
        etcd.clone(),
        config.lease_ttl,
        config.keep_alive_interval,
        lease_tx,
        metrics.clone(),
        tasks_cancel.clone(),
    )));
    let (view_tx, view) = watch::channel(None);
    handles.push(tokio::spawn(tasks::observe(
        etcd.clone(),
        VIEW_INTERVAL,
        view_tx,
        metrics.clone(),
        tasks_cancel.clone(),
    )));
    let health_config = &config.config.health;
    let checker = HealthChecker::new(
        health_config.rpc_url.clone(),
        health_config.cluster_rpc_url.clone(),
        health_config.max_slot_lag,
        health_config.restart_window_slots,
        Duration::from_millis(health_config.interval_ms),
    );
    let want_window = Arc::new(AtomicBool::new(false));
    let (health_tx, health) = watch::channel(HealthState::default());
    handles.push(tokio::spawn(tasks::check_health(
        checker,
        identities.staked_pubkey(),
        Duration::from_millis(health_config.interval_ms),
        want_window.clone(),
        health_tx,
        metrics.clone(),
        tasks_cancel.clone(),
    )));
    let (validator_tx, validator) = watch::channel(ValidatorView::default());
    handles.push(tokio::spawn(tasks::poll_identity(
        admin.clone(),
        IDENTITY_INTERVAL,
        validator_tx,
        tasks_cancel.clone(),
    )));
    let (record, record_rx) = watch::channel(NodeRecord {
        node: config.config.node.clone(),
        identity: None,
        healthy: true,
        tower_slot: None,
        upstream: config.config.publish_upstream.clone(),
    });
    handles.push(tokio::spawn(tasks::publish_record(
        etcd.clone(),
        record_rx,
        lease.clone(),
        RECORD_INTERVAL,
        metrics.clone(),
        tasks_cancel.clone(),
    )));

    let now = Instant::now();
    let mut agent = Agent {
        tower_path: tower::path(&config.tower_dir, &identities.staked_pubkey()),
        decider: Decider::new(config.decide, config.config.node.clone(), now),
        config,
        identities,
        etcd,
        admin,
        metrics,
        last_tower: None,
        tower_slot: None,
        tower_stamp: None,
        new_tower: false,
        lease,
        view,
        health,
        validator,
        record,
        want_window,
        last_role: Role::Standby,
        guard,
        staked_at: None,
        fence_failures: 0,
    };
    ready(&AgentReady {
        cluster: agent.config.config.cluster.clone(),
        node: agent.config.config.node.clone(),
        metrics: metrics_server.as_ref().map(|m| m.local_addr().to_string()),
        admin_rpc: agent.admin.socket().to_path_buf(),
    });
    tracing::info!(
        cluster = %agent.config.config.cluster,
        node = %agent.config.config.node,
        staked = %agent.identities.staked_pubkey(),
        unstaked = %agent.identities.unstaked_pubkey(),
        "agent started"
    );
    notify::ready();
    agent.run(&cancel).await;
    notify::stopping();

    tasks_cancel.cancel();
    let join = async {
        for handle in handles {
            let _ = handle.await;
        }
        if let Some(server) = metrics_server {
            server.join().await;
        }
    };
    if tokio::time::timeout(JOIN_TIMEOUT, join).await.is_err() {
        tracing::warn!("background tasks did not stop in time");
    }
    agent.release_lease().await;
    if let Some(guard) = agent.guard.take() {
        guard.close().await;
    }
    Ok(())
}

impl Agent {
    fn tick(&self) -> Duration {
        Duration::from_millis(self.config.config.tower_poll_ms)
    }

    async fn run(&mut self, cancel: &CancellationToken) {
        let mut interval = tokio::time::interval(self.tick());
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown_deadline = None;
        let mut watchdog = notify::Watchdog::from_env();
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = cancel.cancelled(), if shutdown_deadline.is_none() => {}
            }
            if cancel.is_cancelled() && shutdown_deadline.is_none() {
                tracing::info!("shutting down: fencing and resigning first if active");
                self.decider.shut_down();
                shutdown_deadline = Some(Instant::now() + SHUTDOWN_GRACE);
            }
            let now = Instant::now();
            let observations = self.observe(now);
            let actions = self.decider.decide(now, &observations);
            for action in actions {
                self.execute(action).await;
            }
            self.report();
            self.inform_guard().await;
            watchdog.ping();
            if let Some(deadline) = shutdown_deadline
                && (self.decider.shutdown_complete() || Instant::now() >= deadline)
            {
                if !self.decider.shutdown_complete() {
                    tracing::error!(
                        "could not fence and resign before the shutdown deadline; the lease expires on its own"
                    );
                }
                return;
            }
        }
    }

    fn observe(&self, now: Instant) -> Observations {
        let lease = *self.lease.borrow();
        let view = self.view.borrow().clone();
        let health = *self.health.borrow();
        let validator = *self.validator.borrow();
        let node = self.decider.node();
        let mut observations = Observations {
            lease,
            unhealthy_since: self.unhealthy_since(),
            restart_window_open: health.restart_window_open,
            validator_staked: validator
                .identity
                .map(|identity| identity == self.identities.staked_pubkey())
                .filter(|_| {
                    self.staked_at
                        .is_none_or(|at| now.duration_since(at) > 2 * IDENTITY_INTERVAL)
                }),
            ..Observations::default()
        };
        if let Some((view, read_at)) = view {
            observations.leadership = match view.election {
                Some(election) => Leadership::Held {
                    node: election.node,
                    token: election.token,
                    lease: election.lease,
                },
                None => Leadership::Vacant,
            };
            observations.leadership_read_at = Some(read_at);
            observations.handoff_to = view.handoff.map(|h| h.to);
            observations.switchover_to = view.switchover.map(|s| s.to);
            observations.healthy_standbys = view
                .nodes
                .iter()
                .filter(|record| record.node != node && record.healthy)
                .map(|record| record.node.clone())
                .collect();
        }
        let pending = observations
            .switchover_to
            .as_deref()
            .is_some_and(|to| to != node);
        self.want_window
            .store(pending, std::sync::atomic::Ordering::Relaxed);
        if let Some(at) = lease.confirmed_at {
            self.metrics
                .lease_age
                .set(now.duration_since(at).as_secs_f64());
        }
        observations
    }

    /// Since when this node counts as unhealthy: its health checks fail, or its validator's
    /// admin RPC does not answer (a standby that cannot be switched cannot take over; an active
    /// node whose validator is gone should hand over).
    fn unhealthy_since(&self) -> Option<Instant> {
        let checks = self.health.borrow().unhealthy_since;
        let unreachable = self.validator.borrow().unreachable_since;
        match (checks, unreachable) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What remains of the lease's trust, bounding calls made on it.
    fn remaining(&self) -> Option<Duration> {
        let lease = *self.lease.borrow();
        self.decider
            .fence_deadline(&lease)
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    fn lease_id(&self) -> Option<i64> {
        self.lease.borrow().id
    }

    async fn execute(&mut self, action: Action) {
        match action {
            Action::Fence(reason) => self.fence(reason).await,
            Action::Campaign { lease } => {
                self.metrics.campaigns.inc();
                let won = match self
                    .etcd
                    .campaign(self.decider.node(), lease, self.remaining())
                    .await
                {
                    Ok(won) => won,
                    Err(error) => {
                        self.etcd_error("campaign", &error);
                        None
                    }
                };
                if let Some(token) = won {
                    self.metrics.elections_won.inc();
                    tracing::warn!(token, "won the election; adopting the newest tower");
                }
                self.decider.campaigned(Instant::now(), lease, won);
            }
            Action::AdoptTower { token } => match self.adopt_tower(token).await {
                Ok(()) => self.decider.tower_adopted(token, true),
                Err(Adopt::Retry) => {}
                Err(Adopt::Failed) => {
                    self.metrics.activation_failures.inc();
                    self.decider.tower_adopted(token, false);
                }
            },
            Action::SetStaked { token } => self.set_staked(token).await,
            Action::PushTower { token } => self.push_tower(token).await,
            Action::PublishUpstream { token } => self.publish_upstream(token).await,
            Action::Resign { token } => {
                // Fenced already: the tower file is final; push it for the next node.
                self.push_tower(token).await;
                self.resign(token).await;
            }
            Action::HandOff { token, to } => self.hand_off(token, &to).await,
        }
    }

    async fn resign(&mut self, token: i64) {
        match self.etcd.resign(token, None).await {
            Ok(ours) => {
                tracing::warn!(token, ours, "resigned from the election");
                self.decider.stepped_down(Instant::now(), true);
            }
            Err(error) => self.etcd_error("resign", &error),
        }
    }

    fn etcd_error(&self, op: &'static str, error: &EtcdError) {
        self.metrics.etcd_errors.with_label_values(&[op]).inc();
        tracing::warn!(%error, op, "etcd request failed");
    }

    async fn fence(&mut self, reason: FenceReason) {
        let result = self
            .admin
            .set_identity(&self.identities.unstaked_path, false, false)
            .await;
        match result {
            Ok(()) => {
                self.metrics.fence_attempts.with_label_values(&["ok"]).inc();
                self.metrics
                    .fences
                    .with_label_values(&[reason.as_str()])
                    .inc();
                tracing::warn!(
                    reason = reason.as_str(),
                    identity = %self.identities.unstaked_pubkey(),
                    "fenced: the validator holds its unstaked identity"
                );
                self.fence_failures = 0;
                self.decider.fenced(true);
            }
            Err(AdminError::Connect { source, .. })
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                // No validator listens: a stopped validator holds no identity, and it starts
                // again with its configured (unstaked) one.
                if self.fence_failures.is_multiple_of(100) {
                    tracing::warn!(
                        reason = reason.as_str(),
                        "the validator is not running; nothing to fence"
                    );
                }
                self.fence_failures += 1;
                self.decider.fenced(true);
            }
            Err(error) => {
                self.metrics
                    .fence_attempts
                    .with_label_values(&["failed"])
                    .inc();
                if self.fence_failures.is_multiple_of(100) {
                    tracing::error!(%error, reason = reason.as_str(), failures = self.fence_failures + 1, "cannot fence the validator");
                }
                self.fence_failures += 1;
                self.decider.fenced(false);
            }
        }
    }

    async fn set_staked(&mut self, token: i64) {
        let Some(remaining) = self.remaining().filter(|r| !r.is_zero()) else {
            return;
        };
        let require_tower = !self.new_tower;
        let call = self.admin.set_identity(
            &self.identities.staked_path,
            require_tower,
            self.config.config.require_vote_history,
        );
        let result = match tokio::time::timeout(remaining, call).await {
            Ok(result) => result,
            Err(_) => Err(AdminError::Timeout {
                path: self.admin.socket().to_path_buf(),
                method: "setIdentity".into(),
                timeout: remaining,
            }),
        };
        match result {
            Ok(()) => {
                tracing::warn!(
                    token,
                    identity = %self.identities.staked_pubkey(),
                    require_tower,
                    "active: the validator holds the staked identity"
                );
                self.staked_at = Some(Instant::now());
                self.decider.staked(token, Ok(()));
            }
            Err(error) if error.is_refusal() => {
                self.metrics.activation_failures.inc();
                tracing::error!(%error, "the validator refused the staked identity; stepping down");
                self.decider.staked(token, Err(true));
            }
            Err(error) => {
                tracing::warn!(%error, "setIdentity outcome unknown; retrying while the lease holds");
                self.decider.staked(token, Err(false));
            }
        }
    }

    async fn publish_upstream(&mut self, token: i64) {
        let (Some(upstream), Some(lease)) = (&self.config.config.publish_upstream, self.lease_id())
        else {
            self.decider.upstream_published(true);
            return;
        };
        let published = PublishedUpstream {
            node: self.decider.node().to_string(),
            upstream: upstream.clone(),
            fencing_token: token,
        };
        match self
            .etcd
            .publish_upstream(token, lease, &published, self.remaining())
            .await
        {
            Ok(true) => {
                tracing::info!(upstream = %upstream, "published the replication endpoint");
                self.decider.upstream_published(true);
            }
            Ok(false) => self.decider.push_refused(Instant::now()),
            Err(error) => self.etcd_error("upstream", &error),
        }
    }

    /// Tells the fence guard how long the validator may keep the staked identity without a
    /// newer word from this agent.
    async fn inform_guard(&mut self) {
        let message = match self.decider.role() {
            Role::Active { .. } => GuardMessage::Trust(self.remaining().unwrap_or_default()),
            Role::Standby if !self.decider.is_fenced() => GuardMessage::Trust(Duration::ZERO),
            Role::Standby => GuardMessage::Idle,
        };
        if let Some(guard) = self.guard.as_mut() {
            guard.send(message).await;
        }
    }

    /// Metrics, the node record, and role changes in the log.
    fn report(&mut self) {
        let role = self.decider.role().clone();
        if role != self.last_role {
            tracing::info!(role = ?role, "role changed");
            self.last_role = role;
        }
        let serving = self.decider.is_serving();
        self.metrics.active.set(i64::from(serving));
        self.metrics
            .fencing_token
            .set(self.decider.token().filter(|_| serving).unwrap_or(0));
        if let Some(slot) = self.tower_slot {
            self.metrics
                .tower_slot
                .set(i64::try_from(slot).unwrap_or(i64::MAX));
        }
        let identity = self.validator.borrow().identity.map(|key| key.to_string());
        let healthy = self.unhealthy_since().is_none();
        let tower_slot = self.tower_slot;
        self.record.send_if_modified(|record| {
            let changed = record.identity != identity
                || record.healthy != healthy
                || record.tower_slot != tower_slot;
            record.identity = identity;
            record.healthy = healthy;
            record.tower_slot = tower_slot;
            changed
        });
    }

    /// Revokes the lease of a fenced standby, so its record disappears at once.
    async fn release_lease(&self) {
        if self.decider.role() != &Role::Standby || !self.decider.is_fenced() {
            return;
        }
        if let Some(id) = self.lease_id()
            && let Err(error) = self.etcd.revoke(id).await
        {
            tracing::debug!(%error, "cannot revoke the lease; it expires on its own");
        }
    }
}
