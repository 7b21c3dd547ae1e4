//! A full consistency check of a quiescent store: recompute the lattice hash, capitalization and
//! account count from the accounts, and check every index entry against the accounts and back.

use {
    super::{AccountRef, AccountsStore, IndexKind, StoreError, cf, entry_key},
    rayon::prelude::*,
    snapshot_tools::archive::{LtHash, lt_hash_checksum},
    solana_hash::Hash,
    solana_pubkey::Pubkey,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub root_slot: Option<u64>,
    pub accounts: u64,
    pub capitalization: u64,
    pub lt_hash: Hash,
    pub index_entries: u64,
    /// Everything that disagrees; empty when the store is consistent.
    pub problems: Vec<String>,
}

const HASH_CHUNK: usize = 4096;

fn mix_chunk(chunk: &mut Vec<(Pubkey, Vec<u8>)>, lt_hash: &mut LtHash) {
    let sum = chunk
        .par_iter()
        .filter_map(|(pubkey, bytes)| {
            AccountRef::decode(bytes).map(|account| account.lt_hash(pubkey))
        })
        .reduce(LtHash::identity, |mut sum, hash| {
            sum.mix_in(&hash);
            sum
        });
    lt_hash.mix_in(&sum);
    chunk.clear();
}

pub fn check_store(store: &AccountsStore) -> Result<CheckReport, StoreError> {
    let db = store.db();
    let mut problems = Vec::new();
    let (mut accounts, mut capitalization, mut expected_entries) = (0u64, 0u64, 0u64);
    let mut lt_hash = LtHash::identity();
    let mut chunk = Vec::with_capacity(HASH_CHUNK);
    let mut iterator = db.raw_iterator_cf(store.cf(cf::ACCOUNTS));
    iterator.seek_to_first();
    while iterator.valid() {
        let (key, value) = (
            iterator.key().expect("valid"),
            iterator.value().expect("valid"),
        );
        let (Ok(pubkey), Some(account)) = (Pubkey::try_from(key), AccountRef::decode(value)) else {
            problems.push(format!(
                "undecodable account record under key {}",
                bs58::encode(key).into_string()
            ));
            iterator.next();
            continue;
        };
        accounts += 1;
        capitalization = capitalization.saturating_add(account.lamports());
        if account.lamports() == 0 {
            problems.push(format!("{pubkey} is stored with zero lamports"));
        }
        let entries = store
            .config()
            .indexes
            .entries(&account.owner(), account.data());
        for (kind, index_key) in IndexKind::ALL.into_iter().zip(entries) {
            if let Some(index_key) = index_key {
                expected_entries += 1;
                let present = db
                    .get_pinned_cf(store.cf(kind.cf_name()), entry_key(&index_key, &pubkey))
                    .map_err(store.db_error())?
                    .is_some();
                if !present {
                    problems.push(format!(
                        "missing {kind:?} index entry {index_key} for {pubkey}"
                    ));
                }
            }
        }
        chunk.push((pubkey, value.to_vec()));
        if chunk.len() == HASH_CHUNK {
            mix_chunk(&mut chunk, &mut lt_hash);
        }
        iterator.next();
    }
    iterator.status().map_err(store.db_error())?;
    mix_chunk(&mut chunk, &mut lt_hash);

    let counted = store.count_index_entries()?;
    let index_entries: u64 = counted.iter().sum();
    match store.check_indexes()? {
        super::IndexCheck::Complete => {}
        super::IndexCheck::Rebuild(reason) => problems.push(format!("indexes: {reason}")),
    }
    if index_entries != expected_entries {
        problems.push(format!(
            "{index_entries} index entries stored, {expected_entries} expected (stale entries)"
        ));
    }
    let computed = lt_hash_checksum(&lt_hash);
    let root = store.root();
    if let Some(root) = &root {
        let stored = root.lt_hash_checksum();
        if stored != computed {
            problems.push(format!(
                "stored lattice hash {stored} differs from the accounts' {computed}"
            ));
        }
        if root.capitalization != capitalization {
            problems.push(format!(
                "stored capitalization {} differs from the accounts' {capitalization}",
                root.capitalization
            ));
        }
        if root.accounts != accounts {
            problems.push(format!(
                "stored account count {} differs from the accounts' {accounts}",
                root.accounts
            ));
        }
    }
    Ok(CheckReport {
        root_slot: root.map(|root| root.slot),
        accounts,
        capitalization,
        lt_hash: computed,
        index_entries,
        problems,
    })
}
