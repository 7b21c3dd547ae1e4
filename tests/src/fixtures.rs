//! Test state: the genuine Agave archives in `fixtures/agave-3slot`, and a token archive built
//! on top of them (the same sysvars, features, stake and vote accounts, plus SPL Token and
//! Token-2022 mints and accounts with delegates, a native account and an extension).

use {
    anyhow::Context,
    snapshot_tools::archive::{
        ArchiveFormat, ArchiveKind, ArchiveWriter, SnapshotChain,
        chain::{AccountRecord, ChainOptions, read_chain},
    },
    solana_program_option::COption,
    solana_program_pack::Pack,
    solana_pubkey::Pubkey,
    spl_token_2022_interface::{
        extension::{
            BaseStateWithExtensionsMut, ExtensionType, StateWithExtensionsMut,
            immutable_owner::ImmutableOwner,
        },
        state::{Account, AccountState, Mint},
    },
    std::path::{Path, PathBuf},
};

pub const TOKEN_PROGRAM: Pubkey =
    Pubkey::from_str_const("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
pub const TOKEN_2022_PROGRAM: Pubkey =
    Pubkey::from_str_const("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");
pub const NATIVE_MINT: Pubkey =
    Pubkey::from_str_const("So11111111111111111111111111111111111111112");
/// Rent-exempt balance of a 165-byte account under mainnet rent.
pub const TOKEN_ACCOUNT_LAMPORTS: u64 = 2_039_280;
/// The fee rate of archives written by [`write_archive_with`].
pub const LAMPORTS_PER_SIGNATURE: u64 = 5000;

/// The genuine Agave archives.
pub fn agave_3slot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/agave-3slot")
}

fn archive_named(prefix: &str) -> PathBuf {
    let dir = agave_3slot_dir();
    std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no {prefix}* archive in {}", dir.display()))
}

/// Full archive at slot 1 and the incremental 1→2: the state at slot 2.
pub fn agave_full_and_incremental() -> Vec<PathBuf> {
    vec![
        archive_named("snapshot-1-"),
        archive_named("incremental-snapshot-1-2-"),
    ]
}

/// The full archive at slot 2 (the same state as full + incremental).
pub fn agave_full_slot_2() -> PathBuf {
    archive_named("snapshot-2-")
}

/// A key derived from a name, so tests and client scripts agree on it.
pub fn key(name: &str) -> Pubkey {
    Pubkey::new_from_array(*blake3::hash(format!("replica-rpc-test:{name}").as_bytes()).as_bytes())
}

/// The accounts the token archive adds to the Agave state.
#[derive(Debug, Clone)]
pub struct TokenFixture {
    pub mint_authority: Pubkey,
    pub owner_1: Pubkey,
    pub owner_2: Pubkey,
    pub delegate: Pubkey,
    /// Token v1 mint: 2 decimals, supply 500.
    pub mint_a: Pubkey,
    /// 420 of mint A, owner 1.
    pub account_a1: Pubkey,
    /// 80 of mint A, owner 1, 50 delegated to `delegate`.
    pub account_a2: Pubkey,
    /// 0 of mint A, owner 2, frozen.
    pub account_a3: Pubkey,
    /// Wrapped SOL of owner 1: 1 SOL plus the rent-exempt reserve.
    pub native_1: Pubkey,
    /// Token-2022 mint: 6 decimals, supply 1 000 000.
    pub mint_b: Pubkey,
    /// 250 000 of mint B, owner 1, 100 delegated to `delegate`, ImmutableOwner extension.
    pub account_b1: Pubkey,
    /// An uninitialized (all-zero) 165-byte account of the Token program.
    pub uninitialized: Pubkey,
    /// System-owned, 42 lamports, data `[1, 2, 3, 4, 5]` (the account of Agave's RPC tests).
    pub data_account: Pubkey,
    /// A program with one account (42 lamports, no data).
    pub program: Pubkey,
    pub program_account: Pubkey,
}

impl Default for TokenFixture {
    fn default() -> Self {
        Self {
            mint_authority: key("mint-authority"),
            owner_1: key("owner-1"),
            owner_2: key("owner-2"),
            delegate: key("delegate"),
            mint_a: key("mint-a"),
            account_a1: key("account-a1"),
            account_a2: key("account-a2"),
            account_a3: key("account-a3"),
            native_1: key("native-1"),
            mint_b: key("mint-b"),
            account_b1: key("account-b1"),
            uninitialized: key("uninitialized"),
            data_account: key("data-account"),
            program: key("program"),
            program_account: key("program-account"),
        }
    }
}

