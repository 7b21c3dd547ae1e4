//! The bank manifest of the replica's own archives: the cluster values kept from the bootstrap
//! snapshot (among them the epoch stakes of the epochs it knew), and what Agave's loader checks
//! computed from the store's rooted state as Agave computes it (stakes cache, the epoch stakes
//! of later epochs and the slot's leader from the stake and vote accounts and the StakeHistory
//! sysvar; the blockhash queue from the rooted slots; the status cache roots from the
//! SlotHistory sysvar; the bank hash).
//!
//! The slot stream does not carry a bank's hash, its parent's hash or its signature count. An
//! archive of the bootstrap slot uses the bootstrap snapshot's; any later slot has a zero parent
//! hash and signature count, so its bank hash verifies in Agave but is not the validator's.

use {
    crate::store::{AccountsStore, BankFields, IndexKind, StoreError, StoreView},
    snapshot_tools::archive::{
        LtHash, SnapshotManifest,
        bank_fields::status_cache_roots,
        manifest::{BlockhashEntry, BlockhashQueue},
        stakes::{
            BankStakes, FIXED_POINT_STAKE_MATH, REDUCE_STAKE_WARMUP_COOLDOWN, STAKE_HISTORY_SYSVAR,
            STAKE_PROGRAM, StakeRules, VOTE_PROGRAM, feature_activated_slot,
        },
    },
    solana_clock::Slot,
    solana_hash::Hash,
    solana_pubkey::Pubkey,
    std::ops::ControlFlow,
};

/// Agave's blockhash queue keeps hashes this many registrations old.
const BLOCKHASH_QUEUE_MAX_AGE: u64 = 300;
const SLOT_HISTORY_SYSVAR: Pubkey =
    Pubkey::from_str_const("SysvarS1otHistory11111111111111111111111111");

/// The manifest of the rooted state at `slot` (without storages; the writer adds them).
pub(super) fn manifest(
    store: &AccountsStore,
    bank: &BankFields,
    slot: Slot,
    capitalization: u64,
    stakes: BankStakes,
    lt_hash: &LtHash,
) -> Result<SnapshotManifest, StoreError> {
    let meta = store.slot_meta(slot)?;
    let mut manifest = SnapshotManifest::from_bank_fields(
        slot,
        meta.map_or(slot.saturating_sub(1), |meta| meta.parent),
        capitalization,
        bank,
    );
    manifest.block_height = meta.and_then(|meta| meta.block_height).unwrap_or(slot);
    // The running count where this replica knows it (else the bootstrap snapshot's).
    if let Some(count) = meta.and_then(|meta| meta.transaction_count) {
        manifest.transaction_count = count;
    }
    manifest.blockhash_queue = blockhash_queue(store, bank, slot)?;
    if let Some(bootstrap) = store.bootstrap_bank()?
        && bootstrap.slot == slot
    {
        manifest.parent_bank_hash = bootstrap.parent_bank_hash;
        manifest.signature_count = bootstrap.signature_count;
    }
    manifest.set_stakes(stakes, &store.bootstrap_epoch_stakes()?);
    manifest.seal_bank_hash(lt_hash);
    Ok(manifest)
}

/// The status cache roots of the bank at `slot`.
pub(super) fn status_roots(view: &StoreView<'_>, slot: Slot) -> Result<Vec<Slot>, StoreError> {
    Ok(view
        .get(&SLOT_HISTORY_SYSVAR)?
        .map(|account| status_cache_roots(&account.data, slot))
        .unwrap_or_default())
}

/// An empty stakes cache for a bank at `slot`: its epoch, the StakeHistory sysvar and the two
/// feature gates of the stake arithmetic, read from the rooted state.
pub(super) fn empty_stakes(
    view: &StoreView<'_>,
    bank: &BankFields,
    slot: Slot,
) -> Result<BankStakes, StoreError> {
    let schedule = solana_epoch_schedule::EpochSchedule {
        slots_per_epoch: bank.epoch_schedule.slots_per_epoch,
        leader_schedule_slot_offset: bank.epoch_schedule.leader_schedule_slot_offset,
        warmup: bank.epoch_schedule.warmup,
        first_normal_epoch: bank.epoch_schedule.first_normal_epoch,
        first_normal_slot: bank.epoch_schedule.first_normal_slot,
    };
    let activated = |feature: &Pubkey| -> Result<Option<Slot>, StoreError> {
        Ok(view.get(feature)?.and_then(|account| {
            feature_activated_slot(&account.owner, &account.data).filter(|at| *at <= slot)
        }))
    };
    let rules = StakeRules {
        new_rate_activation_epoch: activated(&REDUCE_STAKE_WARMUP_COOLDOWN)?
            .map(|at| schedule.get_epoch(at)),
        fixed_point_stake_math: activated(&FIXED_POINT_STAKE_MATH)?.is_some(),
    };
    let history = view
        .get(&STAKE_HISTORY_SYSVAR)?
        .and_then(|account| BankStakes::parse_stake_history(&account.data))
        .unwrap_or_default();
    Ok(BankStakes::new(schedule.get_epoch(slot), history, rules))
}

