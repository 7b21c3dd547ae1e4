//! Agave snapshot archives and their logistics.

pub mod archive;
pub mod catalog;
pub mod cmd;
pub mod metrics;
pub mod net;
pub mod range;
pub mod sidecar;
pub mod sort;
pub mod synthetic;
