//! Root commits of random writes into a bootstrapped store against a raw RocksDB write batch of
//! the same bytes.

use {
    crate::{data, report::Report},
    replica::store::{AccountsStore, SlotCommit, SlotMeta, StoreConfig, encode_into, workload},
    snapshot_tools::synthetic::{SyntheticAccount, SyntheticAccounts},
    solana_hash::Hash,
    std::{path::Path, time::Instant},
};

#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    /// Accounts in the store.
    #[arg(long, default_value_t = 5_000_000)]
    accounts: u64,
    /// Distinct accounts written per slot (about 10 % deletions).
    #[arg(long, default_value_t = 2_000)]
    updates: usize,
    /// Slots committed.
    #[arg(long, default_value_t = 40)]
    slots: u64,
    /// Leave the page cache as it is instead of reading the store's files first.
    #[arg(long)]
    cold: bool,
    #[command(flatten)]
    cache: data::Cache,
}

pub(crate) fn run(args: &ApplyArgs) -> anyhow::Result<Report> {
    let ledger = args.cache.ledger(args.accounts)?;
    let path = ledger.join("accounts");
    if !args.cold {
        data::warm_page_cache(&path)?;
    }
    let store = AccountsStore::open(&path, StoreConfig::default())?;
    let root = store.root().map_or(0, |root| root.slot);
    let slots = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(data::SEED),
        keyspace: args.accounts,
        updates_per_slot: args.updates,
    };
    let first = root + 1;
    let prepared: Vec<_> = (0..args.slots).map(|n| slots.slot(first + n)).collect();
    let started = Instant::now();
    let mut updates = 0;
    for (n, writes) in prepared.iter().enumerate() {
        let slot = first + n as u64;
        let batch = workload::as_updates(writes);
        let meta = SlotMeta {
            slot,
            parent: slot - 1,
            blockhash: Hash::new_unique(),
            block_height: None,
            block_time: None,
            executed_transaction_count: None,
            transaction_count: None,
        };
        store.commit(&[SlotCommit {
            meta,
            updates: &batch,
            expected_lt_hash: None,
            previous: None,
            lt_hash_after: None,
        }])?;
        updates += batch.len();
    }
    let figure = updates as f64 / started.elapsed().as_secs_f64();
    drop(store);

    let ceiling = raw_batch_rate(&args.cache.dir.join("raw-db"), &prepared, first)?;
    println!(
        "apply {}-account store ({}), {} slots × {} writes, page cache {}: {figure:.0} updates/s | ceiling, raw write batch of the same bytes: {ceiling:.0} updates/s",
        args.accounts,
        data::machine(),
        args.slots,
        args.updates,
        if args.cold { "as found" } else { "warm" }
    );
    Ok(Report::new("apply", figure, "updates/s", ceiling)
        .with("accounts", args.accounts)
        .with("updates_per_slot", args.updates as u64))
}

/// Updates/s of the same writes through a raw RocksDB write batch per slot in a fresh database
/// at `path` (removed afterwards): no reads, no hashing, no indexes.
pub(crate) fn raw_batch_rate(
    path: &Path,
    slots: &[Vec<(u64, SyntheticAccount)>],
    first_slot: u64,
) -> anyhow::Result<f64> {
    let _ = std::fs::remove_dir_all(path);
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    let raw = rocksdb::DB::open(&options, path)?;
    let started = Instant::now();
    let mut value = Vec::new();
    let mut updates = 0;
    for (n, writes) in slots.iter().enumerate() {
        let mut batch = rocksdb::WriteBatch::default();
        for (_, account) in writes {
            value.clear();
            encode_into(
                &mut value,
                account.lamports,
                account.rent_epoch,
                &account.owner,
                account.executable,
                first_slot + n as u64,
                &account.data,
            );
            batch.put(account.pubkey, &value);
        }
        updates += writes.len();
        raw.write(batch)?;
    }
    let rate = updates as f64 / started.elapsed().as_secs_f64();
    drop(raw);
    let _ = std::fs::remove_dir_all(path);
    Ok(rate)
}
