//! Deterministic synthetic account sets for tests and benchmarks, with the mix of the store
//! benchmarks: 60 % SPL token accounts (165 bytes), 30 % system accounts (no data), 10 %
//! program-owned accounts with 200–2,000 bytes of data.
//!
//! Token accounts come in groups of [`TOKEN_ACCOUNTS_PER_OWNER`] consecutive token accounts
//! sharing one owner, so every token owner has that many accounts. Token account `n` holds
//! mint `n % 1,000`; an archive written with mints ([`SyntheticArchive::mints`]) also holds
//! those mint accounts (82-byte SPL Token `Mint`s, initialized, with a mint authority, their
//! decimals, and a supply equal to the amounts of the archive's token accounts of that mint),
//! in addition to the requested number of accounts, so that `jsonParsed` token queries and
//! mint filters find them.

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
/// Distinct mints of the token accounts.
pub const MINTS: u64 = 1_000;
/// Size of an SPL Token `Mint`.
pub const MINT_LEN: usize = 82;
/// Rent-exempt balance of an 82-byte account (Agave's default rent).
pub const MINT_LAMPORTS: u64 = 1_461_600;
/// Token amounts stay below this, so a mint's supply (their sum) cannot overflow.
pub const MAX_TOKEN_AMOUNT: u64 = 1 << 40;
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

    /// The mint of token account `n` (`n % 1,000`-th mint).
    pub fn mint(&self, index: u64) -> Pubkey {
        derived_pubkey(self.seed, "mint", index % MINTS)
    }

    /// The mint authority of mint `index % 1,000`.
    pub fn mint_authority(&self, index: u64) -> Pubkey {
        derived_pubkey(self.seed, "mint-authority", index % MINTS)
    }

    /// The decimals of mint `index % 1,000`: 0, 2, 6 or 9, fixed by the seed.
    pub fn mint_decimals(&self, index: u64) -> u8 {
        [0, 2, 6, 9]
            [(derived_pubkey(self.seed, "mint-decimals", index % MINTS).to_bytes()[0] % 4) as usize]
    }

    /// How many token accounts are among accounts `0..count`.
    pub fn token_accounts_in(count: u64) -> u64 {
        count / 10 * 6 + (count % 10).min(6)
    }

    /// How many mints the token accounts among accounts `0..count` use.
    pub fn mints_in(count: u64) -> u64 {
        Self::token_accounts_in(count).min(MINTS)
    }

    /// The mint accounts of accounts `0..count`: one per mint their token accounts use, with
    /// the supply of those token accounts. Reads every token account's amount once.
    pub fn mint_accounts(&self, count: u64) -> Vec<SyntheticAccount> {
        let mut supplies = vec![0u64; Self::mints_in(count) as usize];
        for n in 0..Self::token_accounts_in(count) {
            let account = self.account(Self::token_account_index(n));
            let supply = &mut supplies[(n % MINTS) as usize];
            *supply = supply.saturating_add(token_amount(&account.data));
        }
        self.mints_with_supplies(&supplies)
    }

    fn mints_with_supplies(&self, supplies: &[u64]) -> Vec<SyntheticAccount> {
        supplies
            .iter()
            .enumerate()
            .map(|(index, &supply)| {
                let index = index as u64;
                SyntheticAccount {
                    pubkey: self.mint(index),
                    lamports: MINT_LAMPORTS,
                    owner: TOKEN_PROGRAM,
                    executable: false,
                    rent_epoch: u64::MAX,
                    data: mint_data(
                        supply,
                        self.mint_decimals(index),
                        Some(&self.mint_authority(index)),
                        None,
                    ),
                }
            })
            .collect()
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
                    rng.random_range(0..MAX_TOKEN_AMOUNT),
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

    /// Writes a full archive at `slot` holding exactly accounts `0..count` (no mint accounts;
    /// see [`write_archive_with`](Self::write_archive_with)).
    pub fn write_archive(
        &self,
        dir: &Path,
        count: u64,
        slot: Slot,
        format: ArchiveFormat,
    ) -> Result<PathBuf, WriteError> {
        self.write_archive_with(
            dir,
            &SyntheticArchive {
                accounts: count,
                slot,
                format,
                mints: false,
            },
        )
    }

    /// Writes a full archive at `archive.slot` holding accounts `0..archive.accounts` and,
    /// with `archive.mints`, their [`mint_accounts`](Self::mint_accounts) at that slot.
    pub fn write_archive_with(
        &self,
        dir: &Path,
        archive: &SyntheticArchive,
    ) -> Result<PathBuf, WriteError> {
        let SyntheticArchive {
            accounts: count,
            slot,
            format,
            mints,
        } = *archive;
        let mut writer = ArchiveWriter::new(dir, ArchiveKind::Full, slot, format);
        let mut capitalization = 0u64;
        let mut supplies = vec![
            0u64;
            if mints {
                Self::mints_in(count) as usize
            } else {
                0
            }
        ];
        for index in 0..count {
            let account = self.account(index);
            capitalization += account.lamports;
            if let (true, SyntheticKind::Token(n)) = (mints, self.kind(index)) {
                let supply = &mut supplies[(n % MINTS) as usize];
                *supply = supply.saturating_add(token_amount(&account.data));
            }
            // Spread accounts over a few storages as a validator's archive would.
            writer.push(&account.record(slot.saturating_sub(index % 4)))?;
        }
        for mint in self.mints_with_supplies(&supplies) {
            capitalization += mint.lamports;
            writer.push(&mint.record(slot))?;
        }
        let lt_hash = writer.pushed_lt_hash().clone();
        writer.finish(
            SnapshotManifest::new(slot, slot.saturating_sub(1), capitalization),
            &lt_hash,
        )
    }
}