/// An owned account to add.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub pubkey: Pubkey,
    pub lamports: u64,
    pub owner: Pubkey,
    pub data: Vec<u8>,
}

fn mint_data(authority: &Pubkey, supply: u64, decimals: u8) -> Vec<u8> {
    let mut data = vec![0u8; Mint::LEN];
    Mint::pack(
        Mint {
            mint_authority: COption::Some(*authority),
            supply,
            decimals,
            is_initialized: true,
            freeze_authority: COption::None,
        },
        &mut data,
    )
    .expect("mint packs");
    data
}

fn account_state(
    mint: &Pubkey,
    owner: &Pubkey,
    amount: u64,
    delegate: Option<(&Pubkey, u64)>,
) -> Account {
    Account {
        mint: *mint,
        owner: *owner,
        amount,
        delegate: delegate.map_or(COption::None, |(key, _)| COption::Some(*key)),
        state: AccountState::Initialized,
        is_native: COption::None,
        delegated_amount: delegate.map_or(0, |(_, amount)| amount),
        close_authority: COption::None,
    }
}

fn account_data(account: Account) -> Vec<u8> {
    let mut data = vec![0u8; Account::LEN];
    Account::pack(account, &mut data).expect("account packs");
    data
}

impl TokenFixture {
    /// The token accounts, by pubkey.
    pub fn accounts(&self) -> Vec<NewAccount> {
        let token = |pubkey, data| NewAccount {
            pubkey,
            lamports: TOKEN_ACCOUNT_LAMPORTS,
            owner: TOKEN_PROGRAM,
            data,
        };
        let mut frozen = account_state(&self.mint_a, &self.owner_2, 0, None);
        frozen.state = AccountState::Frozen;
        let mut native = account_state(&NATIVE_MINT, &self.owner_1, 1_000_000_000, None);
        native.is_native = COption::Some(TOKEN_ACCOUNT_LAMPORTS);
        // Token-2022 account with the ImmutableOwner extension.
        let len =
            ExtensionType::try_calculate_account_len::<Account>(&[ExtensionType::ImmutableOwner])
                .expect("extension length");
        let mut b1 = vec![0u8; len];
        {
            let mut state =
                StateWithExtensionsMut::<Account>::unpack_uninitialized(&mut b1).expect("unpack");
            state.base = account_state(
                &self.mint_b,
                &self.owner_1,
                250_000,
                Some((&self.delegate, 100)),
            );
            state.pack_base();
            state.init_account_type().expect("account type");
            state
                .init_extension::<ImmutableOwner>(true)
                .expect("immutable owner");
        }
        vec![
            token(self.mint_a, mint_data(&self.mint_authority, 500, 2)),
            token(
                self.account_a1,
                account_data(account_state(&self.mint_a, &self.owner_1, 420, None)),
            ),
            token(
                self.account_a2,
                account_data(account_state(
                    &self.mint_a,
                    &self.owner_1,
                    80,
                    Some((&self.delegate, 50)),
                )),
            ),
            token(self.account_a3, account_data(frozen)),
            NewAccount {
                pubkey: self.native_1,
                lamports: TOKEN_ACCOUNT_LAMPORTS + 1_000_000_000,
                owner: TOKEN_PROGRAM,
                data: account_data(native),
            },
            NewAccount {
                pubkey: self.mint_b,
                lamports: TOKEN_ACCOUNT_LAMPORTS,
                owner: TOKEN_2022_PROGRAM,
                data: mint_data(&self.mint_authority, 1_000_000, 6),
            },
            NewAccount {
                pubkey: self.account_b1,
                lamports: TOKEN_ACCOUNT_LAMPORTS,
                owner: TOKEN_2022_PROGRAM,
                data: b1,
            },
            token(self.uninitialized, vec![0u8; Account::LEN]),
            NewAccount {
                pubkey: self.data_account,
                lamports: 42,
                owner: Pubkey::default(),
                data: vec![1, 2, 3, 4, 5],
            },
            NewAccount {
                pubkey: self.program_account,
                lamports: 42,
                owner: self.program,
                data: Vec::new(),
            },
        ]
    }
}

