use {
    super::{overlay::OverlaySlot, *},
    crate::store::{AccountUpdate, IndexConfig, SlotCommit, workload},
    snapshot_tools::{
        archive::ArchiveFormat,
        synthetic::{SyntheticAccounts, TOKEN_PROGRAM, token_account_data},
    },
};

fn store(dir: &std::path::Path) -> (AccountsStore, SyntheticAccounts) {
    let accounts = SyntheticAccounts::new(2);
    let archive = accounts
        .write_archive(dir, 300, 10, ArchiveFormat::TarZstd)
        .unwrap();
    (
        workload::load_store(&dir.join("accounts"), &archive).unwrap(),
        accounts,
    )
}

fn overlay_slot(
    slot: Slot,
    parent: Slot,
    accounts: Vec<(Pubkey, Option<Account>)>,
) -> Arc<OverlaySlot> {
    let meta = SlotMeta {
        slot,
        parent,
        blockhash: Hash::new_from_array([slot as u8; 32]),
        block_height: Some(slot),
        block_time: None,
        executed_transaction_count: None,
        transaction_count: None,
    };
    Arc::new(OverlaySlot::new(
        meta,
        accounts.into_iter().collect(),
        &IndexConfig::default(),
        1,
        None,
    ))
}

fn token(owner: &Pubkey, mint: &Pubkey, lamports: u64, slot: Slot) -> Account {
    Account {
        lamports,
        rent_epoch: u64::MAX,
        owner: TOKEN_PROGRAM,
        executable: false,
        slot,
        data: token_account_data(mint, owner, 1, None),
    }
}

fn owned_by(view: &BankView<'_>, owner: &Pubkey) -> Vec<(Pubkey, u64)> {
    let mut seen = Vec::new();
    let _ = view
        .index_scan(IndexKind::SplTokenOwner, owner, |pubkey, account| {
            seen.push((*pubkey, account.lamports));
            ControlFlow::Continue(())
        })
        .unwrap();
    seen
}

#[test]
fn confirmed_chain_shadows_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (store, accounts) = store(dir.path());
    // Account 0 is the first token account; its owner holds token accounts 0..100 (only a few
    // exist among 300 accounts).
    let owner = accounts.token_owner_of(0);
    let mint = accounts.mint(0);
    let finalized = BankView::new(&store, Vec::new()).unwrap();
    let rooted = owned_by(&finalized, &owner);
    assert!(rooted.len() > 10);
    let (moved, deleted) = (rooted[0].0, rooted[1].0);
    let created = Pubkey::new_from_array([0xff; 32]);
    let other_owner = Pubkey::new_unique();

    // Slot 11: `moved` goes to another owner, `created` appears. Slot 12: `deleted` is closed,
    // and `created` is rewritten.
    let chain = vec![
        overlay_slot(
            12,
            11,
            vec![
                (deleted, None),
                (created, Some(token(&owner, &mint, 7, 12))),
            ],
        ),
        overlay_slot(
            11,
            10,
            vec![
                (moved, Some(token(&other_owner, &mint, 5, 11))),
                (created, Some(token(&owner, &mint, 6, 11))),
            ],
        ),
    ];
    let confirmed = BankView::new(&store, chain).unwrap();
    assert_eq!(confirmed.slot(), 12);
    let mut expected: Vec<(Pubkey, u64)> = rooted
        .iter()
        .filter(|(pubkey, _)| *pubkey != moved && *pubkey != deleted)
        .copied()
        .collect();
    expected.push((created, 7));
    expected.sort();
    assert_eq!(owned_by(&confirmed, &owner), expected);
    assert_eq!(owned_by(&confirmed, &other_owner), vec![(moved, 5)]);
    // The finalized view is unchanged.
    assert_eq!(owned_by(&finalized, &owner), rooted);

    assert!(confirmed.get(&deleted).unwrap().is_none());
    assert_eq!(confirmed.get(&created).unwrap().unwrap().lamports, 7);
    let many = confirmed
        .multi_get(&[created, deleted, moved, rooted[2].0])
        .unwrap();
    assert_eq!(
        many.iter()
            .map(|account| account.as_ref().map(|account| account.lamports))
            .collect::<Vec<_>>(),
        vec![Some(7), None, Some(5), Some(rooted[2].1)]
    );

    // A full scan sees the same merge, in pubkey order.
    let mut scanned = Vec::new();
    let _ = confirmed.scan(|pubkey, _| {
        scanned.push(*pubkey);
        ControlFlow::Continue(())
    });
    assert_eq!(scanned.len(), 300 - 1 + 1);
    assert!(scanned.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(!scanned.contains(&deleted) && scanned.contains(&created));

    // Once slot 11 is rooted, a view built with the same chain drops the rooted part.
    let update = AccountUpdate {
        pubkey: moved,
        lamports: 5,
        owner: TOKEN_PROGRAM,
        executable: false,
        rent_epoch: u64::MAX,
        data: &token(&other_owner, &mint, 5, 11).data,
    };
    let created_account = token(&owner, &mint, 6, 11);
    let created_update = AccountUpdate {
        pubkey: created,
        lamports: 6,
        owner: TOKEN_PROGRAM,
        executable: false,
        rent_epoch: u64::MAX,
        data: &created_account.data,
    };
    store
        .commit(&[SlotCommit {
            meta: SlotMeta {
                slot: 11,
                parent: 10,
                blockhash: Hash::new_from_array([11; 32]),
                block_height: Some(11),
                block_time: None,
                executed_transaction_count: None,
                transaction_count: None,
            },
            updates: &[update, created_update],
            expected_lt_hash: None,
            previous: None,
            lt_hash_after: None,
        }])
        .unwrap();
    let chain = vec![overlay_slot(
        12,
        11,
        vec![
            (deleted, None),
            (created, Some(token(&owner, &mint, 7, 12))),
        ],
    )];
    let confirmed = BankView::new(&store, chain).unwrap();
    assert_eq!(confirmed.root_slot(), 11);
    assert_eq!(owned_by(&confirmed, &owner), expected);
    let hashes = confirmed.recent_blockhashes(3).unwrap();
    assert_eq!(
        hashes[..2],
        [
            Hash::new_from_array([12; 32]),
            Hash::new_from_array([11; 32])
        ]
    );
}
