//! The simulated validator: its state, and one bank per step.

use {
    crate::{
        SimError,
        driver::{self, Note},
        genesis::{self, Genesis, Population, Registry, clock_at, derive_hash, slot_time},
        state::{AccountsState, BankOverlay, SimAccount, lt_hash_checksum},
        workload::{BankContext, ChainSysvars, Exec},
    },
    agave_geyser_plugin_interface::geyser_plugin_interface::{GeyserPlugin, SlotStatus},
    geyser_plugin::AccountsLtHashSource,
    rand::{Rng, SeedableRng, seq::SliceRandom},
    rand_chacha::ChaCha8Rng,
    replication_proto::{Hash, Slot},
    std::{
        collections::{BTreeMap, VecDeque},
        sync::{Arc, Mutex},
    },
};

/// Default pacing of [`SimNode::run`] callers: Solana's 400 ms slots.
pub const DEFAULT_SLOT_MS: u64 = 400;

/// Simulation settings. Everything but pacing determines the content.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Seed of every random choice and derived address.
    pub seed: u64,
    /// The snapshot slot the simulation starts from.
    pub start_slot: Slot,
    /// Slots per epoch (no warmup).
    pub slots_per_epoch: u64,
    /// Random transactions per bank (besides votes and sysvars).
    pub transactions_per_slot: usize,
    /// Bulk accounts added to the initial state (at least
    /// [`MIN_ACCOUNTS`](genesis::population::MIN_ACCOUNTS)); with them the transactions are a
    /// mainnet-like mix over them, each writing mostly accounts no other transaction of its
    /// bank writes. `None`: the small state and the conformance workload.
    pub accounts: Option<usize>,
    /// Chance that a step also produces a fork bank.
    pub fork_probability: f64,
    /// Chance that a slot is skipped (no bank).
    pub skip_probability: f64,
    /// Main-chain banks between the tip and the newest root.
    pub root_lag: usize,
    /// Unix time of slot 0.
    pub genesis_creation_time: i64,
    /// Testing only: the plugin is told of one extra account write in the first main-chain
    /// slot at or after this one that the simulator's state does not hold, so replicas diverge
    /// from the validator there (what a lost or altered notification would do).
    pub corrupt_slot: Option<Slot>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            start_slot: 1_000,
            slots_per_epoch: 432_000,
            transactions_per_slot: 24,
            accounts: None,
            fork_probability: 0.12,
            skip_probability: 0.03,
            root_lag: 6,
            genesis_creation_time: 1_700_000_000,
            corrupt_slot: None,
        }
    }
}

/// A rooted main-chain bank and the state's lattice-hash checksum after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootedReport {
    /// The slot.
    pub slot: Slot,
    /// Its blockhash.
    pub blockhash: Hash,
    /// blake3 of the accounts lattice hash after the slot.
    pub accounts_lt_hash: Hash,
}

/// What one step produced.
#[derive(Clone, Debug, Default)]
pub struct StepReport {
    /// The main-chain bank's slot.
    pub slot: Slot,
    /// The main-chain bank's hash (what a vote for the slot names).
    pub bank_hash: Hash,
    /// The main-chain bank's unix time (its clock sysvar).
    pub timestamp: i64,
    /// A fork bank's slot, and whether it died.
    pub fork: Option<(Slot, bool)>,
    /// Banks rooted by this step, ascending.
    pub rooted: Vec<RootedReport>,
    /// Account writes notified (main and fork banks).
    pub writes: usize,
    /// Accounts the main-chain bank wrote, each counted once: the records its slot carries on
    /// the replication stream.
    pub main_records: usize,
}

/// The lattice-hash checksums of the banks the simulator produced (main and forks).
#[derive(Debug, Default)]
pub struct LtHashBook {
    checksums: Mutex<BTreeMap<(Slot, Hash), Hash>>,
}

/// Checksums kept below the root (a replica reading an older slot gets none in the trailer).
const BOOK_RETENTION_SLOTS: Slot = 50_000;

impl LtHashBook {
    fn insert(&self, slot: Slot, blockhash: Hash, checksum: Hash) {
        let mut map = self.checksums.lock().unwrap_or_else(|p| p.into_inner());
        map.insert((slot, blockhash), checksum);
    }

    fn prune_below(&self, slot: Slot) {
        let mut map = self.checksums.lock().unwrap_or_else(|p| p.into_inner());
        *map = map.split_off(&(slot, Hash::default()));
    }
}

impl AccountsLtHashSource for LtHashBook {
    fn accounts_lt_hash(&self, slot: Slot, blockhash: &Hash) -> Option<Hash> {
        let map = self.checksums.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(slot, *blockhash)).copied()
    }
}

