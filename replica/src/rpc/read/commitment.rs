//! Which bank a request reads: its commitment and `minContextSlot`.

use {
    crate::{
        bank::BankView,
        rpc::server::RpcError,
        state::{Commitment, ReplicaState},
    },
    solana_clock::Slot,
    solana_commitment_config::{CommitmentConfig, CommitmentLevel},
};

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
    level_bank(state, commitment(config))
}

/// The view a commitment level reads: this replica's newest, or under fleet consistency
/// exactly the fleet's servable slot. A member that cannot answer at that slot refuses as
/// Agave does when `minContextSlot` is not reached.
pub(crate) fn level_bank(
    state: &ReplicaState,
    level: Commitment,
) -> Result<BankView<'_>, RpcError> {
    if !state.node().fleet().is_enabled() {
        return Ok(state.bank(level)?);
    }
    match crate::fleet::bank(state, level) {
        Ok(bank) => Ok(bank),
        Err(crate::fleet::FleetReadError::Store(error)) => Err(error.into()),
        Err(crate::fleet::FleetReadError::NoLease { context_slot }) => {
            Err(RpcError::MinContextSlotNotReached { context_slot })
        }
        Err(crate::fleet::FleetReadError::NotHeld { slot }) => {
            Err(RpcError::MinContextSlotNotReached {
                context_slot: slot.min(state.confirmed_slot().unwrap_or_default()),
            })
        }
    }
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
