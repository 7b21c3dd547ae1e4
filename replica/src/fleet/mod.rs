//! Fleet consistency: replicas behind one load balancer answer `confirmed` and `finalized`
//! reads at the same slot.
//!
//! Progress flows up the replication tree in every long-poll ([`progress`]); the tree's root
//! (the replica whose upstream announces no fleet) takes the minimum over the members that
//! count ([`schedule::membership`]) and schedules it, per commitment, to be served from an
//! instant `switch_delay` ahead; the schedule flows down unchanged in every long-poll answer.
//! A member serves the entry in force only while its lease (the newest announcement's issue
//! time plus `lease`) runs; otherwise reads fail as Agave's unreached `minContextSlot` does and
//! `/health` is not ok. Rooted slots above the servable finalized slot stay in the overlay, so
//! every read is answered exactly at the servable slot.

pub mod config;
pub mod schedule;

pub use config::{Consistency, FleetArgs, FleetConfig};
use {
    crate::{
        bank::BankView,
        state::{Commitment, ReplicaState},
        store::StoreError,
    },
    prometheus::{IntCounter, IntGauge, IntGaugeVec, Opts, Registry},
    replication_proto::{
        FleetAnnouncement, FleetProgress, MAX_FLEET_MEMBERS, MemberProgress, Pubkey, ServableSlots,
        Slot, SlotInfo,
    },
    schedule::{Heard, Membership, Report, Schedule, Timing},
    serde_json::{Value, json},
    solana_hash::Hash,
    std::{
        collections::HashMap,
        sync::{Mutex, OnceLock},
        time::{SystemTime, UNIX_EPOCH},
    },
};

pub const SERVABLE_SLOT: &str = "replica_fleet_servable_slot";
pub const SERVABLE_LAG: &str = "replica_fleet_servable_lag_slots";
pub const MEMBERS: &str = "replica_fleet_members";
pub const EXCLUDED_MEMBERS: &str = "replica_fleet_excluded_members";
pub const LEASE_VALID: &str = "replica_fleet_lease_valid";
pub const UNSERVED_READS: &str = "replica_fleet_unserved_reads_total";
pub const FORCED_COMMITS: &str = "replica_fleet_forced_commits_total";

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Debug, Clone)]
struct FleetMetrics {
    servable: IntGaugeVec,
    lag: IntGaugeVec,
    members: IntGauge,
    excluded: IntGauge,
    lease_valid: IntGauge,
    unserved_reads: IntCounter,
    forced_commits: IntCounter,
}

impl FleetMetrics {
    fn new(registry: &Registry) -> Self {
        let gauge_vec = |name: &str, help: &str| {
            let gauge =
                IntGaugeVec::new(Opts::new(name, help), &["commitment"]).expect("valid metric");
            let _ = registry.register(Box::new(gauge.clone()));
            gauge
        };
        let gauge = |name: &str, help: &str| {
            let gauge = IntGauge::new(name, help).expect("valid metric");
            let _ = registry.register(Box::new(gauge.clone()));
            gauge
        };
        let counter = |name: &str, help: &str| {
            let counter = IntCounter::new(name, help).expect("valid metric");
            let _ = registry.register(Box::new(counter.clone()));
            counter
        };
        Self {
            servable: gauge_vec(SERVABLE_SLOT, "Slot reads of a commitment answer at"),
            lag: gauge_vec(
                SERVABLE_LAG,
                "How far the servable slot trails the freshest member's (slots)",
            ),
            members: gauge(MEMBERS, "Members the root knows"),
            excluded: gauge(EXCLUDED_MEMBERS, "Members left out of the fleet minimum"),
            lease_valid: gauge(LEASE_VALID, "1 while this member holds a fresh lease"),
            unserved_reads: counter(
                UNSERVED_READS,
                "Reads refused for want of a lease or of the servable slot",
            ),
            forced_commits: counter(
                FORCED_COMMITS,
                "Root commits made past the servable slot to bound the overlay",
            ),
        }
    }
}

/// Where this replica stands in the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// No upstream answer yet.
    Unknown,
    /// Its upstream announces no fleet: it decides the servable slots.
    Root,
    /// It follows the announcements of its upstream.
    Member,
}

/// A downstream replica's last report: its subtree and when (Unix ms) it arrived.
#[derive(Debug, Clone)]
struct Downstream {
    progress: FleetProgress,
    at_ms: u64,
}