/// Writes a full archive at the Agave state's slot holding that state plus `extra` into
/// `dir`; returns its path.
pub fn write_archive_with(dir: &Path, extra: &[NewAccount]) -> anyhow::Result<PathBuf> {
    let temp = tempfile::tempdir()?;
    let chain = SnapshotChain::new(&agave_full_slot_2(), None).context("opening the fixture")?;
    let mut records: Vec<(Pubkey, u64, StateAccount)> = Vec::new();
    let summary = read_chain(&chain, &ChainOptions::new(temp.path()), |record| {
        records.push((
            record.pubkey,
            record.slot,
            StateAccount {
                lamports: record.lamports,
                owner: record.owner,
                executable: record.executable,
                rent_epoch: record.rent_epoch,
                data: record.data.to_vec(),
            },
        ));
        Ok(())
    })
    .context("reading the fixture")?;
    let mut manifest = summary.manifest().clone();
    // The Agave fixture's cluster charges no fees; this state charges mainnet's 5000 lamports
    // per signature, so fee methods have something to compute.
    manifest.lamports_per_signature = LAMPORTS_PER_SIGNATURE;
    for entry in &mut manifest.blockhash_queue.entries {
        entry.lamports_per_signature = LAMPORTS_PER_SIGNATURE;
    }
    let slot = manifest.slot;
    let mut writer = ArchiveWriter::new(dir, ArchiveKind::Full, slot, ArchiveFormat::TarZstd);
    for (pubkey, account_slot, account) in &records {
        writer.push(&AccountRecord {
            pubkey: *pubkey,
            slot: *account_slot,
            lamports: account.lamports,
            rent_epoch: account.rent_epoch,
            owner: account.owner,
            executable: account.executable,
            data: &account.data,
        })?;
    }
    for account in extra {
        manifest.capitalization += account.lamports;
        writer.push(&AccountRecord {
            pubkey: account.pubkey,
            slot,
            lamports: account.lamports,
            rent_epoch: u64::MAX,
            owner: account.owner,
            executable: false,
            data: &account.data,
        })?;
    }
    let lt_hash = writer.pushed_lt_hash().clone();
    manifest.accounts_lt_hash = Some(lt_hash.clone());
    Ok(writer.finish(manifest, &lt_hash)?)
}

/// The token archive: the Agave state plus [`TokenFixture::accounts`].
pub fn write_token_archive(dir: &Path) -> anyhow::Result<(PathBuf, TokenFixture)> {
    let fixture = TokenFixture::default();
    let path = write_archive_with(dir, &fixture.accounts())?;
    Ok((path, fixture))
}

/// A live account of an archive's state.
#[derive(Debug, Clone)]
pub struct StateAccount {
    pub lamports: u64,
    pub owner: Pubkey,
    pub executable: bool,
    pub rent_epoch: u64,
    pub data: Vec<u8>,
}

/// An archive chain's state, read with the archive reader (ground truth independent of the
/// replica).
#[derive(Debug, Clone)]
pub struct ArchiveState {
    pub manifest: snapshot_tools::archive::SnapshotManifest,
    pub accounts: std::collections::BTreeMap<Pubkey, StateAccount>,
}

impl ArchiveState {
    pub fn read(archives: &[PathBuf]) -> anyhow::Result<Self> {
        let temp = tempfile::tempdir()?;
        let chain = SnapshotChain::from_paths(archives).context("opening the archives")?;
        let mut accounts = std::collections::BTreeMap::new();
        let summary = read_chain(&chain, &ChainOptions::new(temp.path()), |record| {
            accounts.insert(
                record.pubkey,
                StateAccount {
                    lamports: record.lamports,
                    owner: record.owner,
                    executable: record.executable,
                    rent_epoch: record.rent_epoch,
                    data: record.data.to_vec(),
                },
            );
            Ok(())
        })
        .context("reading the archives")?;
        Ok(Self {
            manifest: summary.manifest().clone(),
            accounts,
        })
    }

    /// The `n` largest balances, largest first (ties to the higher pubkey), as Agave orders
    /// getLargestAccounts.
    pub fn largest(&self, n: usize) -> Vec<(Pubkey, u64)> {
        let mut all: Vec<(u64, Pubkey)> = self
            .accounts
            .iter()
            .filter(|(_, account)| account.lamports > 0)
            .map(|(pubkey, account)| (account.lamports, *pubkey))
            .collect();
        all.sort_unstable_by(|a, b| b.cmp(a));
        all.into_iter()
            .take(n)
            .map(|(lamports, pubkey)| (pubkey, lamports))
            .collect()
    }

    /// The first account owned by `program`.
    pub fn owned_by(&self, program: &Pubkey) -> Option<(Pubkey, &StateAccount)> {
        self.accounts
            .iter()
            .find(|(_, account)| account.owner == *program)
            .map(|(pubkey, account)| (*pubkey, account))
    }

