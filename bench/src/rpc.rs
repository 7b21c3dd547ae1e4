//! JSON-RPC serving: `replica run` on a bootstrapped store, getAccountInfo (base64) of random
//! accounts against getHealth on the same server, then getProgramAccounts with dataSize 165 and a
//! mint memcmp, one at a time.

use {
    crate::{
        data,
        load::{self, Until},
        report::{Report, quantile_ms},
    },
    anyhow::Context,
    common::process::{ChildProcess, StopOnDrop},
    rand::{Rng, SeedableRng},
    snapshot_tools::synthetic::{SyntheticAccounts, TOKEN_PROGRAM},
    std::{net::SocketAddr, process::Command, sync::Arc, time::Duration},
};

#[derive(Debug, clap::Args)]
pub(crate) struct RpcArgs {
    /// Accounts in the store.
    #[arg(long, default_value_t = 5_000_000)]
    accounts: u64,
    /// Keep-alive connections of the point-read load.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of each point-read load (getHealth, then getAccountInfo).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// getProgramAccounts requests timed.
    #[arg(long, default_value_t = 200)]
    scans: u64,
    #[command(flatten)]
    cache: data::Cache,
}

fn is_result(body: &[u8]) -> bool {
    body.starts_with(br#"{"jsonrpc":"2.0","result":"#)
}

pub(crate) fn run(args: &RpcArgs) -> anyhow::Result<Report> {
    let ledger = args.cache.ledger(args.accounts)?;
    data::warm_page_cache(&ledger.join("accounts"))?;
    let mut command = Command::new(data::replica_binary()?);
    let ready = ledger.join("bench.ready");
    let log = ledger.join("bench.log");
    let _ = std::fs::remove_file(&ready);
    command
        .args([
            "run",
            "--no-rpc-pubsub",
            "--rpc-bind",
            "127.0.0.1:0",
            "--ledger",
        ])
        .arg(&ledger)
        .arg("--ready-file")
        .arg(&ready)
        .env("RUST_LOG", "warn")
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::create(&log)?.try_clone()?);
    let mut replica = ChildProcess::spawn("replica", command, &log, StopOnDrop::Kill)?;
    let info = replica
        .wait_ready(&ready, Duration::from_secs(120), || false)
        .map_err(|error| anyhow::anyhow!("{error}; log:\n{}", replica.log_text()))?;
    let addr: SocketAddr = info["rpc"]
        .as_str()
        .context("ready file with an rpc address")?
        .parse()?;

    let synthetic = SyntheticAccounts::new(data::SEED);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let health = Arc::new(vec![load::post(
        addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"getHealth"}"#,
    )]);
    let accounts = Arc::new(
        (0..20_000)
            .map(|_| {
                let key = synthetic.pubkey(rng.random_range(0..args.accounts));
                load::post(
                    addr,
                    &format!(
                        r#"{{"jsonrpc":"2.0","id":1,"method":"getAccountInfo","params":["{key}",{{"encoding":"base64"}}]}}"#
                    ),
                )
            })
            .collect::<Vec<_>>(),
    );
    let mints = SyntheticAccounts::mints_in(args.accounts).max(1);
    let scans = Arc::new(
        (0..args.scans)
            .map(|_| {
                let mint = synthetic.mint(rng.random_range(0..mints));
                load::post(
                    addr,
                    &format!(
                        r#"{{"jsonrpc":"2.0","id":1,"method":"getProgramAccounts","params":["{TOKEN_PROGRAM}",{{"encoding":"base64","filters":[{{"dataSize":165}},{{"memcmp":{{"offset":0,"bytes":"{mint}"}}}}]}}]}}"#
                    ),
                )
            })
            .collect::<Vec<_>>(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let seconds = Until::Elapsed(Duration::from_secs(args.seconds));
    let (health, reads, scan) = runtime.block_on(async {
        // Warm-up: connections, the block cache's hot index blocks.
        let warm_up = Until::Elapsed(Duration::from_secs(2));
        load::run(addr, accounts.clone(), args.connections, warm_up, None).await?;
        let health = load::run(addr, health, args.connections, seconds, None).await?;
        let reads = load::run(addr, accounts, args.connections, seconds, Some(is_result)).await?;
        let scan = load::run(addr, scans, 1, Until::Sent(args.scans), Some(is_result)).await?;
        anyhow::Ok((health, reads, scan))
    })?;
    replica.stop(Duration::from_secs(10));
    let figure = reads.per_second();
    let ceiling = health.per_second();
    let (p50, p99) = (
        quantile_ms(&scan.latency, 0.5),
        quantile_ms(&scan.latency, 0.99),
    );
    println!(
        "rpc {}-account store ({}), {} connections, {} s each: getAccountInfo {figure:.0} requests/s (p99 {:.2} ms) | ceiling, getHealth on the same server: {ceiling:.0} requests/s | getProgramAccounts dataSize 165 + mint memcmp, one at a time: p50 {p50:.1} ms, p99 {p99:.1} ms",
        args.accounts,
        data::machine(),
        args.connections,
        args.seconds,
        quantile_ms(&reads.latency, 0.99),
    );
    Ok(Report::new("rpc", figure, "getAccountInfo/s", ceiling)
        .latency(p50, p99)
        .with("latency_of", "getProgramAccounts dataSize + memcmp")
        .with_ms("get_account_info_p99", quantile_ms(&reads.latency, 0.99))
        .with("accounts", args.accounts))
}
