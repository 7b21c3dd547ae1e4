//! What methods read with, shared by the HTTP methods and PubSub: which bank a commitment
//! reads, bank values (sysvars, features, the epoch schedule), account encodings, filters,
//! SPL Token helpers, and scans routed through the secondary indexes.

pub(crate) mod commitment;
pub(crate) mod encoding;
pub(crate) mod filter;
pub(crate) mod scan;
pub(crate) mod sysvars;
pub(crate) mod token;
