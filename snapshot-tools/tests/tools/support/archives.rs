//! Genuine-format archives written with `ArchiveWriter`, whose names carry the real lattice
//! hash, so that `fetch` verifies them like Agave's.

use {
    snapshot_tools::archive::{
        AccountRecord, ArchiveFormat, ArchiveKind, ArchiveWriter, LtHash, SnapshotManifest,
        account_lt_hash,
    },
    solana_pubkey::Pubkey,
    std::path::{Path, PathBuf},
};

const OWNER: Pubkey = Pubkey::new_from_array([7; 32]);

struct Account {
    pubkey: Pubkey,
    lamports: u64,
    data: Vec<u8>,
}

fn account(seed: u64, index: u64, data_len: usize) -> Account {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&seed.to_le_bytes());
    hasher.update(&index.to_le_bytes());
    let pubkey = Pubkey::new_from_array(*hasher.finalize().as_bytes());
    let mut data = vec![0u8; data_len];
    hasher.update(b"data");
    hasher.finalize_xof().fill(&mut data);
    Account {
        pubkey,
        lamports: 1_000_000 + index,
        data,
    }
}

fn record(account: &Account, slot: u64) -> AccountRecord<'_> {
    AccountRecord {
        pubkey: account.pubkey,
        slot,
        lamports: account.lamports,
        rent_epoch: u64::MAX,
        owner: OWNER,
        executable: false,
        data: &account.data,
    }
}

fn lt(account: &Account) -> LtHash {
    account_lt_hash(
        &account.pubkey,
        account.lamports,
        &account.data,
        false,
        &OWNER,
    )
}

/// A chain written into `dir`.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    pub(crate) full: PathBuf,
    pub(crate) incremental: Option<PathBuf>,
}

impl Chain {
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.full.clone()];
        files.extend(self.incremental.clone());
        files
    }
}

/// A full archive of `accounts` accounts with `data_len` random bytes each at `full_slot`,
/// and optionally an incremental at `incremental_slot` that changes the first ten. Same
/// arguments, same bytes; another `seed`, another state.
pub(crate) fn write_chain(
    dir: &Path,
    seed: u64,
    full_slot: u64,
    incremental_slot: Option<u64>,
    accounts: u64,
    data_len: usize,
) -> Chain {
    std::fs::create_dir_all(dir).unwrap();
    let mut state: Vec<Account> = (0..accounts).map(|i| account(seed, i, data_len)).collect();
    let mut writer = ArchiveWriter::new(dir, ArchiveKind::Full, full_slot, ArchiveFormat::TarZstd);
    let mut lt_hash = LtHash::identity();
    for account in &state {
        writer.push(&record(account, full_slot)).unwrap();
        lt_hash.mix_in(&lt(account));
    }
    let capitalization: u64 = state.iter().map(|a| a.lamports).sum();
    let full = writer
        .finish(
            SnapshotManifest::new(full_slot, full_slot.saturating_sub(1), capitalization),
            &lt_hash,
        )
        .unwrap();
    let incremental = incremental_slot.map(|slot| {
        let mut writer = ArchiveWriter::new(
            dir,
            ArchiveKind::Incremental {
                base_slot: full_slot,
            },
            slot,
            ArchiveFormat::TarZstd,
        );
        for account in state.iter_mut().take(10) {
            lt_hash.mix_out(&lt(account));
            account.lamports += 1;
            lt_hash.mix_in(&lt(account));
            writer.push(&record(account, slot)).unwrap();
        }
        let capitalization: u64 = state.iter().map(|a| a.lamports).sum();
        writer
            .finish(
                SnapshotManifest::new(slot, slot - 1, capitalization),
                &lt_hash,
            )
            .unwrap()
    });
    Chain { full, incremental }
}

/// Flips bytes in the middle of a file, keeping its size and its compression magic.
pub(crate) fn corrupt(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    let end = (middle + 64).min(bytes.len());
    for byte in &mut bytes[middle..end] {
        *byte ^= 0x5a;
    }
    std::fs::write(path, bytes).unwrap();
}