/// What [`SyntheticAccounts::write_archive_with`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticArchive {
    /// Accounts `0..accounts` (60 % token, 30 % system, 10 % program data).
    pub accounts: u64,
    /// The snapshot slot.
    pub slot: Slot,
    pub format: ArchiveFormat,
    /// Also write the mint accounts of the token accounts (in addition to `accounts`).
    pub mints: bool,
}

/// The amount of a token account's data.
fn token_amount(data: &[u8]) -> u64 {
    data.get(64..72)
        .and_then(|bytes| bytes.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// An 82-byte initialized SPL Token `Mint`: mint authority (`COption<Pubkey>`), supply,
/// decimals, `is_initialized`, freeze authority (`COption<Pubkey>`).
pub fn mint_data(
    supply: u64,
    decimals: u8,
    mint_authority: Option<&Pubkey>,
    freeze_authority: Option<&Pubkey>,
) -> Vec<u8> {
    let mut data = vec![0u8; MINT_LEN];
    if let Some(authority) = mint_authority {
        data[0..4].copy_from_slice(&1u32.to_le_bytes());
        data[4..36].copy_from_slice(authority.as_ref());
    }
    data[36..44].copy_from_slice(&supply.to_le_bytes());
    data[44] = decimals;
    data[45] = 1;
    if let Some(authority) = freeze_authority {
        data[46..50].copy_from_slice(&1u32.to_le_bytes());
        data[50..82].copy_from_slice(authority.as_ref());
    }
    data
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
        for count in [0, 1, 6, 7, 10, 16, 17, 12_345] {
            let tokens = (0..count)
                .filter(|index| matches!(accounts.kind(*index), SyntheticKind::Token(_)))
                .count() as u64;
            assert_eq!(
                SyntheticAccounts::token_accounts_in(count),
                tokens,
                "{count}"
            );
        }
    }

    #[test]
    fn archives_with_mints_hold_every_mint_their_token_accounts_use() {
        use {
            crate::archive::{ChainOptions, SnapshotChain, read_chain},
            solana_program_pack::Pack,
            spl_token_interface::state::{Account as TokenAccount, Mint},
            std::collections::HashMap,
        };
        let dir = tempfile::tempdir().unwrap();
        let accounts = SyntheticAccounts::new(9);
        // 2,500 accounts: 1,500 token accounts over all 1,000 mints (some mints hold two).
        let count = 2_500;
        let path = accounts
            .write_archive_with(
                dir.path(),
                &SyntheticArchive {
                    accounts: count,
                    slot: 77,
                    format: ArchiveFormat::TarZstd,
                    mints: true,
                },
            )
            .unwrap();
        let chain = SnapshotChain::new(&path, None).unwrap();
        let mut mints = HashMap::new();
        let mut tokens = Vec::new();
        let summary = read_chain(&chain, &ChainOptions::new(dir.path()), |record| {
            if record.owner == TOKEN_PROGRAM && record.data.len() == MINT_LEN {
                mints.insert(record.pubkey, Mint::unpack(record.data).unwrap());
                assert_eq!(record.lamports, MINT_LAMPORTS);
            } else if record.owner == TOKEN_PROGRAM {
                tokens.push(TokenAccount::unpack(record.data).unwrap());
            }
            Ok(())
        })
        .unwrap();
        summary.verify().unwrap();
        summary.check_manifest().unwrap();
        assert_eq!(summary.live_accounts, count + MINTS);
        assert_eq!(mints.len() as u64, SyntheticAccounts::mints_in(count));
        assert_eq!(
            tokens.len() as u64,
            SyntheticAccounts::token_accounts_in(count)
        );
        let mut supplies: HashMap<Pubkey, u64> = HashMap::new();
        for token in &tokens {
            assert!(mints.contains_key(&token.mint), "every token's mint exists");
            *supplies.entry(token.mint).or_default() += token.amount;
        }
        for (pubkey, mint) in &mints {
            assert!(mint.is_initialized);
            assert!([0, 2, 6, 9].contains(&mint.decimals));
            assert!(mint.mint_authority.is_some());
            assert!(mint.freeze_authority.is_none());
            assert_eq!(mint.supply, supplies[pubkey]);
        }
        // The same mints, computed without writing an archive.
        let listed = accounts.mint_accounts(count);
        assert_eq!(listed.len(), mints.len());
        for mint in listed {
            assert_eq!(Mint::unpack(&mint.data).unwrap(), mints[&mint.pubkey]);
        }
        // Few accounts use few mints; none without the option.
        assert_eq!(SyntheticAccounts::mints_in(7), 6);
        assert!(accounts.mint_accounts(0).is_empty());
    }
}
