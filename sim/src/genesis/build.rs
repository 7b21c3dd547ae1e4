//! Builds the initial state: accounts, the workload's registry, and the chain's sysvars.

use {
    super::{
        BLOCKHASH_QUEUE_MAX_AGE, ClusterParams, Genesis, LAMPORTS_PER_SIGNATURE, LAMPORTS_PER_SOL,
        MintInfo, NS_PER_SLOT, Population, Registry, TokenAccountInfo, TokenProgram, Validator,
        clock_at, derive_hash, derive_key, slot_time,
    },
    crate::{
        SimConfig,
        layout::{self, MintExtension, StakeFields, TokenAccountFields, ids},
        state::{AccountsState, SimAccount},
    },
    replication_proto::{Hash, Pubkey, Slot},
    snapshot_tools::archive::manifest::{FeeRateGovernor, Inflation},
    solana_sysvar::{
        clock::Clock, epoch_rewards::EpochRewards, epoch_schedule::EpochSchedule,
        last_restart_slot::LastRestartSlot, rent::Rent, slot_hashes::SlotHashes,
        slot_history::SlotHistory,
    },
};

/// The initial state and what the simulator continues from.
pub(crate) struct Built {
    pub(crate) state: AccountsState,
    pub(crate) registry: Registry,
    /// The bulk accounts' addresses (with `accounts`).
    pub(crate) population: Option<Population>,
    pub(crate) genesis: Genesis,
    pub(crate) clock: Clock,
    pub(crate) slot_hashes: Vec<(Slot, Hash)>,
    pub(crate) slot_history: SlotHistory,
    pub(crate) recent_blockhashes: Vec<(Slot, Hash)>,
}

fn system(lamports: u64) -> SimAccount {
    SimAccount::new(lamports, ids::system_program::ID, Vec::new())
}

fn owned(rent: &Rent, owner: Pubkey, data: Vec<u8>) -> SimAccount {
    SimAccount::new(rent.minimum_balance(data.len()), owner, data)
}

fn executable(lamports: u64, owner: Pubkey, data: Vec<u8>) -> SimAccount {
    SimAccount {
        executable: true,
        ..SimAccount::new(lamports, owner, data)
    }
}

