//! Account bytes in the real on-chain layouts, built with the programs' own interface crates:
//! sysvars, SPL Token and Token-2022 (with extensions), stake, vote, nonce, address lookup
//! tables, upgradeable-loader programs.

use {
    super::state::SimAccount,
    replication_proto::{Hash, Pubkey},
    serde::Serialize,
    solana_program_option::COption,
    solana_program_pack::Pack,
    solana_sysvar::{SysvarSerialize, rent::Rent},
};

/// Well-known program and sysvar ids.
pub mod ids {
    pub use solana_sdk_ids::{
        address_lookup_table, bpf_loader, bpf_loader_upgradeable, compute_budget, native_loader,
        stake, system_program, sysvar, vote,
    };
    /// SPL Token.
    pub fn token() -> replication_proto::Pubkey {
        spl_token_interface::id()
    }
    /// SPL Token-2022.
    pub fn token_2022() -> replication_proto::Pubkey {
        spl_token_2022_interface::id()
    }
    /// The wrapped-SOL mint.
    pub fn native_mint() -> replication_proto::Pubkey {
        spl_token_interface::native_mint::id()
    }
}

/// Size of an SPL token account's base state.
pub const TOKEN_ACCOUNT_LEN: usize = spl_token_interface::state::Account::LEN;
/// Size of an SPL mint's base state.
pub const MINT_LEN: usize = spl_token_interface::state::Mint::LEN;

/// A rent-exempt account owned by the sysvar program holding `value` in `size` bytes.
pub fn sysvar_sized<T: Serialize>(value: &T, size: usize, rent: &Rent) -> SimAccount {
    let mut data = vec![0u8; size];
    bincode::serialize_into(&mut data[..], value).expect("sysvar fits its fixed size");
    SimAccount::new(rent.minimum_balance(size).max(1), ids::sysvar::ID, data)
}

/// A sysvar account at its canonical size.
pub fn sysvar<T: SysvarSerialize>(value: &T, rent: &Rent) -> SimAccount {
    let size = T::size_of().max(bincode::serialized_size(value).expect("serializable") as usize);
    sysvar_sized(value, size, rent)
}

/// Re-encodes a sysvar into an existing account, keeping its lamports.
pub fn update_sysvar<T: Serialize>(account: &SimAccount, value: &T) -> SimAccount {
    let mut updated = account.clone();
    updated.data.fill(0);
    bincode::serialize_into(&mut updated.data[..], value).expect("sysvar fits its account");
    updated
}

/// An executable program account in a "fake ELF" of `len` bytes (deterministic content).
pub fn fake_elf(len: usize, seed: &[u8]) -> Vec<u8> {
    let mut elf = vec![0u8; len.max(64)];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // 64-bit
    elf[5] = 1; // little endian
    let mut reader = blake3::Hasher::new().update(seed).finalize_xof();
    reader.fill(&mut elf[64..]);
    elf
}

/// SPL mint base state.
pub fn mint_base(
    decimals: u8,
    supply: u64,
    authority: Option<Pubkey>,
    freeze: Option<Pubkey>,
) -> spl_token_interface::state::Mint {
    spl_token_interface::state::Mint {
        mint_authority: authority.map_or(COption::None, COption::Some),
        supply,
        decimals,
        is_initialized: true,
        freeze_authority: freeze.map_or(COption::None, COption::Some),
    }
}

/// An SPL Token mint (82 bytes).
pub fn token_mint(decimals: u8, supply: u64, authority: Option<Pubkey>) -> Vec<u8> {
    let mut data = vec![0u8; MINT_LEN];
    mint_base(decimals, supply, authority, None).pack_into_slice(&mut data);
    data
}

