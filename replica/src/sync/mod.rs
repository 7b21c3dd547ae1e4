//! Following an upstream: long-poll its slot confirmations, fetch each new confirmed slot into
//! the overlay (its lattice hash checked there), move the rooted tip that `finalized` reads,
//! commit rooted chains to the store in one atomic batch on a background task (one at a time),
//! and fail over between upstreams with backoff.

mod apply;

use {
    crate::state::{ReplicaState, UpstreamStatus},
    replication_proto::{
        SlotInfo, SlotStatus,
        transport::{
            ClientError, REFUSED_RETRY_INTERVAL, ReplicationClient, ReplicationClientConfig,
            RetryAdvice, Upstream,
        },
    },
    solana_clock::Slot,
    solana_keypair::Keypair,
    std::{
        collections::{HashMap, HashSet, VecDeque},
        sync::Arc,
        time::{Duration, Instant},
    },
    tokio::sync::watch,
    tokio_util::{sync::CancellationToken, task::AbortOnDropHandle},
};

/// Rooted slots held in the overlay at most while catching up before they are committed.
const CATCH_UP_COMMIT_SLOTS: usize = 16;
/// Slots downloaded ahead of the one entering the overlay.
const FETCH_AHEAD_SLOTS: usize = 4;
const DEFAULT_LONG_POLL: Duration = Duration::from_secs(1);
const DEFAULT_BACKOFF_MIN: Duration = Duration::from_millis(200);
const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(10);
const DEFAULT_RETURN_AFTER: Duration = Duration::from_secs(30);
const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(5);
const MIN_PROBE_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Upstreams in order of preference.
    pub upstreams: Vec<Upstream>,
    /// A list that replaces `upstreams` whenever it changes (an upstream published in etcd).
    pub updates: Option<watch::Receiver<Vec<Upstream>>>,
    /// How long one long-poll may wait for news.
    pub long_poll: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How long the preferred upstream must keep answering before this replica returns to it.
    pub return_after: Duration,
    /// How often the preferred upstream is probed while another one is followed.
    pub probe_interval: Duration,
    pub client: ReplicationClientConfig,
}

impl SyncConfig {
    pub fn new(upstreams: Vec<Upstream>) -> Self {
        Self {
            upstreams,
            updates: None,
            long_poll: DEFAULT_LONG_POLL,
            backoff_min: DEFAULT_BACKOFF_MIN,
            backoff_max: DEFAULT_BACKOFF_MAX,
            return_after: DEFAULT_RETURN_AFTER,
            probe_interval: DEFAULT_PROBE_INTERVAL,
            client: ReplicationClientConfig::default(),
        }
    }

    /// Sets how long the preferred upstream must answer before the return, probing it often
    /// enough to notice within a third of that.
    pub fn set_return_after(&mut self, return_after: Duration) {
        self.return_after = return_after;
        self.probe_interval = (return_after / 3).clamp(MIN_PROBE_INTERVAL, DEFAULT_PROBE_INTERVAL);
    }

    /// The upstreams in order of preference, as they stand now.
    fn current(&self) -> Vec<Upstream> {
        match &self.updates {
            Some(updates) => updates.borrow().clone(),
            None => self.upstreams.clone(),
        }
    }
}

/// Why following stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncExit {
    Cancelled,
    /// The upstream cannot bring the store forward: re-bootstrap from a newer snapshot.
    NeedsBootstrap {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("upstream sent {what}")]
    Inconsistent { what: String },
    #[error("blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

enum Followed {
    Cancelled,
    /// The upstream no longer retains what this replica needs next (another upstream may).
    PastRetention(String),
    /// This replica's state diverged from the upstream's: only a new bootstrap helps.
    Diverged(String),
    /// Follow another upstream now: the list changed, or the preferred one is back.
    Switch,
}

fn upstream_name(upstream: &Upstream) -> String {
    format!("{}={}", upstream.addr, upstream.identity)
}

/// Per-upstream bookkeeping of the follow loop.
#[derive(Debug, Default)]
struct UpstreamMarks {
    /// Refused this replica (allowlist, identity, version) until then; logged once.
    refused_until: HashMap<Upstream, Instant>,
    /// Said the slots after this root are past its retention.
    past_retention: HashMap<Upstream, Slot>,
}

