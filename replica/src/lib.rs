//! The accounts replica: a RocksDB copy of the accounts database, bootstrapped from Agave
//! snapshot archives, kept current from an upstream, and served over Agave's JSON-RPC.

pub mod bank;
pub mod cmd;
pub mod config;
pub mod feed;
pub mod fleet;
pub mod health;
pub mod metrics;
pub mod node;
pub mod rpc;
pub mod serve;
pub mod snapshot;
pub mod state;
pub mod store;
pub mod sync;