/// A token account's base fields.
#[derive(Clone, Copy, Debug)]
pub struct TokenAccountFields {
    /// The mint.
    pub mint: Pubkey,
    /// The owner (wallet).
    pub owner: Pubkey,
    /// Raw amount.
    pub amount: u64,
    /// Delegate and delegated amount.
    pub delegate: Option<(Pubkey, u64)>,
    /// Frozen.
    pub frozen: bool,
    /// Wrapped SOL: the rent-exempt reserve.
    pub native_reserve: Option<u64>,
    /// Close authority.
    pub close_authority: Option<Pubkey>,
}

impl TokenAccountFields {
    /// A plain initialized account.
    pub fn new(mint: Pubkey, owner: Pubkey, amount: u64) -> Self {
        Self {
            mint,
            owner,
            amount,
            delegate: None,
            frozen: false,
            native_reserve: None,
            close_authority: None,
        }
    }

    fn base(&self) -> spl_token_interface::state::Account {
        use spl_token_interface::state::{Account, AccountState};
        Account {
            mint: self.mint,
            owner: self.owner,
            amount: self.amount,
            delegate: self
                .delegate
                .map_or(COption::None, |(d, _)| COption::Some(d)),
            state: if self.frozen {
                AccountState::Frozen
            } else {
                AccountState::Initialized
            },
            is_native: self.native_reserve.map_or(COption::None, COption::Some),
            delegated_amount: self.delegate.map_or(0, |(_, a)| a),
            close_authority: self.close_authority.map_or(COption::None, COption::Some),
        }
    }
}

/// An SPL Token account (165 bytes).
pub fn token_account(fields: &TokenAccountFields) -> Vec<u8> {
    let mut data = vec![0u8; TOKEN_ACCOUNT_LEN];
    fields.base().pack_into_slice(&mut data);
    data
}

/// Reads the base fields of an SPL Token or Token-2022 account (identical first 165 bytes).
pub fn read_token_account(data: &[u8]) -> Option<TokenAccountFields> {
    use spl_token_interface::state::{Account, AccountState};
    let base = Account::unpack_from_slice(data.get(..TOKEN_ACCOUNT_LEN)?).ok()?;
    if base.state == AccountState::Uninitialized {
        return None;
    }
    let opt = |o: COption<Pubkey>| match o {
        COption::Some(k) => Some(k),
        COption::None => None,
    };
    Some(TokenAccountFields {
        mint: base.mint,
        owner: base.owner,
        amount: base.amount,
        delegate: opt(base.delegate).map(|d| (d, base.delegated_amount)),
        frozen: base.state == AccountState::Frozen,
        native_reserve: match base.is_native {
            COption::Some(r) => Some(r),
            COption::None => None,
        },
        close_authority: opt(base.close_authority),
    })
}

/// Rewrites the base fields of a token account in place (extensions untouched).
pub fn write_token_account(data: &mut [u8], fields: &TokenAccountFields) {
    fields
        .base()
        .pack_into_slice(&mut data[..TOKEN_ACCOUNT_LEN]);
}

/// Reads a mint's supply and decimals (SPL Token or Token-2022).
pub fn read_mint(data: &[u8]) -> Option<spl_token_interface::state::Mint> {
    spl_token_interface::state::Mint::unpack_from_slice(data.get(..MINT_LEN)?).ok()
}

/// Rewrites a mint's base state in place.
pub fn write_mint(data: &mut [u8], mint: &spl_token_interface::state::Mint) {
    mint.pack_into_slice(&mut data[..MINT_LEN]);
}

/// A Token-2022 mint extension.
#[derive(Clone, Copy, Debug)]
pub enum MintExtension {
    /// Interest-bearing: rate in basis points since `timestamp`.
    InterestBearing {
        /// Rate authority.
        authority: Pubkey,
        /// Annual rate (basis points).
        rate_bps: i16,
        /// Initialization timestamp.
        timestamp: i64,
    },
    /// UI amounts scaled by a multiplier.
    ScaledUiAmount {
        /// Authority.
        authority: Pubkey,
        /// Current multiplier.
        multiplier: f64,
    },
    /// A close authority.
    CloseAuthority(Pubkey),
}

