//! Index entries, lattice hash, capitalization and counts across owner changes, token-account
//! closes, mint and delegate changes, and re-creation of deleted accounts.

use {
    replica::store::{
        AccountUpdate, AccountsStore, IndexKind, SlotCommit, SlotMeta, StoreError,
        check::check_store, workload,
    },
    snapshot_tools::{
        archive::ArchiveFormat,
        synthetic::{SYSTEM_PROGRAM, SyntheticAccounts, TOKEN_PROGRAM, token_account_data},
    },
    solana_hash::Hash,
    solana_pubkey::Pubkey,
    std::{collections::BTreeSet, ops::ControlFlow},
};

const TOKEN_2022: Pubkey = Pubkey::from_str_const("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");

fn bootstrapped(dir: &std::path::Path) -> AccountsStore {
    let archive = SyntheticAccounts::new(9)
        .write_archive(dir, 200, 10, ArchiveFormat::TarZstd)
        .unwrap();
    workload::load_store(&dir.join("accounts"), &archive).unwrap()
}

fn meta(slot: u64) -> SlotMeta {
    SlotMeta {
        slot,
        parent: slot - 1,
        blockhash: Hash::new_from_array([slot as u8; 32]),
        block_height: Some(slot),
        block_time: None,
        executed_transaction_count: None,
        transaction_count: None,
    }
}

fn commit(store: &AccountsStore, slot: u64, updates: &[AccountUpdate<'_>]) {
    store
        .commit(&[SlotCommit {
            meta: meta(slot),
            updates,
            expected_lt_hash: None,
            previous: None,
            lt_hash_after: None,
        }])
        .unwrap();
    let report = check_store(store).unwrap();
    assert!(
        report.problems.is_empty(),
        "after slot {slot}: {:?}",
        report.problems
    );
}

fn indexed(store: &AccountsStore, kind: IndexKind, key: &Pubkey) -> BTreeSet<Pubkey> {
    let mut keys = BTreeSet::new();
    let _ = store
        .view()
        .index_keys(kind, key, |pubkey| {
            keys.insert(pubkey);
            ControlFlow::Continue(())
        })
        .unwrap();
    keys
}

fn update<'a>(pubkey: Pubkey, lamports: u64, owner: Pubkey, data: &'a [u8]) -> AccountUpdate<'a> {
    AccountUpdate {
        pubkey,
        lamports,
        owner,
        executable: false,
        rent_epoch: u64::MAX,
        data,
    }
}

