//! Bootstrap bulk load: a snapshot chain into a new store through SST ingestion.
//!
//! The merged state arrives in pubkey order, so account SSTs are written directly (on a second
//! thread) and ingested at the bottom level. Index entries are collected in an external sort and
//! ingested per column family afterwards. Everything happens in a staging directory that is
//! renamed into place only once the load is complete and verified, so an interrupted bootstrap
//! leaves nothing that could be mistaken for a store; the next start simply begins again.

use {
    super::{
        AccountRef, AccountsStore, BankFields, IndexCounts, IndexKind, RootState, StoreConfig,
        StoreError, cf, encode_into,
        meta::{self, SlotMeta, SnapshotOrigin},
        write_root_state,
    },
    rocksdb::{Cache, IngestExternalFileOptions, SstFileWriter, WriteBatch, WriteOptions},
    snapshot_tools::{
        archive::{
            ChainError, ChainOptions, ChainSummary, ManifestCheckError, SnapshotChain, VerifyError,
            read_chain,
        },
        sort::ExternalSorter,
    },
    std::{
        path::{Path, PathBuf},
        sync::{
            Arc,
            atomic::{AtomicBool, AtomicU64, Ordering},
            mpsc,
        },
        time::{Duration, Instant},
    },
};

/// Memory for a bootstrap's external sorts: keeps the peak of a 5 M-account load near 1.3 GiB.
pub const DEFAULT_BULK_SORT_MEMORY: usize = 1 << 30;

#[derive(Debug, Clone)]
pub struct BulkLoadOptions {
    /// Check the computed lattice hash against the archive name and manifest.
    pub verify: bool,
    /// Memory for the external sorts, in bytes.
    pub sort_memory: usize,
    /// Size at which an SST file is closed and the next one started.
    pub sst_file_bytes: u64,
    /// Show a progress bar (when stderr is a terminal).
    pub progress_bar: bool,
    /// Where the load's progress is published, in parts per million of the archives read.
    pub progress_ppm: Option<Arc<AtomicU64>>,
}

