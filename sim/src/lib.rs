//! A simulated validator that drives a Geyser plugin through the real `GeyserPlugin` trait.
//!
//! Deterministic from its seed (content never depends on timing). It starts from a snapshot
//! state ([`Genesis`]: every common sysvar, SPL Token and Token-2022 mints and accounts, wrapped
//! SOL, validators with vote and stake accounts, a nonce account, an upgradeable program, an
//! address lookup table; with [`SimConfig::accounts`], bulk accounts too:
//! [`genesis::population`]), then produces one main-chain bank per [`Simulator::step`]:
//! - the writes of `new_from_parent` (Clock, SlotHashes, SlotHistory; StakeHistory and
//!   EpochRewards at epoch boundaries), `CreatedBank`, votes and random transactions (token
//!   transfers on both programs, account creation and closing — closed accounts are written with
//!   zero lamports and a zeroed owner —, owner changes, delegations, stake and nonce updates,
//!   lookup-table extensions, wrapped SOL; with bulk accounts, a mainnet-like mix over them
//!   instead), freeze-time writes, block metadata, `Processed`;
//! - sometimes a skipped slot, and sometimes a fork: a second bank on the same parent at another
//!   slot, whose writes interleave with the main bank's, and that either dies mid-replay
//!   (`Dead`) or is abandoned (pruned once the root passes it);
//! - `Confirmed` for older banks (some never sent), `Rooted` for banks `root_lag` behind the tip
//!   (sometimes only for the newest of them), the whole batch sometimes shuffled.
//!
//! The simulator knows its full state, so it reports each rooted slot's accounts lattice-hash
//! checksum ([`RootedReport`]) and serves the same values to the plugin as an
//! [`AccountsLtHashSource`] for the slot trailers. [`SimNode`] bundles a simulator with an
//! in-process [`ReplicationPlugin`](geyser_plugin::ReplicationPlugin) and a paced run loop, for
//! `replica sim` and `replica dev`.
//!
//! With a ledger directory, `replica sim` also plays a validator's identity
//! ([`validator::ValidatorIdentity`]: the identity it holds, votes and a tower file in Agave's
//! format while it holds the staked identity) and serves Agave's admin RPC subset on
//! `<ledger>/admin.rpc` ([`admin`]), which is what `failover` drives.

pub mod admin;
pub mod cmd;
mod driver;
pub mod genesis;
pub mod layout;
mod node;
mod simulator;
pub mod snapshot;
pub mod state;
pub mod validator;
mod workload;

pub use {
    genesis::{ClusterParams, Genesis},
    node::{NodeOptions, SimError, SimNode, SnapshotSchedule},
    simulator::{DEFAULT_SLOT_MS, LtHashBook, RootedReport, SimConfig, Simulator, StepReport},
    state::SimAccount,
};

#[cfg(test)]
mod tests;