/// A Token-2022 mint with extensions.
pub fn token_2022_mint(
    decimals: u8,
    supply: u64,
    authority: Option<Pubkey>,
    extensions: &[MintExtension],
) -> Vec<u8> {
    use spl_token_2022_interface::{
        extension::{
            BaseStateWithExtensionsMut, ExtensionType, StateWithExtensionsMut,
            interest_bearing_mint::InterestBearingConfig, mint_close_authority::MintCloseAuthority,
            scaled_ui_amount::ScaledUiAmountConfig,
        },
        state::Mint,
    };
    let types: Vec<ExtensionType> = extensions
        .iter()
        .map(|e| match e {
            MintExtension::InterestBearing { .. } => ExtensionType::InterestBearingConfig,
            MintExtension::ScaledUiAmount { .. } => ExtensionType::ScaledUiAmount,
            MintExtension::CloseAuthority(_) => ExtensionType::MintCloseAuthority,
        })
        .collect();
    let len = ExtensionType::try_calculate_account_len::<Mint>(&types).expect("valid extensions");
    let mut data = vec![0u8; len];
    let mut state =
        StateWithExtensionsMut::<Mint>::unpack_uninitialized(&mut data).expect("sized above");
    for extension in extensions {
        match *extension {
            MintExtension::InterestBearing {
                authority,
                rate_bps,
                timestamp,
            } => {
                let config = state
                    .init_extension::<InterestBearingConfig>(true)
                    .expect("room for the extension");
                config.rate_authority = authority.into();
                config.initialization_timestamp = timestamp.into();
                config.pre_update_average_rate = rate_bps.into();
                config.last_update_timestamp = timestamp.into();
                config.current_rate = rate_bps.into();
            }
            MintExtension::ScaledUiAmount {
                authority,
                multiplier,
            } => {
                let config = state
                    .init_extension::<ScaledUiAmountConfig>(true)
                    .expect("room for the extension");
                config.authority = authority.into();
                config.multiplier = multiplier.into();
                config.new_multiplier_effective_timestamp = 0.into();
                config.new_multiplier = multiplier.into();
            }
            MintExtension::CloseAuthority(authority) => {
                let config = state
                    .init_extension::<MintCloseAuthority>(true)
                    .expect("room for the extension");
                config.close_authority = authority.into();
            }
        }
    }
    let base = mint_base(decimals, supply, authority, None);
    state.base = spl_token_2022_interface::state::Mint {
        mint_authority: base.mint_authority,
        supply: base.supply,
        decimals: base.decimals,
        is_initialized: true,
        freeze_authority: base.freeze_authority,
    };
    state.pack_base();
    state.init_account_type().expect("mint account type");
    data
}

/// A Token-2022 account, with the `ImmutableOwner` extension when `immutable_owner` (as the
/// associated token account program creates them).
pub fn token_2022_account(fields: &TokenAccountFields, immutable_owner: bool) -> Vec<u8> {
    use spl_token_2022_interface::{
        extension::{
            BaseStateWithExtensionsMut, ExtensionType, StateWithExtensionsMut,
            immutable_owner::ImmutableOwner,
        },
        state::Account,
    };
    if !immutable_owner {
        return token_account(fields);
    }
    let len = ExtensionType::try_calculate_account_len::<Account>(&[ExtensionType::ImmutableOwner])
        .expect("valid extension");
    let mut data = vec![0u8; len];
    {
        let mut state =
            StateWithExtensionsMut::<Account>::unpack_uninitialized(&mut data).expect("sized");
        state
            .init_extension::<ImmutableOwner>(true)
            .expect("room for the extension");
        state.init_account_type().expect("account type");
    }
    write_token_account(&mut data, fields);
    data
}

