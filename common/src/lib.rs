//! Plumbing shared by the workspace's long-running binaries, so that none of them copies it:
//! tracing set-up, the Prometheus `/metrics` endpoint, ready files, shutdown on signals, and
//! supervised child processes.

pub mod cli;
pub mod metrics;
pub mod process;
pub mod ready;
pub mod shutdown;
pub mod tracing;
