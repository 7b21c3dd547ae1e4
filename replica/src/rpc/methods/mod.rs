//! Method bodies too big for a namespace file: each runs on a blocking thread against one view.

pub(crate) mod accounts;
pub(crate) mod fee;
pub(crate) mod inflation;
pub(crate) mod largest_accounts;
pub(crate) mod program_accounts;
pub(crate) mod stake;
pub(crate) mod supply;
pub(crate) mod token;