#[test]
fn index_entries_follow_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = bootstrapped(dir.path());
    assert!(check_store(&store).unwrap().problems.is_empty());
    let base = store.root().unwrap();

    let account = Pubkey::new_unique();
    let (mint_a, mint_b) = (Pubkey::new_unique(), Pubkey::new_unique());
    let (owner_a, owner_b) = (Pubkey::new_unique(), Pubkey::new_unique());
    let delegate = Pubkey::new_unique();

    // Created as a token account.
    let data = token_account_data(&mint_a, &owner_a, 10, None);
    commit(
        &store,
        11,
        &[update(account, 2_039_280, TOKEN_PROGRAM, &data)],
    );
    assert_eq!(
        indexed(&store, IndexKind::SplTokenOwner, &owner_a),
        [account].into()
    );
    assert_eq!(
        indexed(&store, IndexKind::SplTokenMint, &mint_a),
        [account].into()
    );
    assert!(indexed(&store, IndexKind::ProgramId, &TOKEN_PROGRAM).contains(&account));
    assert!(indexed(&store, IndexKind::SplTokenDelegate, &delegate).is_empty());
    assert_eq!(store.root().unwrap().accounts, base.accounts + 1);

    // Token owner changes, a delegate is set.
    let data = token_account_data(&mint_a, &owner_b, 10, Some(&delegate));
    commit(
        &store,
        12,
        &[update(account, 2_039_280, TOKEN_PROGRAM, &data)],
    );
    assert!(indexed(&store, IndexKind::SplTokenOwner, &owner_a).is_empty());
    assert_eq!(
        indexed(&store, IndexKind::SplTokenOwner, &owner_b),
        [account].into()
    );
    assert_eq!(
        indexed(&store, IndexKind::SplTokenDelegate, &delegate),
        [account].into()
    );

    // Mint changes (as after a close and re-init), the delegate is revoked.
    let data = token_account_data(&mint_b, &owner_b, 0, None);
    commit(
        &store,
        13,
        &[update(account, 2_039_280, TOKEN_PROGRAM, &data)],
    );
    assert!(indexed(&store, IndexKind::SplTokenMint, &mint_a).is_empty());
    assert_eq!(
        indexed(&store, IndexKind::SplTokenMint, &mint_b),
        [account].into()
    );
    assert!(indexed(&store, IndexKind::SplTokenDelegate, &delegate).is_empty());

    // Moved to Token-2022 with an extension: the program index moves, token indexes stay.
    let mut extended = token_account_data(&mint_b, &owner_b, 0, None);
    extended.resize(170, 0);
    extended[165] = 2;
    commit(
        &store,
        14,
        &[update(account, 2_039_280, TOKEN_2022, &extended)],
    );
    assert!(!indexed(&store, IndexKind::ProgramId, &TOKEN_PROGRAM).contains(&account));
    assert_eq!(
        indexed(&store, IndexKind::ProgramId, &TOKEN_2022),
        [account].into()
    );
    assert_eq!(
        indexed(&store, IndexKind::SplTokenOwner, &owner_b),
        [account].into()
    );

    // Closed: a zero-lamport write with a zeroed owner, as Geyser reports a close.
    commit(&store, 15, &[update(account, 0, Pubkey::default(), &[])]);
    for (kind, key) in [
        (IndexKind::ProgramId, TOKEN_2022),
        (IndexKind::SplTokenOwner, owner_b),
        (IndexKind::SplTokenMint, mint_b),
    ] {
        assert!(
            !indexed(&store, kind, &key).contains(&account),
            "{kind:?} entry survived the close"
        );
    }
    assert!(store.view().get(&account).unwrap().is_none());
    assert_eq!(store.root().unwrap().accounts, base.accounts);

    // Re-created as a plain system account: only the program index.
    commit(&store, 16, &[update(account, 1_000, SYSTEM_PROGRAM, &[])]);
    assert!(indexed(&store, IndexKind::ProgramId, &SYSTEM_PROGRAM).contains(&account));
    assert!(indexed(&store, IndexKind::SplTokenOwner, &owner_b).is_empty());
    let stored = store.view().get(&account).unwrap().unwrap();
    assert_eq!(
        (stored.lamports, stored.owner, stored.slot),
        (1_000, SYSTEM_PROGRAM, 16)
    );

    // Deleting and re-creating inside one multi-slot commit.
    let data = token_account_data(&mint_a, &owner_a, 1, None);
    let deletion = [update(account, 0, Pubkey::default(), &[])];
    let recreation = [update(account, 5_000, TOKEN_PROGRAM, &data)];
    store
        .commit(&[
            SlotCommit {
                meta: meta(17),
                updates: &deletion,
                expected_lt_hash: None,
                previous: None,
                lt_hash_after: None,
            },
            SlotCommit {
                meta: meta(18),
                updates: &recreation,
                expected_lt_hash: None,
                previous: None,
                lt_hash_after: None,
            },
        ])
        .unwrap();
    assert!(check_store(&store).unwrap().problems.is_empty());
    assert_eq!(
        indexed(&store, IndexKind::SplTokenOwner, &owner_a),
        [account].into()
    );
    assert_eq!(store.root().unwrap().slot, 18);
    assert_eq!(
        store.root().unwrap().capitalization,
        base.capitalization + 5_000
    );
}

#[test]
fn a_failed_lattice_hash_check_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = bootstrapped(dir.path());
    let before = store.root().unwrap();
    let data = [1u8, 2, 3];
    let updates = [update(Pubkey::new_unique(), 9, SYSTEM_PROGRAM, &data)];
    let error = store
        .commit(&[SlotCommit {
            meta: meta(11),
            updates: &updates,
            expected_lt_hash: Some(Hash::default()),
            previous: None,
            lt_hash_after: None,
        }])
        .unwrap_err();
    assert!(
        matches!(error, StoreError::LtHashMismatch { slot: 11, .. }),
        "{error}"
    );
    assert_eq!(store.root().unwrap(), before);
    assert!(store.view().get(&updates[0].pubkey).unwrap().is_none());
    // An old slot is refused.
    let error = store
        .commit(&[SlotCommit {
            meta: meta(10),
            updates: &updates,
            expected_lt_hash: None,
            previous: None,
            lt_hash_after: None,
        }])
        .unwrap_err();
    assert!(
        matches!(error, StoreError::SlotOrder { slot: 10, root: 10 }),
        "{error}"
    );
}

