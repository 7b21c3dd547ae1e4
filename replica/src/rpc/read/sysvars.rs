//! Bank values read from a view: sysvars, feature activations, the epoch schedule, the block
//! height. Values come from replicated accounts or the snapshot manifest; a missing one is an
//! error, never a guess.

use {
    crate::{bank::BankView, rpc::server::RpcError, state::ReplicaState, store::BankFields},
    serde::de::DeserializeOwned,
    solana_clock::Slot,
    solana_epoch_schedule::EpochSchedule,
    solana_pubkey::Pubkey,
    solana_sdk_ids::{feature, sysvar},
};

/// The manifest values of the bootstrap snapshot.
pub(crate) fn bank_fields(state: &ReplicaState) -> Result<&BankFields, RpcError> {
    state.bank_fields().ok_or_else(|| {
        RpcError::Unavailable("the store holds no snapshot bank information".to_string())
    })
}

/// A sysvar account of the view, deserialized.
pub(crate) fn sysvar<T: DeserializeOwned>(
    bank: &BankView<'_>,
    id: &Pubkey,
    name: &str,
) -> Result<T, RpcError> {
    let account = bank
        .get(id)?
        .ok_or_else(|| RpcError::Unavailable(format!("the {name} sysvar account is missing")))?;
    bincode::deserialize(&account.data)
        .map_err(|_| RpcError::Unavailable(format!("the {name} sysvar account is malformed")))
}

pub(crate) fn rent(bank: &BankView<'_>) -> Result<solana_rent::Rent, RpcError> {
    sysvar(bank, &sysvar::rent::ID, "Rent")
}

pub(crate) fn clock(bank: &BankView<'_>) -> Result<solana_clock::Clock, RpcError> {
    sysvar(bank, &sysvar::clock::ID, "Clock")
}

/// The EpochSchedule sysvar, or the manifest's schedule (the same genesis value).
pub(crate) fn epoch_schedule(
    state: &ReplicaState,
    bank: &BankView<'_>,
) -> Result<EpochSchedule, RpcError> {
    match bank.get(&sysvar::epoch_schedule::ID)? {
        Some(account) => bincode::deserialize(&account.data).map_err(|_| {
            RpcError::Unavailable("the EpochSchedule sysvar account is malformed".to_string())
        }),
        None => {
            let schedule = bank_fields(state)?.epoch_schedule;
            Ok(EpochSchedule {
                slots_per_epoch: schedule.slots_per_epoch,
                leader_schedule_slot_offset: schedule.leader_schedule_slot_offset,
                warmup: schedule.warmup,
                first_normal_epoch: schedule.first_normal_epoch,
                first_normal_slot: schedule.first_normal_slot,
            })
        }
    }
}

/// The slot a feature was activated at in this view, if it is active.
pub(crate) fn feature_activated_slot(
    bank: &BankView<'_>,
    id: &Pubkey,
) -> Result<Option<Slot>, RpcError> {
    let Some(account) = bank.get(id)? else {
        return Ok(None);
    };
    if account.owner != feature::ID {
        return Ok(None);
    }
    // `Feature { activated_at: Option<Slot> }`, bincode.
    Ok(bincode::deserialize::<Option<Slot>>(&account.data)
        .ok()
        .flatten())
}

pub(crate) fn feature_active(bank: &BankView<'_>, id: &Pubkey) -> Result<bool, RpcError> {
    Ok(feature_activated_slot(bank, id)?.is_some())
}

/// The view's block height.
pub(crate) fn block_height(bank: &BankView<'_>) -> Result<u64, RpcError> {
    bank.meta().block_height.ok_or_else(|| {
        RpcError::Unavailable(format!(
            "the block height of slot {} is unknown to this replica",
            bank.slot()
        ))
    })
}
