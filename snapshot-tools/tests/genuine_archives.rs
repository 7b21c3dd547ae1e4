//! The genuine Agave 4.2.2 archives in `fixtures/agave-3slot` as the oracle.

use {
    snapshot_tools::archive::{ChainOptions, ManifestCheckError, SnapshotChain, read_chain},
    solana_pubkey::Pubkey,
    std::{
        collections::BTreeMap,
        path::{Path, PathBuf},
    },
};

fn fixture(prefix: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/agave-3slot");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(prefix)
        })
        .unwrap_or_else(|| panic!("no fixture {prefix}* in {}", dir.display()))
}

type State = BTreeMap<Pubkey, (u64, Pubkey, bool, Vec<u8>)>;

fn load(paths: &[PathBuf]) -> (State, snapshot_tools::archive::ChainSummary) {
    let temp = tempfile::tempdir().unwrap();
    let chain = SnapshotChain::from_paths(paths).unwrap();
    let mut state = State::new();
    let summary = read_chain(&chain, &ChainOptions::new(temp.path()), |record| {
        state.insert(
            record.pubkey,
            (
                record.lamports,
                record.owner,
                record.executable,
                record.data.to_vec(),
            ),
        );
        Ok(())
    })
    .unwrap();
    (state, summary)
}

#[test]
fn full_plus_incremental_equals_full_at_slot_two() {
    let (slot1, summary1) = load(&[fixture("snapshot-1-")]);
    summary1.verify().unwrap();
    assert_eq!(summary1.live_accounts, 313);
    assert_eq!(summary1.manifest().slot, 1);

    let (merged, merged_summary) =
        load(&[fixture("snapshot-1-"), fixture("incremental-snapshot-1-2-")]);
    merged_summary.verify().unwrap();
    let (full2, full2_summary) = load(&[fixture("snapshot-2-")]);
    full2_summary.verify().unwrap();

    assert_eq!(merged, full2);
    assert_eq!(merged_summary.lt_hash, full2_summary.lt_hash);
    assert_eq!(merged_summary.lamports, full2_summary.lamports);
    assert_eq!(
        merged_summary.manifest().capitalization,
        merged_summary.lamports
    );

    // The 3-byte data account of slot 1 is deleted at slot 2.
    let deleted: Vec<_> = slot1
        .iter()
        .filter(|(_, (_, _, _, data))| data == &[1, 2, 3])
        .collect();
    assert_eq!(deleted.len(), 1);
    let (pubkey, (lamports, ..)) = deleted[0];
    assert_eq!(*lamports, 5_000_000_000);
    assert!(!merged.contains_key(pubkey));
    assert!(!full2.contains_key(pubkey));
}

/// Agave's load checks: the chains Agave loads pass; slot 1 alone fails the capitalization
/// check exactly by the 5 SOL data account, which the fixture generator stored with
/// `Bank::store_account` (no capitalization update). Agave 4.2.2 refuses it the same way
/// (`MismatchedCapitalization`).
#[test]
fn manifest_checks_accept_what_agave_loads() {
    let (slot1, summary1) = load(&[fixture("snapshot-1-")]);
    let data_account = slot1
        .values()
        .find(|(_, _, _, data)| data == &[1, 2, 3])
        .expect("the data account");
    let manifest = summary1.manifest();
    assert_eq!(manifest.validate(), Ok(()));
    assert_eq!(
        summary1.check_manifest(),
        Err(ManifestCheckError::Capitalization {
            manifest: 1_002_001_000_891_185,
            accounts: 1_002_006_000_891_185,
        })
    );
    assert_eq!(
        summary1.lamports - manifest.capitalization,
        data_account.0,
        "the difference is the data account"
    );
    // Its 3 bytes are missing from accounts_data_len for the same reason.
    assert_eq!(summary1.data_bytes - manifest.accounts_data_len, 3);

    for paths in [
        vec![fixture("snapshot-1-"), fixture("incremental-snapshot-1-2-")],
        vec![fixture("snapshot-2-")],
    ] {
        let (_, summary) = load(&paths);
        assert_eq!(summary.check_manifest(), Ok(()), "{paths:?}");
        summary.verify().unwrap();
    }
}
