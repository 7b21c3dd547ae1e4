//! Hop latency: one slot at a time with the replica idle in its long-poll, reported confirmed
//! and then rooted as a validator does, each timed until the replica's confirmed (then
//! finalized) view has it; the next slot starts once the root commit landed. Against raw QUIC
//! round trips of the same bytes.

use {
    crate::{
        data,
        report::{Report, quantile_ms},
        upstream::{Following, raw_quic_round_trips, store_copy},
    },
    hdrhistogram::Histogram,
    replica::store::workload,
    replication_proto::{AccountRecord, SlotStatus, source::MemorySlotSource},
    snapshot_tools::synthetic::SyntheticAccounts,
    std::{
        sync::Arc,
        time::{Duration, Instant},
    },
};

pub(crate) type HopArgs = data::SlotLoad;

pub(crate) fn run(args: &HopArgs) -> anyhow::Result<Report> {
    let ledger = args.cache.ledger(args.accounts)?;
    let work = args.cache.dir.join("hop");
    let follower = store_copy(&ledger, &work.join("follower"))?;
    let base = follower.root().map_or(0, |root| root.slot);
    let workload = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(data::SEED ^ 0x40b),
        keyspace: args.accounts,
        updates_per_slot: args.updates,
    };
    let source = Arc::new(MemorySlotSource::new());
    source.set_first_available_slot(base + 1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (confirmed, rooted, raw, slot_bytes) = runtime.block_on(async {
        let following = Following::start(source.clone(), follower)?;
        let mut confirmed = Histogram::<u64>::new(3)?;
        let mut rooted = Histogram::<u64>::new(3)?;
        let mut slot_bytes = 0;
        // One untimed slot first: the connection is up and the replica is in its long-poll.
        for slot in base + 1..=base + 1 + args.slots {
            let records = workload::as_records(&workload.slot(slot));
            slot_bytes = records
                .iter()
                .map(AccountRecord::encoded_len)
                .sum::<usize>();
            for status in [SlotStatus::Confirmed, SlotStatus::Rooted] {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let started = Instant::now();
                source.insert_slot(workload::slot_info(slot, status), records.clone(), None);
                following
                    .wait(|state| match status {
                        SlotStatus::Rooted => state.finalized_slot() >= Some(slot),
                        _ => state.confirmed_slot() >= Some(slot),
                    })
                    .await?;
                let micros = started.elapsed().as_micros() as u64;
                if status == SlotStatus::Rooted {
                    // Untimed: its commit lands before the next slot, as it does between slots
                    // 400 ms apart.
                    following
                        .wait(|state| state.root_slot() >= Some(slot))
                        .await?;
                }
                if slot > base + 1 {
                    match status {
                        SlotStatus::Rooted => rooted.record(micros)?,
                        _ => confirmed.record(micros)?,
                    }
                }
            }
        }
        following.stop().await;
        let mut raw = Histogram::<u64>::new(3)?;
        for micros in raw_quic_round_trips(slot_bytes, args.slots as usize).await? {
            raw.record(micros)?;
        }
        anyhow::Ok((confirmed, rooted, raw, slot_bytes))
    })?;
    let _ = std::fs::remove_dir_all(&work);
    let (p50, p99) = (quantile_ms(&confirmed, 0.5), quantile_ms(&confirmed, 0.99));
    let (p50_rooted, p99_rooted) = (quantile_ms(&rooted, 0.5), quantile_ms(&rooted, 0.99));
    let (raw_p50, raw_p99) = (quantile_ms(&raw, 0.5), quantile_ms(&raw, 0.99));
    println!(
        "hop {}-account store ({}), {} slots × {} writes ({} KB): confirmed at the upstream → confirmed view p50 {p50:.1} ms, p99 {p99:.1} ms; rooted → finalized view p50 {p50_rooted:.1} ms, p99 {p99_rooted:.1} ms | ceiling, raw QUIC round trip of the slot's bytes p50 {raw_p50:.2} ms, p99 {raw_p99:.2} ms",
        args.accounts,
        data::machine(),
        args.slots,
        args.updates,
        slot_bytes / 1000,
    );
    Ok(
        Report::new("hop", 1e3 / p50, "hops/s at the median", 1e3 / raw_p50)
            .latency(p50, p99)
            .with("latency_of", "confirmed → confirmed view")
            .with_ms("p50_rooted", p50_rooted)
            .with_ms("p99_rooted", p99_rooted)
            .with_ms("raw_p50", raw_p50)
            .with_ms("raw_p99", raw_p99)
            .with("updates_per_slot", args.updates as u64),
    )
}
