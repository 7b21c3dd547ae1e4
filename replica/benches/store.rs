//! Store benchmarks (figures, not tests). Run in release:
//!
//!     cargo bench -p replica --bench store -- [--dir <cache>] [--sizes 1000000,5000000]
//!
//! For each size: writes a synthetic archive (60 % 165-byte token accounts, 30 % system
//! accounts, 10 % 200–2000-byte program data) if the cache lacks it; measures the ceiling
//! (decompress + walk, nothing stored) and the real bootstrap of `replica run
//! --exit-after-bootstrap` in a child process (accounts/s and peak RSS). On the largest store:
//! slots of 2,000 random writes committed through the store against a raw RocksDB write batch
//! of the same bytes, and the latency of reading an owner's 100 token accounts via the index.

use {
    hdrhistogram::Histogram,
    rand::{Rng, SeedableRng},
    replica::store::{
        AccountsStore, IndexKind, SlotCommit, SlotMeta, StoreConfig, encode_into, workload,
    },
    snapshot_tools::{
        archive::{
            ArchiveErrorKind, ArchiveFormat, ArchiveLimits, ArchiveVisitor, read_archive,
            storage::StoredAccount,
        },
        synthetic::{SyntheticAccounts, TOKEN_ACCOUNTS_PER_OWNER},
    },
    solana_hash::Hash,
    std::{
        ops::ControlFlow,
        path::{Path, PathBuf},
        process::Command,
        time::{Duration, Instant},
    },
};

const SEED: u64 = 7;
const SLOT: u64 = 1_000;

struct Walk(u64, u64);

impl ArchiveVisitor for Walk {
    fn account(&mut self, _slot: u64, account: &StoredAccount<'_>) -> Result<(), ArchiveErrorKind> {
        self.0 += account.data.len() as u64 & 1;
        self.1 += 1;
        Ok(())
    }
}

fn archive(dir: &Path, count: u64) -> PathBuf {
    let sub = dir.join(format!("archive-{count}"));
    std::fs::create_dir_all(&sub).unwrap();
    if let Some(existing) = std::fs::read_dir(&sub)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("snapshot-")
        })
    {
        return existing;
    }
    let started = Instant::now();
    let path = SyntheticAccounts::new(SEED)
        .write_archive(&sub, count, SLOT, ArchiveFormat::TarZstd)
        .unwrap();
    println!(
        "wrote {} ({} MB) in {:.1}s",
        path.display(),
        std::fs::metadata(&path).unwrap().len() >> 20,
        started.elapsed().as_secs_f64()
    );
    path
}

fn replica_binary() -> PathBuf {
    let bench = std::env::current_exe().unwrap();
    bench.parent().unwrap().parent().unwrap().join("replica")
}

fn peak_rss_of_children_mb() -> f64 {
    // SAFETY: getrusage only writes the struct we pass.
    #[allow(unsafe_code)]
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    usage.ru_maxrss as f64 / 1024.0
}

fn ingest(dir: &Path, archive: &Path, count: u64) -> PathBuf {
    // Ceiling: decompress and walk every storage, store nothing.
    let started = Instant::now();
    let mut walk = Walk(0, 0);
    read_archive(archive, &ArchiveLimits::default(), &mut walk).unwrap();
    let walked_in = started.elapsed().as_secs_f64();
    assert_eq!(walk.1, count, "the walk saw every account");
    let ceiling = count as f64 / walked_in;

    let ledger = dir.join(format!("ledger-{count}"));
    let _ = std::fs::remove_dir_all(&ledger);
    let started = Instant::now();
    let status = Command::new(replica_binary())
        .args(["run", "--exit-after-bootstrap", "--ledger"])
        .arg(&ledger)
        .arg("--snapshot")
        .arg(archive)
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success());
    let elapsed = started.elapsed().as_secs_f64();
    let rate = count as f64 / elapsed;
    println!(
        "ingest {count:>9} accounts: {rate:>10.0} accounts/s ({elapsed:.2}s, verified lattice hash) | ceiling (decompress+walk) {ceiling:>10.0} accounts/s | ratio {:.0} % | peak RSS of the replica process so far {:.0} MiB",
        100.0 * rate / ceiling,
        peak_rss_of_children_mb()
    );
    ledger
}