#[derive(Clone, Debug)]
struct BankInfo {
    slot: Slot,
    parent: Slot,
    blockhash: Hash,
    bank_hash: Hash,
    block_height: u64,
    checksum: Hash,
    confirmed: bool,
    /// Transactions executed up to this bank (Agave's `transaction_count`).
    transaction_count: u64,
}

/// The simulated validator.
#[derive(Debug)]
pub struct Simulator {
    config: SimConfig,
    rng: ChaCha8Rng,
    state: AccountsState,
    registry: Registry,
    /// The bulk accounts of `accounts`.
    population: Option<Population>,
    genesis: Genesis,
    sysvars: ChainSysvars,
    tip: BankInfo,
    unrooted: VecDeque<BankInfo>,
    next_slot: Slot,
    next_key: u64,
    write_version: u64,
    book: Arc<LtHashBook>,
    steps: u64,
    /// `corrupt_slot` was applied.
    corrupted: bool,
}

/// A bank built against the current state.
struct BuiltBank {
    notes: Vec<Note>,
    /// Transactions it executed (votes included).
    executed: u64,
    writes: usize,
    /// Accounts written, each counted once.
    records: usize,
}

impl Simulator {
    /// Builds the initial state.
    pub fn new(config: SimConfig) -> Self {
        let built = genesis::build(&config);
        let genesis = built.genesis;
        let tip = BankInfo {
            slot: genesis.slot,
            parent: genesis.parent_slot,
            blockhash: genesis.blockhash,
            bank_hash: genesis.bank_hash,
            block_height: genesis.block_height,
            checksum: genesis.lt_hash_checksum,
            confirmed: true,
            transaction_count: genesis.transaction_count,
        };
        let book = Arc::new(LtHashBook::default());
        book.insert(tip.slot, tip.blockhash, tip.checksum);
        let _ = built.clock;
        Self {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            next_slot: genesis.slot + 1,
            config,
            state: built.state,
            registry: built.registry,
            population: built.population,
            sysvars: ChainSysvars {
                slot_hashes: built.slot_hashes,
                slot_history: built.slot_history,
                recent: built.recent_blockhashes,
                pending_rewards: None,
            },
            genesis,
            tip,
            unrooted: VecDeque::new(),
            next_key: 0,
            write_version: 0,
            book,
            steps: 0,
            corrupted: false,
        }
    }

    /// The settings.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The initial (snapshot) state.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The current main-chain state (after the newest bank).
    pub fn state(&self) -> &AccountsState {
        &self.state
    }