#[derive(Debug)]
struct Inner {
    role: Role,
    downstream: HashMap<Pubkey, Downstream>,
    /// The root's schedule.
    schedule: Schedule,
    membership: Option<Membership>,
    /// A member's schedule and lease.
    heard: Heard,
    /// The newest bank known rooted (committed or still in the overlay).
    rooted: Option<(Slot, Hash)>,
}

/// The fleet state of one node (kept across the stores it serves).
#[derive(Debug)]
pub struct Fleet {
    config: OnceLock<FleetConfig>,
    metrics: OnceLock<FleetMetrics>,
    inner: Mutex<Inner>,
}

impl Default for Fleet {
    fn default() -> Self {
        Self {
            config: OnceLock::new(),
            metrics: OnceLock::new(),
            inner: Mutex::new(Inner {
                role: Role::Unknown,
                downstream: HashMap::new(),
                schedule: Schedule::default(),
                membership: None,
                heard: Heard::default(),
                rooted: None,
            }),
        }
    }
}

/// Why a read cannot be answered at fleet consistency.
#[derive(Debug, thiserror::Error)]
pub enum FleetReadError {
    /// No fresh servable slot: the lease ran out (or none was ever heard).
    #[error("no fresh servable slot from the fleet")]
    NoLease { context_slot: Slot },
    /// This replica does not hold the servable slot (it lags, or committed past it).
    #[error("slot {slot} is servable in the fleet but not held here")]
    NotHeld { slot: Slot },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Fleet {
    /// Turns fleet consistency on (once; later calls change nothing).
    pub fn enable(&self, config: FleetConfig, registry: &Registry) {
        if config.consistency == Consistency::Fleet {
            let _ = self.config.set(config);
            let _ = self.metrics.set(FleetMetrics::new(registry));
        }
    }

    pub fn config(&self) -> Option<&FleetConfig> {
        self.config.get()
    }

    pub fn is_enabled(&self) -> bool {
        self.config.get().is_some()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn timing(&self) -> Option<Timing> {
        self.config.get().map(FleetConfig::timing)
    }

    /// A downstream replica reported its subtree.
    pub fn report(&self, peer: Pubkey, mut progress: FleetProgress) {
        if !self.is_enabled() {
            return;
        }
        progress.members.truncate(MAX_FLEET_MEMBERS);
        self.inner().downstream.insert(
            peer,
            Downstream {
                progress,
                at_ms: now_ms(),
            },
        );
    }

    /// What the upstream announced (`None`: it is in no fleet, so this replica is the root).
    /// Returns whether the schedule changed (downstream long-polls should hear of it).
    pub fn on_upstream(&self, announcement: Option<FleetAnnouncement>) -> bool {
        if !self.is_enabled() {
            return false;
        }
        let mut inner = self.inner();
        match announcement {
            Some(announcement) => {
                inner.role = Role::Member;
                inner.heard.hear(announcement, now_ms())
            }
            None => {
                let changed = inner.role != Role::Root;
                if inner.role == Role::Member {
                    // A member turned root (its upstream failed over) carries on from what it
                    // heard, so its own reads never go back.
                    inner.schedule = inner.heard.schedule.clone();
                }
                inner.role = Role::Root;
                changed
            }
        }
    }

    /// The announcement this replica passes down: the root's own, or the one it heard,
    /// unchanged.
    pub fn announcement(&self) -> Option<FleetAnnouncement> {
        let timing = self.timing()?;
        let inner = self.inner();
        match inner.role {
            Role::Root => Some(FleetAnnouncement {
                issued_at_ms: now_ms(),
                lease_ms: u32::try_from(timing.lease_ms).unwrap_or(u32::MAX),
                schedule: inner.schedule.entries().to_vec(),
                members: inner
                    .membership
                    .as_ref()
                    .map(|m| m.members.clone())
                    .unwrap_or_default(),
            }),
            Role::Member => inner.heard.last.clone(),
            Role::Unknown => None,
        }
    }

    /// Notes the newest bank known rooted.
    pub fn note_rooted(&self, slot: Slot, blockhash: Hash) {
        let mut inner = self.inner();
        if inner.rooted.is_none_or(|(known, _)| slot > known) {
            inner.rooted = Some((slot, blockhash));
        }
    }

    /// The newest slot known rooted, committed or not.
    pub fn rooted_slot(&self) -> Option<Slot> {
        self.inner().rooted.map(|(slot, _)| slot)
    }

    /// The slots in force now, if this replica holds a fresh lease.
    pub fn servable_now(&self) -> Option<ServableSlots> {
        self.servable_at(now_ms())
    }

    fn servable_at(&self, now_ms: u64) -> Option<ServableSlots> {
        let inner = self.inner();
        match inner.role {
            Role::Root => inner.schedule.active(now_ms),
            Role::Member => {
                if inner
                    .heard
                    .lease_until_ms()
                    .is_some_and(|until| now_ms < until)
                {
                    inner.heard.schedule.active(now_ms)
                } else {
                    None
                }
            }
            Role::Unknown => None,
        }
    }
}

/// This replica's own progress.
fn own_progress(state: &ReplicaState) -> MemberProgress {
    let root = state.root_slot().unwrap_or_default();
    let confirmed = state.confirmed_slot().unwrap_or(root);
    let rooted = state
        .node()
        .fleet()
        .rooted_slot()
        .unwrap_or(root)
        .max(root)
        .min(confirmed.max(root));
    MemberProgress {
        identity: *state.identity(),
        confirmed_slot: confirmed,
        rooted_slot: rooted,
        age_ms: 0,
    }
}

/// What this replica reports upstream: itself, then every fresh member below it.
pub fn progress(state: &ReplicaState) -> Option<FleetProgress> {
    let fleet = state.node().fleet();
    let timing = fleet.timing()?;
    let now = now_ms();
    let mut members = vec![own_progress(state)];
    let inner = fleet.inner();
    for downstream in inner.downstream.values() {
        let elapsed = now.saturating_sub(downstream.at_ms);
        for member in &downstream.progress.members {
            let age = u64::from(member.age_ms).saturating_add(elapsed);
            if age <= timing.member_timeout_ms && members.len() < MAX_FLEET_MEMBERS {
                members.push(MemberProgress {
                    age_ms: u32::try_from(age).unwrap_or(u32::MAX),
                    ..member.clone()
                });
            }
        }
    }
    Some(FleetProgress { members })
}

/// The root recomputes the servable slots (on every change of its own or a member's
/// progress); every replica refreshes its fleet gauges. Wakes downstream long-polls when the
/// schedule changed.
pub fn refresh(state: &ReplicaState) {
    let fleet = state.node().fleet();
    let Some(timing) = fleet.timing() else {
        return;
    };
    let now = now_ms();
    let own = own_progress(state);
    let mut changed = false;
    {
        let mut inner = fleet.inner();
        if inner.role == Role::Root {
            let mut reports: HashMap<Pubkey, Report> = HashMap::new();
            for downstream in inner.downstream.values() {
                for member in &downstream.progress.members {
                    let report = Report {
                        confirmed_slot: member.confirmed_slot,
                        rooted_slot: member.rooted_slot,
                        at_ms: downstream.at_ms.saturating_sub(u64::from(member.age_ms)),
                    };
                    let entry = reports.entry(member.identity).or_insert(report);
                    if report.at_ms > entry.at_ms {
                        *entry = report;
                    }
                }
            }
            let membership = schedule::membership(
                (own.identity, schedule::own_report(&own, now)),
                &reports,
                &timing,
                now,
            );
            if let Some(candidate) = membership.candidate {
                changed = inner
                    .schedule
                    .propose(candidate, now, timing.switch_delay_ms);
            }
            inner.schedule.prune(now);
            // Forget members silent for long (they are listed as stale until then).
            let forget_after = timing.member_timeout_ms.saturating_mul(10);
            inner
                .downstream
                .retain(|_, d| now.saturating_sub(d.at_ms) <= forget_after);
            inner.membership = Some(membership);
        }
    }
    if changed {
        state.node().notify_change();
    }
    update_gauges(state, &own, now);
}

fn update_gauges(state: &ReplicaState, own: &MemberProgress, now: u64) {
    let fleet = state.node().fleet();
    let Some(metrics) = fleet.metrics.get() else {
        return;
    };
    let servable = fleet.servable_at(now);
    metrics.lease_valid.set(i64::from(servable.is_some()));
    let (members, excluded, freshest) = {
        let inner = fleet.inner();
        let members = match inner.role {
            Role::Root => inner.membership.as_ref().map(|m| m.members.clone()),
            _ => inner.heard.last.as_ref().map(|a| a.members.clone()),
        }
        .unwrap_or_default();
        let excluded = members.iter().filter(|m| m.excluded.is_some()).count();
        let freshest = members
            .iter()
            .filter(|m| m.excluded.is_none())
            .fold((own.confirmed_slot, own.rooted_slot), |(c, r), m| {
                (c.max(m.confirmed_slot), r.max(m.rooted_slot))
            });
        (members.len(), excluded, freshest)
    };
    metrics.members.set(members as i64);
    metrics.excluded.set(excluded as i64);
    if let Some(servable) = servable {
        for (label, slot, fresh) in [
            ("confirmed", servable.confirmed, freshest.0),
            ("finalized", servable.finalized, freshest.1),
        ] {
            metrics
                .servable
                .with_label_values(&[label])
                .set(slot as i64);
            metrics
                .lag
                .with_label_values(&[label])
                .set(fresh.saturating_sub(slot) as i64);
        }
    }
}

/// The view a commitment reads under fleet consistency: exactly the servable slot.
pub fn bank(state: &ReplicaState, commitment: Commitment) -> Result<BankView<'_>, FleetReadError> {
    let fleet = state.node().fleet();
    let refuse = |error: FleetReadError| {
        if let Some(metrics) = fleet.metrics.get() {
            metrics.unserved_reads.inc();
        }
        error
    };
    // A commit may move the root past the target between choosing it and reading: try again
    // with the new target.
    for _ in 0..3 {
        let Some(servable) = fleet.servable_now() else {
            return Err(refuse(FleetReadError::NoLease {
                context_slot: state.root_slot().unwrap_or_default(),
            }));
        };
        let slot = match commitment {
            Commitment::Finalized => servable.finalized,
            Commitment::Confirmed | Commitment::Processed => servable.confirmed,
        };
        match view_at(state, slot)? {
            Some(view) => return Ok(view),
            None if state.root_slot().unwrap_or_default() > slot => continue,
            None => return Err(refuse(FleetReadError::NotHeld { slot })),
        }
    }
    Err(refuse(FleetReadError::NotHeld {
        slot: state.root_slot().unwrap_or_default(),
    }))
}

/// The state at `slot` on the confirmed chain, if this replica holds it.
fn view_at(state: &ReplicaState, slot: Slot) -> Result<Option<BankView<'_>>, StoreError> {
    let Some(root) = state.root_slot() else {
        return Ok(None);
    };
    if slot < root {
        return Ok(None);
    }
    let chain = if slot == root {
        Vec::new()
    } else {
        let overlay = state.overlay().read().expect("overlay lock");
        let Some(chain) = overlay
            .confirmed_tip()
            .and_then(|tip| overlay.chain(tip, root))
        else {
            return Ok(None);
        };
        match chain.iter().position(|bank| bank.slot() == slot) {
            Some(position) => chain[position..].to_vec(),
            None => return Ok(None),
        }
    };
    let view = BankView::new(state.store(), chain)?;
    Ok((view.slot() == slot).then_some(view))
}

