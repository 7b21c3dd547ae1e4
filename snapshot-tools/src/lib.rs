//! Agave snapshot archives and their logistics.

pub mod archive;
pub mod cmd;
pub mod sort;