#[test]
fn views_are_consistent_while_commits_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = bootstrapped(dir.path());
    let pubkey = Pubkey::new_unique();
    let updates = [update(pubkey, 9, SYSTEM_PROGRAM, &[])];
    let view = store.view();
    store
        .commit(&[SlotCommit {
            meta: meta(11),
            updates: &updates,
            expected_lt_hash: None,
            previous: None,
            lt_hash_after: None,
        }])
        .unwrap();
    assert_eq!(view.root_slot().unwrap(), 10);
    assert!(view.get(&pubkey).unwrap().is_none());
    assert_eq!(store.view().root_slot().unwrap(), 11);
    assert_eq!(store.view().get(&pubkey).unwrap().unwrap().lamports, 9);
}

/// A commit given the previous versions by its caller (as the sync path does from the overlay)
/// ends in the same state as one that reads them, also for a chain of slots in one batch; a
/// wrong previous version is caught by the lattice-hash check and nothing is written.
#[test]
fn previous_versions_from_the_caller_give_the_same_state() {
    use replica::store::Account;

    let (dir_read, dir_given) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (reads, given) = (
        bootstrapped(dir_read.path()),
        bootstrapped(dir_given.path()),
    );
    let slots = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(9),
        keyspace: 200,
        updates_per_slot: 60,
    };
    let previous_in = |store: &AccountsStore, updates: &[AccountUpdate<'_>]| {
        let pubkeys: Vec<Pubkey> = updates.iter().map(|update| update.pubkey).collect();
        let mut previous: Vec<Option<Account>> = Vec::new();
        let _ = store
            .view()
            .for_each_of(&pubkeys, |_, account| {
                previous.push(account.map(|account| account.to_account()));
                ControlFlow::Continue(())
            })
            .unwrap();
        previous
    };
    let writes: Vec<_> = (11..=16).map(|slot| slots.slot(slot)).collect();
    let updates: Vec<Vec<AccountUpdate<'_>>> = writes
        .iter()
        .map(|writes| workload::as_updates(writes))
        .collect();
    let mut previous = Vec::new();
    for (slot, updates) in (11..=16).zip(&updates) {
        previous.push(previous_in(&reads, updates));
        commit(&reads, slot, updates);
    }
    // The same slots two at a time: the second of each pair is given versions that the first
    // wrote in the same batch.
    for pair in 0..3 {
        let commits: Vec<SlotCommit<'_>> = (0..2)
            .map(|offset| {
                let index = pair * 2 + offset;
                SlotCommit {
                    meta: meta(11 + index as u64),
                    updates: &updates[index],
                    expected_lt_hash: None,
                    previous: Some(&previous[index]),
                    lt_hash_after: None,
                }
            })
            .collect();
        given.commit(&commits).unwrap();
    }
    assert_eq!(given.root(), reads.root());
    assert!(check_store(&given).unwrap().problems.is_empty());

    // Versions that are not the parent's: the state hash disagrees and nothing is stored.
    let next = slots.slot(17);
    let next_updates = workload::as_updates(&next);
    let expected = reads
        .commit(&[SlotCommit {
            meta: meta(17),
            updates: &next_updates,
            expected_lt_hash: None,
            previous: None,
            lt_hash_after: None,
        }])
        .unwrap()
        .lt_hashes[0]
        .1;
    let absent = vec![None; next_updates.len()];
    let before = given.root();
    let error = given
        .commit(&[SlotCommit {
            meta: meta(17),
            updates: &next_updates,
            expected_lt_hash: Some(expected),
            previous: Some(&absent),
            lt_hash_after: None,
        }])
        .unwrap_err();
    assert!(matches!(error, StoreError::LtHashMismatch { slot: 17, .. }));
    assert_eq!(given.root(), before);
}