/// Whether this replica can answer at fleet consistency now (for `/health`).
pub fn serving(state: &ReplicaState) -> bool {
    let fleet = state.node().fleet();
    let Some(servable) = fleet.servable_now() else {
        return false;
    };
    let root = state.root_slot().unwrap_or_default();
    let confirmed = state.confirmed_slot().unwrap_or(root);
    root <= servable.finalized && servable.confirmed <= confirmed
}

/// The bank to commit up to for the rooted bank `rooted`: under fleet consistency, the newest
/// rooted bank at or below the servable finalized slot (none: commit nothing now), unless the
/// overlay outgrew its bound.
pub fn commit_target(state: &ReplicaState, rooted: &SlotInfo) -> Option<SlotInfo> {
    let fleet = state.node().fleet();
    let Some(config) = fleet.config() else {
        return Some(rooted.clone());
    };
    fleet.note_rooted(rooted.slot, rooted.blockhash);
    let overlay = state.overlay().read().expect("overlay lock");
    if overlay.len() > config.max_overlay_slots {
        if let Some(metrics) = fleet.metrics.get() {
            metrics.forced_commits.inc();
        }
        return Some(rooted.clone());
    }
    let limit = fleet.servable_now()?.finalized;
    if rooted.slot <= limit {
        return Some(rooted.clone());
    }
    let root = state.root_slot().unwrap_or_default();
    let chain = overlay.chain((rooted.slot, rooted.blockhash), root)?;
    let target = chain.iter().find(|bank| bank.slot() <= limit)?;
    Some(SlotInfo {
        slot: target.meta.slot,
        parent: target.meta.parent,
        blockhash: target.meta.blockhash,
        ..rooted.clone()
    })
}

