//! Applying what the upstream sends: a fetched slot into the overlay (with the state's lattice
//! hash after it), the confirmed and rooted tips, and rooted chains into the store. These run on
//! blocking threads (they read the store).

use {
    super::SyncError,
    crate::{
        bank::{
            BankView,
            overlay::{Overlay, OverlaySlot},
        },
        feed::{SlotEvent, SlotEventKind},
        state::ReplicaState,
        store::{
            Account, AccountUpdate, PARALLEL_HASH_THRESHOLD, SlotCommit, SlotMeta, StoreError,
        },
    },
    replication_proto::{AccountRecord, SlotHeader, SlotInfo, SlotTrailer},
    snapshot_tools::archive::{LtHash, account_lt_hash, lt_hash_checksum, lt_hash_sum},
    solana_clock::Slot,
    solana_hash::Hash,
    solana_pubkey::Pubkey,
    std::{collections::BTreeMap, sync::Arc},
};

pub(super) fn overlay_has(state: &ReplicaState, slot: Slot, blockhash: &Hash) -> bool {
    state
        .overlay()
        .read()
        .expect("overlay lock")
        .contains(slot, blockhash)
}

/// Whether a slot whose parent is `parent` can enter the overlay now: its parent is the store's
/// root or a slot in the overlay. `None`: it forks off below the root (dead here). The root is
/// read under the overlay lock, so a commit landing meanwhile (root moved, its slots not yet
/// pruned) cannot make a known parent look missing.
pub(super) fn parent_known(state: &ReplicaState, parent: Slot) -> Option<bool> {
    let overlay = state.overlay().read().expect("overlay lock");
    let root = state.root_slot().unwrap_or_default();
    if parent < root {
        return None;
    }
    Some(parent == root || overlay.bank_at(parent).is_some())
}

/// A slot as downloaded: header, records, trailer.
pub(super) type FetchedSlot = (SlotHeader, Vec<AccountRecord>, SlotTrailer);

/// Builds the overlay slot for a fetched slot and inserts it.
pub(super) fn insert_slot(
    state: &ReplicaState,
    info: &SlotInfo,
    (header, records, trailer): FetchedSlot,
) -> Result<(), SyncError> {
    if header.parent != info.parent {
        return Err(SyncError::Inconsistent {
            what: format!(
                "slot {} with parent {} in its header but {} in its confirmation",
                info.slot, header.parent, info.parent
            ),
        });
    }
    let mut accounts = BTreeMap::new();
    for record in records {
        let account = (record.lamports != 0).then_some(Account {
            lamports: record.lamports,
            rent_epoch: record.rent_epoch,
            owner: record.owner,
            executable: record.executable,
            slot: info.slot,
            data: record.data,
        });
        accounts.insert(record.pubkey, account);
    }
    let store = state.store();
    // The root is read under the overlay lock: a root commit running beside this insert prunes
    // the slots it committed only under the write lock, so the chain down to the root read
    // here stays whole.
    let overlay = state.overlay().read().expect("overlay lock");
    let root_state = store.root();
    let root = root_state.as_ref().map_or(0, |root| root.slot);
    let chain = if info.parent <= root {
        Vec::new()
    } else {
        let parent = overlay
            .bank_at(info.parent)
            .ok_or_else(|| SyncError::Inconsistent {
                what: format!(
                    "slot {} whose parent {} is not known here",
                    info.slot, info.parent
                ),
            })?;
        overlay.chain(parent, root).unwrap_or_default()
    };
    drop(overlay);
    // The state's lattice hash before this slot: the parent's, when the parent is the root or a
    // slot whose own hash is known.
    let parent_lt_hash = match chain.first() {
        Some(parent) => parent.state_lt_hash.clone(),
        None => root_state
            .filter(|root| root.slot == info.parent)
            .map(|root| root.lt_hash),
    };
    let parent_view = BankView::new(store, chain)?;
    let pubkeys: Vec<Pubkey> = accounts.keys().copied().collect();
    let previous = read_previous(&parent_view, &pubkeys)?;
    let old: u64 = previous
        .iter()
        .flatten()
        .map(|account| account.lamports)
        .sum();
    let new: u64 = accounts
        .values()
        .flatten()
        .map(|account| account.lamports)
        .sum();
    let capitalization = parent_view
        .capitalization()
        .saturating_sub(old)
        .saturating_add(new);
    let meta = SlotMeta::on_parent(
        info.slot,
        parent_view.meta(),
        info.blockhash,
        info.block_height,
        info.block_time,
        info.executed_transaction_count,
    );
    drop(parent_view);
    let state_lt_hash = parent_lt_hash.map(|mut lt_hash| {
        mix_slot(&mut lt_hash, &accounts, &previous);
        lt_hash
    });
    if let (Some(lt_hash), Some(expected)) = (&state_lt_hash, trailer.accounts_lt_hash) {
        let computed = lt_hash_checksum(lt_hash);
        if computed != expected {
            return Err(SyncError::Store(StoreError::LtHashMismatch {
                slot: info.slot,
                computed,
                expected,
            }));
        }
    }
    let slot = OverlaySlot::new(
        meta,
        accounts,
        &store.config().indexes,
        capitalization,
        trailer.accounts_lt_hash,
    )
    .with_previous(previous);
    let slot = match state_lt_hash {
        Some(lt_hash) => slot.with_state_lt_hash(lt_hash),
        None => slot,
    };
    state
        .overlay()
        .write()
        .expect("overlay lock")
        .insert(Arc::new(slot));
    Ok(())
}

