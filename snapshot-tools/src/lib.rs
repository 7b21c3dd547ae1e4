//! Agave snapshot archives and their logistics.

pub mod archive;
pub mod sort;