impl UpstreamMarks {
    /// The upstream to follow: the most preferred one from `start` on that has not refused
    /// this replica recently nor said it cannot serve from `root`.
    fn pick(&self, list: &[Upstream], start: usize, root: Slot, now: Instant) -> Option<usize> {
        (0..list.len())
            .map(|offset| (start + offset) % list.len())
            .find(|&index| {
                let upstream = &list[index];
                self.refused_until
                    .get(upstream)
                    .is_none_or(|until| *until <= now)
                    && self
                        .past_retention
                        .get(upstream)
                        .is_none_or(|at| *at != root)
            })
    }

    /// When the earliest refusal ends, if every upstream is refused.
    fn all_refused_until(&self, list: &[Upstream], now: Instant) -> Option<Instant> {
        list.iter()
            .map(|upstream| self.refused_until.get(upstream).copied())
            .collect::<Option<Vec<_>>>()
            .and_then(|untils| untils.into_iter().filter(|until| *until > now).min())
    }
}

/// Follows the upstreams until cancelled or until the store needs a new bootstrap. The most
/// preferred upstream is followed; on a failure the next one is tried (with backoff), and the
/// replica returns to the preferred one once it has answered for `return_after`. An upstream
/// that refuses this replica is retried only every [`REFUSED_RETRY_INTERVAL`]. When one upstream
/// no longer retains the slots this replica needs, the others are asked before a new bootstrap.
pub async fn run(
    state: Arc<ReplicaState>,
    identity: Arc<Keypair>,
    mut config: SyncConfig,
    cancel: CancellationToken,
) -> SyncExit {
    let mut index = 0;
    let mut backoff = config.backoff_min;
    let mut marks = UpstreamMarks::default();
    loop {
        let list = config.current();
        let root = state.root_slot().unwrap_or_default();
        let now = Instant::now();
        let Some(picked) = (!list.is_empty())
            .then(|| marks.pick(&list, index.min(list.len() - 1), root, now))
            .flatten()
        else {
            if !list.is_empty() && marks.all_refused_until(&list, now).is_none() {
                // Every upstream said it cannot serve from this root.
                let reason =
                    format!("no upstream retains the slots after this replica's root {root}");
                tracing::error!(%reason, "a new bootstrap is needed");
                state.set_needs_bootstrap(Some(reason.clone()));
                return SyncExit::NeedsBootstrap { reason };
            }
            // No upstream, or all of them refuse this replica: wait for a change.
            let wake = marks
                .all_refused_until(&list, now)
                .map_or(config.backoff_max, |until| until - now);
            tokio::select! {
                _ = cancel.cancelled() => return SyncExit::Cancelled,
                _ = list_changed(&mut config.updates) => {}
                _ = tokio::time::sleep(wake) => {}
            }
            continue;
        };
        index = picked;
        let upstream = list[index];
        let name = upstream_name(&upstream);
        let previous = state
            .upstream()
            .filter(|status| status.name == name)
            .map_or(0, |status| status.confirmed_slot);
        state.set_upstream(Some(UpstreamStatus {
            name: name.clone(),
            confirmed_slot: previous,
        }));
        let preferred = (index > 0).then(|| list[0]);
        let switch = switch_wanted(&identity, preferred, &config, &state);
        match follow(
            &state,
            &identity,
            &upstream,
            &config,
            &cancel,
            &mut backoff,
            switch,
        )
        .await
        {
            Ok(Followed::Cancelled) => return SyncExit::Cancelled,
            Ok(Followed::Switch) => {
                tracing::info!(from = %name, "switching upstream");
                index = 0;
                backoff = config.backoff_min;
                continue;
            }
            Ok(Followed::PastRetention(reason)) => {
                tracing::warn!(upstream = %name, %reason, "the upstream no longer retains the slots this replica needs; asking the others");
                marks.past_retention.insert(upstream, root);
                index = (index + 1) % list.len();
                continue;
            }
            Ok(Followed::Diverged(reason)) => {
                tracing::error!(upstream = %name, %reason, "the upstream cannot bring this replica forward; a new bootstrap is needed");
                state.set_needs_bootstrap(Some(reason.clone()));
                return SyncExit::NeedsBootstrap { reason };
            }
            Err(SyncError::Client(error)) if error.retry_advice() == RetryAdvice::Refused => {
                state.metrics().upstream_failures.inc();
                if !marks.refused_until.contains_key(&upstream) {
                    tracing::error!(upstream = %name, %error, retry_every = ?REFUSED_RETRY_INTERVAL, "the upstream refuses this replica; trying it again only at that interval");
                }
                marks
                    .refused_until
                    .insert(upstream, Instant::now() + REFUSED_RETRY_INTERVAL);
            }
            Err(error) => {
                state.metrics().upstream_failures.inc();
                tracing::warn!(upstream = %name, %error, retry_in = ?backoff, "upstream failed; trying the next one");
            }
        }
        index = (index + 1) % list.len();
        tokio::select! {
            _ = cancel.cancelled() => return SyncExit::Cancelled,
            // A newly published upstream is tried at once, whatever the backoff.
            _ = list_changed(&mut config.updates) => {
                index = 0;
                backoff = config.backoff_min;
                continue;
            }
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(config.backoff_max);
    }
}

/// Completes when the upstream list changes (never without an updating list).
async fn list_changed(updates: &mut Option<watch::Receiver<Vec<Upstream>>>) {
    match updates {
        Some(updates) => {
            if updates.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// Completes when this replica should follow another upstream: the list changed, or the
/// `preferred` one (when another is followed) answered for `return_after` in a row.
async fn switch_wanted(
    identity: &Keypair,
    preferred: Option<Upstream>,
    config: &SyncConfig,
    state: &ReplicaState,
) {
    let mut updates = config.updates.clone();
    if let Some(updates) = updates.as_mut() {
        updates.mark_unchanged();
    }
    let probe = async {
        let Some(preferred) = preferred else {
            return std::future::pending().await;
        };
        let mut healthy_since: Option<Instant> = None;
        let mut tick = tokio::time::interval(config.probe_interval);
        loop {
            tick.tick().await;
            let root = state.root_slot().unwrap_or_default();
            let answered = async {
                let client = ReplicationClient::connect(
                    identity,
                    preferred.addr,
                    preferred.identity,
                    config.client.clone(),
                )
                .await?;
                let answer = client.slot_confirmation(root, 0, Duration::ZERO).await;
                client.close();
                answer
            }
            .await;
            match answered {
                // It can serve from here on only if it still retains the slots after our root.
                Ok(answer) if answer.first_available_slot <= root.saturating_add(1) => {
                    let since = *healthy_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= config.return_after {
                        return;
                    }
                }
                _ => healthy_since = None,
            }
        }
    };
    tokio::select! {
        _ = list_changed(&mut updates) => {}
        _ = probe => {}
    }
}

async fn follow(
    state: &Arc<ReplicaState>,
    identity: &Keypair,
    upstream: &Upstream,
    config: &SyncConfig,
    cancel: &CancellationToken,
    backoff: &mut Duration,
    switch: impl std::future::Future<Output = ()>,
) -> Result<Followed, SyncError> {
    let switch = std::pin::pin!(switch);
    let mut switch = switch;
    let name = upstream_name(upstream);
    let client = tokio::select! {
        _ = cancel.cancelled() => return Ok(Followed::Cancelled),
        _ = &mut switch => return Ok(Followed::Switch),
        client = ReplicationClient::connect(identity, upstream.addr, upstream.identity, config.client.clone()) => Arc::new(client?),
    };
    tracing::info!(upstream = %name, "connected to upstream");
    let mut known_seq = 0;
    // The root commit running in the background, if any (one at a time).
    let mut committing: Option<AbortOnDropHandle<CommitOutcome>> = None;
    loop {
        let root = state.root_slot().unwrap_or_default();
        let confirmations = tokio::select! {
            _ = cancel.cancelled() => {
                client.close();
                return Ok(Followed::Cancelled);
            }
            _ = &mut switch => {
                client.close();
                return Ok(Followed::Switch);
            }
            answer = poll(state, &client, root, known_seq, config.long_poll) => answer?,
        };
        // A healthy exchange resets the backoff for the next failure.
        *backoff = config.backoff_min;
        state.node().upstream_answered();
        if state
            .node()
            .fleet()
            .on_upstream(confirmations.fleet.clone())
        {
            state.node().notify_change();
        }
        known_seq = confirmations.seq;
        let upstream_confirmed = confirmations
            .slots
            .iter()
            .map(|info| info.slot)
            .max()
            .unwrap_or(root)
            .max(root);
        state.set_upstream(Some(UpstreamStatus {
            name: name.clone(),
            confirmed_slot: upstream_confirmed,
        }));

        let mut changed = false;
        // The slots to fetch, in order: those building on the root, on a slot in the overlay,
        // or on one fetched before them from this answer.
        let mut wanted: Vec<SlotInfo> = Vec::new();
        let mut fetching: HashSet<Slot> = HashSet::new();
        for info in &confirmations.slots {
            if info.slot <= root || apply::overlay_has(state, info.slot, &info.blockhash) {
                continue;
            }
            if info.parent < root {
                // Forks off below our root: dead from our point of view.
                continue;
            }
            if info.parent > root
                && !fetching.contains(&info.parent)
                && apply::parent_known(state, info.parent) != Some(true)
            {
                if info.parent < confirmations.first_available_slot
                    && !confirmations
                        .slots
                        .iter()
                        .any(|other| other.slot == info.parent)
                {
                    return Ok(Followed::PastRetention(format!(
                        "slot {} builds on slot {}, which the upstream no longer retains (first available {}), and this replica's root is {root}",
                        info.slot, info.parent, confirmations.first_available_slot
                    )));
                }
                continue;
            }
            fetching.insert(info.slot);
            wanted.push(info.clone());
        }
        // Later slots download (on their own tasks) while earlier ones enter the overlay.
        let mut wanted = wanted.into_iter();
        let mut fetches: VecDeque<AbortOnDropHandle<FetchedWithTime>> = VecDeque::new();
        let fetch_more = |fetches: &mut VecDeque<_>, wanted: &mut std::vec::IntoIter<SlotInfo>| {
            while fetches.len() < FETCH_AHEAD_SLOTS {
                let Some(info) = wanted.next() else { break };
                fetches.push_back(AbortOnDropHandle::new(tokio::spawn(fetch_slot(
                    client.clone(),
                    info,
                ))));
            }
        };
        let mut rooted_in_overlay = 0usize;
        loop {
            fetch_more(&mut fetches, &mut wanted);
            let Some(fetch) = fetches.pop_front() else {
                break;
            };
            let (info, accounts, fetched_in) = fetch.await?;
            let accounts = match accounts {
                Ok(accounts) => accounts,
                Err(ClientError::SlotUnavailable {
                    first_available_slot,
                }) => {
                    return Ok(Followed::PastRetention(format!(
                        "slot {} is no longer retained upstream (first available {first_available_slot}); root is {root}",
                        info.slot
                    )));
                }
                Err(error) => return Err(error.into()),
            };
            // A commit made while catching up may have pruned this slot's fork.
            if apply::parent_known(state, info.parent) != Some(true) {
                continue;
            }
            let insert_started = std::time::Instant::now();
            let (inserting, inserted) = (state.clone(), info.clone());
            match tokio::task::spawn_blocking(move || {
                apply::insert_slot(&inserting, &inserted, accounts)
            })
            .await?
            {
                Ok(()) => {}
                Err(SyncError::Store(crate::store::StoreError::LtHashMismatch {
                    slot,
                    computed,
                    expected,
                })) => return Ok(Followed::Diverged(diverged(slot, computed, expected))),
                Err(error) => return Err(error),
            }
            tracing::debug!(
                slot = info.slot,
                fetch_ms = fetched_in.as_secs_f64() * 1e3,
                insert_ms = insert_started.elapsed().as_secs_f64() * 1e3,
                "slot in the overlay"
            );
            changed = true;
            // While catching up, commit rooted slots as they arrive so that the overlay chain
            // every insert reads through stays short.
            if info.status == SlotStatus::Rooted {
                rooted_in_overlay += 1;
                if rooted_in_overlay >= CATCH_UP_COMMIT_SLOTS
                    && let Some(target) = crate::fleet::commit_target(state, &info)
                {
                    // One commit at a time, beside the next slots' downloads and inserts.
                    if let Some(followed) = finish_commit(committing.take()).await? {
                        return Ok(followed);
                    }
                    // Every rooted bank is announced by moving the rooted tip, in order,
                    // before its commit.
                    if apply::advance_rooted_tip(state, target.slot, target.blockhash) {
                        state.notify_change();
                    }
                    committing = Some(start_commit(state, target));
                    rooted_in_overlay = 0;
                }
            }
        }
        if apply::update_confirmed_tip(state, &confirmations.slots) {
            changed = true;
        }
        let newest_rooted = confirmations
            .slots
            .iter()
            .rev()
            .find(|info| {
                info.status == SlotStatus::Rooted
                    && apply::overlay_has(state, info.slot, &info.blockhash)
            })
            .cloned();
        if let Some(rooted) = newest_rooted
            && let Some(target) = crate::fleet::commit_target(state, &rooted)
        {
            // Finalized reads see the rooted slot at once; its commit follows in the
            // background while the next slots arrive.
            if apply::advance_rooted_tip(state, target.slot, target.blockhash) {
                changed = true;
            }
            if let Some(followed) = finish_commit(committing.take()).await? {
                return Ok(followed);
            }
            committing = Some(start_commit(state, target));
        }
        if changed {
            state.notify_change();
        }
        crate::fleet::refresh(state);
    }
}

/// One long-poll; a fleet member's carries its subtree's progress and waits at most as long
/// as keeps its lease renewed.
async fn poll(
    state: &ReplicaState,
    client: &ReplicationClient,
    root: Slot,
    known_seq: u64,
    long_poll: Duration,
) -> Result<replication_proto::SlotConfirmations, ClientError> {
    let fleet = state.node().fleet();
    match fleet.config() {
        Some(config) => {
            client
                .fleet_confirmation(
                    root,
                    known_seq,
                    long_poll.min(config.long_poll()),
                    crate::fleet::progress(state),
                )
                .await
        }
        None => client.slot_confirmation(root, known_seq, long_poll).await,
    }
}

fn diverged(slot: Slot, computed: solana_hash::Hash, expected: solana_hash::Hash) -> String {
    format!(
        "after slot {slot} this replica's accounts hash to {computed}, the upstream's to {expected}"
    )
}

type CommitOutcome = Result<Option<Followed>, SyncError>;

/// Commits the chain up to `target` on its own task, telling the readers when it landed.
fn start_commit(state: &Arc<ReplicaState>, target: SlotInfo) -> AbortOnDropHandle<CommitOutcome> {
    let state = state.clone();
    AbortOnDropHandle::new(tokio::spawn(async move {
        let outcome = commit_rooted(&state, target).await;
        state.notify_change();
        outcome
    }))
}

/// Waits for a commit started in the background.
async fn finish_commit(committing: Option<AbortOnDropHandle<CommitOutcome>>) -> CommitOutcome {
    match committing {
        Some(committing) => committing.await?,
        None => Ok(None),
    }
}

/// Commits the chain up to `rooted`. A state-hash disagreement with the upstream means this
/// replica cannot follow it any more: it needs a new bootstrap.
async fn commit_rooted(
    state: &Arc<ReplicaState>,
    rooted: SlotInfo,
) -> Result<Option<Followed>, SyncError> {
    let state = state.clone();
    match tokio::task::spawn_blocking(move || {
        apply::commit_root(&state, rooted.slot, rooted.blockhash)
    })
    .await?
    {
        Ok(_) => Ok(None),
        Err(crate::store::StoreError::LtHashMismatch {
            slot,
            computed,
            expected,
        }) => Ok(Some(Followed::Diverged(diverged(slot, computed, expected)))),
        Err(error) => Err(error.into()),
    }
}

/// Downloads one slot's accounts, with the time it took.
/// A downloaded slot with the time its download took.
type FetchedWithTime = (SlotInfo, Result<apply::FetchedSlot, ClientError>, Duration);

async fn fetch_slot(client: Arc<ReplicationClient>, info: SlotInfo) -> FetchedWithTime {
    let started = std::time::Instant::now();
    let accounts = match client.slot_accounts(info.slot, info.blockhash).await {
        Ok(stream) => stream.collect().await,
        Err(error) => Err(error),
    };
    (info, accounts, started.elapsed())
}
