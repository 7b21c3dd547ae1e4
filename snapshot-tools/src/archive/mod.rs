//! Agave snapshot archives: names, the streaming reader, the manifest, storages, the lattice
//! hash, full + incremental chains, and the writer.

pub mod bank_fields;
pub mod chain;
pub mod check;
pub mod error;
pub mod genesis;
pub mod lt_hash;
pub mod manifest;
pub mod name;
pub mod probe;
pub mod reader;
pub mod stakes;
pub mod storage;
mod stream;
pub mod writer;

pub use {
    bank_fields::BankFields,
    chain::{
        AccountRecord, ChainError, ChainOptions, ChainSummary, SnapshotChain, VerifyError,
        read_chain,
    },
    check::{ManifestCheckError, check_capitalization},
    lt_hash::{LtHash, account_lt_hash, lt_hash_checksum, lt_hash_sum},
    manifest::SnapshotManifest,
    name::{ArchiveFormat, ArchiveKind, ArchiveName, Slot},
    reader::{
        ArchiveContents, ArchiveError, ArchiveErrorKind, ArchiveLimits, ArchiveVisitor,
        ErrorLocation, read_archive, read_archive_counted,
    },
    writer::ArchiveWriter,
};
