//! Column families and their RocksDB options.

use rocksdb::{BlockBasedOptions, Cache, DBCompressionType, Options, SliceTransform};

/// Rooted accounts by pubkey.
pub(crate) const ACCOUNTS: &str = "accounts";
/// `owner program ‖ pubkey` for every live account.
pub(crate) const INDEX_PROGRAM: &str = "index_program_id";
/// `token owner ‖ pubkey` for SPL Token and Token-2022 accounts.
pub(crate) const INDEX_TOKEN_OWNER: &str = "index_spl_token_owner";
/// `mint ‖ pubkey` for SPL Token and Token-2022 accounts.
pub(crate) const INDEX_TOKEN_MINT: &str = "index_spl_token_mint";
/// `delegate ‖ pubkey` for SPL Token and Token-2022 accounts with a delegate.
pub(crate) const INDEX_TOKEN_DELEGATE: &str = "index_spl_token_delegate";
/// Rooted slot metadata by slot (big-endian).
pub(crate) const SLOTS: &str = "slots";
/// The retained delta log: rooted slots' final account versions, served downstream.
pub(crate) const DELTA_LOG: &str = "delta_log";
/// Node metadata: schema version, root slot, lattice hash, capitalization, bank information.
pub(crate) const META: &str = "meta";

pub(crate) const ALL: [&str; 8] = [
    ACCOUNTS,
    INDEX_PROGRAM,
    INDEX_TOKEN_OWNER,
    INDEX_TOKEN_MINT,
    INDEX_TOKEN_DELEGATE,
    SLOTS,
    DELTA_LOG,
    META,
];

pub(crate) fn is_index(name: &str) -> bool {
    name.starts_with("index_")
}

pub(crate) fn db_options(background_jobs: i32) -> Options {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    options.increase_parallelism(background_jobs);
    options.set_max_background_jobs(background_jobs);
    options.set_bytes_per_sync(1 << 20);
    options.set_max_open_files(4096);
    options.set_keep_log_file_num(4);
    options
}

/// Options per column family. Index families carry a 32-byte prefix extractor and prefix bloom
/// filters, so the scan of one owner touches only its own keys.
pub(crate) fn cf_options(name: &str, cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_bloom_filter(10.0, false);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    table.set_format_version(5);
    let mut options = Options::default();
    options.set_compression_type(DBCompressionType::Lz4);
    options.set_bottommost_compression_type(DBCompressionType::Lz4);
    options.set_level_compaction_dynamic_level_bytes(true);
    match name {
        ACCOUNTS => {
            // Point reads of random accounts read (and copy out of the page cache) a whole
            // block each: small blocks keep that near the account's own size.
            table.set_block_size(4 << 10);
            options.set_write_buffer_size(128 << 20);
            options.set_max_write_buffer_number(4);
            options.set_target_file_size_base(128 << 20);
            options.set_max_bytes_for_level_base(1 << 30);
            // Commits read every account they write; most are not in the memtable, and a
            // memtable bloom filter answers that without a skip-list search.
            options.set_memtable_prefix_bloom_ratio(0.05);
            options.set_memtable_whole_key_filtering(true);
        }
        name if is_index(name) => {
            options.set_prefix_extractor(SliceTransform::create_fixed_prefix(32));
            table.set_whole_key_filtering(false);
            options.set_memtable_prefix_bloom_ratio(0.1);
            options.set_write_buffer_size(64 << 20);
            options.set_target_file_size_base(64 << 20);
        }
        _ => {
            options.set_write_buffer_size(16 << 20);
        }
    }
    options.set_block_based_table_factory(&table);
    options
}