/// `getReplicaStatus.fleet`: null under local consistency.
pub fn status(state: &ReplicaState) -> Value {
    let fleet = state.node().fleet();
    let Some(config) = fleet.config() else {
        return Value::Null;
    };
    let now = now_ms();
    let servable = fleet.servable_at(now);
    let inner = fleet.inner();
    let (role, members, lease_until) = match inner.role {
        Role::Root => (
            "root",
            inner.membership.as_ref().map(|m| m.members.clone()),
            None,
        ),
        Role::Member => (
            "member",
            inner.heard.last.as_ref().map(|a| a.members.clone()),
            inner.heard.lease_until_ms(),
        ),
        Role::Unknown => ("unknown", None, None),
    };
    let members = members.unwrap_or_default();
    let describe = |m: &replication_proto::FleetMember| {
        json!({
            "identity": m.identity.to_string(),
            "confirmedSlot": m.confirmed_slot,
            "rootedSlot": m.rooted_slot,
        })
    };
    json!({
        "role": role,
        "servable": servable.map(|s| json!({"confirmed": s.confirmed, "finalized": s.finalized})),
        "leaseUntilMs": lease_until,
        "switchDelayMs": config.switch_delay_ms,
        "clockBoundMs": config.clock_bound_ms,
        "members": members.iter().filter(|m| m.excluded.is_none()).map(describe).collect::<Vec<_>>(),
        "excluded": members.iter().filter_map(|m| m.excluded.map(|why| {
            let mut entry = describe(m);
            entry["reason"] = json!(match why {
                replication_proto::Exclusion::Stale => "stale",
                replication_proto::Exclusion::Lagging => "lagging",
            });
            entry
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use {super::*, replication_proto::ScheduledSlots};

    fn fleet() -> Fleet {
        let fleet = Fleet::default();
        fleet.enable(
            FleetConfig {
                consistency: Consistency::Fleet,
                ..FleetConfig::default()
            },
            &Registry::new(),
        );
        fleet
    }

    fn announcement(issued_at_ms: u64, confirmed: Slot) -> FleetAnnouncement {
        FleetAnnouncement {
            issued_at_ms,
            lease_ms: 900,
            schedule: vec![ScheduledSlots {
                slots: ServableSlots {
                    confirmed,
                    finalized: confirmed - 5,
                },
                switch_at_ms: issued_at_ms,
            }],
            members: Vec::new(),
        }
    }

    #[test]
    fn a_member_serves_only_under_a_fresh_lease() {
        let fleet = fleet();
        assert_eq!(fleet.servable_now(), None, "nothing heard yet");
        let now = now_ms();
        fleet.on_upstream(Some(announcement(now, 100)));
        assert_eq!(fleet.servable_now().map(|s| s.confirmed), Some(100));
        assert_eq!(fleet.servable_at(now + 899).map(|s| s.confirmed), Some(100));
        assert_eq!(fleet.servable_at(now + 900), None, "lease ran out");
        // A late copy of an old announcement does not renew the lease.
        fleet.on_upstream(Some(announcement(now - 5_000, 90)));
        assert_eq!(fleet.servable_at(now + 900), None);
    }

    #[test]
    fn a_member_turned_root_carries_on_from_what_it_heard() {
        let fleet = fleet();
        let now = now_ms();
        fleet.on_upstream(Some(announcement(now, 100)));
        fleet.on_upstream(None);
        // A root needs no lease; it keeps the slots it served.
        assert_eq!(
            fleet.servable_at(now + 10_000).map(|s| s.confirmed),
            Some(100)
        );
        assert_eq!(fleet.announcement().unwrap().schedule.len(), 1);
    }

    #[test]
    fn local_consistency_ignores_the_fleet() {
        let fleet = Fleet::default();
        fleet.enable(FleetConfig::default(), &Registry::new());
        assert!(!fleet.is_enabled());
        assert!(!fleet.on_upstream(Some(announcement(now_ms(), 100))));
        assert_eq!(fleet.announcement(), None);
        assert_eq!(fleet.servable_now(), None);
    }
}
