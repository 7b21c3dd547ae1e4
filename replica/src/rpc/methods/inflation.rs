//! getInflationRate as Agave's bank computes it: the inflation start slot from the
//! full/pico inflation feature accounts, the year fraction from `slots_per_year`.

use {
    crate::{
        bank::BankView,
        rpc::{read::sysvars, server::RpcError},
        state::ReplicaState,
    },
    snapshot_tools::archive::manifest::Inflation,
    solana_pubkey::Pubkey,
    solana_rpc_client_types::response::RpcInflationRate,
};

const PICO_INFLATION: Pubkey =
    Pubkey::from_str_const("4RWNif6C2WCNiKVW7otP4G7dkmkHGyKQWRpuZ1pxKU5m");
const FULL_INFLATION_DEVNET_AND_TESTNET: Pubkey =
    Pubkey::from_str_const("DT4n6ABDqs6w4bnfwrXT9rsprcPf6cdDga1egctaPkLC");
/// `FULL_INFLATION_FEATURE_PAIRS`: (vote, enable).
const FULL_INFLATION_PAIRS: [(Pubkey, Pubkey); 1] = [(
    Pubkey::from_str_const("BzBBveUDymEYoYzcMWNQCx3cd4jQs7puaVFHLtsbB6fm"),
    Pubkey::from_str_const("7XRJcS5Ud5vxGB54JbK9N2vBZVwnwdBNeJW1ibRgD9gx"),
)];

/// `Inflation::total(year)`.
pub(crate) fn total(inflation: &Inflation, year: f64) -> f64 {
    let tapered = inflation.initial * (1.0 - inflation.taper).powf(year);
    if tapered > inflation.terminal {
        tapered
    } else {
        inflation.terminal
    }
}

/// `Inflation::foundation(year)`.
pub(crate) fn foundation(inflation: &Inflation, year: f64) -> f64 {
    if year < inflation.foundation_term {
        total(inflation, year) * inflation.foundation
    } else {
        0.0
    }
}

/// `Bank::get_inflation_start_slot`.
fn inflation_start_slot(bank: &BankView<'_>) -> Result<u64, RpcError> {
    let mut slots = Vec::new();
    for (vote, enable) in FULL_INFLATION_PAIRS {
        if sysvars::feature_active(bank, &vote)?
            && let Some(slot) = sysvars::feature_activated_slot(bank, &enable)?
        {
            slots.push(slot);
        }
    }
    if let Some(slot) = sysvars::feature_activated_slot(bank, &FULL_INFLATION_DEVNET_AND_TESTNET)? {
        slots.push(slot);
    }
    slots.sort_unstable();
    match slots.first() {
        Some(slot) => Ok(*slot),
        None => Ok(sysvars::feature_activated_slot(bank, &PICO_INFLATION)?.unwrap_or(0)),
    }
}

/// getInflationRate on the finalized view.
pub(crate) fn inflation_rate(
    state: &ReplicaState,
    bank: &BankView<'_>,
) -> Result<RpcInflationRate, RpcError> {
    let info = sysvars::bank_fields(state)?;
    let schedule = sysvars::epoch_schedule(state, bank)?;
    let epoch = schedule.get_epoch(bank.slot());
    let activation = inflation_start_slot(bank)?;
    let start = schedule.get_first_slot_in_epoch(schedule.get_epoch(activation).saturating_sub(1));
    let slots = schedule
        .get_first_slot_in_epoch(epoch)
        .saturating_sub(start);
    let year = slots as f64 / info.slots_per_year;
    let inflation = &info.inflation;
    let total = total(inflation, year);
    let foundation = foundation(inflation, year);
    Ok(RpcInflationRate {
        total,
        validator: total - foundation,
        foundation,
        epoch,
    })
}
