//! Applying what the upstream sends: a fetched slot into the overlay, the confirmed tip, and
//! rooted chains into the store. These run on blocking threads (they read the store).

use {
    super::SyncError,
    crate::{
        bank::{BankView, overlay::OverlaySlot},
        feed::{SlotEvent, SlotEventKind},
        state::ReplicaState,
        store::{Account, AccountUpdate, SlotCommit, SlotMeta, StoreError},
    },
    replication_proto::{AccountRecord, SlotHeader, SlotInfo, SlotTrailer},
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

pub(super) fn overlay_has_slot(state: &ReplicaState, slot: Slot) -> bool {
    state
        .overlay()
        .read()
        .expect("overlay lock")
        .bank_at(slot)
        .is_some()
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
    let root = store.root_slot().unwrap_or_default();
    let chain = if info.parent <= root {
        Vec::new()
    } else {
        let overlay = state.overlay().read().expect("overlay lock");
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
    let parent_view = BankView::new(store, chain)?;
    let pubkeys: Vec<Pubkey> = accounts.keys().copied().collect();
    let previous = parent_view.multi_get(&pubkeys)?;
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
    let slot = OverlaySlot::new(
        meta,
        accounts,
        &store.config().indexes,
        capitalization,
        trailer.accounts_lt_hash,
    )
    .with_previous(previous);
    state
        .overlay()
        .write()
        .expect("overlay lock")
        .insert(Arc::new(slot));
    Ok(())
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
    let root = store.root_slot().unwrap_or_default();
    if slot <= root {
        return Ok(false);
    }
    let Some(mut chain) = state
        .overlay()
        .read()
        .expect("overlay lock")
        .chain((slot, blockhash), root)
    else {
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
    // Each rooted bank, oldest first; one never announced as confirmed is announced first.
    let mut events = Vec::with_capacity(chain.len() * 2);
    for rooted in &chain {
        if overlay.announce(rooted) {
            events.push(SlotEvent::new(
                SlotEventKind::Confirmed,
                rooted.clone(),
                root,
            ));
        }
        events.push(SlotEvent::new(
            SlotEventKind::Rooted,
            rooted.clone(),
            rooted.meta.slot,
        ));
    }
    overlay.prune(slot, &blockhash);
    drop(overlay);
    state.node().publish(events);
    Ok(true)
}