impl Default for BulkLoadOptions {
    fn default() -> Self {
        Self {
            verify: true,
            sort_memory: DEFAULT_BULK_SORT_MEMORY,
            sst_file_bytes: 256 << 20,
            progress_bar: true,
            progress_ppm: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BulkLoadError {
    #[error("reading the snapshot chain: {0}")]
    Chain(#[from] ChainError),
    #[error("the snapshot does not verify: {0} (use --no-verify to load it anyway)")]
    Verify(#[from] VerifyError),
    /// A check Agave's own loader makes; `--no-verify` does not skip it.
    #[error("the snapshot fails Agave's load checks: {0}")]
    Manifest(#[from] ManifestCheckError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing SST file {}: {source}", .path.display())]
    Sst {
        path: PathBuf,
        source: rocksdb::Error,
    },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct BulkLoadReport {
    pub summary: ChainSummary,
    pub index_entries: u64,
    pub elapsed: Duration,
    /// Time reading, hashing and sorting before the first account reached the store.
    pub read_elapsed: Duration,
    pub verified: bool,
}

impl BulkLoadReport {
    pub fn accounts_per_second(&self) -> f64 {
        self.summary.live_accounts as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BulkLoadError + '_ {
    move |source| BulkLoadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes sorted key/value pairs into SST files of about `file_bytes` each.
struct SstSink<'a> {
    options: &'a rocksdb::Options,
    dir: PathBuf,
    prefix: String,
    file_bytes: u64,
    writer: Option<(SstFileWriter<'a>, PathBuf)>,
    written: u64,
    entries: u64,
    files: Vec<PathBuf>,
}

impl<'a> SstSink<'a> {
    fn new(options: &'a rocksdb::Options, dir: &Path, prefix: &str, file_bytes: u64) -> Self {
        Self {
            options,
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            file_bytes,
            writer: None,
            written: 0,
            entries: 0,
            files: Vec::new(),
        }
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), BulkLoadError> {
        if self.writer.is_none() {
            let path = self
                .dir
                .join(format!("{}-{:05}.sst", self.prefix, self.files.len()));
            let writer = SstFileWriter::create(self.options);
            writer.open(&path).map_err(|source| BulkLoadError::Sst {
                path: path.clone(),
                source,
            })?;
            self.writer = Some((writer, path));
            self.written = 0;
        }
        let (writer, path) = self.writer.as_mut().expect("opened above");
        writer
            .put(key, value)
            .map_err(|source| BulkLoadError::Sst {
                path: path.clone(),
                source,
            })?;
        self.written += (key.len() + value.len()) as u64;
        self.entries += 1;
        if self.written >= self.file_bytes {
            self.close()?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), BulkLoadError> {
        if let Some((mut writer, path)) = self.writer.take() {
            writer.finish().map_err(|source| BulkLoadError::Sst {
                path: path.clone(),
                source,
            })?;
            self.files.push(path);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<PathBuf>, BulkLoadError> {
        self.close()?;
        Ok(self.files)
    }

    /// The files and how many entries they hold.
    fn finish_counted(mut self) -> Result<(Vec<PathBuf>, u64), BulkLoadError> {
        self.close()?;
        Ok((self.files, self.entries))
    }
}

/// The SST files written for one index column family, and their entries.
type IndexSsts = (IndexKind, Vec<PathBuf>, u64);

/// Index entries of a bulk load, grouped by (index kind, index key). Accounts arrive in pubkey
/// order, so each group's pubkeys are already sorted and only the distinct index keys need
/// sorting: no comparison sort over the entries. Past the memory budget, the groups are written
/// out as a sorted run and merged at the end.
struct IndexCollector {
    groups: rustc_hash::FxHashMap<[u8; 33], Vec<[u8; 32]>>,
    bytes: usize,
    budget: usize,
    sorter: ExternalSorter,
    entries: u64,
}

/// Memory of one group beyond its pubkeys: key, vector header, map slot.
const INDEX_GROUP_OVERHEAD: usize = 33 + 24 + 16;

impl IndexCollector {
    fn new(temp_dir: &Path, budget: usize) -> Self {
        Self {
            groups: Default::default(),
            bytes: 0,
            budget,
            sorter: ExternalSorter::new(temp_dir, 1 << 16),
            entries: 0,
        }
    }

    fn push(
        &mut self,
        kind: IndexKind,
        key: &solana_pubkey::Pubkey,
        pubkey: &solana_pubkey::Pubkey,
    ) -> std::io::Result<()> {
        let mut group = [0u8; 33];
        group[0] = kind.tag();
        group[1..].copy_from_slice(key.as_ref());
        let members = self.groups.entry(group).or_insert_with(|| {
            self.bytes += INDEX_GROUP_OVERHEAD;
            Vec::new()
        });
        debug_assert!(
            members
                .last()
                .is_none_or(|last| last.as_slice() < pubkey.as_ref()),
            "accounts arrive in pubkey order"
        );
        members.push(pubkey.to_bytes());
        self.bytes += 32;
        self.entries += 1;
        if self.bytes > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    fn sorted_groups(&mut self) -> Vec<([u8; 33], Vec<[u8; 32]>)> {
        let mut groups: Vec<_> = self.groups.drain().collect();
        groups.sort_unstable_by_key(|group| group.0);
        self.bytes = 0;
        groups
    }

    fn spill(&mut self) -> std::io::Result<()> {
        let groups = self.sorted_groups();
        let mut run = self.sorter.sorted_run()?;
        let mut key = [0u8; 65];
        for (group, members) in groups {
            key[..33].copy_from_slice(&group);
            for member in members {
                key[33..].copy_from_slice(&member);
                run.push(&key, &[])?;
            }
        }
        run.finish()
    }

    /// Writes every entry into SST files, one set per index kind, and returns them with the
    /// entry count. Without spills the kinds are written in parallel; otherwise the merged runs
    /// are written in key order.
    fn write_ssts(
        mut self,
        options: &[rocksdb::Options],
        dir: &Path,
        file_bytes: u64,
    ) -> Result<(Vec<IndexSsts>, u64), BulkLoadError> {
        let io = |source| BulkLoadError::Io {
            path: PathBuf::from("index sort"),
            source,
        };
        let entries = self.entries;
        let mut written = Vec::new();
        if self.sorter.spilled_runs() == 0 {
            let groups = self.sorted_groups();
            let results: Vec<Result<IndexSsts, BulkLoadError>> = std::thread::scope(|scope| {
                let tasks: Vec<_> = IndexKind::ALL
                    .into_iter()
                    .map(|kind| {
                        let start = groups.partition_point(|(group, _)| group[0] < kind.tag());
                        let end = groups.partition_point(|(group, _)| group[0] <= kind.tag());
                        let slice = &groups[start..end];
                        let options = &options[kind as usize];
                        scope.spawn(move || {
                            let mut sink = SstSink::new(options, dir, kind.cf_name(), file_bytes);
                            let mut key = [0u8; 64];
                            for (group, members) in slice {
                                key[..32].copy_from_slice(&group[1..]);
                                for member in members {
                                    key[32..].copy_from_slice(member);
                                    sink.put(&key, &[])?;
                                }
                            }
                            let (files, entries) = sink.finish_counted()?;
                            Ok((kind, files, entries))
                        })
                    })
                    .collect();
                tasks
                    .into_iter()
                    .map(|task| task.join().expect("index SST writer panicked"))
                    .collect()
            });
            for result in results {
                written.push(result?);
            }
            return Ok((written, entries));
        }
        self.spill().map_err(io)?;
        let mut sorted = self.sorter.finish().map_err(io)?;
        let mut current: Option<(IndexKind, SstSink<'_>)> = None;
        while let Some((entry, _)) = sorted.next().map_err(io)? {
            let kind = IndexKind::from_tag(entry[0]).expect("tags written by the collector");
            if current.as_ref().is_none_or(|(open, _)| *open != kind) {
                if let Some((open, sink)) = current.take() {
                    let (files, entries) = sink.finish_counted()?;
                    written.push((open, files, entries));
                }
                current = Some((
                    kind,
                    SstSink::new(&options[kind as usize], dir, kind.cf_name(), file_bytes),
                ));
            }
            current
                .as_mut()
                .expect("set above")
                .1
                .put(&entry[1..], &[])?;
        }
        if let Some((open, sink)) = current.take() {
            let (files, entries) = sink.finish_counted()?;
            written.push((open, files, entries));
        }
        Ok((written, entries))
    }
}

/// Account batches handed to the SST thread: `[pubkey 32][value_len u32][value]...`.
const ACCOUNT_BATCH_BYTES: usize = 4 << 20;

/// Loads `chain` into a new store at `store_path`, which must not exist yet.
pub fn bulk_load(
    store_path: &Path,
    chain: &SnapshotChain,
    config: &StoreConfig,
    options: &BulkLoadOptions,
) -> Result<BulkLoadReport, BulkLoadError> {
    let started = Instant::now();
    let staging = staging_path(store_path);
    let work_dir = work_path(store_path);
    for dir in [&staging, &work_dir] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(io_error(dir))?;
        }
    }
    std::fs::create_dir_all(&work_dir).map_err(io_error(&work_dir))?;
    let result = load_into_staging(&staging, &work_dir, chain, config, options, started);
    let _ = std::fs::remove_dir_all(&work_dir);
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(error);
        }
    };
    std::fs::rename(&staging, store_path).map_err(io_error(store_path))?;
    if let Some(parent) = store_path.parent() {
        std::fs::File::open(parent)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error(parent))?;
    }
    Ok(report)
}

/// Where a load in progress builds the store.
pub fn staging_path(store_path: &Path) -> PathBuf {
    store_path.with_extension("loading")
}

fn work_path(store_path: &Path) -> PathBuf {
    store_path.with_extension("loading-work")
}

/// Removes what an interrupted load left behind.
pub fn clean_interrupted(store_path: &Path) -> std::io::Result<bool> {
    let mut cleaned = false;
    for dir in [staging_path(store_path), work_path(store_path)] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
            cleaned = true;
        }
    }
    Ok(cleaned)
}

fn load_into_staging(
    staging: &Path,
    work_dir: &Path,
    chain: &SnapshotChain,
    config: &StoreConfig,
    options: &BulkLoadOptions,
    started: Instant,
) -> Result<BulkLoadReport, BulkLoadError> {
    let store = AccountsStore::open(staging, config.clone())?;
    let cache = Cache::new_lru_cache(8 << 20);
    // Bulk SSTs are written uncompressed: compression is the largest cost of writing them, and
    // later compactions compress what they rewrite.
    let uncompressed = |name: &str| {
        let mut options = cf::cf_options(name, &cache);
        options.set_compression_type(rocksdb::DBCompressionType::None);
        options.set_bottommost_compression_type(rocksdb::DBCompressionType::None);
        options
    };
    let accounts_options = uncompressed(cf::ACCOUNTS);
    let mut chain_options = ChainOptions::new(work_dir);
    chain_options.sort_memory = options.sort_memory * 3 / 5;
    let accounts_written = Arc::new(AtomicU64::new(0));
    let archive_bytes = [
        Some(chain.full.as_path()),
        chain.incremental.as_ref().map(|(path, _)| path.as_path()),
    ]
    .into_iter()
    .flatten()
    .filter_map(|path| std::fs::metadata(path).ok())
    .map(|metadata| metadata.len())
    .sum();
    let progress = Progress::start(
        options.progress_bar,
        ProgressSources {
            versions_read: chain_options.versions_read.clone(),
            bytes_read: chain_options.bytes_read.clone(),
            archive_bytes,
            accounts_written: accounts_written.clone(),
            published_ppm: options.progress_ppm.clone(),
        },
    );

    let mut index_collector = IndexCollector::new(work_dir, options.sort_memory * 2 / 5);
    let mut first_account_at = None;
    let (batch_sender, batch_receiver) = mpsc::sync_channel::<Vec<u8>>(4);
    let (summary, account_files) = std::thread::scope(|scope| {
        let sst_thread = std::thread::Builder::new()
            .name("bulk-sst".into())
            .spawn_scoped(scope, move || {
                let mut sink = SstSink::new(
                    &accounts_options,
                    work_dir,
                    "accounts",
                    options.sst_file_bytes,
                );
                // This thread also collects the index entries: the merge thread is the busier.
                for batch in batch_receiver.iter() {
                    let mut at = 0;
                    while at < batch.len() {
                        let len = u32::from_le_bytes(
                            batch[at + 32..at + 36].try_into().expect("4 bytes"),
                        ) as usize;
                        let (key, value) = (&batch[at..at + 32], &batch[at + 36..at + 36 + len]);
                        sink.put(key, value)?;
                        let account = AccountRef::decode(value).expect("encoded above");
                        let pubkey = solana_pubkey::Pubkey::new_from_array(
                            key.try_into().expect("32 bytes"),
                        );
                        for (kind, index_key) in IndexKind::ALL
                            .into_iter()
                            .zip(config.indexes.entries(&account.owner(), account.data()))
                        {
                            if let Some(index_key) = index_key {
                                index_collector
                                    .push(kind, &index_key, &pubkey)
                                    .map_err(io_error(work_dir))?;
                            }
                        }
                        at += 36 + len;
                    }
                }
                Ok::<_, BulkLoadError>((sink.finish()?, index_collector))
            })
            .expect("spawn the SST writer thread");

        let mut batch = Vec::with_capacity(ACCOUNT_BATCH_BYTES);
        let summary = read_chain(chain, &chain_options, |record| {
            first_account_at.get_or_insert_with(Instant::now);
            // `[pubkey][value_len][value]`, the value encoded in place.
            batch.extend_from_slice(record.pubkey.as_ref());
            let length_at = batch.len();
            batch.extend_from_slice(&[0; 4]);
            encode_into(
                &mut batch,
                record.lamports,
                record.rent_epoch,
                &record.owner,
                record.executable,
                record.slot,
                record.data,
            );
            let value_len = (batch.len() - length_at - 4) as u32;
            batch[length_at..length_at + 4].copy_from_slice(&value_len.to_le_bytes());
            if batch.len() >= ACCOUNT_BATCH_BYTES {
                batch_sender
                    .send(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(ACCOUNT_BATCH_BYTES),
                    ))
                    .map_err(|_| "the SST writer stopped")?;
            }
            accounts_written.fetch_add(1, Ordering::Relaxed);
            Ok(())
        });
        if summary.is_ok() && !batch.is_empty() {
            let _ = batch_sender.send(batch);
        }
        drop(batch_sender);
        let files = sst_thread.join().expect("SST writer thread panicked");
        (summary, files)
    });
    let summary = summary?;
    summary.check_manifest()?;
    let (account_files, index_collector) = account_files?;
    let merged_at = Instant::now();
    let verified = if options.verify {
        summary.verify()?;
        true
    } else {
        false
    };
    let ingest = |name: &str, files: Vec<PathBuf>| -> Result<(), BulkLoadError> {
        if files.is_empty() {
            return Ok(());
        }
        let mut ingest_options = IngestExternalFileOptions::default();
        ingest_options.set_move_files(true);
        store
            .db()
            .ingest_external_file_cf_opts(store.cf(name), &ingest_options, files)
            .map_err(store.db_error())
            .map_err(BulkLoadError::from)
    };
    ingest(cf::ACCOUNTS, account_files)?;
    let accounts_ingested_at = Instant::now();

    let index_options: Vec<rocksdb::Options> = IndexKind::ALL
        .iter()
        .map(|kind| uncompressed(kind.cf_name()))
        .collect();
    let (index_files, index_entries) =
        index_collector.write_ssts(&index_options, work_dir, options.sst_file_bytes)?;
    let mut index_counts = IndexCounts::default();
    for (kind, files, entries) in index_files {
        ingest(kind.cf_name(), files)?;
        index_counts[kind as usize] = entries;
    }

    tracing::info!(
        read_sort_seconds = first_account_at.map_or(0.0, |at| (at - started).as_secs_f64()),
        merge_write_seconds = first_account_at.map_or(0.0, |at| (merged_at - at).as_secs_f64()),
        accounts_ingest_seconds = (accounts_ingested_at - merged_at).as_secs_f64(),
        index_seconds = accounts_ingested_at.elapsed().as_secs_f64(),
        "bulk load phases"
    );
    let manifest = summary.manifest();
    let root = RootState {
        slot: manifest.slot,
        lt_hash: summary.lt_hash.clone(),
        capitalization: summary.lamports,
        accounts: summary.live_accounts,
    };
    let mut batch = WriteBatch::default();
    let meta_cf = store.cf(cf::META);
    write_root_state(&mut batch, meta_cf, &root);
    batch.put_cf(
        meta_cf,
        meta::keys::BANK,
        encode(&BankFields::from_manifest(manifest)),
    );
    batch.put_cf(
        meta_cf,
        meta::keys::BOOTSTRAP_BANK,
        encode(&meta::BootstrapBank::from_manifest(manifest)),
    );
    batch.put_cf(
        meta_cf,
        meta::keys::BOOTSTRAP_EPOCH_STAKES,
        encode(&manifest.epoch_stakes),
    );
    batch.put_cf(
        meta_cf,
        meta::keys::SNAPSHOT,
        encode(&SnapshotOrigin {
            full_archive: chain.full_name.to_string(),
            incremental_archive: chain.incremental.as_ref().map(|(_, name)| name.to_string()),
            slot: manifest.slot,
            verified,
        }),
    );
    batch.put_cf(meta_cf, meta::keys::INDEX_CONFIG, encode(&config.indexes));
    batch.put_cf(meta_cf, meta::keys::INDEX_COUNTS, encode(&index_counts));
    batch.put_cf(
        store.cf(cf::SLOTS),
        meta::slot_key(manifest.slot),
        encode(&SlotMeta::from_manifest(manifest)),
    );
    let mut write_options = WriteOptions::default();
    write_options.set_sync(true);
    store
        .db()
        .write_opt(batch, &write_options)
        .map_err(store.db_error())?;
    store.db().flush_wal(true).map_err(store.db_error())?;
    drop(store);
    progress.finish();
    let elapsed = started.elapsed();
    Ok(BulkLoadReport {
        read_elapsed: first_account_at.map_or(elapsed, |at| at - started),
        summary,
        index_entries,
        elapsed,
        verified,
    })
}

fn encode(value: &impl serde::Serialize) -> Vec<u8> {
    bincode::serialize(value).expect("metadata serializes")
}

/// What the progress reporter reads.
struct ProgressSources {
    versions_read: Arc<AtomicU64>,
    bytes_read: Arc<AtomicU64>,
    archive_bytes: u64,
    accounts_written: Arc<AtomicU64>,
    published_ppm: Option<Arc<AtomicU64>>,
}

/// A progress bar on a terminal, and a log line every few seconds otherwise: how much of the
/// archives is read (percent), the rate, and the time left at that rate.
struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(bar: bool, sources: ProgressSources) -> Self {
        use std::io::IsTerminal;
        let stop = Arc::new(AtomicBool::new(false));
        let total = sources.archive_bytes.max(1);
        let bar = (bar && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {percent:>3}% {binary_bytes_per_sec} eta {eta} {msg}",
                )
                .expect("valid template"),
            );
            bar
        });
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("bulk-progress".into())
            .spawn(move || {
                let started = Instant::now();
                let mut last_log = Instant::now();
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    let bytes = sources.bytes_read.load(Ordering::Relaxed).min(total);
                    let fraction = bytes as f64 / total as f64;
                    if let Some(published) = &sources.published_ppm {
                        published.store((fraction * 1e6) as u64, Ordering::Relaxed);
                    }
                    let read = sources.versions_read.load(Ordering::Relaxed);
                    let written = sources.accounts_written.load(Ordering::Relaxed);
                    let seconds = started.elapsed().as_secs_f64().max(1e-9);
                    let accounts_per_second = read as f64 / seconds;
                    if let Some(bar) = &bar {
                        bar.set_position(bytes);
                        bar.set_message(format!(
                            "{read} versions read ({accounts_per_second:.0}/s), {written} accounts stored"
                        ));
                    } else if last_log.elapsed() >= Duration::from_secs(5) {
                        let eta_seconds = (fraction > 0.0)
                            .then(|| seconds * (1.0 - fraction) / fraction)
                            .map(|eta| eta.round() as u64);
                        tracing::info!(
                            percent = format!("{:.1}", fraction * 100.0),
                            versions_read = read,
                            accounts_per_second = accounts_per_second as u64,
                            accounts_stored = written,
                            eta_seconds,
                            "bootstrap load progress"
                        );
                        last_log = Instant::now();
                    }
                }
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
            })
            .expect("spawn the progress thread");
        Self {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