fn apply(ledger: &Path, count: u64, config: &StoreConfig) {
    let store = AccountsStore::open(&ledger.join("accounts"), config.clone()).unwrap();
    let slots = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(SEED),
        keyspace: count,
        updates_per_slot: 2_000,
    };
    let rounds = 40u64;
    let first = store.root().expect("bootstrapped").slot + 1;
    let prepared: Vec<_> = (0..rounds).map(|n| slots.slot(first + n)).collect();
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
        store
            .commit(&[SlotCommit {
                meta,
                updates: &batch,
                expected_lt_hash: None,
                previous: None,
            }])
            .unwrap();
        updates += batch.len();
    }
    let store_rate = updates as f64 / started.elapsed().as_secs_f64();
    drop(store);

    // The same bytes through a raw RocksDB write batch: no reads, no hashing, no indexes.
    let raw_path = ledger.join("raw-db");
    let _ = std::fs::remove_dir_all(&raw_path);
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    let raw = rocksdb::DB::open(&options, &raw_path).unwrap();
    let started = Instant::now();
    let mut value = Vec::new();
    for (n, writes) in prepared.iter().enumerate() {
        let mut batch = rocksdb::WriteBatch::default();
        for (_, account) in writes {
            value.clear();
            encode_into(
                &mut value,
                account.lamports,
                account.rent_epoch,
                &account.owner,
                account.executable,
                SLOT + n as u64,
                &account.data,
            );
            batch.put(account.pubkey, &value);
        }
        raw.write(batch).unwrap();
    }
    let raw_rate = updates as f64 / started.elapsed().as_secs_f64();
    drop(raw);
    let _ = std::fs::remove_dir_all(&raw_path);
    println!(
        "apply  {count:>9}-account store, {rounds} slots × 2,000 writes: {store_rate:>9.0} updates/s | raw write batch of the same bytes {raw_rate:>9.0} updates/s | ratio {:.0} %",
        100.0 * store_rate / raw_rate
    );
}

fn index_reads(ledger: &Path, count: u64, config: &StoreConfig) {
    let store = AccountsStore::open(&ledger.join("accounts"), config.clone()).unwrap();
    let accounts = SyntheticAccounts::new(SEED);
    let groups = count * 6 / 10 / TOKEN_ACCOUNTS_PER_OWNER;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut found = 0usize;
    let mut samples = 0;
    while samples < 5_000 && Instant::now() < deadline {
        // Owners whose accounts the apply benchmark did not touch keep exactly 100.
        let owner = accounts.token_owner(rng.random_range(0..groups.saturating_sub(1)));
        let started = Instant::now();
        let mut results = Vec::with_capacity(100);
        let _ = store
            .view()
            .index_scan(IndexKind::SplTokenOwner, &owner, |pubkey, account| {
                results.push((*pubkey, account.lamports(), account.data().len()));
                ControlFlow::Continue(())
            })
            .unwrap();
        histogram
            .record(started.elapsed().as_nanos() as u64)
            .unwrap();
        found += results.len();
        samples += 1;
    }
    println!(
        "index  owner → its token accounts ({:.0} per owner on average), {samples} owners: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        found as f64 / samples as f64,
        histogram.value_at_quantile(0.5) as f64 / 1e6,
        histogram.value_at_quantile(0.99) as f64 / 1e6,
        histogram.max() as f64 / 1e6
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = std::env::temp_dir().join("replica-bench");
    let mut sizes = vec![1_000_000u64, 5_000_000];
    // Reads and applies against the ledgers an earlier run left, skipping ingest.
    let mut reuse = false;
    let mut config = StoreConfig::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = PathBuf::from(args.next().expect("--dir <path>")),
            "--sizes" => {
                sizes = args
                    .next()
                    .expect("--sizes a,b")
                    .split(',')
                    .map(|size| size.parse().unwrap())
                    .collect()
            }
            "--reuse" => reuse = true,
            "--block-cache-mb" => {
                let mb: usize = args
                    .next()
                    .expect("--block-cache-mb <MiB>")
                    .parse()
                    .unwrap();
                config.block_cache_bytes = mb << 20;
            }
            _ => {}
        }
    }
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "machine: {} cores; cache {}",
        std::thread::available_parallelism().unwrap(),
        dir.display()
    );
    let mut last = None;
    for &count in &sizes {
        let ledger = dir.join(format!("ledger-{count}"));
        if reuse && ledger.is_dir() {
            last = Some((ledger, count));
            continue;
        }
        let archive = archive(&dir, count);
        last = Some((ingest(&dir, &archive, count), count));
    }
    if let Some((ledger, count)) = last {
        println!("store block cache {} MiB", config.block_cache_bytes >> 20);
        index_reads(&ledger, count, &config);
        apply(&ledger, count, &config);
    }
}