/// The versions of `pubkeys` in `parent`: a large slot's in two halves at once, the second on a
/// thread of its own (random point reads wait on block reads). Only the sync path reads this
/// way: RPC reads stay on their own thread, so many large scans cannot crowd out a small one.
fn read_previous(
    parent: &BankView<'_>,
    pubkeys: &[Pubkey],
) -> Result<Vec<Option<Account>>, StoreError> {
    if pubkeys.len() < PARALLEL_HASH_THRESHOLD {
        return parent.multi_get(pubkeys);
    }
    let (first, second) = pubkeys.split_at(pubkeys.len() / 2);
    std::thread::scope(|scope| {
        let second_half = std::thread::Builder::new()
            .name("previous-read".into())
            .spawn_scoped(scope, || parent.multi_get(second));
        let mut previous = parent.multi_get(first)?;
        match second_half.map(|thread| thread.join()) {
            Ok(Ok(second)) => previous.extend(second?),
            // No thread to be had (or it failed): read the rest here.
            _ => previous.extend(parent.multi_get(second)?),
        }
        Ok(previous)
    })
}

/// Mixes one slot's writes into the state's lattice hash: each account's version in the parent
/// out, its version after the slot in.
fn mix_slot(
    lt_hash: &mut LtHash,
    accounts: &BTreeMap<Pubkey, Option<Account>>,
    previous: &[Option<Account>],
) {
    let writes: Vec<_> = accounts.iter().zip(previous).collect();
    let delta = lt_hash_sum(
        &writes,
        PARALLEL_HASH_THRESHOLD,
        |sum, ((pubkey, new), old)| {
            let of = |account: &Account| {
                account_lt_hash(
                    pubkey,
                    account.lamports,
                    &account.data,
                    account.executable,
                    &account.owner,
                )
            };
            if let Some(old) = old {
                sum.mix_out(&of(old));
            }
            if let Some(new) = new {
                sum.mix_in(&of(new));
            }
        },
    );
    lt_hash.mix_in(&delta);
}

/// Moves the rooted tip, which the `finalized` view reads, to the rooted bank (`slot`,
/// `blockhash`) once its chain down to the root is here, and announces each newly rooted bank
/// oldest first (one never announced as confirmed is announced so first). Returns whether the
/// tip moved.
pub(super) fn advance_rooted_tip(state: &ReplicaState, slot: Slot, blockhash: Hash) -> bool {
    let mut overlay = state.overlay().write().expect("overlay lock");
    let root = state.root_slot().unwrap_or_default();
    if slot <= root || overlay.rooted_tip().is_some_and(|tip| tip.0 >= slot) {
        return false;
    }
    let Some(mut chain) = overlay.chain((slot, blockhash), root) else {
        return false;
    };
    chain.reverse();
    let events = rooted_events(&mut overlay, &chain, root);
    overlay.set_rooted_tip((slot, blockhash));
    drop(overlay);
    state.node().publish(events);
    true
}

