//! Which view a request reads (commitment, `minContextSlot`) and the bank values read from it:
//! sysvars, feature activations, the epoch schedule. Values come from replicated accounts or
//! the snapshot manifest; a missing one is an error, never a guess.

use {
    super::error::RpcError,
    crate::{
        bank::BankView,
        state::{Commitment, ReplicaState},
        store::BankInfo,
    },
    serde::de::DeserializeOwned,
    solana_commitment_config::{CommitmentConfig, CommitmentLevel},
    solana_epoch_schedule::EpochSchedule,
    solana_pubkey::Pubkey,
    solana_sdk_ids::{feature, sysvar},
};

pub(crate) type Slot = u64;

/// Agave's commitment selection: missing means finalized; processed is answered at
/// confirmed (the replica has no unconfirmed banks).
pub(crate) fn commitment(config: Option<CommitmentConfig>) -> Commitment {
    match config.map(|config| config.commitment) {
        None | Some(CommitmentLevel::Finalized) => Commitment::Finalized,
        Some(CommitmentLevel::Confirmed) => Commitment::Confirmed,
        Some(CommitmentLevel::Processed) => Commitment::Processed,
    }
}

/// The view a commitment reads.
pub(crate) fn bank(
    state: &ReplicaState,
    config: Option<CommitmentConfig>,
) -> Result<BankView<'_>, RpcError> {
    Ok(state.bank(commitment(config))?)
}

/// Agave's `get_bank_with_config`: the view, or -32016 when its slot is below
/// `min_context_slot`.
pub(crate) fn bank_with_config(
    state: &ReplicaState,
    config: Option<CommitmentConfig>,
    min_context_slot: Option<Slot>,
) -> Result<BankView<'_>, RpcError> {
    let bank = bank(state, config)?;
    if let Some(min_context_slot) = min_context_slot
        && bank.slot() < min_context_slot
    {
        return Err(RpcError::MinContextSlotNotReached {
            context_slot: bank.slot(),
        });
    }
    Ok(bank)
}

/// The manifest values of the bootstrap snapshot.
pub(crate) fn bank_info(state: &ReplicaState) -> Result<&BankInfo, RpcError> {
    state.bank_info().ok_or_else(|| {
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
            let schedule = bank_info(state)?.epoch_schedule;
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
