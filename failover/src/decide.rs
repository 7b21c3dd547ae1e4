//! The agent's decisions, free of I/O: observations and the outcomes of earlier actions go in,
//! actions come out, and time enters only as the `now` argument, so tests run on a fake clock.
//!
//! Safety rules (each has a test below):
//! - **Self-fencing.** The lease can expire on the etcd side no sooner than `lease_ttl` after
//!   the *sending* of the last keep-alive that etcd acknowledged (`LeaseView::confirmed_at`).
//!   The node treats the lease as held only until `confirmed_at + fence_after`
//!   (`fence_after` ≤ TTL/2 by default), and from then on its first action is to fence: switch
//!   the validator to its unstaked identity. The driver bounds every call so that the fence has
//!   completed before `confirmed_at + lease_ttl`, the earliest instant another node can win.
//! - **Activation.** The staked identity is set only by a node that won the election (its
//!   fencing token), adopted the newest tower for that token, and holds a fresh lease at the
//!   instant it asks.
//! - **Step-down order.** A node that gives up the election (health, switchover) fences first
//!   and deletes its election key only once the fence is confirmed.
//! - **No flapping.** A node that starts, or stops being active, campaigns only once the
//!   election key is vacant (the previous holder's lease is gone) and `hold_off` has passed
//!   since; a planned hand-off waives the hold-off for its target only.
//! - **Health.** An active node whose checks have failed for `failover_after` steps down, but
//!   only when a healthy standby exists to take over; an unhealthy standby never campaigns.
//! - **Fenced pushes.** Tower pushes carry the fencing token; etcd applies them only while the
//!   election key still has that creation revision (see [`crate::etcd`]). A push refused that
//!   way means the node was deposed: it fences at once.

use std::time::{Duration, Instant};

/// Timing of the decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecideConfig {
    /// How long after the sending of the last acknowledged keep-alive the lease is trusted.
    pub fence_after: Duration,
    /// How long a node that started or stepped down waits before campaigning.
    pub hold_off: Duration,
    /// How long the active node's health checks must fail before it steps down.
    pub failover_after: Duration,
}

/// This node's lease, as the keep-alive loop last saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeaseView {
    /// The lease id, once granted.
    pub id: Option<i64>,
    /// When the newest keep-alive (or the grant) that etcd acknowledged was sent.
    pub confirmed_at: Option<Instant>,
    /// etcd said the lease is gone (expired or revoked); a new one is being granted.
    pub lost: bool,
}

/// The election key as last read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Leadership {
    /// Not read since the last etcd failure.
    #[default]
    Unknown,
    /// Nobody holds the election.
    Vacant,
    /// `node` holds it under `lease`; the key's creation revision is the fencing `token`.
    Held {
        node: String,
        token: i64,
        lease: i64,
    },
}

/// What the agent observed, assembled by the driver before each decision.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    pub lease: LeaseView,
    pub leadership: Leadership,
    /// When the read that saw `leadership` was sent; a read sent before this node's last
    /// change of role says nothing about the key since (it may predate a win or a
    /// resignation).
    pub leadership_read_at: Option<Instant>,
    /// A planned hand-off in progress names this node as the only one that may campaign.
    pub handoff_to: Option<String>,
    /// A switchover request names the node that should become active.
    pub switchover_to: Option<String>,
    /// Since when the local health checks have been failing (`None`: healthy).
    pub unhealthy_since: Option<Instant>,
    /// Healthy nodes other than this one that are alive (their lease-bound entry exists).
    pub healthy_standbys: Vec<String>,
    /// No leader slot of the staked identity comes soon (switchovers wait for it).
    pub restart_window_open: bool,
    /// The local validator was seen holding the staked identity by the last identity poll.
    pub validator_staked: Option<bool>,
}

