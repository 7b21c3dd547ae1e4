//! The open subscriptions, indexed the way notifications look for them: by account, by
//! program, and the slot and root watchers, each with its connection's outbox. Bounded by
//! `max_active_subscriptions` over all connections.

use {
    super::{
        outbox::{Outbox, SubscriptionId},
        params::{Level, Subscription},
    },
    solana_pubkey::Pubkey,
    std::{
        collections::{HashMap, HashSet},
        sync::{Arc, Mutex},
    },
};

/// One subscription as the notifier sees it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) id: SubscriptionId,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) subscription: Arc<Subscription>,
}

#[derive(Debug, Default)]
struct Index {
    all: HashMap<SubscriptionId, Target>,
    accounts: HashMap<Pubkey, HashSet<SubscriptionId>>,
    programs: HashMap<Pubkey, HashSet<SubscriptionId>>,
    slots: HashSet<SubscriptionId>,
    roots: HashSet<SubscriptionId>,
    /// Subscriptions admitted but not yet inserted (their acceptance is on the wire).
    reserved: usize,
}

#[derive(Debug)]
pub(crate) struct Subscriptions {
    index: Mutex<Index>,
    max_active: usize,
}

/// Why a subscription was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LimitReached;

impl Subscriptions {
    pub(crate) fn new(max_active: usize) -> Self {
        Self {
            index: Mutex::default(),
            max_active,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().expect("subscriptions lock")
    }

    /// Admits one more subscription (to be [`insert`](Self::insert)ed or
    /// [`release`](Self::release)d).
    pub(crate) fn reserve(&self) -> Result<(), LimitReached> {
        let mut index = self.lock();
        if index.all.len() + index.reserved >= self.max_active {
            return Err(LimitReached);
        }
        index.reserved += 1;
        Ok(())
    }

    pub(crate) fn release(&self) {
        let mut index = self.lock();
        index.reserved = index.reserved.saturating_sub(1);
    }

    /// Inserts a reserved subscription.
    pub(crate) fn insert(&self, target: Target) {
        let mut index = self.lock();
        index.reserved = index.reserved.saturating_sub(1);
        let id = target.id;
        match target.subscription.as_ref() {
            Subscription::Account { pubkey, .. } => {
                index.accounts.entry(*pubkey).or_default().insert(id);
            }
            Subscription::Program { program, .. } => {
                index.programs.entry(*program).or_default().insert(id);
            }
            Subscription::Slot => {
                index.slots.insert(id);
            }
            Subscription::Root => {
                index.roots.insert(id);
            }
        }
        index.all.insert(id, target);
    }

    /// Removes a subscription of `connection`; `None` if it has no such subscription.
    pub(crate) fn remove(&self, connection: usize, id: SubscriptionId) -> Option<Target> {
        let mut index = self.lock();
        if index.all.get(&id)?.outbox.connection != connection {
            return None;
        }
        let target = index.all.remove(&id)?;
        let remove_from = |set: &mut HashMap<Pubkey, HashSet<SubscriptionId>>, key: &Pubkey| {
            if let Some(ids) = set.get_mut(key) {
                ids.remove(&id);
                if ids.is_empty() {
                    set.remove(key);
                }
            }
        };
        match target.subscription.as_ref() {
            Subscription::Account { pubkey, .. } => remove_from(&mut index.accounts, pubkey),
            Subscription::Program { program, .. } => remove_from(&mut index.programs, program),
            Subscription::Slot => {
                index.slots.remove(&id);
            }
            Subscription::Root => {
                index.roots.remove(&id);
            }
        }
        Some(target)
    }

    /// The account subscriptions at `level` on each of `pubkeys`.
    pub(crate) fn accounts<'a>(
        &self,
        pubkeys: impl Iterator<Item = &'a Pubkey>,
        level: Level,
    ) -> Vec<(Pubkey, Vec<Target>)> {
        let index = self.lock();
        if index.accounts.is_empty() {
            return Vec::new();
        }
        pubkeys
            .filter_map(|pubkey| {
                let targets = collect(&index, index.accounts.get(pubkey)?, level);
                (!targets.is_empty()).then_some((*pubkey, targets))
            })
            .collect()
    }

    /// The program subscriptions at `level` for each program in `programs`.
    pub(crate) fn programs<'a>(
        &self,
        programs: impl Iterator<Item = &'a Pubkey>,
        level: Level,
    ) -> HashMap<Pubkey, Vec<Target>> {
        let index = self.lock();
        if index.programs.is_empty() {
            return HashMap::new();
        }
        let mut found = HashMap::new();
        for program in programs {
            if found.contains_key(program) {
                continue;
            }
            if let Some(ids) = index.programs.get(program) {
                let targets = collect(&index, ids, level);
                if !targets.is_empty() {
                    found.insert(*program, targets);
                }
            }
        }
        found
    }

    pub(crate) fn slot_watchers(&self) -> Vec<Target> {
        let index = self.lock();
        index
            .slots
            .iter()
            .filter_map(|id| index.all.get(id).cloned())
            .collect()
    }

    pub(crate) fn root_watchers(&self) -> Vec<Target> {
        let index = self.lock();
        index
            .roots
            .iter()
            .filter_map(|id| index.all.get(id).cloned())
            .collect()
    }

    /// Every connection with a subscription (to disconnect them all when notifications were
    /// lost).
    pub(crate) fn outboxes(&self) -> Vec<Arc<Outbox>> {
        let index = self.lock();
        let mut seen = HashSet::new();
        index
            .all
            .values()
            .filter(|target| seen.insert(target.outbox.connection))
            .map(|target| target.outbox.clone())
            .collect()
    }
}

fn collect(index: &Index, ids: &HashSet<SubscriptionId>, level: Level) -> Vec<Target> {
    ids.iter()
        .filter_map(|id| index.all.get(id))
        .filter(|target| match target.subscription.as_ref() {
            Subscription::Account { level: at, .. } | Subscription::Program { level: at, .. } => {
                *at == level
            }
            _ => false,
        })
        .cloned()
        .collect()
}
