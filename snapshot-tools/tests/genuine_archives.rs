//! The genuine Agave 4.2.2 archives in `fixtures/agave-3slot` as the oracle.

use {
    snapshot_tools::archive::{ChainOptions, SnapshotChain, read_chain},
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