/// Why the validator is switched to its unstaked identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FenceReason {
    /// The agent started (or has not yet confirmed the unstaked identity).
    NotConfirmed,
    /// The lease was not confirmed for `fence_after`, or etcd said it is gone.
    LeaseUnconfirmed,
    /// The election key is no longer this node's.
    Deposed,
    /// Health checks failed for `failover_after`.
    Unhealthy,
    /// A planned switchover to another node.
    Switchover,
    /// Shutting down.
    Shutdown,
    /// The validator refused the staked identity, or the tower could not be adopted.
    ActivationFailed,
}

impl FenceReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FenceReason::NotConfirmed => "not-confirmed",
            FenceReason::LeaseUnconfirmed => "lease-unconfirmed",
            FenceReason::Deposed => "deposed",
            FenceReason::Unhealthy => "unhealthy",
            FenceReason::Switchover => "switchover",
            FenceReason::Shutdown => "shutdown",
            FenceReason::ActivationFailed => "activation-failed",
        }
    }
}

/// What the driver should do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Switch the validator to the unstaked identity; report with [`Decider::fenced`].
    Fence(FenceReason),
    /// Try to create the election key under this node's lease; report with
    /// [`Decider::campaigned`].
    Campaign { lease: i64 },
    /// Write the newest tower (etcd's, or the local one if newer) as the validator's tower
    /// file, pushing it under `token` if it was newer than etcd's; report with
    /// [`Decider::tower_adopted`].
    AdoptTower { token: i64 },
    /// `setIdentity` to the staked identity with `require_tower`; report with
    /// [`Decider::staked`].
    SetStaked { token: i64 },
    /// Push the local tower to etcd under `token` if it changed; report refusals with
    /// [`Decider::push_refused`].
    PushTower { token: i64 },
    /// Publish this node's replication endpoint as the cluster's upstream under `token`.
    PublishUpstream { token: i64 },
    /// Delete the election key under `token`; report with [`Decider::stepped_down`].
    Resign { token: i64 },
    /// Push the final tower, delete the election key and name `to` as the only node that
    /// may campaign, all under `token`; report with [`Decider::stepped_down`].
    HandOff { token: i64, to: String },
}

/// Where an active node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// The tower has to be adopted.
    AdoptTower,
    /// The staked identity has to be set.
    SetStaked,
    /// The validator votes with the staked identity; towers are pushed.
    Serving,
    /// Giving the election up (fence first, then resign or hand off).
    SteppingDown(StepDown),
}

/// Why, and how, an active node gives the election up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepDown {
    Unhealthy,
    HandOff { to: String },
    ActivationFailed,
    Shutdown,
}

/// This node's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Standby,
    Active { token: i64, stage: Stage },
}

/// The decision state of one agent.
#[derive(Debug, Clone)]
pub struct Decider {
    config: DecideConfig,
    node: String,
    role: Role,
    /// The hold-off counts from here: the start, or the last step-down.
    standby_since: Instant,
    /// When the role last changed.
    role_since: Instant,
    /// The lease the election was won under (the election key goes with it).
    active_lease: Option<i64>,
    /// The validator is known to hold the unstaked identity.
    fenced: bool,
    /// Why the next fence is needed (reported with it).
    fence_reason: FenceReason,
    /// This activation's upstream is published.
    upstream_published: bool,
    shutting_down: bool,
}

impl Decider {
    /// A standby node that has not yet confirmed its validator's unstaked identity.
    pub fn new(config: DecideConfig, node: impl Into<String>, now: Instant) -> Self {
        Self {
            config,
            node: node.into(),
            role: Role::Standby,
            standby_since: now,
            role_since: now,
            active_lease: None,
            fenced: false,
            fence_reason: FenceReason::NotConfirmed,
            upstream_published: false,
            shutting_down: false,
        }
    }

