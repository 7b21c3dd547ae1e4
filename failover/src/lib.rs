//! Primary/secondary failover of an Agave validator (≥ 3.0) through etcd, and the replicas
//! that follow the active validator.
//!
//! Exactly one node of a cluster is active: the holder of a lease-bound election key in etcd,
//! whose creation revision is the fencing token. Becoming active means adopting the newest
//! tower from etcd as the validator's tower file, then `setIdentity` with `require_tower`
//! through Agave's admin RPC. While active, every tower change is pushed to etcd in a
//! transaction conditional on the fencing token. A node that cannot confirm its lease switches
//! its validator to its unstaked identity before the lease can expire (self-fencing).
//!
//! - [`decide`]: the decisions, pure (observations in, actions out, time as an argument);
//! - [`agent`]: the driver that observes and acts;
//! - [`etcd`]: the key layout and the fenced transactions;
//! - [`tower`]: Agave's saved tower file;
//! - [`admin`]: Agave's admin RPC client (and its framing);
//! - [`guard`]: the child process that fences when the agent dies or freezes;
//! - [`health`]: the local validator's RPC checks;
//! - [`publish`]: the published upstream, watched by replicas;
//! - [`status`], [`switchover`]: the operator commands' logic;
//! - [`config`]: the TOML configuration.

pub mod admin;
pub mod agent;
pub mod cmd;
pub mod config;
pub mod decide;
pub mod etcd;
pub mod guard;
pub mod health;
pub mod metrics;
pub mod notify;
pub mod publish;
pub mod status;
pub mod switchover;
pub mod tower;
