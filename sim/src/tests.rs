//! The simulator on its own, against a plugin that records what it is told.

use {
    super::{
        SimConfig, Simulator,
        layout::ids,
        state::{AccountsState, SimAccount, lt_hash_checksum},
    },
    agave_geyser_plugin_interface::geyser_plugin_interface::{
        GeyserPlugin, ReplicaAccountInfoVersions, ReplicaBlockInfoVersions, Result as PluginResult,
        SlotStatus,
    },
    replication_proto::{Hash, Pubkey, Slot},
    std::{
        collections::{BTreeMap, HashMap},
        sync::Mutex,
    },
};

#[derive(Clone, Debug, PartialEq)]
enum Rec {
    Account {
        slot: Slot,
        pubkey: Pubkey,
        account: SimAccount,
        write_version: u64,
        startup: bool,
    },
    Status(Slot, Option<Slot>, &'static str),
    Block(Slot, Slot, String),
    EndOfStartup,
}

#[derive(Debug, Default)]
struct Recorder {
    recs: Mutex<Vec<Rec>>,
}

impl Recorder {
    fn take(&self) -> Vec<Rec> {
        std::mem::take(&mut self.recs.lock().unwrap())
    }
}

impl GeyserPlugin for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn update_account(
        &self,
        account: ReplicaAccountInfoVersions,
        slot: Slot,
        is_startup: bool,
    ) -> PluginResult<()> {
        let ReplicaAccountInfoVersions::V0_0_3(a) = account else {
            panic!("the validator sends V0_0_3");
        };
        assert!(a.txn.is_none());
        self.recs.lock().unwrap().push(Rec::Account {
            slot,
            pubkey: Pubkey::try_from(a.pubkey).unwrap(),
            account: SimAccount {
                lamports: a.lamports,
                owner: Pubkey::try_from(a.owner).unwrap(),
                executable: a.executable,
                rent_epoch: a.rent_epoch,
                data: a.data.to_vec(),
            },
            write_version: a.write_version,
            startup: is_startup,
        });
        Ok(())
    }

    fn notify_end_of_startup(&self) -> PluginResult<()> {
        self.recs.lock().unwrap().push(Rec::EndOfStartup);
        Ok(())
    }

    fn update_slot_status(
        &self,
        slot: Slot,
        parent: Option<u64>,
        status: &SlotStatus,
    ) -> PluginResult<()> {
        self.recs
            .lock()
            .unwrap()
            .push(Rec::Status(slot, parent, status.as_str()));
        Ok(())
    }

    fn notify_block_metadata(&self, block: ReplicaBlockInfoVersions) -> PluginResult<()> {
        let ReplicaBlockInfoVersions::V0_0_4(b) = block else {
            panic!("agave sends V0_0_4");
        };
        self.recs
            .lock()
            .unwrap()
            .push(Rec::Block(b.slot, b.parent_slot, b.blockhash.to_string()));
        Ok(())
    }
}

fn config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        slots_per_epoch: 32,
        fork_probability: 0.3,
        ..SimConfig::default()
    }
}

fn run(seed: u64, steps: usize) -> (Simulator, Vec<Rec>, Vec<super::StepReport>) {
    let recorder = Recorder::default();
    let mut sim = Simulator::new(config(seed));
    sim.notify_startup(&recorder).unwrap();
    let reports = (0..steps).map(|_| sim.step(&recorder).unwrap()).collect();
    (sim, recorder.take(), reports)
}

#[test]
fn deterministic_from_the_seed() {
    let (a, recs_a, reports_a) = run(9, 40);
    let (b, recs_b, reports_b) = run(9, 40);
    assert_eq!(recs_a, recs_b);
    assert_eq!(
        reports_a.iter().map(|r| &r.rooted).collect::<Vec<_>>(),
        reports_b.iter().map(|r| &r.rooted).collect::<Vec<_>>()
    );
    assert_eq!(a.state().lt_hash(), b.state().lt_hash());
    let (c, _, _) = run(10, 40);
    assert_ne!(a.state().lt_hash(), c.state().lt_hash());
    assert_ne!(a.genesis().lt_hash_checksum, c.genesis().lt_hash_checksum);
}