    pub fn role(&self) -> &Role {
        &self.role
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// The fencing token while active.
    pub fn token(&self) -> Option<i64> {
        match self.role {
            Role::Active { token, .. } => Some(token),
            Role::Standby => None,
        }
    }

    /// Whether the validator votes with the staked identity by this node's decision.
    pub fn is_serving(&self) -> bool {
        matches!(
            self.role,
            Role::Active {
                stage: Stage::Serving,
                ..
            }
        )
    }

    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// Whether the lease counts as held at `now`.
    pub fn lease_fresh(&self, now: Instant, lease: &LeaseView) -> bool {
        !lease.lost
            && lease.id.is_some()
            && lease
                .confirmed_at
                .is_some_and(|at| now < at + self.config.fence_after)
    }

    /// When the lease stops counting as held, if it does now.
    pub fn fence_deadline(&self, lease: &LeaseView) -> Option<Instant> {
        lease
            .confirmed_at
            .filter(|_| !lease.lost)
            .map(|at| at + self.config.fence_after)
    }

    /// The actions for `now`.
    pub fn decide(&mut self, now: Instant, obs: &Observations) -> Vec<Action> {
        let fresh = self.lease_fresh(now, &obs.lease);
        let current = obs
            .leadership_read_at
            .is_some_and(|at| at >= self.role_since);
        let leadership = if current {
            obs.leadership.clone()
        } else {
            Leadership::Unknown
        };
        if obs.validator_staked == Some(true) && !matches!(self.role, Role::Active { .. }) {
            // Somebody (an operator?) set the staked identity behind this node's back.
            self.fenced = false;
        }
        let Role::Active { token, stage } = self.role.clone() else {
            return self.decide_standby(now, obs, &leadership, fresh);
        };
        // A new lease (the old one expired) means the election key is gone with the old one.
        if !fresh || obs.lease.id != self.active_lease {
            return self.step_down_now(now, FenceReason::LeaseUnconfirmed);
        }
        match &leadership {
            Leadership::Held { token: held, .. } if *held != token => {
                return self.step_down_now(now, FenceReason::Deposed);
            }
            Leadership::Vacant => return self.step_down_now(now, FenceReason::Deposed),
            _ => {}
        }
        let stage = match stage {
            Stage::SteppingDown(_) => stage,
            _ if self.shutting_down => Stage::SteppingDown(StepDown::Shutdown),
            Stage::Serving if self.unhealthy_for_long(now, obs) => {
                tracing::warn!(
                    standbys = ?obs.healthy_standbys,
                    "health checks failed for failover_after; stepping down"
                );
                Stage::SteppingDown(StepDown::Unhealthy)
            }
            // The validator lost the staked identity behind this node's back (the fence
            // guard acted during a stall, an operator): set it again while the lease holds.
            Stage::Serving if obs.validator_staked == Some(false) => {
                tracing::warn!("the validator does not hold the staked identity; setting it again");
                Stage::SetStaked
            }
            Stage::Serving => match &obs.switchover_to {
                Some(to)
                    if *to != self.node
                        && obs.healthy_standbys.contains(to)
                        && obs.restart_window_open =>
                {
                    Stage::SteppingDown(StepDown::HandOff { to: to.clone() })
                }
                _ => Stage::Serving,
            },
            other => other,
        };
        self.role = Role::Active {
            token,
            stage: stage.clone(),
        };
        match stage {
            Stage::AdoptTower => vec![Action::AdoptTower { token }],
            Stage::SetStaked => vec![Action::SetStaked { token }],
            Stage::Serving => {
                let mut actions = vec![Action::PushTower { token }];
                if !self.upstream_published {
                    actions.push(Action::PublishUpstream { token });
                }
                actions
            }
            Stage::SteppingDown(how) => {
                if !self.fenced {
                    let reason = match how {
                        StepDown::Unhealthy => FenceReason::Unhealthy,
                        StepDown::HandOff { .. } => FenceReason::Switchover,
                        StepDown::ActivationFailed => FenceReason::ActivationFailed,
                        StepDown::Shutdown => FenceReason::Shutdown,
                    };
                    return vec![Action::Fence(reason)];
                }
                match how {
                    StepDown::HandOff { to } => vec![Action::HandOff { token, to }],
                    _ => vec![Action::Resign { token }],
                }
            }
        }
    }

    fn decide_standby(
        &mut self,
        now: Instant,
        obs: &Observations,
        leadership: &Leadership,
        fresh: bool,
    ) -> Vec<Action> {
        if !self.fenced {
            return vec![Action::Fence(self.fence_reason)];
        }
        if self.shutting_down || !fresh {
            return Vec::new();
        }
        let Some(lease) = obs.lease.id else {
            return Vec::new();
        };
        match leadership {
            // Still this lease's key (e.g. the node fenced during an etcd outage and the
            // lease survived it): nobody else can have become active, so activate again.
            Leadership::Held {
                node,
                token,
                lease: held,
            } if *held == lease && *node == self.node => {
                self.activate(now, *token, lease);
                vec![Action::AdoptTower { token: *token }]
            }
            Leadership::Vacant => {
                if obs.unhealthy_since.is_some() {
                    return Vec::new();
                }
                let waived = obs.handoff_to.as_deref() == Some(self.node.as_str());
                if obs.handoff_to.is_some() && !waived {
                    return Vec::new();
                }
                if !waived && now < self.standby_since + self.config.hold_off {
                    return Vec::new();
                }
                vec![Action::Campaign { lease }]
            }
            _ => Vec::new(),
        }
    }

    fn unhealthy_for_long(&self, now: Instant, obs: &Observations) -> bool {
        obs.unhealthy_since
            .is_some_and(|since| now >= since + self.config.failover_after)
            && !obs.healthy_standbys.is_empty()
    }

    fn activate(&mut self, now: Instant, token: i64, lease: i64) {
        self.role_since = now;
        self.active_lease = Some(lease);
        self.role = Role::Active {
            token,
            stage: Stage::AdoptTower,
        };
        self.upstream_published = false;
    }

    /// Back to standby at once (the election is lost); returns the fence, the next action.
    fn step_down_now(&mut self, now: Instant, reason: FenceReason) -> Vec<Action> {
        self.role = Role::Standby;
        self.standby_since = now;
        self.role_since = now;
        self.fenced = false;
        self.fence_reason = reason;
        vec![Action::Fence(reason)]
    }

    /// Outcome of [`Action::Fence`].
    pub fn fenced(&mut self, ok: bool) {
        self.fenced = ok;
        if ok {
            self.fence_reason = FenceReason::NotConfirmed;
        }
    }

    /// Outcome of [`Action::Campaign`] under `lease`, reported at `now`: the fencing token if
    /// this node won.
    pub fn campaigned(&mut self, now: Instant, lease: i64, won: Option<i64>) {
        if let (Some(token), Role::Standby) = (won, &self.role) {
            self.activate(now, token, lease);
        }
    }

    /// Outcome of [`Action::AdoptTower`].
    pub fn tower_adopted(&mut self, token: i64, ok: bool) {
        if let Role::Active {
            token: current,
            stage: Stage::AdoptTower,
        } = &self.role
            && *current == token
        {
            let stage = if ok {
                Stage::SetStaked
            } else {
                Stage::SteppingDown(StepDown::ActivationFailed)
            };
            self.role = Role::Active { token, stage };
        }
    }

    /// Outcome of [`Action::SetStaked`]: `Ok(())`, `Err(true)` if the validator refused it
    /// (then the node steps down), `Err(false)` if the outcome is unknown (it is retried; the
    /// node still holds the election, so either identity is safe).
    pub fn staked(&mut self, token: i64, result: Result<(), bool>) {
        if let Role::Active {
            token: current,
            stage: Stage::SetStaked,
        } = &self.role
            && *current == token
        {
            match result {
                Ok(()) => {
                    self.fenced = false;
                    self.role = Role::Active {
                        token,
                        stage: Stage::Serving,
                    };
                }
                Err(true) => {
                    self.role = Role::Active {
                        token,
                        stage: Stage::SteppingDown(StepDown::ActivationFailed),
                    };
                }
                Err(false) => self.fenced = false,
            }
        }
    }

    /// Outcome of [`Action::PublishUpstream`].
    pub fn upstream_published(&mut self, ok: bool) {
        self.upstream_published = ok;
    }

    /// etcd refused a push (or a publish) under this node's token: it no longer holds the
    /// election. The next decision fences.
    pub fn push_refused(&mut self, now: Instant) {
        if matches!(self.role, Role::Active { .. }) {
            self.step_down_now(now, FenceReason::Deposed);
        }
    }

    /// Outcome of [`Action::Resign`] or [`Action::HandOff`] (`ok`: the key is deleted, or
    /// was not this node's any more).
    pub fn stepped_down(&mut self, now: Instant, ok: bool) {
        if ok && matches!(self.role, Role::Active { .. }) {
            self.role = Role::Standby;
            self.standby_since = now;
            self.role_since = now;
        }
    }

    /// Shutting down: an active node fences and resigns; a standby does nothing more.
    pub fn shut_down(&mut self) {
        self.shutting_down = true;
    }

    /// Whether a shutdown may finish: standby, with the validator fenced (or no longer
    /// reachable, which the caller decides).
    pub fn shutdown_complete(&self) -> bool {
        self.shutting_down && self.role == Role::Standby
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(4);

    fn config() -> DecideConfig {
        DecideConfig {
            fence_after: TTL / 2,
            hold_off: Duration::from_secs(3),
            failover_after: Duration::from_secs(10),
        }
    }

    /// A fake clock and the observations of one node.
    struct Node {
        start: Instant,
        now: Instant,
        decider: Decider,
        obs: Observations,
    }

    impl Node {
        fn new(name: &str) -> Self {
            let start = Instant::now();
            Self {
                start,
                now: start,
                decider: Decider::new(config(), name, start),
                obs: Observations {
                    lease: LeaseView {
                        id: Some(7),
                        confirmed_at: Some(start),
                        lost: false,
                    },
                    leadership: Leadership::Vacant,
                    restart_window_open: true,
                    ..Observations::default()
                },
            }
        }

        fn advance(&mut self, by: Duration) {
            self.now += by;
        }

        /// A keep-alive sent now was acknowledged.
        fn keep_alive(&mut self) {
            self.obs.lease.confirmed_at = Some(self.now);
        }

        /// Decides on an up-to-date read of the election key.
        fn decide(&mut self) -> Vec<Action> {
            self.obs.leadership_read_at = Some(self.now);
            self.decider.decide(self.now, &self.obs)
        }

        /// Fences, waits out the hold-off, campaigns, adopts and sets the staked identity.
        fn become_active(&mut self, token: i64) {
            assert_eq!(
                self.decide(),
                vec![Action::Fence(FenceReason::NotConfirmed)]
            );
            self.decider.fenced(true);
            self.advance(config().hold_off);
            self.keep_alive();
            assert_eq!(self.decide(), vec![Action::Campaign { lease: 7 }]);
            self.decider.campaigned(self.now, 7, Some(token));
            self.obs.leadership = Leadership::Held {
                node: self.decider.node().to_string(),
                token,
                lease: 7,
            };
            assert_eq!(self.decide(), vec![Action::AdoptTower { token }]);
            self.decider.tower_adopted(token, true);
            assert_eq!(self.decide(), vec![Action::SetStaked { token }]);
            self.decider.staked(token, Ok(()));
            assert_eq!(
                self.decide(),
                vec![
                    Action::PushTower { token },
                    Action::PublishUpstream { token }
                ]
            );
            self.decider.upstream_published(true);
            assert!(self.decider.is_serving());
        }
    }

    fn sets_staked(actions: &[Action]) -> bool {
        actions
            .iter()
            .any(|action| matches!(action, Action::SetStaked { .. }))
    }

    #[test]
    fn fences_strictly_before_the_ttl_without_keep_alives() {
        let mut node = Node::new("a");
        node.become_active(10);
        let last_ack = node.now;
        // Keep-alives stop being acknowledged: every decision until fence_after keeps
        // serving; the first one at or past it fences.
        let step = Duration::from_millis(10);
        let mut fenced_at = None;
        while node.now < last_ack + TTL {
            node.advance(step);
            let actions = node.decide();
            if actions.contains(&Action::Fence(FenceReason::LeaseUnconfirmed)) {
                fenced_at = Some(node.now);
                break;
            }
            assert!(!sets_staked(&actions));
        }
        let fenced_at = fenced_at.expect("fenced before the TTL");
        assert!(fenced_at - last_ack <= config().fence_after + step);
        assert!(fenced_at - last_ack < TTL);
        assert_eq!(node.decider.role(), &Role::Standby);
        // Unconfirmed, it keeps asking for the fence and never campaigns.
        node.decider.fenced(false);
        node.advance(Duration::from_secs(30));
        node.keep_alive();
        assert_eq!(
            node.decide(),
            vec![Action::Fence(FenceReason::LeaseUnconfirmed)]
        );
    }

    #[test]
    fn a_lost_lease_fences_at_once() {
        let mut node = Node::new("a");
        node.become_active(10);
        node.obs.lease.lost = true;
        assert_eq!(
            node.decide(),
            vec![Action::Fence(FenceReason::LeaseUnconfirmed)]
        );
        // A fresh new lease (granted before this node decided again) is not the election's.
        let mut node = Node::new("a");
        node.become_active(10);
        node.obs.lease.id = Some(8);
        node.keep_alive();
        assert_eq!(
            node.decide(),
            vec![Action::Fence(FenceReason::LeaseUnconfirmed)]
        );
    }

    #[test]
    fn never_sets_the_staked_identity_without_election_and_tower() {
        let mut node = Node::new("a");
        // Not fenced yet: only the fence.
        assert_eq!(
            node.decide(),
            vec![Action::Fence(FenceReason::NotConfirmed)]
        );
        node.decider.fenced(true);
        node.advance(config().hold_off);
        node.keep_alive();
        // Lost the campaign: nothing but waiting.
        assert_eq!(node.decide(), vec![Action::Campaign { lease: 7 }]);
        node.decider.campaigned(node.now, 7, None);
        node.obs.leadership = Leadership::Held {
            node: "b".into(),
            token: 5,
            lease: 9,
        };
        for _ in 0..10 {
            node.advance(Duration::from_millis(100));
            node.keep_alive();
            assert!(node.decide().is_empty());
        }
        // Won, but the tower cannot be adopted: step down (fence, then resign), never staked.
        node.obs.leadership = Leadership::Vacant;
        node.advance(config().hold_off);
        node.keep_alive();
        assert_eq!(node.decide(), vec![Action::Campaign { lease: 7 }]);
        node.decider.campaigned(node.now, 7, Some(11));
        node.obs.leadership = Leadership::Held {
            node: "a".into(),
            token: 11,
            lease: 7,
        };
        assert_eq!(node.decide(), vec![Action::AdoptTower { token: 11 }]);
        node.decider.tower_adopted(11, false);
        // The validator never left the (confirmed) unstaked identity: resign at once.
        assert!(node.decider.is_fenced());
        assert_eq!(node.decide(), vec![Action::Resign { token: 11 }]);
        node.decider.stepped_down(node.now, true);
        assert_eq!(node.decider.role(), &Role::Standby);
        // Adopted, but the lease went stale before the staked identity was set: fence.
        node.obs.leadership = Leadership::Vacant;
        node.advance(config().hold_off);
        node.keep_alive();
        assert_eq!(node.decide(), vec![Action::Campaign { lease: 7 }]);
        node.decider.campaigned(node.now, 7, Some(12));
        node.decider.tower_adopted(12, true);
        node.obs.leadership = Leadership::Held {
            node: "a".into(),
            token: 12,
            lease: 7,
        };
        node.advance(config().fence_after);
        let actions = node.decide();
        assert!(!sets_staked(&actions));
        assert_eq!(actions, vec![Action::Fence(FenceReason::LeaseUnconfirmed)]);
    }

    #[test]
    fn a_refused_push_or_a_foreign_key_deposes() {
        let mut node = Node::new("a");
        node.become_active(10);
        node.decider.push_refused(node.now);
        assert_eq!(node.decide(), vec![Action::Fence(FenceReason::Deposed)]);

        let mut node = Node::new("a");
        node.become_active(10);
        node.obs.leadership = Leadership::Held {
            node: "b".into(),
            token: 20,
            lease: 9,
        };
        assert_eq!(node.decide(), vec![Action::Fence(FenceReason::Deposed)]);
        assert_eq!(node.decider.role(), &Role::Standby);
    }

    #[test]
    fn restarted_or_deposed_nodes_wait_for_vacancy_and_hold_off() {
        let mut node = Node::new("a");
        assert_eq!(
            node.decide(),
            vec![Action::Fence(FenceReason::NotConfirmed)]
        );
        node.decider.fenced(true);
        // Another node is active: a restarted node never campaigns.
        node.obs.leadership = Leadership::Held {
            node: "b".into(),
            token: 3,
            lease: 9,
        };
        for _ in 0..100 {
            node.advance(Duration::from_millis(100));
            node.keep_alive();
            assert!(node.decide().is_empty());
        }
        // A previous incarnation of this node (same name, another lease) is not this node.
        node.obs.leadership = Leadership::Held {
            node: "a".into(),
            token: 2,
            lease: 99,
        };
        assert!(node.decide().is_empty());
        // Vacant, but within the hold-off of a fresh start: wait.
        let mut fresh = Node::new("a");
        fresh.decider.fenced(true);
        fresh.advance(config().hold_off - Duration::from_millis(1));
        fresh.keep_alive();
        assert!(fresh.decide().is_empty());
        fresh.advance(Duration::from_millis(1));
        fresh.keep_alive();
        assert_eq!(fresh.decide(), vec![Action::Campaign { lease: 7 }]);
        // Deposed: the hold-off counts again from the deposition.
        fresh.decider.campaigned(fresh.now, 7, Some(4));
        fresh.obs.leadership = Leadership::Vacant;
        assert_eq!(fresh.decide(), vec![Action::Fence(FenceReason::Deposed)]);
        fresh.decider.fenced(true);
        fresh.advance(config().hold_off / 2);
        fresh.keep_alive();
        assert!(fresh.decide().is_empty());
        fresh.advance(config().hold_off / 2);
        fresh.keep_alive();
        assert_eq!(fresh.decide(), vec![Action::Campaign { lease: 7 }]);
    }

    #[test]
    fn health_failover_needs_time_and_a_healthy_standby() {
        let mut node = Node::new("a");
        node.become_active(10);
        node.obs.unhealthy_since = Some(node.now);
        node.advance(config().failover_after - Duration::from_millis(1));
        node.keep_alive();
        assert_eq!(node.decide(), vec![Action::PushTower { token: 10 }]);
        node.advance(Duration::from_millis(1));
        node.keep_alive();
        // No healthy standby: stay (an unhealthy active beats none).
        assert_eq!(node.decide(), vec![Action::PushTower { token: 10 }]);
        node.obs.healthy_standbys = vec!["b".into()];
        assert_eq!(node.decide(), vec![Action::Fence(FenceReason::Unhealthy)]);
        // The fence is not confirmed: no resignation yet, the fence again.
        node.decider.fenced(false);
        assert_eq!(node.decide(), vec![Action::Fence(FenceReason::Unhealthy)]);
        node.decider.fenced(true);
        assert_eq!(node.decide(), vec![Action::Resign { token: 10 }]);
        node.decider.stepped_down(node.now, true);
        node.obs.leadership = Leadership::Vacant;
        // Unhealthy standbys never campaign.
        node.advance(Duration::from_secs(60));
        node.keep_alive();
        assert!(node.decide().is_empty());
        node.obs.unhealthy_since = None;
        assert_eq!(node.decide(), vec![Action::Campaign { lease: 7 }]);
        // Healthy standbys only campaign when the key is vacant.
        let _ = node.start;
    }

    #[test]
    fn switchover_waits_for_the_window_fences_then_hands_off() {
        let mut node = Node::new("a");
        node.become_active(10);
        node.obs.switchover_to = Some("b".into());
        node.obs.restart_window_open = false;
        // The target is not a healthy standby: nothing happens.
        assert_eq!(node.decide(), vec![Action::PushTower { token: 10 }]);
        node.obs.healthy_standbys = vec!["b".into()];
        assert_eq!(node.decide(), vec![Action::PushTower { token: 10 }]);
        node.obs.restart_window_open = true;
        assert_eq!(node.decide(), vec![Action::Fence(FenceReason::Switchover)]);
        node.decider.fenced(true);
        assert_eq!(
            node.decide(),
            vec![Action::HandOff {
                token: 10,
                to: "b".into()
            }]
        );
        node.decider.stepped_down(node.now, true);
        // The target campaigns at once, without hold-off; anyone else waits.
        let mut b = Node::new("b");
        b.decider.fenced(true);
        b.obs.handoff_to = Some("b".into());
        assert_eq!(b.decide(), vec![Action::Campaign { lease: 7 }]);
        node.obs.leadership = Leadership::Vacant;
        node.obs.handoff_to = Some("b".into());
        node.advance(Duration::from_secs(60));
        node.keep_alive();
        assert!(node.decide().is_empty());
    }

    #[test]
    fn resumes_its_own_key_after_an_outage_and_shuts_down_in_order() {
        let mut node = Node::new("a");
        node.become_active(10);
        node.advance(TTL);
        assert_eq!(
            node.decide(),
            vec![Action::Fence(FenceReason::LeaseUnconfirmed)]
        );
        node.decider.fenced(true);
        // etcd returns and the lease survived: the key is still this lease's.
        node.keep_alive();
        assert_eq!(node.decide(), vec![Action::AdoptTower { token: 10 }]);
        node.decider.tower_adopted(10, true);
        assert_eq!(node.decide(), vec![Action::SetStaked { token: 10 }]);
        node.decider.staked(10, Ok(()));
        node.decider.shut_down();
        assert_eq!(node.decide(), vec![Action::Fence(FenceReason::Shutdown)]);
        node.decider.fenced(true);
        assert_eq!(node.decide(), vec![Action::Resign { token: 10 }]);
        node.decider.stepped_down(node.now, true);
        assert!(node.decider.shutdown_complete());
        assert!(node.decide().is_empty());
    }

    #[test]
    fn a_validator_found_unstaked_while_serving_is_set_again() {
        let mut node = Node::new("a");
        node.become_active(10);
        node.obs.validator_staked = Some(false);
        assert_eq!(node.decide(), vec![Action::SetStaked { token: 10 }]);
        node.decider.staked(10, Ok(()));
        node.obs.validator_staked = Some(true);
        assert_eq!(node.decide(), vec![Action::PushTower { token: 10 }]);
        // Not without the lease.
        node.obs.validator_staked = Some(false);
        node.advance(config().fence_after);
        assert_eq!(
            node.decide(),
            vec![Action::Fence(FenceReason::LeaseUnconfirmed)]
        );
    }

    #[test]
    fn an_unknown_set_identity_outcome_is_retried_while_the_lease_holds() {
        let mut node = Node::new("a");
        assert_eq!(
            node.decide(),
            vec![Action::Fence(FenceReason::NotConfirmed)]
        );
        node.decider.fenced(true);
        node.advance(config().hold_off);
        node.keep_alive();
        node.decide();
        node.decider.campaigned(node.now, 7, Some(3));
        node.obs.leadership = Leadership::Held {
            node: "a".into(),
            token: 3,
            lease: 7,
        };
        node.decide();
        node.decider.tower_adopted(3, true);
        assert_eq!(node.decide(), vec![Action::SetStaked { token: 3 }]);
        node.decider.staked(3, Err(false));
        assert!(!node.decider.is_fenced(), "the identity is unknown");
        assert_eq!(node.decide(), vec![Action::SetStaked { token: 3 }]);
        // Refused by the validator: step down, fence first.
        node.decider.staked(3, Err(true));
        assert_eq!(
            node.decide(),
            vec![Action::Fence(FenceReason::ActivationFailed)]
        );
    }
}
