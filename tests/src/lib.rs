//! Helpers for the whole-system tests in `tests/it/`: locating the built binaries, spawning
//! processes that announce readiness through `--ready-file`, killing them on drop, fixtures
//! and a raw JSON-RPC client.

pub mod bin;
pub mod cluster;
pub mod etcd;
pub mod failover;
pub mod fixtures;
pub mod haproxy;
pub mod process;
pub mod replica;
pub mod rpc;
pub mod s3;
pub mod ws;
