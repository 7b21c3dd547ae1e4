//! Validator-side replication server: an Agave Geyser plugin that serves replicas. The `sim`
//! crate drives it through the same Geyser interface as a simulated validator.
//!
//! Data flow: the validator's threads call the [`plugin`] callbacks, which copy each
//! notification into an owned [`handoff::Event`] and push it into the bounded
//! [`handoff::Handoff`] without ever waiting. The collector thread ([`service`]) drains it into
//! the [`collector::Collector`], which assembles banks (highest write version per pubkey, statuses
//! in any order, forks) and roots chains; rooted banks go to the on-disk [`delta_log`], and the
//! [`serve`] view exposes rooted and confirmed banks to replicas through
//! `replication_proto`'s QUIC server. Slots that cannot be served exactly (shed, ambiguous,
//! missed) are never served partially: replicas behind them get `SlotUnavailable` and
//! re-bootstrap.
//!
//! Build the `cdylib` against the validator's own `agave-geyser-plugin-interface` version (4.2.2
//! here, for agave-validator 4.2.2) and with the validator's rustc. Load it with
//! `agave-validator --geyser-plugin-config plugin.json` (see [`config`] for the keys).

pub mod collector;
pub mod config;
pub mod delta_log;
pub mod handoff;
pub mod metrics;
pub mod plugin;
pub mod serve;
pub mod service;

pub use {
    config::PluginConfig,
    plugin::ReplicationPlugin,
    serve::AccountsLtHashSource,
    service::{ReplicationService, ServiceOptions},
};
