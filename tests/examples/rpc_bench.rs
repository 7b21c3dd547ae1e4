//! Latency of scan queries against a running replica of a `snapshot-tools synthesize` archive.
//!
//! ```text
//! cargo run --release -p tests --example rpc_bench -- \
//!     --url http://127.0.0.1:8899/ --accounts 5000000 --case owner --requests 2000
//! ```
//!
//! Cases: `owner` (getTokenAccountsByOwner of an owner with exactly 100 token accounts),
//! `mint` (getProgramAccounts with dataSize 165 and a mint memcmp), `account`
//! (getAccountInfo of a random account). Keys are drawn at random from the synthetic set.
//! `--encoding` (default base64) applies to every case. `--case keys` prints `--requests` random account pubkeys, one a line (for wrk scripts).

use {
    anyhow::{Context, bail},
    hdrhistogram::Histogram,
    serde_json::{Value, json},
    snapshot_tools::synthetic::{SyntheticAccounts, TOKEN_ACCOUNTS_PER_OWNER, TOKEN_PROGRAM},
    std::time::{Duration, Instant},
};

struct Args {
    url: String,
    seed: u64,
    accounts: u64,
    case: String,
    requests: u64,
    concurrency: u64,
    encoding: String,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        url: String::new(),
        seed: 1,
        accounts: 5_000_000,
        case: "owner".to_string(),
        requests: 1000,
        concurrency: 1,
        encoding: "base64".to_string(),
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let value = iter
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => args.url = value,
            "--seed" => args.seed = value.parse()?,
            "--accounts" => args.accounts = value.parse()?,
            "--case" => args.case = value,
            "--requests" => args.requests = value.parse()?,
            "--concurrency" => args.concurrency = value.parse()?,
            "--encoding" => args.encoding = value,
            other => bail!("unknown flag {other}"),
        }
    }
    if args.url.is_empty() && args.case != "keys" {
        bail!("--url is required");
    }
    Ok(args)
}

/// A tiny xorshift so the bench needs no RNG crate and is repeatable.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn request(args: &Args, synthetic: &SyntheticAccounts, random: &mut u64) -> Value {
    let token_accounts = args.accounts / 10 * 6;
    match args.case.as_str() {
        "owner" => {
            // Only whole groups of 100.
            let groups = token_accounts / TOKEN_ACCOUNTS_PER_OWNER;
            let owner = synthetic.token_owner(next(random) % groups);
            json!({"jsonrpc": "2.0", "id": 1, "method": "getTokenAccountsByOwner",
                "params": [owner.to_string(), {"programId": TOKEN_PROGRAM.to_string()}, {"encoding": args.encoding}]})
        }
        "mint" => {
            let mint = synthetic.mint(next(random) % 1000);
            json!({"jsonrpc": "2.0", "id": 1, "method": "getProgramAccounts",
                "params": [TOKEN_PROGRAM.to_string(), {"encoding": args.encoding, "filters": [
                    {"dataSize": 165}, {"memcmp": {"offset": 0, "bytes": mint.to_string()}}]}]})
        }
        "account" => {
            let pubkey = synthetic.pubkey(next(random) % args.accounts);
            json!({"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo",
                "params": [pubkey.to_string(), {"encoding": args.encoding}]})
        }
        other => panic!("unknown case {other}"),
    }
}

fn results(response: &Value) -> usize {
    let result = &response["result"];
    let list = if result.is_array() {
        result
    } else {
        &result["value"]
    };
    list.as_array().map_or(1, Vec::len)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let synthetic = SyntheticAccounts::new(args.seed);
    if args.case == "keys" {
        let mut random = 0x2545_F491_4F6C_DD1D;
        for _ in 0..args.requests {
            println!("{}", synthetic.pubkey(next(&mut random) % args.accounts));
        }
        return Ok(());
    }
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .no_gzip()
        .build()?;
    let per_thread = args.requests / args.concurrency.max(1);
    let started = Instant::now();
    let outcomes: Vec<(Histogram<u64>, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..args.concurrency.max(1))
            .map(|thread| {
                let client = client.clone();
                let args = &args;
                let synthetic = &synthetic;
                scope.spawn(move || {
                    let mut histogram = Histogram::<u64>::new(3).expect("histogram");
                    let mut random = 0x9E37_79B9_7F4A_7C15 ^ (thread + 1);
                    let mut total_results = 0u64;
                    for _ in 0..per_thread {
                        let body = request(args, synthetic, &mut random).to_string();
                        let sent = Instant::now();
                        let response: Value = client
                            .post(&args.url)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .and_then(|response| response.json())
                            .expect("request");
                        histogram
                            .record(sent.elapsed().as_micros() as u64)
                            .expect("record");
                        assert!(response.get("error").is_none(), "{response}");
                        total_results += results(&response) as u64;
                    }
                    (histogram, total_results)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("bench thread"))
            .collect()
    });
    let elapsed = started.elapsed();
    let mut histogram = Histogram::<u64>::new(3)?;
    let mut total_results = 0;
    for (part, results) in outcomes {
        histogram.add(part)?;
        total_results += results;
    }
    let count = histogram.len();
    println!(
        "case={} requests={count} concurrency={} results/request={:.1} p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms throughput={:.0}/s",
        args.case,
        args.concurrency,
        total_results as f64 / count as f64,
        histogram.value_at_quantile(0.50) as f64 / 1000.0,
        histogram.value_at_quantile(0.90) as f64 / 1000.0,
        histogram.value_at_quantile(0.99) as f64 / 1000.0,
        histogram.max() as f64 / 1000.0,
        count as f64 / elapsed.as_secs_f64(),
    );
    Ok(())
}
