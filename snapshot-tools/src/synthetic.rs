//! Deterministic synthetic account sets for tests and benchmarks, with the mix of the store
//! benchmarks: 60 % SPL token accounts (165 bytes), 30 % system accounts (no data), 10 %
//! program-owned accounts with 200–2,000 bytes of data.
//!
//! Token accounts come in groups of [`TOKEN_ACCOUNTS_PER_OWNER`] consecutive token accounts
//! sharing one owner, so every token owner has that many accounts.

use {
    crate::archive::{
        AccountRecord, ArchiveFormat, ArchiveKind, ArchiveWriter, Slot, SnapshotManifest,
        writer::WriteError,
    },
    rand::{Rng, SeedableRng},
    rand_chacha::ChaCha8Rng,
    solana_pubkey::Pubkey,
    std::path::{Path, PathBuf},
};

pub const TOKEN_PROGRAM: Pubkey =
    Pubkey::from_str_const("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
pub const SYSTEM_PROGRAM: Pubkey = Pubkey::from_str_const("11111111111111111111111111111111");
pub const TOKEN_ACCOUNTS_PER_OWNER: u64 = 100;
const MINTS: u64 = 1_000;
const PROGRAMS: u64 = 16;

/// An owned account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticAccount {
    pub pubkey: Pubkey,
    pub lamports: u64,
    pub owner: Pubkey,
    pub executable: bool,
    pub rent_epoch: u64,
    pub data: Vec<u8>,
}

impl SyntheticAccount {
    pub fn record(&self, slot: Slot) -> AccountRecord<'_> {
        AccountRecord {
            pubkey: self.pubkey,
            slot,
            lamports: self.lamports,
            rent_epoch: self.rent_epoch,
            owner: self.owner,
            executable: self.executable,
            data: &self.data,
        }
    }
}

/// A key derived from a seed, a domain and an index.
pub fn derived_pubkey(seed: u64, domain: &str, index: u64) -> Pubkey {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&seed.to_le_bytes());
    hasher.update(domain.as_bytes());
    hasher.update(&index.to_le_bytes());
    Pubkey::new_from_array(*hasher.finalize().as_bytes())
}

/// The accounts of a synthetic state, addressable by index.
#[derive(Debug, Clone, Copy)]
pub struct SyntheticAccounts {
    pub seed: u64,
}

/// What kind of account an index holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntheticKind {
    /// The n-th token account.
    Token(u64),
    System,
    ProgramData,
}

impl SyntheticAccounts {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    pub fn pubkey(&self, index: u64) -> Pubkey {
        derived_pubkey(self.seed, "account", index)
    }

    pub fn mint(&self, index: u64) -> Pubkey {
        derived_pubkey(self.seed, "mint", index % MINTS)
    }

    pub fn token_owner(&self, group: u64) -> Pubkey {
        derived_pubkey(self.seed, "token-owner", group)
    }

    pub fn program(&self, index: u64) -> Pubkey {
        derived_pubkey(self.seed, "program", index % PROGRAMS)
    }

    /// Indexes cycle through ten slots: six token accounts, three system, one program-data.
    pub fn kind(&self, index: u64) -> SyntheticKind {
        match index % 10 {
            0..=5 => SyntheticKind::Token(index / 10 * 6 + index % 10),
            6..=8 => SyntheticKind::System,
            _ => SyntheticKind::ProgramData,
        }
    }

    /// Index of the `n`-th token account.
    pub fn token_account_index(n: u64) -> u64 {
        n / 6 * 10 + n % 6
    }

    /// The owner shared by token accounts `group * 100 .. group * 100 + 100`.
    pub fn token_owner_of(&self, token_number: u64) -> Pubkey {
        self.token_owner(token_number / TOKEN_ACCOUNTS_PER_OWNER)
    }

    pub fn account(&self, index: u64) -> SyntheticAccount {
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let pubkey = self.pubkey(index);
        let lamports = rng.random_range(890_880..10_000_000_000u64);
        match self.kind(index) {
            SyntheticKind::Token(n) => SyntheticAccount {
                pubkey,
                lamports: 2_039_280,
                owner: TOKEN_PROGRAM,
                executable: false,
                rent_epoch: u64::MAX,
                data: token_account_data(
                    &self.mint(n),
                    &self.token_owner_of(n),
                    rng.random(),
                    None,
                ),
            },
            SyntheticKind::System => SyntheticAccount {
                pubkey,
                lamports,
                owner: SYSTEM_PROGRAM,
                executable: false,
                rent_epoch: u64::MAX,
                data: Vec::new(),
            },
            SyntheticKind::ProgramData => {
                let mut data = vec![0u8; rng.random_range(200..=2000)];
                rng.fill(data.as_mut_slice());
                SyntheticAccount {
                    pubkey,
                    lamports,
                    owner: self.program(index),
                    executable: false,
                    rent_epoch: u64::MAX,
                    data,
                }
            }
        }
    }

    /// Writes a full archive at `slot` holding accounts `0..count`.
    pub fn write_archive(
        &self,
        dir: &Path,
        count: u64,
        slot: Slot,
        format: ArchiveFormat,
    ) -> Result<PathBuf, WriteError> {
        let mut writer = ArchiveWriter::new(dir, ArchiveKind::Full, slot, format);
        let mut capitalization = 0u64;
        for index in 0..count {
            let account = self.account(index);
            capitalization += account.lamports;
            // Spread accounts over a few storages as a validator's archive would.
            writer.push(&account.record(slot.saturating_sub(index % 4)))?;
        }
        let lt_hash = writer.pushed_lt_hash().clone();
        writer.finish(
            SnapshotManifest::new(slot, slot.saturating_sub(1), capitalization),
            &lt_hash,
        )
    }
}

/// A 165-byte initialized SPL token account.
pub fn token_account_data(
    mint: &Pubkey,
    owner: &Pubkey,
    amount: u64,
    delegate: Option<&Pubkey>,
) -> Vec<u8> {
    let mut data = vec![0u8; 165];
    data[..32].copy_from_slice(mint.as_ref());
    data[32..64].copy_from_slice(owner.as_ref());
    data[64..72].copy_from_slice(&amount.to_le_bytes());
    if let Some(delegate) = delegate {
        data[72..76].copy_from_slice(&1u32.to_le_bytes());
        data[76..108].copy_from_slice(delegate.as_ref());
    }
    data[108] = 1;
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_and_token_groups() {
        let accounts = SyntheticAccounts::new(3);
        let kinds: Vec<_> = (0..1000).map(|index| accounts.kind(index)).collect();
        let tokens = kinds
            .iter()
            .filter(|kind| matches!(kind, SyntheticKind::Token(_)))
            .count();
        let system = kinds
            .iter()
            .filter(|kind| **kind == SyntheticKind::System)
            .count();
        assert_eq!((tokens, system), (600, 300));
        for n in [0u64, 5, 6, 599, 12345] {
            assert_eq!(
                accounts.kind(SyntheticAccounts::token_account_index(n)),
                SyntheticKind::Token(n)
            );
        }
        let owner = accounts.token_owner(7);
        let owned = (0..10_000u64)
            .filter(|index| {
                let account = accounts.account(*index);
                account.owner == TOKEN_PROGRAM && account.data[32..64] == owner.to_bytes()
            })
            .count();
        assert_eq!(owned as u64, TOKEN_ACCOUNTS_PER_OWNER);
        assert_eq!(accounts.account(42), accounts.account(42));
    }
}
