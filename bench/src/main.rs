//! `replica-bench <scenario>`: the performance suite. Each scenario measures one path of the
//! replica and, in the same run, the ceiling that path cannot beat on this machine, then prints
//! one JSON object as its last line:
//! `{"scenario", "figure", "unit", "ceiling", "ratio", "p50", "p99", …}` (`figure` and `ceiling`
//! per second, `ratio` = figure / ceiling, latencies in milliseconds, `null` where a scenario has
//! none).
//!
//! Scenarios: `ingest` (verified snapshot bootstrap), `apply` (root commits into a store),
//! `sync` (catch-up over QUIC), `hop` (confirmed and rooted hop latency), `rpc` (JSON-RPC point
//! reads and a program scan). Synthetic archives and the stores loaded from them are kept in
//! `--dir` and reused by later runs.

mod apply;
mod data;
mod hop;
mod ingest;
mod load;
mod report;
mod rpc;
mod suite;
mod sync;
mod upstream;

use clap::Parser;

/// The replica's allocator, so the in-process scenarios measure what `replica` runs.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(
    name = "replica-bench",
    version,
    about = "The replica's benchmark suite"
)]
enum Scenario {
    /// Snapshot ingest: `replica run --exit-after-bootstrap` (lattice hash verified) against
    /// decompressing and walking the same archive.
    Ingest(ingest::IngestArgs),
    /// Root commits of random writes into a bootstrapped store against a raw RocksDB write
    /// batch of the same bytes.
    Apply(apply::ApplyArgs),
    /// Catch-up: a replica following an upstream over QUIC loopback through rooted slots,
    /// against the raw QUIC stream and the raw write batch of the same records.
    Sync(sync::SyncArgs),
    /// Hop latency: one slot at a time, confirmed then rooted at the upstream, until it is in
    /// the replica's confirmed and finalized views; against a raw QUIC round trip of the same
    /// bytes.
    Hop(hop::HopArgs),
    /// JSON-RPC: getAccountInfo of random accounts against getHealth on the same server, and
    /// the latency of getProgramAccounts with dataSize 165 and a mint memcmp.
    Rpc(rpc::RpcArgs),
    /// Every scenario at its default sizes, one after the other; prints a Markdown table and
    /// with --readme rewrites the README's table between its `bench:begin`/`bench:end` marks.
    All(suite::SuiteArgs),
}

fn main() -> anyhow::Result<()> {
    common::tracing::init(false);
    let report = match Scenario::parse() {
        Scenario::Ingest(args) => ingest::run(&args)?,
        Scenario::Apply(args) => apply::run(&args)?,
        Scenario::Sync(args) => sync::run(&args)?,
        Scenario::Hop(args) => hop::run(&args)?,
        Scenario::Rpc(args) => rpc::run(&args)?,
        Scenario::All(args) => return suite::run(&args),
    };
    report.print();
    Ok(())
}
