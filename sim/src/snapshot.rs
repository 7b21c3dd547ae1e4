//! A simulator state (the initial one, or a later rooted one) as a genuine-format full
//! snapshot archive that Agave's loader accepts with the simulator's `genesis.bin`: the stakes
//! cache, epoch stakes and the slot's leader computed from the state's stake and vote accounts
//! as Agave computes them, the status cache roots of its SlotHistory, and the bank hash Agave
//! recomputes (from the parent bank hash, no signatures, the last blockhash and the lattice
//! hash), which replaces the simulator's own derived bank hash in the manifest.

use {
    crate::genesis::{BLOCKHASH_QUEUE_MAX_AGE, Genesis, slot_time},
    snapshot_tools::archive::{
        AccountRecord, ArchiveFormat, ArchiveKind, ArchiveWriter, BankFields, SnapshotManifest,
        bank_fields::status_cache_roots,
        genesis::Genesis as GenesisFile,
        manifest::{BlockhashEntry, BlockhashQueue, EpochSchedule, Rent},
        stakes::{BankStakes, STAKE_HISTORY_SYSVAR, StakeRules},
        writer::WriteError,
    },
    std::path::{Path, PathBuf},
};

/// Why the archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StateArchiveError {
    /// The archive writer failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The staged accounts hash to another lattice hash than the simulator's state (a bug).
    #[error("the archive's lattice hash differs from the simulator's")]
    LtHashMismatch,
}

/// The manifest's cluster values for the simulator's initial state.
pub fn bank_fields(genesis: &Genesis) -> BankFields {
    let bank = &genesis.bank;
    let schedule = &bank.epoch_schedule;
    let epoch = schedule.get_epoch(genesis.slot);
    let entries = genesis
        .recent_blockhashes
        .iter()
        .map(|&(entry_slot, hash)| BlockhashEntry {
            hash,
            lamports_per_signature: bank.lamports_per_signature,
            hash_index: entry_slot,
            timestamp: u64::try_from(slot_time(bank, entry_slot)).unwrap_or_default(),
        })
        .collect();
    BankFields {
        epoch_schedule: EpochSchedule {
            slots_per_epoch: schedule.slots_per_epoch,
            leader_schedule_slot_offset: schedule.leader_schedule_slot_offset,
            warmup: schedule.warmup,
            first_normal_epoch: schedule.first_normal_epoch,
            first_normal_slot: schedule.first_normal_slot,
        },
        inflation: bank.inflation,
        fee_rate_governor: bank.fee_rate_governor,
        lamports_per_signature: bank.lamports_per_signature,
        slots_per_year: bank.slots_per_year,
        ticks_per_slot: bank.ticks_per_slot,
        ns_per_slot: bank.ns_per_slot,
        hashes_per_tick: bank.hashes_per_tick,
        genesis_creation_time: bank.genesis_creation_time,
        hard_forks: Vec::new(),
        epoch_total_stakes: vec![
            (epoch, genesis.total_stake),
            (epoch + 1, genesis.total_stake),
        ],
        transaction_count: genesis.transaction_count,
        blockhash_queue: BlockhashQueue {
            last_hash_index: genesis.slot,
            last_hash: Some(genesis.blockhash),
            entries,
            max_age: BLOCKHASH_QUEUE_MAX_AGE,
        },
    }
}

/// The simulator's `genesis.bin`: its timing, economics and epoch schedule (no accounts: the
/// chain starts from the snapshot archive).
pub fn genesis_file(genesis: &Genesis) -> GenesisFile {
    let bank = &genesis.bank;
    let fields = bank_fields(genesis);
    #[allow(deprecated)]
    let rent = Rent {
        lamports_per_byte_year: bank.rent.lamports_per_byte,
        exemption_threshold: f64::from_le_bytes(bank.rent.exemption_threshold),
        burn_percent: bank.rent.burn_percent,
    };
    GenesisFile {
        creation_time: bank.genesis_creation_time,
        ticks_per_slot: bank.ticks_per_slot,
        ns_per_slot: bank.ns_per_slot,
        hashes_per_tick: bank.hashes_per_tick,
        fee_rate_governor: bank.fee_rate_governor,
        rent,
        inflation: bank.inflation,
        epoch_schedule: fields.epoch_schedule,
    }
}

/// The stakes cache of a simulator state (the simulator activates no stake feature gates).
fn bank_stakes(genesis: &Genesis) -> BankStakes {
    let epoch = genesis.bank.epoch_schedule.get_epoch(genesis.slot);
    let history = genesis
        .accounts
        .iter()
        .find(|(pubkey, _)| *pubkey == STAKE_HISTORY_SYSVAR)
        .and_then(|(_, account)| BankStakes::parse_stake_history(&account.data))
        .unwrap_or_default();
    let mut stakes = BankStakes::new(epoch, history, StakeRules::default());
    for (pubkey, account) in &genesis.accounts {
        stakes.offer(
            pubkey,
            account.lamports,
            &account.owner,
            account.executable,
            account.rent_epoch,
            &account.data,
        );
    }
    stakes.finish()
}

/// Writes a full snapshot archive (`.tar.zst`, Agave's format) of a simulator state into `dir`;
/// its name carries blake3 of the accounts lattice hash. Returns its path.
pub fn write_state_archive(genesis: &Genesis, dir: &Path) -> Result<PathBuf, StateArchiveError> {
    let slot = genesis.slot;
    let roots = genesis
        .accounts
        .iter()
        .find(|(pubkey, _)| *pubkey == solana_sdk_ids::sysvar::slot_history::ID)
        .map(|(_, account)| status_cache_roots(&account.data, slot))
        .unwrap_or_default();
    let mut writer = ArchiveWriter::new(dir, ArchiveKind::Full, slot, ArchiveFormat::TarZstd)
        .with_status_cache_roots(roots);
    for (index, (pubkey, account)) in genesis.accounts.iter().enumerate() {
        // Spread the accounts over a few storages, as a validator's archive would.
        let sysvar = account.owner == solana_sdk_ids::sysvar::ID;
        let written = if sysvar {
            slot
        } else {
            slot.saturating_sub(index as u64 % 4)
        };
        writer.push(&AccountRecord {
            pubkey: *pubkey,
            slot: written,
            lamports: account.lamports,
            rent_epoch: account.rent_epoch,
            owner: account.owner,
            executable: account.executable,
            data: &account.data,
        })?;
    }
    if *writer.pushed_lt_hash() != genesis.lt_hash {
        return Err(StateArchiveError::LtHashMismatch);
    }
    let mut manifest = SnapshotManifest::from_bank_fields(
        slot,
        genesis.parent_slot,
        genesis.capitalization,
        &bank_fields(genesis),
    );
    manifest.parent_bank_hash = genesis.parent_bank_hash;
    manifest.block_height = genesis.block_height;
    manifest.accounts_data_len = genesis.accounts_data_len;
    manifest.leader_id = genesis.leader;
    manifest.set_stakes(bank_stakes(genesis), &[]);
    manifest.seal_bank_hash(&genesis.lt_hash);
    Ok(writer.finish(manifest, &genesis.lt_hash)?)
}