/// A vote account's state (vote state version 3, which Agave 4.2 still reads and parses).
pub fn vote_state(
    node: Pubkey,
    voter: Pubkey,
    withdrawer: Pubkey,
    commission: u8,
    clock: &solana_sysvar::clock::Clock,
) -> Vec<u8> {
    use solana_vote_interface::state::{VoteInit, VoteStateV3, VoteStateVersions};
    let state = VoteStateV3::new(
        &VoteInit {
            node_pubkey: node,
            authorized_voter: voter,
            authorized_withdrawer: withdrawer,
            commission,
        },
        clock,
    );
    let mut data = vec![0u8; VoteStateV3::size_of()];
    VoteStateV3::serialize(&VoteStateVersions::new_v3(state), &mut data).expect("fits");
    data
}

/// Records a vote for `vote_slot` (and a timestamp) in a vote account's data.
pub fn record_vote(
    data: &[u8],
    vote_slot: u64,
    epoch: u64,
    current_slot: u64,
    timestamp: i64,
) -> Option<Vec<u8>> {
    use solana_vote_interface::state::{BlockTimestamp, VoteStateV3, VoteStateVersions};
    let mut state = VoteStateV3::deserialize(data).ok()?;
    push_vote(&mut state, vote_slot, epoch, current_slot);
    state.last_timestamp = BlockTimestamp {
        slot: vote_slot,
        timestamp,
    };
    let mut out = vec![0u8; data.len()];
    VoteStateV3::serialize(&VoteStateVersions::new_v3(state), &mut out).ok()?;
    Some(out)
}

/// A vote for `vote_slot` landing at `current_slot`, as the vote program's tower rules apply it:
/// expired lockouts pop, the 32nd vote roots the oldest one (one credit), and every vote the
/// new one stacks on doubles its lockout.
fn push_vote(
    state: &mut solana_vote_interface::state::VoteStateV3,
    vote_slot: u64,
    epoch: u64,
    current_slot: u64,
) {
    use solana_vote_interface::state::{
        LandedVote, Lockout, MAX_EPOCH_CREDITS_HISTORY, MAX_LOCKOUT_HISTORY,
    };
    if state
        .votes
        .back()
        .is_some_and(|last| last.slot() >= vote_slot)
    {
        return;
    }
    while state
        .votes
        .back()
        .is_some_and(|last| !last.lockout.is_locked_out_at_slot(vote_slot))
    {
        state.votes.pop_back();
    }
    if state.votes.len() == MAX_LOCKOUT_HISTORY
        && let Some(rooted) = state.votes.pop_front()
    {
        state.root_slot = Some(rooted.slot());
        let last_credits = state.epoch_credits.last().map_or(0, |entry| entry.1);
        if state
            .epoch_credits
            .last()
            .is_none_or(|entry| entry.0 != epoch)
        {
            state
                .epoch_credits
                .push((epoch, last_credits, last_credits));
            if state.epoch_credits.len() > MAX_EPOCH_CREDITS_HISTORY {
                state.epoch_credits.remove(0);
            }
        }
        if let Some(entry) = state.epoch_credits.last_mut() {
            entry.1 = entry.1.saturating_add(1);
        }
    }
    state.votes.push_back(LandedVote {
        latency: u8::try_from(current_slot.saturating_sub(vote_slot)).unwrap_or(u8::MAX),
        lockout: Lockout::new(vote_slot),
    });
    let depth = state.votes.len();
    for (index, vote) in state.votes.iter_mut().enumerate() {
        if depth > index + vote.confirmation_count() as usize {
            vote.lockout.increase_confirmation_count(1);
        }
    }
}

/// The credits a vote account has earned so far.
pub fn vote_credits(data: &[u8]) -> u64 {
    solana_vote_interface::state::VoteStateV3::deserialize(data)
        .map(|s| s.credits())
        .unwrap_or(0)
}

