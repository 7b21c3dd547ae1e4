//! Agave snapshot archives and their logistics.

pub mod archive;
pub mod catalog;
pub mod cmd;
pub mod fetch;
pub mod metrics;
pub mod mirror;
pub mod net;
pub mod range;
pub mod s3;
pub mod sidecar;
pub mod sort;
pub mod synthetic;
pub mod tracker;