/// The announcements of `chain` (oldest first) rooted: each bank not announced rooted yet, one
/// never announced as confirmed announced so first.
fn rooted_events(overlay: &mut Overlay, chain: &[Arc<OverlaySlot>], root: Slot) -> Vec<SlotEvent> {
    let mut events = Vec::with_capacity(chain.len() * 2);
    for rooted in chain {
        if overlay.announce(rooted) {
            events.push(SlotEvent::new(
                SlotEventKind::Confirmed,
                rooted.clone(),
                root,
            ));
        }
        if overlay.announce_rooted(rooted) {
            events.push(SlotEvent::new(
                SlotEventKind::Rooted,
                rooted.clone(),
                rooted.meta.slot,
            ));
        }
    }
    events
}

/// Moves the confirmed tip to the newest listed slot whose chain down to the root is complete.
pub(super) fn update_confirmed_tip(state: &ReplicaState, slots: &[SlotInfo]) -> bool {
    let root = state.root_slot().unwrap_or_default();
    let mut overlay = state.overlay().write().expect("overlay lock");
    let newest = slots
        .iter()
        .rev()
        .map(|info| (info.slot, info.blockhash))
        .find(|tip| tip.0 > root && overlay.chain(*tip, root).is_some());
    let Some(tip) = newest.filter(|tip| overlay.confirmed_tip() != Some(*tip)) else {
        return false;
    };
    overlay.set_confirmed_tip(tip);
    // Every bank of the new tip's chain not announced yet, oldest first.
    let mut chain = overlay.chain(tip, root).unwrap_or_default();
    chain.reverse();
    let events: Vec<SlotEvent> = chain
        .into_iter()
        .filter(|slot| overlay.announce(slot))
        .map(|slot| SlotEvent::new(SlotEventKind::Confirmed, slot, root))
        .collect();
    drop(overlay);
    state.node().publish(events);
    true
}

/// Commits the chain up to the rooted bank (`slot`, `blockhash`) in one atomic batch, then drops
/// overlay slots that are not its descendants. Returns whether anything was committed.
pub(super) fn commit_root(
    state: &ReplicaState,
    slot: Slot,
    blockhash: Hash,
) -> Result<bool, StoreError> {
    let store = state.store();
    let (root, chain) = {
        let overlay = state.overlay().read().expect("overlay lock");
        let root = store.root_slot().unwrap_or_default();
        if slot <= root {
            return Ok(false);
        }
        (root, overlay.chain((slot, blockhash), root))
    };
    let Some(mut chain) = chain else {
        return Ok(false);
    };
    chain.reverse();
    let updates: Vec<Vec<AccountUpdate<'_>>> = chain
        .iter()
        .map(|overlay_slot| {
            overlay_slot
                .accounts
                .iter()
                .map(|(pubkey, account)| match account {
                    Some(account) => AccountUpdate {
                        pubkey: *pubkey,
                        lamports: account.lamports,
                        owner: account.owner,
                        executable: account.executable,
                        rent_epoch: account.rent_epoch,
                        data: &account.data,
                    },
                    None => AccountUpdate {
                        pubkey: *pubkey,
                        lamports: 0,
                        owner: Pubkey::default(),
                        executable: false,
                        rent_epoch: 0,
                        data: &[],
                    },
                })
                .collect()
        })
        .collect();
    let commits: Vec<SlotCommit<'_>> = chain
        .iter()
        .zip(&updates)
        .map(|(overlay_slot, updates)| SlotCommit {
            meta: overlay_slot.meta,
            updates,
            expected_lt_hash: overlay_slot.accounts_lt_hash,
            previous: overlay_slot.previous.as_deref(),
            lt_hash_after: overlay_slot.state_lt_hash.as_ref(),
        })
        .collect();
    let timer = state.metrics().commit_seconds.start_timer();
    let stats = store.commit(&commits)?;
    let commit_seconds = timer.stop_and_record();
    state.metrics().slots_committed.inc_by(stats.slots as u64);
    state
        .metrics()
        .accounts_applied
        .inc_by(stats.updates as u64);
    tracing::debug!(
        root = slot,
        slots = stats.slots,
        updates = stats.updates,
        commit_ms = commit_seconds * 1e3,
        "committed root"
    );
    let mut overlay = state.overlay().write().expect("overlay lock");
    let events = rooted_events(&mut overlay, &chain, root);
    overlay.prune(slot, &blockhash);
    drop(overlay);
    state.node().publish(events);
    Ok(true)
}