/// Stake account fields the simulator varies.
#[derive(Clone, Copy, Debug)]
pub struct StakeFields {
    /// Rent-exempt reserve.
    pub rent_exempt_reserve: u64,
    /// Staker authority.
    pub staker: Pubkey,
    /// Withdrawer authority.
    pub withdrawer: Pubkey,
    /// Lockup: (unix timestamp, epoch, custodian).
    pub lockup: Option<(i64, u64, Pubkey)>,
    /// Delegation: (vote account, stake, activation epoch, deactivation epoch).
    pub delegation: Option<(Pubkey, u64, u64, u64)>,
    /// Credits observed.
    pub credits_observed: u64,
}

/// A stake account's data (`StakeStateV2`, 200 bytes). The rent-exempt reserve is deprecated in
/// the interface but still part of every stake account on chain.
#[allow(deprecated)]
pub fn stake_state(fields: &StakeFields) -> Vec<u8> {
    use solana_stake_interface::{
        stake_flags::StakeFlags,
        state::{Authorized, Delegation, Lockup, Meta, Stake, StakeStateV2},
    };
    let meta = Meta {
        rent_exempt_reserve: fields.rent_exempt_reserve,
        authorized: Authorized {
            staker: fields.staker,
            withdrawer: fields.withdrawer,
        },
        lockup: fields
            .lockup
            .map_or(Lockup::default(), |(unix_timestamp, epoch, custodian)| {
                Lockup {
                    unix_timestamp,
                    epoch,
                    custodian,
                }
            }),
    };
    let state = match fields.delegation {
        None => StakeStateV2::Initialized(meta),
        Some((voter, stake, activation, deactivation)) => {
            let mut delegation = Delegation::new(&voter, stake, activation);
            delegation.deactivation_epoch = deactivation;
            StakeStateV2::Stake(
                meta,
                Stake {
                    delegation,
                    credits_observed: fields.credits_observed,
                },
                StakeFlags::empty(),
            )
        }
    };
    let mut data = vec![0u8; StakeStateV2::size_of()];
    bincode::serialize_into(&mut data[..], &state).expect("stake state fits");
    data
}

/// Reads back the fields of a stake account.
#[allow(deprecated)]
pub fn read_stake(data: &[u8]) -> Option<StakeFields> {
    use solana_stake_interface::state::StakeStateV2;
    let state: StakeStateV2 = bincode::deserialize(data).ok()?;
    let (meta, stake) = match state {
        StakeStateV2::Initialized(meta) => (meta, None),
        StakeStateV2::Stake(meta, stake, _) => (meta, Some(stake)),
        _ => return None,
    };
    let lockup = (meta.lockup.unix_timestamp != 0 || meta.lockup.epoch != 0).then_some((
        meta.lockup.unix_timestamp,
        meta.lockup.epoch,
        meta.lockup.custodian,
    ));
    Some(StakeFields {
        rent_exempt_reserve: meta.rent_exempt_reserve,
        staker: meta.authorized.staker,
        withdrawer: meta.authorized.withdrawer,
        lockup,
        delegation: stake.map(|s| {
            (
                s.delegation.voter_pubkey,
                s.delegation.stake,
                s.delegation.activation_epoch,
                s.delegation.deactivation_epoch,
            )
        }),
        credits_observed: stake.map_or(0, |s| s.credits_observed),
    })
}

/// A durable nonce account's data (80 bytes) holding the nonce derived from `blockhash`.
pub fn nonce_state(authority: Pubkey, blockhash: &Hash, lamports_per_signature: u64) -> Vec<u8> {
    use solana_nonce::{
        state::{DurableNonce, State},
        versions::Versions,
    };
    let state = State::new_initialized(
        &authority,
        DurableNonce::from_blockhash(blockhash),
        lamports_per_signature,
    );
    bincode::serialize(&Versions::new(state)).expect("nonce state serializes")
}

