//! The simulator's initial state: a small cluster at its snapshot slot, rich enough for RPC
//! conformance tests (every common sysvar, SPL Token and Token-2022 mints and accounts with
//! delegates and extensions, wrapped SOL, validators with vote and stake accounts, a nonce
//! account, an upgradeable program, an address lookup table), and with `--accounts` the bulk
//! accounts of a mainnet-like workload ([`population`]).

use {
    super::{layout::ids, state::SimAccount},
    replication_proto::{Hash, Pubkey, Slot},
    snapshot_tools::archive::manifest::{FeeRateGovernor, Inflation},
    solana_sysvar::{clock::Clock, epoch_schedule::EpochSchedule, rent::Rent},
    std::collections::HashSet,
};

mod build;
pub mod population;
pub(super) use build::build;
pub use population::Population;

/// Lamports per SOL.
pub const LAMPORTS_PER_SOL: u64 = 1_000_000_000;
/// Fee per signature.
pub const LAMPORTS_PER_SIGNATURE: u64 = 5_000;
/// Blockhashes a bank remembers (the blockhash queue's max age).
pub const BLOCKHASH_QUEUE_MAX_AGE: u64 = 300;
/// Entries of the RecentBlockhashes sysvar.
pub const RECENT_BLOCKHASHES: u64 = 150;
/// Nanoseconds per slot (400 ms).
pub const NS_PER_SLOT: u128 = 400_000_000;

/// Which token program owns a mint or account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenProgram {
    /// SPL Token.
    Token,
    /// SPL Token-2022.
    Token2022,
}

impl TokenProgram {
    /// The program id.
    pub fn id(self) -> Pubkey {
        match self {
            TokenProgram::Token => ids::token(),
            TokenProgram::Token2022 => ids::token_2022(),
        }
    }
}

/// A validator of the simulated cluster.
#[derive(Clone, Copy, Debug)]
pub struct Validator {
    /// Node identity (pays vote fees, collects block fees).
    pub identity: Pubkey,
    /// Vote account.
    pub vote: Pubkey,
}

/// A mint the workload trades.
#[derive(Clone, Copy, Debug)]
pub struct MintInfo {
    /// Mint address.
    pub key: Pubkey,
    /// Owning program.
    pub program: TokenProgram,
    /// Mint authority.
    pub authority: Pubkey,
}

/// A token account the workload may touch.
#[derive(Clone, Copy, Debug)]
pub struct TokenAccountInfo {
    /// Address.
    pub key: Pubkey,
    /// Index into [`Registry::mints`].
    pub mint: usize,
}

/// The addresses the workload picks from. Append-only: an entry may no longer exist (closed,
/// or created on a fork that died); the workload checks before using it.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// Validators.
    pub validators: Vec<Validator>,
    /// System accounts that pay fees and trade.
    pub wallets: Vec<Pubkey>,
    /// Mints.
    pub mints: Vec<MintInfo>,
    /// Token accounts.
    pub token_accounts: Vec<TokenAccountInfo>,
    /// Stake accounts.
    pub stakes: Vec<Pubkey>,
    /// Stake and withdraw authority of every stake account.
    pub stake_authority: Pubkey,
    /// The durable nonce account and its authority.
    pub nonce: (Pubkey, Pubkey),
    /// The lookup table and its authority.
    pub lookup_table: (Pubkey, Pubkey),
    /// The wrapped-SOL token account.
    pub wrapped_sol: Pubkey,
    /// A custom (upgradeable) program that accounts get assigned to.
    pub program: Pubkey,
    /// Accounts created at genesis for fixtures: never closed.
    pub protected: HashSet<Pubkey>,
}

/// Deterministic address for (`seed`, `label`, `index`).
pub fn derive_key(seed: u64, label: &str, index: u64) -> Pubkey {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"replica-sim-key");
    hasher.update(&seed.to_le_bytes());
    hasher.update(label.as_bytes());
    hasher.update(&index.to_le_bytes());
    Pubkey::new_from_array(*hasher.finalize().as_bytes())
}

/// Deterministic hash for (`seed`, `label`, `slot`, `variant`).
pub fn derive_hash(seed: u64, label: &str, slot: Slot, variant: u64) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"replica-sim-hash");
    hasher.update(&seed.to_le_bytes());
    hasher.update(label.as_bytes());
    hasher.update(&slot.to_le_bytes());
    hasher.update(&variant.to_le_bytes());
    Hash::new_from_array(*hasher.finalize().as_bytes())
}

/// The cluster's economics and timing (what a snapshot manifest needs besides the accounts).
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterParams {
    /// The epoch schedule.
    pub epoch_schedule: EpochSchedule,
    /// The rent parameters.
    pub rent: Rent,
    /// Inflation (Agave's defaults).
    pub inflation: Inflation,
    /// Fee rate governor (Agave's defaults).
    pub fee_rate_governor: FeeRateGovernor,
    /// Lamports per signature.
    pub lamports_per_signature: u64,
    /// Genesis creation time (Unix seconds).
    pub genesis_creation_time: i64,
    /// Ticks per slot.
    pub ticks_per_slot: u64,
    /// Hashes per tick.
    pub hashes_per_tick: Option<u64>,
    /// Nanoseconds per slot.
    pub ns_per_slot: u128,
    /// Slots per year.
    pub slots_per_year: f64,
}

/// The initial state, everything a snapshot archive of it needs.
#[derive(Clone, Debug)]
pub struct Genesis {
    /// The snapshot slot.
    pub slot: Slot,
    /// Its parent.
    pub parent_slot: Slot,
    /// Block height at the snapshot slot.
    pub block_height: u64,
    /// The snapshot bank's blockhash.
    pub blockhash: Hash,
    /// The snapshot bank's bank hash.
    pub bank_hash: Hash,
    /// The parent's bank hash.
    pub parent_bank_hash: Hash,
    /// Every account, sorted by pubkey.
    pub accounts: Vec<(Pubkey, SimAccount)>,
    /// The accounts lattice hash of the whole state.
    pub lt_hash: solana_lattice_hash::lt_hash::LtHash,
    /// blake3 of it (the archive name's hash).
    pub lt_hash_checksum: Hash,
    /// Total lamports.
    pub capitalization: u64,
    /// Recent blockhashes, oldest first: (slot, blockhash); the last is `blockhash`.
    pub recent_blockhashes: Vec<(Slot, Hash)>,
    /// The leader of the snapshot slot.
    pub leader: Pubkey,
    /// Total active stake.
    pub total_stake: u64,
    /// Sum of the accounts' data lengths.
    pub accounts_data_len: u64,
    /// Agave's `transaction_count`: transactions executed up to this bank.
    pub transaction_count: u64,
    /// The cluster's economics and timing.
    pub bank: ClusterParams,
}

/// Unix time of `slot`.
pub fn slot_time(bank: &ClusterParams, slot: Slot) -> i64 {
    bank.genesis_creation_time + ((slot as u128 * bank.ns_per_slot) / 1_000_000_000) as i64
}

/// The clock sysvar of a bank at `slot`.
pub fn clock_at(bank: &ClusterParams, slot: Slot) -> Clock {
    let epoch = bank.epoch_schedule.get_epoch(slot);
    let epoch_start = bank.epoch_schedule.get_first_slot_in_epoch(epoch);
    Clock {
        slot,
        epoch_start_timestamp: slot_time(bank, epoch_start),
        epoch,
        leader_schedule_epoch: bank.epoch_schedule.get_leader_schedule_epoch(slot),
        unix_timestamp: slot_time(bank, slot),
    }
}