/// Offers every vote and stake account of the rooted state to `stakes` (through the program-id
/// index when the store keeps it).
pub(super) fn collect_stakes(
    view: &StoreView<'_>,
    mut stakes: BankStakes,
) -> Result<BankStakes, StoreError> {
    let mut offer = |pubkey: &Pubkey, account: crate::store::AccountRef<'_>| {
        stakes.offer(
            pubkey,
            account.lamports(),
            &account.owner(),
            account.executable(),
            account.rent_epoch(),
            account.data(),
        );
        ControlFlow::<()>::Continue(())
    };
    if view.has_index(IndexKind::ProgramId) {
        let _: ControlFlow<()> =
            view.index_scan(IndexKind::ProgramId, &VOTE_PROGRAM, &mut offer)?;
        let _: ControlFlow<()> =
            view.index_scan(IndexKind::ProgramId, &STAKE_PROGRAM, &mut offer)?;
    } else {
        let _: ControlFlow<()> = view.scan(|pubkey, account| {
            if account.owner() == VOTE_PROGRAM || account.owner() == STAKE_PROGRAM {
                offer(pubkey, account)
            } else {
                ControlFlow::Continue(())
            }
        })?;
    }
    Ok(stakes.finish())
}

/// The bootstrap snapshot's queue continued with one registration per rooted slot after it
/// (Agave registers each bank's blockhash once), trimmed to Agave's maximum age.
fn blockhash_queue(
    store: &AccountsStore,
    bank: &BankFields,
    slot: Slot,
) -> Result<BlockhashQueue, StoreError> {
    let base = &bank.blockhash_queue;
    let base_slot = store.snapshot_origin()?.map(|origin| origin.slot);
    let base_height = match base_slot {
        Some(base_slot) => store
            .slot_meta(base_slot)?
            .and_then(|meta| meta.block_height),
        None => None,
    };
    let mut newer: Vec<_> = store
        .recent_slots(BLOCKHASH_QUEUE_MAX_AGE as usize + 1)?
        .into_iter()
        .filter(|meta| meta.slot <= slot && base_slot.is_none_or(|base| meta.slot > base))
        .collect();
    newer.sort_by_key(|meta| meta.slot);
    let mut entries = base.entries.clone();
    let mut last_hash_index = base.last_hash_index;
    let mut last_hash = base.last_hash;
    for (position, meta) in newer.iter().enumerate() {
        // The block height counts the registrations since the bootstrap slot, even those of
        // slots this store no longer keeps.
        let index = match (meta.block_height, base_height) {
            (Some(height), Some(base_height)) if height > base_height => {
                base.last_hash_index + (height - base_height)
            }
            _ => base.last_hash_index + position as u64 + 1,
        }
        .max(last_hash_index + 1);
        entries.push(BlockhashEntry {
            hash: meta.blockhash,
            lamports_per_signature: bank.lamports_per_signature,
            hash_index: index,
            timestamp: meta.block_time.unwrap_or_default().max(0) as u64 * 1000,
        });
        last_hash_index = index;
        last_hash = Some(meta.blockhash);
    }
    entries.retain(|entry| {
        entry.hash != Hash::default()
            && last_hash_index.saturating_sub(entry.hash_index) <= BLOCKHASH_QUEUE_MAX_AGE
    });
    Ok(BlockhashQueue {
        last_hash_index,
        last_hash,
        entries,
        max_age: if base.max_age == 0 {
            BLOCKHASH_QUEUE_MAX_AGE
        } else {
            base.max_age
        },
    })
}