#[test]
fn genesis_has_the_common_accounts_in_their_layouts() {
    let sim = Simulator::new(config(1));
    let genesis = sim.genesis();
    let accounts: HashMap<Pubkey, &SimAccount> =
        genesis.accounts.iter().map(|(k, a)| (*k, a)).collect();
    let mut rebuilt = AccountsState::default();
    for (k, a) in &genesis.accounts {
        rebuilt.set(*k, a.clone());
    }
    assert_eq!(
        lt_hash_checksum(rebuilt.lt_hash()),
        genesis.lt_hash_checksum
    );
    assert_eq!(rebuilt.capitalization(), genesis.capitalization);
    for (id, len) in [
        (ids::sysvar::clock::ID, 40),
        (ids::sysvar::rent::ID, 17),
        (ids::sysvar::epoch_schedule::ID, 33),
        (ids::sysvar::slot_hashes::ID, 20_488),
        (ids::sysvar::slot_history::ID, 131_097),
        (ids::sysvar::stake_history::ID, 16_392),
        (ids::sysvar::recent_blockhashes::ID, 6_008),
        (ids::sysvar::epoch_rewards::ID, 81),
        (ids::sysvar::last_restart_slot::ID, 8),
    ] {
        let account = accounts
            .get(&id)
            .unwrap_or_else(|| panic!("sysvar {id} missing"));
        assert_eq!(account.data.len(), len, "sysvar {id}");
        assert_eq!(account.owner, ids::sysvar::ID);
    }
    let clock: solana_sysvar::clock::Clock =
        bincode::deserialize(&accounts[&ids::sysvar::clock::ID].data).unwrap();
    assert_eq!(clock.slot, genesis.slot);
    let owned_by = |owner: Pubkey| accounts.values().filter(|a| a.owner == owner).count();
    assert!(owned_by(ids::token()) > 30);
    assert!(owned_by(ids::token_2022()) > 30);
    assert_eq!(owned_by(ids::vote::ID), 3);
    assert_eq!(owned_by(ids::stake::ID), 7);
    assert_eq!(owned_by(ids::address_lookup_table::ID), 1);
    assert!(accounts[&ids::token()].executable);
    assert!(accounts[&ids::token_2022()].executable);
    // A Token-2022 mint with extensions is longer than an account's base state.
    assert!(
        accounts
            .values()
            .any(|a| a.owner == ids::token_2022() && a.data.len() > 170 && a.data.len() < 400)
    );
    // The nonce account: 80 bytes, system-owned.
    assert!(
        accounts
            .values()
            .any(|a| a.owner == ids::system_program::ID && a.data.len() == 80)
    );
}

#[test]
fn banks_are_notified_like_agave_does() {
    let (sim, recs, reports) = run(5, 120);
    // The recorder asks for snapshot accounts (the trait's default): all flagged startup, then
    // the end of startup.
    let end = recs.iter().position(|r| r == &Rec::EndOfStartup).unwrap();
    assert_eq!(end, sim.genesis().accounts.len());
    assert!(
        recs[..end]
            .iter()
            .all(|r| matches!(r, Rec::Account { startup: true, .. }))
    );
    let recs = &recs[end + 1..];
    let dead: Vec<Slot> = reports
        .iter()
        .filter_map(|r| r.fork.filter(|f| f.1).map(|f| f.0))
        .collect();
    let abandoned: Vec<Slot> = reports
        .iter()
        .filter_map(|r| r.fork.filter(|f| !f.1).map(|f| f.0))
        .collect();
    assert!(!dead.is_empty() && !abandoned.is_empty());

    // Per slot: account writes (sysvars first), CreatedBank, more writes, block, Processed.
    let mut per_slot: BTreeMap<Slot, Vec<&Rec>> = BTreeMap::new();
    let mut last_version = 0;
    for rec in recs {
        match rec {
            Rec::Account {
                slot,
                write_version,
                startup,
                ..
            } => {
                assert!(!startup);
                assert!(*write_version > last_version);
                last_version = *write_version;
                per_slot.entry(*slot).or_default().push(rec);
            }
            Rec::Status(slot, _, _) | Rec::Block(slot, _, _) => {
                per_slot.entry(*slot).or_default().push(rec)
            }
            Rec::EndOfStartup => {}
        }
    }
    let mut rooted_slots = Vec::new();
    let mut owners: HashMap<Pubkey, Pubkey> = sim
        .genesis()
        .accounts
        .iter()
        .map(|(k, a)| (*k, a.owner))
        .collect();
    let mut owner_changes = 0;
    for (slot, recs) in &per_slot {
        let created = recs
            .iter()
            .position(|r| matches!(r, Rec::Status(_, _, "created_bank")))
            .unwrap_or_else(|| panic!("slot {slot} has no CreatedBank"));
        let clock = recs[..created]
            .iter()
            .any(|r| matches!(r, Rec::Account { pubkey, .. } if *pubkey == ids::sysvar::clock::ID));
        let slot_hashes = recs[..created].iter().any(
            |r| matches!(r, Rec::Account { pubkey, .. } if *pubkey == ids::sysvar::slot_hashes::ID),
        );
        assert!(
            clock && slot_hashes,
            "slot {slot}: sysvars before CreatedBank"
        );
        let block = recs.iter().position(|r| matches!(r, Rec::Block(..)));
        if dead.contains(slot) {
            assert!(block.is_none());
            assert!(recs.iter().any(|r| matches!(r, Rec::Status(_, _, "dead"))));
            continue;
        }
        let block = block.unwrap_or_else(|| panic!("slot {slot} has no block metadata"));
        let processed = recs
            .iter()
            .position(|r| matches!(r, Rec::Status(_, _, "processed")))
            .unwrap();
        assert!(created < block && block < processed);
        assert!(
            recs[block..]
                .iter()
                .all(|r| !matches!(r, Rec::Account { .. })),
            "slot {slot}: writes after the freeze"
        );
        if recs
            .iter()
            .any(|r| matches!(r, Rec::Status(_, _, "rooted")))
        {
            rooted_slots.push(*slot);
            assert!(!abandoned.contains(slot));
        }
        for rec in recs {
            if let Rec::Account {
                pubkey, account, ..
            } = rec
            {
                if account.lamports == 0 {
                    assert_eq!(account.owner, Pubkey::default(), "closed accounts");
                    assert!(account.data.is_empty());
                } else if !abandoned.contains(slot)
                    && let Some(old) = owners.insert(*pubkey, account.owner)
                    && old != account.owner
                {
                    owner_changes += 1;
                }
            }
        }
    }
    assert!(owner_changes > 0);
    // Some rooted statuses were left out (roots of several banks at once, only the newest
    // notified), so fewer slots carry a Rooted status than were rooted.
    let reported: usize = reports.iter().map(|r| r.rooted.len()).sum();
    assert!(rooted_slots.len() < reported);

    assert_replay_reproduces_rooted_checksums(&sim, recs, &reports);
}