pub(crate) fn build(config: &SimConfig) -> Built {
    let seed = config.seed;
    let key = |label: &str, index: u64| derive_key(seed, label, index);
    let slot = config.start_slot.max(1);
    let bank = ClusterParams {
        epoch_schedule: EpochSchedule::custom(
            config.slots_per_epoch,
            config.slots_per_epoch,
            false,
        ),
        rent: Rent::default(),
        inflation: Inflation::default(),
        fee_rate_governor: FeeRateGovernor::default(),
        lamports_per_signature: LAMPORTS_PER_SIGNATURE,
        genesis_creation_time: config.genesis_creation_time,
        ticks_per_slot: 64,
        hashes_per_tick: Some(12_500),
        ns_per_slot: NS_PER_SLOT,
        slots_per_year: 78_892_314.984,
    };
    let rent = bank.rent.clone();
    let clock = clock_at(&bank, slot);
    let mut state = AccountsState::default();
    let mut registry = Registry::default();
    let put = |state: &mut AccountsState, k: Pubkey, a: SimAccount| state.set(k, a);

    // Sysvars.
    let slot_hash_entries: Vec<(Slot, Hash)> = (slot.saturating_sub(512)..slot)
        .rev()
        .map(|s| (s, derive_hash(seed, "bank", s, 0)))
        .collect();
    let slot_hashes = SlotHashes::new(&slot_hash_entries);
    let mut slot_history = SlotHistory::default();
    for s in 1..=slot {
        slot_history.add(s);
    }
    let recent: Vec<(Slot, Hash)> = (slot.saturating_sub(BLOCKHASH_QUEUE_MAX_AGE)..=slot)
        .map(|s| (s, derive_hash(seed, "blockhash", s, 0)))
        .collect();
    put(
        &mut state,
        ids::sysvar::clock::ID,
        layout::sysvar(&clock, &rent),
    );
    put(
        &mut state,
        ids::sysvar::rent::ID,
        layout::sysvar(&rent, &rent),
    );
    put(
        &mut state,
        ids::sysvar::epoch_schedule::ID,
        layout::sysvar(&bank.epoch_schedule, &rent),
    );
    put(
        &mut state,
        ids::sysvar::slot_hashes::ID,
        layout::sysvar(&slot_hashes, &rent),
    );
    put(
        &mut state,
        ids::sysvar::slot_history::ID,
        layout::sysvar(&slot_history, &rent),
    );
    put(
        &mut state,
        ids::sysvar::recent_blockhashes::ID,
        layout::sysvar(&crate::workload::recent_blockhashes(&recent), &rent),
    );
    let mut stake_history = solana_sysvar::stake_history::StakeHistory::default();
    for epoch in clock.epoch.saturating_sub(3)..clock.epoch {
        stake_history.add(
            epoch,
            solana_sysvar::stake_history::StakeHistoryEntry::with_effective(
                60_000 * LAMPORTS_PER_SOL,
            ),
        );
    }
    put(
        &mut state,
        ids::sysvar::stake_history::ID,
        layout::sysvar_sized(&stake_history, solana_sysvar::stake_history::SIZE, &rent),
    );
    put(
        &mut state,
        ids::sysvar::epoch_rewards::ID,
        layout::sysvar(&EpochRewards::default(), &rent),
    );
    put(
        &mut state,
        ids::sysvar::last_restart_slot::ID,
        layout::sysvar(&LastRestartSlot::default(), &rent),
    );

    // Programs: native ones, SPL Token (loader v2), Token-2022 and a custom program (v3).
    for (id, name) in [
        (ids::system_program::ID, "system_program"),
        (ids::vote::ID, "vote_program"),
        (ids::stake::ID, "stake_program"),
        (ids::compute_budget::ID, "compute_budget_program"),
        (
            ids::address_lookup_table::ID,
            "address_lookup_table_program",
        ),
        (
            ids::bpf_loader_upgradeable::ID,
            "solana_bpf_loader_upgradeable_program",
        ),
        (ids::bpf_loader::ID, "solana_bpf_loader_program"),
    ] {
        put(
            &mut state,
            id,
            executable(1, ids::native_loader::ID, name.as_bytes().to_vec()),
        );
    }
    let elf = layout::fake_elf(8 * 1024, b"spl-token");
    put(
        &mut state,
        ids::token(),
        executable(rent.minimum_balance(elf.len()), ids::bpf_loader::ID, elf),
    );
    for (program, label) in [
        (ids::token_2022(), "token-2022"),
        (key("program", 0), "sim"),
    ] {
        let programdata = key("programdata", u64::from(label == "sim"));
        let elf = layout::fake_elf(16 * 1024, label.as_bytes());
        put(
            &mut state,
            programdata,
            owned(
                &rent,
                ids::bpf_loader_upgradeable::ID,
                layout::upgradeable_programdata(slot / 2, Some(key("upgrade-authority", 0)), &elf),
            ),
        );
        let data = layout::upgradeable_program(programdata);
        put(
            &mut state,
            program,
            executable(
                rent.minimum_balance(data.len()),
                ids::bpf_loader_upgradeable::ID,
                data,
            ),
        );
        registry.protected.insert(program);
        registry.protected.insert(programdata);
    }
    registry.program = key("program", 0);

    // Wallets.
    let wallets: Vec<Pubkey> = (0..40).map(|i| key("wallet", i)).collect();
    for (i, wallet) in wallets.iter().enumerate() {
        put(
            &mut state,
            *wallet,
            system((10 + i as u64 * 7) * LAMPORTS_PER_SOL),
        );
    }
    registry.wallets = wallets.clone();
    let wallet = |i: usize| wallets[i % wallets.len()];

    // Validators: identity, vote account, two stake accounts each (one locked up).
    registry.stake_authority = key("stake-authority", 0);
    put(
        &mut state,
        registry.stake_authority,
        system(5 * LAMPORTS_PER_SOL),
    );
    let stake_reserve = rent.minimum_balance(200);
    let mut total_stake = 0;
    for v in 0..3u64 {
        let identity = key("validator-identity", v);
        let vote = key("validator-vote", v);
        put(&mut state, identity, system(1_000 * LAMPORTS_PER_SOL));
        let data = layout::vote_state(
            identity,
            identity,
            key("vote-withdrawer", v),
            5 + v as u8 * 2,
            &clock,
        );
        put(&mut state, vote, owned(&rent, ids::vote::ID, data));
        registry.validators.push(Validator { identity, vote });
        registry.protected.extend([identity, vote]);
        for s in 0..2u64 {
            let stake_key = key("stake", v * 2 + s);
            let stake = (10_000 + 5_000 * v + 1_000 * s) * LAMPORTS_PER_SOL;
            total_stake += stake;
            let fields = StakeFields {
                rent_exempt_reserve: stake_reserve,
                staker: registry.stake_authority,
                withdrawer: registry.stake_authority,
                lockup: (v == 0 && s == 1).then_some((
                    slot_time(&bank, slot) + 365 * 86_400,
                    clock.epoch + 10,
                    key("custodian", 0),
                )),
                delegation: Some((vote, stake, 0, u64::MAX)),
                credits_observed: 0,
            };
            put(
                &mut state,
                stake_key,
                SimAccount::new(
                    stake + stake_reserve,
                    ids::stake::ID,
                    layout::stake_state(&fields),
                ),
            );
            registry.stakes.push(stake_key);
        }
    }
    // An initialized, undelegated stake account.
    let idle_stake = key("stake", 100);
    put(
        &mut state,
        idle_stake,
        SimAccount::new(
            stake_reserve + 50 * LAMPORTS_PER_SOL,
            ids::stake::ID,
            layout::stake_state(&StakeFields {
                rent_exempt_reserve: stake_reserve,
                staker: registry.stake_authority,
                withdrawer: registry.stake_authority,
                lockup: None,
                delegation: None,
                credits_observed: 0,
            }),
        ),
    );
    registry.stakes.push(idle_stake);
    let stakes = registry.stakes.clone();
    registry.protected.extend(stakes);

    // Durable nonce.
    let nonce = (key("nonce", 0), wallet(0));
    put(
        &mut state,
        nonce.0,
        owned(
            &rent,
            ids::system_program::ID,
            layout::nonce_state(
                nonce.1,
                &recent.last().expect("recent blockhashes").1,
                LAMPORTS_PER_SIGNATURE,
            ),
        ),
    );
    registry.nonce = nonce;
    registry.protected.insert(nonce.0);

    // Mints: SPL Token (6, 9 and 0 decimals, and wrapped SOL), Token-2022 (plain, interest
    // bearing, scaled UI amount).
    let native = ids::native_mint();
    put(
        &mut state,
        native,
        owned(&rent, ids::token(), layout::token_mint(9, 0, None)),
    );
    registry.protected.insert(native);
    let mint_specs: [(TokenProgram, u8, Vec<MintExtension>); 6] = [
        (TokenProgram::Token, 6, vec![]),
        (TokenProgram::Token, 9, vec![]),
        (TokenProgram::Token, 0, vec![]),
        (TokenProgram::Token2022, 6, vec![]),
        (
            TokenProgram::Token2022,
            6,
            vec![MintExtension::InterestBearing {
                authority: key("mint-authority", 4),
                rate_bps: 500,
                timestamp: slot_time(&bank, slot.saturating_sub(1000)),
            }],
        ),
        (
            TokenProgram::Token2022,
            2,
            vec![
                MintExtension::ScaledUiAmount {
                    authority: key("mint-authority", 5),
                    multiplier: 1.5,
                },
                MintExtension::CloseAuthority(key("mint-authority", 5)),
            ],
        ),
    ];
    let per_mint = 12u64;
    for (m, (program, decimals, extensions)) in mint_specs.iter().enumerate() {
        let mint = key("mint", m as u64);
        let authority = key("mint-authority", m as u64);
        let unit = 10u64.pow(u32::from(*decimals));
        let mut supply = 0;
        for a in 0..per_mint {
            let account = key("token-account", m as u64 * 100 + a);
            let owner = wallet(m * 5 + a as usize);
            let amount = (a + 1) * 1_000 * unit;
            supply += amount;
            let mut fields = TokenAccountFields::new(mint, owner, amount);
            if a % 5 == 1 {
                fields.delegate = Some((wallet(a as usize + 17), amount / 2));
                registry.protected.insert(account);
            }
            if a == 3 && m == 0 {
                fields.close_authority = Some(owner);
            }
            let data = match program {
                TokenProgram::Token => layout::token_account(&fields),
                TokenProgram::Token2022 => layout::token_2022_account(&fields, a % 2 == 0),
            };
            put(&mut state, account, owned(&rent, program.id(), data));
            registry.token_accounts.push(TokenAccountInfo {
                key: account,
                mint: m,
            });
        }
        let data = match program {
            TokenProgram::Token => layout::token_mint(*decimals, supply, Some(authority)),
            TokenProgram::Token2022 => {
                layout::token_2022_mint(*decimals, supply, Some(authority), extensions)
            }
        };
        put(&mut state, mint, owned(&rent, program.id(), data));
        put(&mut state, authority, system(2 * LAMPORTS_PER_SOL));
        registry.mints.push(MintInfo {
            key: mint,
            program: *program,
            authority,
        });
        registry.protected.insert(mint);
    }
    // Wrapped SOL.
    let wrapped = key("wrapped-sol", 0);
    let reserve = rent.minimum_balance(layout::TOKEN_ACCOUNT_LEN);
    let wrapped_amount = 3 * LAMPORTS_PER_SOL;
    let mut fields = TokenAccountFields::new(native, wallet(1), wrapped_amount);
    fields.native_reserve = Some(reserve);
    put(
        &mut state,
        wrapped,
        SimAccount::new(
            reserve + wrapped_amount,
            ids::token(),
            layout::token_account(&fields),
        ),
    );
    registry.wrapped_sol = wrapped;
    registry.protected.insert(wrapped);

    // Address lookup table.
    let table = (key("lookup-table", 0), wallet(2));
    let addresses: Vec<Pubkey> = wallets.iter().take(10).copied().collect();
    put(
        &mut state,
        table.0,
        owned(
            &rent,
            ids::address_lookup_table::ID,
            layout::lookup_table(table.1, &addresses, slot.saturating_sub(10), 0),
        ),
    );
    registry.lookup_table = table;
    registry.protected.insert(table.0);
    registry.protected.extend(wallets.iter().copied());

    let population = config.accounts.map(|accounts| {
        let (population, bulk) = super::population::build(seed, accounts, registry.program, &rent);
        state.extend(bulk);
        population
    });

    let accounts = state.sorted();
    let accounts_data_len = accounts.iter().map(|(_, a)| a.data.len() as u64).sum();
    let genesis = Genesis {
        slot,
        parent_slot: slot - 1,
        block_height: slot,
        blockhash: derive_hash(seed, "blockhash", slot, 0),
        bank_hash: derive_hash(seed, "bank", slot, 0),
        parent_bank_hash: derive_hash(seed, "bank", slot - 1, 0),
        lt_hash: state.lt_hash().clone(),
        lt_hash_checksum: crate::state::lt_hash_checksum(state.lt_hash()),
        capitalization: state.capitalization(),
        accounts,
        recent_blockhashes: recent.clone(),
        leader: registry.validators[0].identity,
        total_stake,
        accounts_data_len,
        transaction_count: 0,
        bank,
    };
    Built {
        state,
        registry,
        population,
        genesis,
        clock,
        slot_hashes: slot_hash_entries,
        slot_history,
        recent_blockhashes: recent,
    }
}