/// An index entry lost behind the store's back (disk damage, a bug): the open-time check sees
/// the family's count disagree with its record and asks for a rebuild, `store verify` reports
/// it, and the rebuild restores the entries.
#[test]
fn a_lost_index_entry_is_caught_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = bootstrapped(dir.path());
    assert_eq!(
        store.check_indexes().unwrap(),
        replica::store::IndexCheck::Complete
    );
    let complete = store.count_index_entries().unwrap();
    let path = store.path().to_path_buf();
    let config = store.config().clone();
    drop(store);
    {
        let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).unwrap();
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &path, &families).unwrap();
        let owner_cf = db.cf_handle(IndexKind::SplTokenOwner.cf_name()).unwrap();
        let first = db
            .iterator_cf(owner_cf, rocksdb::IteratorMode::Start)
            .next()
            .unwrap()
            .unwrap()
            .0;
        db.delete_cf(owner_cf, first).unwrap();
    }
    let store = AccountsStore::open(&path, config).unwrap();
    match store.check_indexes().unwrap() {
        replica::store::IndexCheck::Rebuild(reason) => {
            assert!(reason.contains("index_spl_token_owner"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!check_store(&store).unwrap().problems.is_empty());
    store.rebuild_indexes().unwrap();
    assert_eq!(store.count_index_entries().unwrap(), complete);
    assert_eq!(
        store.check_indexes().unwrap(),
        replica::store::IndexCheck::Complete
    );
    assert!(check_store(&store).unwrap().problems.is_empty());
}

/// Many slots committed in one batch (as a catch-up does) write each account once, at its last
/// version: the state, its indexes, lattice hash, counts and each slot's delta log equal those of
/// the same slots committed one by one, with accounts rewritten, re-owned and deleted across
/// the slots of the batch.
#[test]
fn one_batch_of_many_slots_equals_slot_by_slot() {
    let (dir_batch, dir_single) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (batched, single) = (
        bootstrapped(dir_batch.path()),
        bootstrapped(dir_single.path()),
    );
    // 12 slots of 80 writes over 200 accounts: most accounts are written in several slots.
    let slots = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(9),
        keyspace: 200,
        updates_per_slot: 80,
    };
    let writes: Vec<_> = (11..23).map(|slot| slots.slot(slot)).collect();
    let updates: Vec<Vec<AccountUpdate<'_>>> = writes
        .iter()
        .map(|slot| workload::as_updates(slot))
        .collect();
    let commits: Vec<SlotCommit<'_>> = updates
        .iter()
        .enumerate()
        .map(|(n, updates)| SlotCommit {
            meta: meta(11 + n as u64),
            updates,
            expected_lt_hash: None,
            previous: None,
            lt_hash_after: None,
        })
        .collect();
    let stats = batched.commit(&commits).unwrap();
    for commit in &commits {
        single.commit(std::slice::from_ref(commit)).unwrap();
    }
    assert_eq!(batched.root(), single.root());
    assert_eq!(stats.lt_hashes.len(), 12);
    // Every index entry matches an account and back (stale entries of an intermediate
    // version would show here).
    for store in [&batched, &single] {
        let report = check_store(store).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
    let all = |store: &AccountsStore| {
        let mut accounts = Vec::new();
        let _ = store
            .view()
            .scan(|pubkey, account| {
                accounts.push((*pubkey, account.to_account()));
                ControlFlow::Continue(())
            })
            .unwrap();
        accounts
    };
    assert_eq!(
        all(&batched),
        all(&single),
        "accounts, with the slot of their last write"
    );
    for slot in 11..23 {
        let (a, b) = (
            batched.delta_slot(slot).unwrap().unwrap(),
            single.delta_slot(slot).unwrap().unwrap(),
        );
        assert_eq!(
            (a.records, a.accounts_lt_hash),
            (b.records, b.accounts_lt_hash),
            "delta log of slot {slot}"
        );
    }
}

/// A commit given the state's lattice hash after each slot (as the sync path computes it when
/// the slot enters the overlay) skips hashing and ends in the same state; a wrong one is caught
/// by the upstream's hash and nothing is written.
#[test]
fn a_lattice_hash_from_the_caller_gives_the_same_state() {
    let (dir_hashing, dir_given) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (hashing, given) = (
        bootstrapped(dir_hashing.path()),
        bootstrapped(dir_given.path()),
    );
    let slots = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(9),
        keyspace: 200,
        updates_per_slot: 60,
    };
    let writes: Vec<_> = (11..17).map(|slot| slots.slot(slot)).collect();
    let updates: Vec<Vec<AccountUpdate<'_>>> = writes
        .iter()
        .map(|slot| workload::as_updates(slot))
        .collect();
    let mut after = Vec::new();
    for (n, updates) in updates.iter().enumerate() {
        hashing
            .commit(&[SlotCommit {
                meta: meta(11 + n as u64),
                updates,
                expected_lt_hash: None,
                previous: None,
                lt_hash_after: None,
            }])
            .unwrap();
        after.push(hashing.root().unwrap());
    }
    let wrong = after[1].lt_hash.clone();
    let error = given
        .commit(&[SlotCommit {
            meta: meta(11),
            updates: &updates[0],
            expected_lt_hash: Some(after[0].lt_hash_checksum()),
            previous: None,
            lt_hash_after: Some(&wrong),
        }])
        .unwrap_err();
    assert!(
        matches!(error, StoreError::LtHashMismatch { slot: 11, .. }),
        "{error}"
    );
    assert_eq!(given.root().unwrap().slot, 10);
    let commits: Vec<SlotCommit<'_>> = updates
        .iter()
        .zip(&after)
        .enumerate()
        .map(|(n, (updates, root))| SlotCommit {
            meta: meta(11 + n as u64),
            updates,
            expected_lt_hash: Some(root.lt_hash_checksum()),
            previous: None,
            lt_hash_after: Some(&root.lt_hash),
        })
        .collect();
    given.commit(&commits).unwrap();
    assert_eq!(given.root(), hashing.root());
    let report = check_store(&given).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// Index scans past one read batch (256 accounts) are read ahead on other threads: every
/// account comes once, in pubkey order, with its stored version, around the batch edges; a
/// visitor that stops is not called again; a deleted account is not visited.
#[test]
fn index_scans_of_many_batches_visit_each_account_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = bootstrapped(dir.path());
    let mut slot = store.root_slot().unwrap();
    for (program_seed, count) in [255u64, 256, 257, 512, 513, 1100].into_iter().enumerate() {
        let program = Pubkey::new_from_array([program_seed as u8 + 100; 32]);
        let datas: Vec<Vec<u8>> = (0..count)
            .map(|index| index.to_le_bytes().to_vec())
            .collect();
        let pubkeys: Vec<Pubkey> = (0..count).map(|_| Pubkey::new_unique()).collect();
        let updates: Vec<AccountUpdate<'_>> = pubkeys
            .iter()
            .zip(&datas)
            .enumerate()
            .map(|(index, (pubkey, data))| update(*pubkey, 1_000 + index as u64, program, data))
            .collect();
        slot += 1;
        commit(&store, slot, &updates);
        // One account in the middle deleted again.
        let deleted = pubkeys[count as usize / 2];
        slot += 1;
        commit(&store, slot, &[update(deleted, 0, program, &[])]);

        let mut expected: Vec<Pubkey> = pubkeys.iter().copied().filter(|p| *p != deleted).collect();
        expected.sort();
        let view = store.view();
        let mut visited = Vec::new();
        let flow = view
            .index_scan(IndexKind::ProgramId, &program, |pubkey, account| {
                let index = pubkeys.iter().position(|p| p == pubkey).unwrap();
                assert_eq!(account.lamports(), 1_000 + index as u64, "{pubkey}");
                assert_eq!(account.data(), datas[index].as_slice(), "{pubkey}");
                visited.push(*pubkey);
                ControlFlow::Continue(())
            })
            .unwrap();
        assert!(flow.is_continue());
        assert_eq!(visited, expected, "{count} accounts");

        for stop_after in [1, 256, 257, expected.len()] {
            if stop_after > expected.len() {
                continue;
            }
            let mut calls = 0;
            let flow = view
                .index_scan(IndexKind::ProgramId, &program, |_, _| {
                    calls += 1;
                    if calls == stop_after {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })
                .unwrap();
            assert!(flow.is_break(), "{count} accounts, stop after {stop_after}");
            assert_eq!(calls, stop_after, "{count} accounts");
        }
    }
}
