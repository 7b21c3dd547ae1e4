//! Catch-up: a replica following an upstream through rooted slots over QUIC loopback (fetch,
//! overlay, root commits with the lattice hash checked on every slot), against the raw QUIC
//! stream and the raw write batch of the same records.

use {
    crate::{
        apply::raw_batch_rate,
        data,
        report::Report,
        upstream::{Following, raw_quic_throughput, store_copy},
    },
    replica::store::{SlotCommit, SlotMeta, workload},
    replication_proto::{AccountRecord, SlotStatus, source::MemorySlotSource},
    snapshot_tools::synthetic::SyntheticAccounts,
    std::{sync::Arc, time::Instant},
};

pub(crate) type SyncArgs = data::SlotLoad;

pub(crate) fn run(args: &SyncArgs) -> anyhow::Result<Report> {
    let ledger = args.cache.ledger(args.accounts)?;
    let work = args.cache.dir.join("sync");
    let reference = store_copy(&ledger, &work.join("reference"))?;
    let follower = store_copy(&ledger, &work.join("follower"))?;
    let base = reference.root().map_or(0, |root| root.slot);

    // The upstream's slots, with the state hash after each from a reference store.
    let workload = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(data::SEED ^ 0x5157),
        keyspace: args.accounts,
        updates_per_slot: args.updates,
    };
    let source = Arc::new(MemorySlotSource::new());
    source.set_first_available_slot(base + 1);
    let (mut bytes, mut count) = (0usize, 0usize);
    let mut slots = Vec::with_capacity(args.slots as usize);
    for slot in base + 1..=base + args.slots {
        let writes = workload.slot(slot);
        let meta = SlotMeta {
            slot,
            parent: slot - 1,
            blockhash: workload::blockhash(slot),
            block_height: Some(slot),
            block_time: None,
            executed_transaction_count: None,
            transaction_count: None,
        };
        let stats = reference.commit(&[SlotCommit {
            meta,
            updates: &workload::as_updates(&writes),
            expected_lt_hash: None,
            previous: None,
            lt_hash_after: None,
        }])?;
        let records = workload::as_records(&writes);
        bytes += records
            .iter()
            .map(AccountRecord::encoded_len)
            .sum::<usize>();
        count += records.len();
        source.insert_slot(
            workload::slot_info(slot, SlotStatus::Rooted),
            records,
            Some(stats.lt_hashes[0].1),
        );
        slots.push(writes);
    }
    let expected = reference.root();
    drop(reference);
    let raw_batch = raw_batch_rate(&work.join("raw-db"), &slots, base + 1)?;
    drop(slots);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (elapsed, raw_quic_mb) = runtime.block_on(async {
        let raw_quic_mb = raw_quic_throughput(512).await?;
        let started = Instant::now();
        let following = Following::start(source, follower)?;
        let last = base + args.slots;
        following
            .wait(|state| state.root_slot() >= Some(last))
            .await?;
        let elapsed = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            following.state.store().root() == expected,
            "the follower's state equals the reference"
        );
        following.stop().await;
        anyhow::Ok((elapsed, raw_quic_mb))
    })?;
    let _ = std::fs::remove_dir_all(&work);
    let figure = count as f64 / elapsed;
    let record_bytes = bytes as f64 / count as f64;
    let raw_quic = raw_quic_mb * 1e6 / record_bytes;
    let ceiling = raw_quic.min(raw_batch);
    println!(
        "sync {}-account store ({}), {} rooted slots × {} writes: {figure:.0} updates/s ({:.1} MB/s of records, lattice hash verified per slot) | ceilings: raw QUIC stream {raw_quic_mb:.0} MB/s = {raw_quic:.0} records/s, raw write batch {raw_batch:.0} updates/s",
        args.accounts,
        data::machine(),
        args.slots,
        args.updates,
        bytes as f64 / elapsed / 1e6,
    );
    Ok(Report::new("sync", figure, "updates/s", ceiling)
        .with("ceiling_raw_quic", raw_quic.round())
        .with("ceiling_raw_batch", raw_batch.round())
        .with("accounts", args.accounts)
        .with("updates_per_slot", args.updates as u64))
}