/// An address lookup table's data.
pub fn lookup_table(
    authority: Pubkey,
    addresses: &[Pubkey],
    last_extended_slot: u64,
    start_index: u8,
) -> Vec<u8> {
    use solana_address_lookup_table_interface::state::{AddressLookupTable, LookupTableMeta};
    let mut meta = LookupTableMeta::new(authority);
    meta.last_extended_slot = last_extended_slot;
    meta.last_extended_slot_start_index = start_index;
    AddressLookupTable {
        meta,
        addresses: addresses.into(),
    }
    .serialize_for_tests()
    .expect("lookup table serializes")
}

/// The upgradeable loader's `Program` account data.
pub fn upgradeable_program(programdata: Pubkey) -> Vec<u8> {
    use solana_loader_v3_interface::state::UpgradeableLoaderState;
    bincode::serialize(&UpgradeableLoaderState::Program {
        programdata_address: programdata,
    })
    .expect("serializes")
}

/// The upgradeable loader's `ProgramData` account data: header then the ELF.
pub fn upgradeable_programdata(slot: u64, authority: Option<Pubkey>, elf: &[u8]) -> Vec<u8> {
    use solana_loader_v3_interface::state::UpgradeableLoaderState;
    let header_len = UpgradeableLoaderState::size_of_programdata_metadata();
    let mut data = vec![0u8; header_len + elf.len()];
    bincode::serialize_into(
        &mut data[..header_len],
        &UpgradeableLoaderState::ProgramData {
            slot,
            upgrade_authority_address: authority,
        },
    )
    .expect("fits");
    data[header_len..].copy_from_slice(elf);
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_round_trip() {
        let (mint, owner, delegate) = (
            Pubkey::new_unique(),
            Pubkey::new_unique(),
            Pubkey::new_unique(),
        );
        let mut fields = TokenAccountFields::new(mint, owner, 42);
        fields.delegate = Some((delegate, 7));
        let data = token_account(&fields);
        assert_eq!(data.len(), 165);
        let back = read_token_account(&data).unwrap();
        assert_eq!((back.amount, back.delegate), (42, Some((delegate, 7))));

        let t22 = token_2022_account(&fields, true);
        assert_eq!(t22.len(), 170);
        assert_eq!(read_token_account(&t22).unwrap().owner, owner);

        let m = token_2022_mint(
            6,
            1000,
            Some(owner),
            &[
                MintExtension::InterestBearing {
                    authority: owner,
                    rate_bps: 500,
                    timestamp: 1,
                },
                MintExtension::CloseAuthority(owner),
            ],
        );
        assert!(m.len() > 165);
        assert_eq!(read_mint(&m).unwrap().supply, 1000);
        assert_eq!(read_mint(&token_mint(9, 5, None)).unwrap().decimals, 9);

        let stake = StakeFields {
            rent_exempt_reserve: 2_282_880,
            staker: owner,
            withdrawer: owner,
            lockup: Some((100, 2, delegate)),
            delegation: Some((delegate, 5_000_000_000, 0, u64::MAX)),
            credits_observed: 3,
        };
        let data = stake_state(&stake);
        assert_eq!(data.len(), 200);
        let back = read_stake(&data).unwrap();
        assert_eq!(back.delegation, stake.delegation);
        assert_eq!(back.lockup, stake.lockup);

        let clock = solana_sysvar::clock::Clock::default();
        let vote = vote_state(owner, owner, owner, 10, &clock);
        assert_eq!(vote.len(), 3762);
        let voted = record_vote(&vote, 5, 0, 6, 1000).unwrap();
        assert_ne!(voted, vote);

        assert_eq!(nonce_state(owner, &Hash::default(), 5000).len(), 80);
        assert_eq!(lookup_table(owner, &[mint, owner], 1, 0).len(), 56 + 64);
        assert_eq!(upgradeable_program(mint).len(), 36);
        assert_eq!(
            upgradeable_programdata(1, Some(owner), &[1, 2]).len(),
            45 + 2
        );
    }
}