    /// The newest main-chain slot.
    pub fn tip_slot(&self) -> Slot {
        self.tip.slot
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The checksums of every bank produced, for the plugin's slot trailers.
    pub fn lt_hash_source(&self) -> Arc<LtHashBook> {
        self.book.clone()
    }

    /// What a validator sends at startup: the snapshot's accounts (only if the plugin asks for
    /// them; they are flagged `is_startup`), then `notify_end_of_startup`.
    pub fn notify_startup(&mut self, plugin: &dyn GeyserPlugin) -> Result<(), SimError> {
        driver::deliver_startup(
            plugin,
            self.genesis.slot,
            &self.genesis.accounts,
            &mut self.write_version,
        )
        .map_err(SimError::plugin)
    }

    fn context(&self, slot: Slot, variant: u64) -> BankContext {
        let bank = &self.genesis.bank;
        let validators = &self.registry.validators;
        BankContext {
            slot,
            parent: self.tip.slot,
            parent_bank_hash: self.tip.bank_hash,
            parent_blockhash: self.tip.blockhash,
            blockhash: derive_hash(self.config.seed, "blockhash", slot, variant),
            block_height: self.tip.block_height + 1,
            clock: clock_at(bank, slot),
            parent_epoch: bank.epoch_schedule.get_epoch(self.tip.slot),
            leader: validators[(slot / 4) as usize % validators.len()].identity,
        }
    }

    /// Executes a bank on the current state. `dies_after` cuts it short (a dead fork).
    fn build_bank(
        &mut self,
        ctx: &BankContext,
        sysvars: &mut ChainSysvars,
        dies: bool,
    ) -> BuiltBank {
        let total_stake = self.genesis.total_stake;
        let rent = self.genesis.bank.rent.clone();
        let mut overlay = BankOverlay::new(&self.state);
        let mut exec = Exec {
            bank: &mut overlay,
            registry: &mut self.registry,
            population: self.population.as_mut(),
            rng: &mut self.rng,
            ctx,
            rent: &rent,
            seed: self.config.seed,
            next_key: &mut self.next_key,
            fees: 0,
        };
        exec.new_from_parent(sysvars, total_stake);
        let created_at = exec.bank.write_count();
        exec.votes();
        let transactions = if dies {
            self.config.transactions_per_slot / 2
        } else {
            self.config.transactions_per_slot
        };
        if exec.population.is_some() {
            exec.bulk_transactions(transactions);
        } else {
            exec.transactions(transactions);
        }
        let executed = transactions as u64 + exec.registry.validators.len() as u64;
        if !dies {
            exec.freeze(sysvars);
        }
        let records = overlay.accounts_written();
        let writes = overlay.into_writes();
        let count = writes.len();
        let mut notes: Vec<Note> = writes
            .into_iter()
            .map(|w| Note::Account {
                slot: ctx.slot,
                pubkey: w.pubkey,
                account: w.account,
                last: w.last,
            })
            .collect();
        let status = |status| Note::Status {
            slot: ctx.slot,
            parent: Some(ctx.parent),
            status,
        };
        notes.insert(
            0,
            Note::Status {
                slot: ctx.slot,
                parent: None,
                status: SlotStatus::FirstShredReceived,
            },
        );
        notes.insert(created_at + 1, status(SlotStatus::CreatedBank));
        if dies {
            notes.push(status(SlotStatus::Dead("simulated replay failure".into())));
        } else {
            notes.push(Note::Status {
                slot: ctx.slot,
                parent: None,
                status: SlotStatus::Completed,
            });
            notes.push(Note::Block {
                slot: ctx.slot,
                parent: ctx.parent,
                parent_blockhash: ctx.parent_blockhash,
                blockhash: ctx.blockhash,
                block_height: ctx.block_height,
                block_time: ctx.clock.unix_timestamp,
                transactions: executed,
            });
            notes.push(status(SlotStatus::Processed));
        }
        BuiltBank {
            notes,
            executed,
            writes: count,
            records,
        }
    }

    /// Produces the next main-chain bank (and maybe a fork), notifies `plugin`, then sends
    /// confirmations and roots.
    pub fn step(&mut self, plugin: &dyn GeyserPlugin) -> Result<StepReport, SimError> {
        self.steps += 1;
        let mut slot = self.next_slot;
        if self.rng.random_bool(self.config.skip_probability) {
            slot += 1; // the leader of this slot produced nothing
        }
        let mut report = StepReport::default();
        let mut fork_notes = Vec::new();
        if self.rng.random_bool(self.config.fork_probability) {
            let dies = self.rng.random_bool(0.5);
            let ctx = self.context(slot, 1);
            let mut sysvars = self.sysvars.clone();
            let fork = self.build_bank(&ctx, &mut sysvars, dies);
            if !dies {
                let lt_hash = self
                    .state
                    .lt_hash_with(driver::last_writes(&fork.notes, slot));
                self.book
                    .insert(slot, ctx.blockhash, lt_hash_checksum(&lt_hash));
            }
            report.fork = Some((slot, dies));
            report.writes += fork.writes;
            fork_notes = fork.notes;
            slot += 1;
        }
        let ctx = self.context(slot, 0);
        let mut sysvars = self.sysvars.clone();
        let mut main = self.build_bank(&ctx, &mut sysvars, false);
        if !self.corrupted
            && self
                .config
                .corrupt_slot
                .is_some_and(|target| slot >= target)
        {
            self.corrupted = true;
            self.corrupt(&mut main.notes, slot);
            main.records += 1;
        }
        report.slot = slot;
        report.writes += main.writes;
        report.main_records = main.records;
        let notes = driver::interleave(&mut self.rng, fork_notes, main.notes);
        // The plugin takes the notes while another thread hashes the main bank's state: its
        // trailers need the checksum only once the bank is confirmed, in a later step.
        let (state, write_version) = (&self.state, &mut self.write_version);
        let (lt_hash, delivered) = std::thread::scope(|scope| {
            let hashing = scope.spawn(|| state.lt_hash_with(driver::last_writes(&notes, slot)));
            let delivered = driver::deliver(plugin, &notes, write_version);
            (hashing.join().expect("hashing does not panic"), delivered)
        });
        delivered.map_err(SimError::plugin)?;
        let checksum = lt_hash_checksum(&lt_hash);
        self.book.insert(slot, ctx.blockhash, checksum);

        // Commit the main bank: its last write of each account.
        self.sysvars = sysvars;
        self.state
            .commit(driver::into_last_writes(notes, slot), lt_hash);
        let bank = BankInfo {
            slot,
            parent: self.tip.slot,
            blockhash: ctx.blockhash,
            bank_hash: derive_hash(self.config.seed, "bank", slot, 0),
            block_height: ctx.block_height,
            checksum,
            confirmed: false,
            transaction_count: self.tip.transaction_count + main.executed,
        };
        report.bank_hash = bank.bank_hash;
        report.timestamp = ctx.clock.unix_timestamp;
        self.unrooted.push_back(bank.clone());
        self.tip = bank;
        self.next_slot = slot + 1;

        let statuses = self.consensus(&mut report);
        driver::deliver(plugin, &statuses, &mut self.write_version).map_err(SimError::plugin)?;
        if self.steps.is_multiple_of(512) {
            self.compact_registry();
        }
        Ok(report)
    }

    /// Adds a write the state never receives, before the bank completes.
    fn corrupt(&self, notes: &mut Vec<Note>, slot: Slot) {
        let completed = notes
            .iter()
            .position(|note| {
                matches!(
                    note,
                    Note::Status {
                        status: SlotStatus::Completed,
                        ..
                    }
                )
            })
            .unwrap_or(notes.len());
        let pubkey = genesis::derive_key(self.config.seed, "corrupt", slot);
        tracing::warn!(slot, %pubkey, "notifying a write the state does not hold (--corrupt-slot)");
        notes.insert(
            completed,
            Note::Account {
                slot,
                pubkey,
                account: SimAccount::new(1_000_000, solana_sdk_ids::system_program::ID, Vec::new()),
                last: false,
            },
        );
    }

    /// The main-chain state after the newest bank, as a snapshot (the bank's fields as the
    /// initial state's, with this slot's identity, accounts and blockhashes).
    pub fn tip_snapshot(&self) -> Genesis {
        let accounts = self.state.sorted();
        let validators = &self.registry.validators;
        Genesis {
            slot: self.tip.slot,
            parent_slot: self.tip.parent,
            block_height: self.tip.block_height,
            blockhash: self.tip.blockhash,
            bank_hash: self.tip.bank_hash,
            parent_bank_hash: derive_hash(self.config.seed, "bank", self.tip.parent, 0),
            lt_hash: self.state.lt_hash().clone(),
            lt_hash_checksum: self.tip.checksum,
            capitalization: self.state.capitalization(),
            accounts_data_len: accounts.iter().map(|(_, a)| a.data.len() as u64).sum(),
            accounts,
            recent_blockhashes: self.sysvars.recent.clone(),
            leader: validators[(self.tip.slot / 4) as usize % validators.len()].identity,
            total_stake: self.genesis.total_stake,
            transaction_count: self.tip.transaction_count,
            bank: self.genesis.bank.clone(),
        }
    }

    /// Confirmations (some omitted) and roots (sometimes only the newest), in shuffled order.
    fn consensus(&mut self, report: &mut StepReport) -> Vec<Note> {
        let mut notes = Vec::new();
        let newest = self.unrooted.len().saturating_sub(1);
        for bank in self.unrooted.iter_mut().take(newest) {
            if !bank.confirmed {
                bank.confirmed = true;
                if self.rng.random_bool(0.7) {
                    notes.push(Note::Status {
                        slot: bank.slot,
                        parent: Some(bank.parent),
                        status: SlotStatus::Confirmed,
                    });
                }
            }
        }
        // Roots sometimes advance several banks at once.
        let lag = self.config.root_lag.max(1) + if self.rng.random_bool(0.25) { 2 } else { 0 };
        let mut rooted = Vec::new();
        while self.unrooted.len() > lag {
            rooted.push(self.unrooted.pop_front().expect("non-empty"));
        }
        if let Some(newest) = rooted.last() {
            let only_newest = self.rng.random_bool(0.2);
            for bank in &rooted {
                if !only_newest || bank.slot == newest.slot {
                    notes.push(Note::Status {
                        slot: bank.slot,
                        parent: Some(bank.parent),
                        status: SlotStatus::Rooted,
                    });
                }
                report.rooted.push(RootedReport {
                    slot: bank.slot,
                    blockhash: bank.blockhash,
                    accounts_lt_hash: bank.checksum,
                });
            }
            self.book
                .prune_below(newest.slot.saturating_sub(BOOK_RETENTION_SLOTS));
        }
        if notes.len() > 1 && self.rng.random_bool(0.3) {
            notes.shuffle(&mut self.rng);
        }
        notes
    }

    /// Drops registry entries that no longer exist on the main chain.
    fn compact_registry(&mut self) {
        let state = &self.state;
        let registry = &mut self.registry;
        let keep = |key: &replication_proto::Pubkey| {
            registry.protected.contains(key) || state.get(key).is_some()
        };
        let wallets: Vec<_> = registry.wallets.iter().copied().filter(keep).collect();
        let tokens: Vec<_> = registry
            .token_accounts
            .iter()
            .copied()
            .filter(|t| keep(&t.key))
            .collect();
        let stakes: Vec<_> = registry.stakes.iter().copied().filter(keep).collect();
        registry.wallets = wallets;
        registry.token_accounts = tokens;
        registry.stakes = stakes;
    }

    /// Unix time of a slot in this simulation.
    pub fn slot_time(&self, slot: Slot) -> i64 {
        slot_time(&self.genesis.bank, slot)
    }
}