    /// Rent from the Rent sysvar: (lamports per byte-year, exemption threshold).
    pub fn rent(&self) -> (u64, f64) {
        let rent = &self.accounts
            [&Pubkey::from_str_const("SysvarRent111111111111111111111111111111111")]
            .data;
        (
            u64::from_le_bytes(rent[..8].try_into().expect("8 bytes")),
            f64::from_le_bytes(rent[8..16].try_into().expect("8 bytes")),
        )
    }

    /// `Rent::minimum_balance(len).max(1)`.
    pub fn minimum_balance(&self, len: u64) -> u64 {
        let (per_byte_year, threshold) = self.rent();
        ((((128 + len) * per_byte_year) as f64 * threshold) as u64).max(1)
    }

    /// What the client scripts check, from this state.
    pub fn expectations(
        &self,
        fixture: &TokenFixture,
        extra: serde_json::Value,
    ) -> serde_json::Value {
        use base64::Engine;
        let stake = Pubkey::from_str_const("Stake11111111111111111111111111111111111111");
        let vote = Pubkey::from_str_const("Vote111111111111111111111111111111111111111");
        let account_json = |(pubkey, account): (Pubkey, &StateAccount)| {
            serde_json::json!({
                "pubkey": pubkey.to_string(),
                "lamports": account.lamports,
                "owner": account.owner.to_string(),
                "space": account.data.len(),
                "dataBase64": base64::engine::general_purpose::STANDARD.encode(&account.data),
            })
        };
        let manifest = &self.manifest;
        let mut value = serde_json::json!({
            "slot": manifest.slot,
            "blockHeight": manifest.block_height,
            "blockhash": manifest.blockhash_queue.last_hash.map(|hash| hash.to_string()),
            "capitalization": self.accounts.values().map(|account| account.lamports).sum::<u64>(),
            "epochSchedule": {
                "slotsPerEpoch": manifest.epoch_schedule.slots_per_epoch,
                "leaderScheduleSlotOffset": manifest.epoch_schedule.leader_schedule_slot_offset,
                "warmup": manifest.epoch_schedule.warmup,
                "firstNormalEpoch": manifest.epoch_schedule.first_normal_epoch,
                "firstNormalSlot": manifest.epoch_schedule.first_normal_slot,
            },
            "inflation": {
                "initial": manifest.inflation.initial,
                "terminal": manifest.inflation.terminal,
                "taper": manifest.inflation.taper,
                "foundation": manifest.inflation.foundation,
                "foundationTerm": manifest.inflation.foundation_term,
            },
            "rentExemption": {
                "0": self.minimum_balance(0),
                "165": self.minimum_balance(165),
            },
            "largest": self.largest(3).into_iter().map(|(pubkey, lamports)| {
                serde_json::json!({"address": pubkey.to_string(), "lamports": lamports})
            }).collect::<Vec<_>>(),
            "stakeAccount": self.owned_by(&stake).map(account_json),
            "voteAccount": self.owned_by(&vote).map(account_json),
            "dataAccount": self.accounts.get(&fixture.data_account).map(|account| account_json((fixture.data_account, account))),
            "programAccount": self.accounts.get(&fixture.program_account).map(|account| account_json((fixture.program_account, account))),
            "program": fixture.program.to_string(),
            "tokenProgram": TOKEN_PROGRAM.to_string(),
            "token2022Program": TOKEN_2022_PROGRAM.to_string(),
            "nativeMint": NATIVE_MINT.to_string(),
            "tokens": {
                "mintAuthority": fixture.mint_authority.to_string(),
                "owner1": fixture.owner_1.to_string(),
                "owner2": fixture.owner_2.to_string(),
                "delegate": fixture.delegate.to_string(),
                "mintA": fixture.mint_a.to_string(),
                "accountA1": fixture.account_a1.to_string(),
                "accountA2": fixture.account_a2.to_string(),
                "accountA3": fixture.account_a3.to_string(),
                "native1": fixture.native_1.to_string(),
                "mintB": fixture.mint_b.to_string(),
                "accountB1": fixture.account_b1.to_string(),
                "uninitialized": fixture.uninitialized.to_string(),
                "tokenAccountLamports": TOKEN_ACCOUNT_LAMPORTS,
            },
        });
        if let (Some(object), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra) {
            object.extend(extra);
        }
        value
    }
}