/// Replaying the main chain's writes (after startup; fork banks left out) on the initial state
/// reproduces each rooted checksum; returns how many it checked.
fn assert_replay_reproduces_rooted_checksums(
    sim: &Simulator,
    recs: &[Rec],
    reports: &[super::StepReport],
) -> usize {
    let mut state = AccountsState::default();
    state.extend(sim.genesis().accounts.clone());
    let forks: Vec<Slot> = reports
        .iter()
        .filter_map(|r| r.fork.map(|(slot, _)| slot))
        .collect();
    let checksums: BTreeMap<Slot, Hash> = reports
        .iter()
        .flat_map(|r| r.rooted.iter().map(|x| (x.slot, x.accounts_lt_hash)))
        .collect();
    let mut per_slot: BTreeMap<Slot, Vec<(Pubkey, &SimAccount)>> = BTreeMap::new();
    for rec in recs {
        if let Rec::Account {
            slot,
            pubkey,
            account,
            startup: false,
            ..
        } = rec
            && !forks.contains(slot)
        {
            per_slot.entry(*slot).or_default().push((*pubkey, account));
        }
    }
    let mut checked = 0;
    for (slot, writes) in per_slot {
        for (pubkey, account) in writes {
            state.set(pubkey, account.clone());
        }
        if let Some(expected) = checksums.get(&slot) {
            assert_eq!(lt_hash_checksum(state.lt_hash()), *expected, "slot {slot}");
            checked += 1;
        }
    }
    checked
}

#[test]
fn bulk_accounts_are_written_mostly_once_per_slot_and_keep_the_lattice_hash() {
    const ACCOUNTS: usize = 20_000;
    const TRANSACTIONS: usize = 400;
    let recorder = Recorder::default();
    let mut sim = Simulator::new(SimConfig {
        transactions_per_slot: TRANSACTIONS,
        accounts: Some(ACCOUNTS),
        ..config(3)
    });
    let small = Simulator::new(config(3)).genesis().accounts.len();
    let genesis = sim.genesis();
    assert_eq!(genesis.accounts.len(), small + ACCOUNTS);
    let mut rebuilt = AccountsState::default();
    for (k, a) in &genesis.accounts {
        rebuilt.set(*k, a.clone());
    }
    assert_eq!(rebuilt.lt_hash(), &genesis.lt_hash);
    assert_eq!(rebuilt.capitalization(), genesis.capitalization);
    let owned_by = |owners: &[Pubkey]| {
        genesis
            .accounts
            .iter()
            .filter(|(_, a)| owners.contains(&a.owner))
            .count()
    };
    let tokens = owned_by(&[ids::token(), ids::token_2022()]);
    assert!(
        tokens * 100 >= ACCOUNTS * 59,
        "{tokens} token accounts and mints"
    );
    assert!(
        owned_by(&[ids::token_2022()]) * 5 >= tokens,
        "Token-2022 among them"
    );
    assert!(owned_by(&[ids::system_program::ID]) * 100 >= ACCOUNTS * 29);

    sim.notify_startup(&recorder).unwrap();
    let reports: Vec<_> = (0..24).map(|_| sim.step(&recorder).unwrap()).collect();
    let recs = recorder.take();
    let mut written: HashMap<Slot, std::collections::HashSet<Pubkey>> = HashMap::new();
    for rec in &recs {
        if let Rec::Account {
            slot,
            pubkey,
            startup: false,
            ..
        } = rec
        {
            written.entry(*slot).or_default().insert(*pubkey);
        }
    }
    for report in &reports {
        // What the main bank's slot carries: each account it wrote, once.
        assert_eq!(report.main_records, written[&report.slot].len());
        assert!(
            report.main_records >= 3 * TRANSACTIONS,
            "slot {}: {} accounts written",
            report.slot,
            report.main_records
        );
    }
    assert!(assert_replay_reproduces_rooted_checksums(&sim, &recs, &reports) > 10);
    assert_eq!(sim.state().lt_hash(), &{
        let mut state = AccountsState::default();
        state.extend(sim.state().sorted());
        state.lt_hash().clone()
    });
}
