//! Stake values read from replicated accounts: the minimum delegation (a feature account) and,
//! for `--legacy-rpc`, getStakeActivation from the stake account and the StakeHistory sysvar.

use {
    crate::{
        bank::BankView,
        rpc::{read::sysvars, server::RpcError},
        state::ReplicaState,
    },
    serde_json::json,
    solana_pubkey::Pubkey,
    solana_stake_interface::{stake_history::StakeHistory, state::StakeStateV2},
};

/// `upgrade_bpf_stake_program_to_v5` (SIMD-0490): Agave 4.2's gate of the 1 SOL minimum.
const UPGRADE_BPF_STAKE_PROGRAM_TO_V5: Pubkey =
    Pubkey::from_str_const("STk5Xj8hdAx3sTzmtJ3QysKkq6X2A3yj73JtxttiRyk");
const REDUCE_STAKE_WARMUP_COOLDOWN: Pubkey =
    Pubkey::from_str_const("GwtDQBghCTBgmX2cpEGNPxTEBUTQRaDMGTr5qychdGMj");
const LAMPORTS_PER_SOL: u64 = 1_000_000_000;
/// `solana_sdk::stake_history::MAX_ENTRIES`.
const STAKE_HISTORY_MAX_ENTRIES: u64 = 512;

/// Agave 4.2's `stake_utils::get_minimum_delegation`: 1 SOL once the stake program v5 upgrade
/// is active, else 1 lamport.
pub(crate) fn minimum_delegation(bank: &BankView<'_>) -> Result<u64, RpcError> {
    Ok(
        if sysvars::feature_active(bank, &UPGRADE_BPF_STAKE_PROGRAM_TO_V5)? {
            LAMPORTS_PER_SOL
        } else {
            1
        },
    )
}

/// getStakeActivation's last shape (Agave 1.18), computed with that release's rules (the
/// floating-point warmup/cooldown and the stake account's own rent-exempt reserve, both
/// deprecated in the interface since).
/// `{"active":u64,"inactive":u64,"state":"activating"|"active"|"deactivating"|"inactive"}`.
#[allow(deprecated)]
pub(crate) fn activation(
    state: &ReplicaState,
    bank: &BankView<'_>,
    pubkey: &Pubkey,
    epoch: Option<u64>,
) -> Result<serde_json::Value, RpcError> {
    let current_epoch = sysvars::epoch_schedule(state, bank)?.get_epoch(bank.slot());
    let epoch = epoch.unwrap_or(current_epoch);
    if current_epoch.saturating_sub(epoch) > STAKE_HISTORY_MAX_ENTRIES {
        return Err(RpcError::invalid_param(format!(
            "epoch {epoch} is too far in the past"
        )));
    }
    if epoch > current_epoch {
        return Err(RpcError::invalid_param(format!(
            "epoch {epoch} has not yet started"
        )));
    }
    let account = bank
        .get(pubkey)?
        .ok_or_else(|| RpcError::invalid_param("account not found"))?;
    let stake_state: StakeStateV2 = bincode::deserialize(&account.data)
        .map_err(|_| RpcError::invalid_param("not a stake account"))?;
    let rent_exempt_reserve = stake_state
        .meta()
        .ok_or_else(|| RpcError::invalid_param("stake account not initialized"))?
        .rent_exempt_reserve;
    let Some(delegation) = stake_state.delegation() else {
        return Ok(json!({
            "active": 0,
            "inactive": account.lamports.saturating_sub(rent_exempt_reserve),
            "state": "inactive",
        }));
    };
    let history: StakeHistory = sysvars::sysvar(
        bank,
        &solana_sdk_ids::sysvar::stake_history::ID,
        "StakeHistory",
    )?;
    let new_rate_activation_epoch =
        sysvars::feature_activated_slot(bank, &REDUCE_STAKE_WARMUP_COOLDOWN)?
            .map(|slot| {
                sysvars::epoch_schedule(state, bank).map(|schedule| schedule.get_epoch(slot))
            })
            .transpose()?;
    let status =
        delegation.stake_activating_and_deactivating(epoch, &history, new_rate_activation_epoch);
    let (state_name, inactive) = if status.deactivating > 0 {
        (
            "deactivating",
            account
                .lamports
                .saturating_sub(status.effective + rent_exempt_reserve),
        )
    } else if status.activating > 0 {
        ("activating", status.activating)
    } else if status.effective > 0 {
        ("active", 0)
    } else {
        (
            "inactive",
            account.lamports.saturating_sub(rent_exempt_reserve),
        )
    };
    Ok(json!({
        "active": status.effective,
        "inactive": inactive,
        "state": state_name,
    }))
}
