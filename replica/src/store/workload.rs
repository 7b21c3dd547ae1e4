//! A deterministic synthetic slot workload over a [`SyntheticAccounts`] state, for the apply
//! benchmark, crash tests and `replica store synthetic-apply`.
//!
//! Slot `n` writes `updates_per_slot` distinct accounts drawn from `0..keyspace`: about 10 %
//! deletions; the rest new versions of the account's kind, with token accounts sometimes moving
//! to another owner or gaining or losing a delegate, so index maintenance is exercised.

use {
    super::{
        AccountUpdate, AccountsStore, StoreConfig,
        bulk::{BulkLoadError, BulkLoadOptions, bulk_load},
    },
    rand::{Rng, SeedableRng},
    rand_chacha::ChaCha8Rng,
    snapshot_tools::synthetic::{
        SyntheticAccount, SyntheticAccounts, SyntheticKind, token_account_data,
    },
    std::{collections::HashSet, path::Path},
};

/// Loads a full archive into a new store at `path` (default configuration, no progress bar) and
/// opens it: the starting state of tests and benchmarks.
pub fn load_store(path: &Path, archive: &Path) -> Result<AccountsStore, BulkLoadError> {
    let options = BulkLoadOptions {
        progress_bar: false,
        ..BulkLoadOptions::default()
    };
    let chain = snapshot_tools::archive::SnapshotChain::new(archive, None)?;
    bulk_load(path, &chain, &StoreConfig::default(), &options)?;
    Ok(AccountsStore::open(path, StoreConfig::default())?)
}

#[derive(Debug, Clone, Copy)]
pub struct SyntheticSlots {
    pub accounts: SyntheticAccounts,
    /// Account indexes written are drawn from `0..keyspace`.
    pub keyspace: u64,
    pub updates_per_slot: usize,
}

impl SyntheticSlots {
    /// The writes of the `n`-th slot (0-based), as (account index, new version; zero lamports =
    /// deletion).
    pub fn slot(&self, n: u64) -> Vec<(u64, SyntheticAccount)> {
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.accounts.seed.rotate_left(17) ^ n.wrapping_mul(0xD6E8_FEB8_6659_FD93),
        );
        let count = self.updates_per_slot.min(self.keyspace as usize);
        let mut chosen = HashSet::with_capacity(count);
        let mut writes = Vec::with_capacity(count);
        while writes.len() < count {
            let index = rng.random_range(0..self.keyspace);
            if !chosen.insert(index) {
                continue;
            }
            let mut account = self.accounts.account(index);
            if rng.random_ratio(1, 10) {
                account.lamports = 0;
                account.data.clear();
                account.owner = Default::default();
                account.rent_epoch = 0;
            } else {
                account.lamports = account
                    .lamports
                    .saturating_add(rng.random_range(1..1_000_000));
                match self.accounts.kind(index) {
                    SyntheticKind::Token(token) => {
                        let group = token / snapshot_tools::synthetic::TOKEN_ACCOUNTS_PER_OWNER
                            + u64::from(rng.random_ratio(1, 5));
                        let delegate = rng
                            .random_ratio(1, 3)
                            .then(|| self.accounts.token_owner(group + 7));
                        account.data = token_account_data(
                            &self.accounts.mint(token),
                            &self.accounts.token_owner(group),
                            rng.random(),
                            delegate.as_ref(),
                        );
                    }
                    SyntheticKind::System => {}
                    SyntheticKind::ProgramData => rng.fill(account.data.as_mut_slice()),
                }
            }
            writes.push((index, account));
        }
        writes
    }
}

/// Borrowed updates for [`super::AccountsStore::commit`].
pub fn as_updates(writes: &[(u64, SyntheticAccount)]) -> Vec<AccountUpdate<'_>> {
    writes
        .iter()
        .map(|(_, account)| AccountUpdate {
            pubkey: account.pubkey,
            lamports: account.lamports,
            owner: account.owner,
            executable: account.executable,
            rent_epoch: account.rent_epoch,
            data: &account.data,
        })
        .collect()
}

/// The same writes as replication records, as an upstream would send them.
pub fn as_records(writes: &[(u64, SyntheticAccount)]) -> Vec<replication_proto::AccountRecord> {
    writes
        .iter()
        .map(|(_, account)| replication_proto::AccountRecord {
            pubkey: account.pubkey,
            lamports: account.lamports,
            owner: account.owner,
            executable: account.executable,
            rent_epoch: account.rent_epoch,
            data: account.data.clone(),
        })
        .collect()
}

/// The blockhash of a synthetic chain's `slot`.
pub fn blockhash(slot: u64) -> solana_hash::Hash {
    solana_hash::Hash::new_from_array(*blake3::hash(&slot.to_le_bytes()).as_bytes())
}

/// Slot `slot` of a synthetic chain (each slot's parent is the one before), as an upstream
/// announces it.
pub fn slot_info(slot: u64, status: replication_proto::SlotStatus) -> replication_proto::SlotInfo {
    replication_proto::SlotInfo {
        slot,
        parent: slot - 1,
        blockhash: blockhash(slot),
        status,
        block_height: Some(slot),
        block_time: None,
        executed_transaction_count: None,
    }
}
