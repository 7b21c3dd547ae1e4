//! Replication in one process over real QUIC on loopback: an in-memory upstream → replica A →
//! replica B. Roots match a reference store slot by slot; failover to a second upstream; an
//! upstream whose retention passed the replica's root makes it ask for a new bootstrap.

use {
    replica::{
        serve::ReplicaSource,
        state::{Commitment, ReplicaState, ServedState},
        store::{AccountsStore, SlotCommit, SlotMeta, check::check_store, workload},
        sync::{self, SyncConfig, SyncExit},
    },
    replication_proto::{
        SlotInfo, SlotStatus,
        source::MemorySlotSource,
        transport::{
            ClientAllowlist, ReplicationServer, ReplicationServerConfig, Upstream, identity_pubkey,
        },
    },
    snapshot_tools::{archive::ArchiveFormat, synthetic::SyntheticAccounts},
    solana_hash::Hash,
    solana_keypair::Keypair,
    std::{net::SocketAddr, path::Path, sync::Arc, time::Duration},
    tokio_util::sync::CancellationToken,
};

const SEED: u64 = 31;
const BASE: u64 = 100;

fn load(dir: &Path, name: &str, archive: &Path) -> AccountsStore {
    workload::load_store(&dir.join(name), archive).unwrap()
}

fn blockhash(slot: u64) -> Hash {
    Hash::new_from_array(*blake3::hash(&slot.to_le_bytes()).as_bytes())
}

fn server(
    source: Arc<dyn replication_proto::SlotSource>,
    cancel: &CancellationToken,
) -> (ReplicationServer, Keypair) {
    let keypair = Keypair::new();
    let config = ReplicationServerConfig::new(
        keypair.insecure_clone(),
        "127.0.0.1:0".parse().unwrap(),
        ClientAllowlist::AllowAny,
    );
    (
        ReplicationServer::spawn(config, source, cancel.clone()).unwrap(),
        keypair,
    )
}

fn upstream(server: &ReplicationServer, keypair: &Keypair) -> Upstream {
    Upstream {
        addr: server.local_addr(),
        identity: identity_pubkey(keypair),
    }
}

fn replica(store: AccountsStore) -> Arc<ReplicaState> {
    Arc::new(ReplicaState::new(Arc::new(store), solana_pubkey::Pubkey::new_unique(), None).unwrap())
}

fn follow(
    state: &Arc<ReplicaState>,
    upstreams: Vec<Upstream>,
    cancel: &CancellationToken,
) -> tokio::task::JoinHandle<SyncExit> {
    let mut config = SyncConfig::new(upstreams);
    config.backoff_min = Duration::from_millis(50);
    config.client.connect_timeout = Duration::from_secs(2);
    tokio::spawn(sync::run(
        state.clone(),
        Arc::new(Keypair::new()),
        config,
        cancel.clone(),
    ))
}

async fn wait_for_root(state: &ReplicaState, slot: u64) {
    let mut changes = state.subscribe_changes();
    tokio::time::timeout(Duration::from_secs(60), async {
        while state.root_slot() < Some(slot) {
            let _ = tokio::time::timeout(Duration::from_millis(200), changes.changed()).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("root did not reach {slot}; it is {:?}", state.root_slot()));
}

/// The upstream's slots, applied to a reference store for the expected state hashes.
fn produce(
    source: &MemorySlotSource,
    reference: &AccountsStore,
    slots: std::ops::RangeInclusive<u64>,
    skipped: &[u64],
) -> Vec<(u64, Hash)> {
    let workload = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(SEED),
        keyspace: 2_500,
        updates_per_slot: 300,
    };
    let mut parent = *slots.start() - 1;
    let mut hashes = Vec::new();
    for slot in slots {
        if skipped.contains(&slot) {
            continue;
        }
        let writes = workload.slot(slot);
        let updates = workload::as_updates(&writes);
        let meta = SlotMeta {
            slot,
            parent,
            blockhash: blockhash(slot),
            block_height: Some(slot),
            block_time: Some(1_700_000_000 + slot as i64),
            executed_transaction_count: None,
            transaction_count: None,
        };
        let stats = reference
            .commit(&[SlotCommit {
                meta,
                updates: &updates,
                expected_lt_hash: None,
                previous: None,
                lt_hash_after: None,
            }])
            .unwrap();
        let records = workload::as_records(&writes);
        let info = SlotInfo {
            slot,
            parent,
            blockhash: blockhash(slot),
            status: SlotStatus::Confirmed,
            block_height: Some(slot),
            block_time: Some(1_700_000_000 + slot as i64),
            executed_transaction_count: None,
        };
        source.insert_slot(info, records, Some(stats.lt_hashes[0].1));
        hashes.push((slot, stats.lt_hashes[0].1));
        parent = slot;
    }
    hashes
}

/// A synthetic snapshot, a reference store loaded from it, and an upstream serving slots from
/// memory.
struct Setup {
    dir: tempfile::TempDir,
    archive: std::path::PathBuf,
    reference: AccountsStore,
    cancel: CancellationToken,
    source: Arc<MemorySlotSource>,
    upstream_server: ReplicationServer,
    upstream_key: Keypair,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let archive = SyntheticAccounts::new(SEED)
            .write_archive(dir.path(), 2_000, BASE, ArchiveFormat::TarZstd)
            .unwrap();
        let reference = load(dir.path(), "reference", &archive);
        let cancel = CancellationToken::new();
        let source = Arc::new(MemorySlotSource::new());
        source.set_first_available_slot(BASE + 1);
        let (upstream_server, upstream_key) = server(source.clone(), &cancel);
        Self {
            dir,
            archive,
            reference,
            cancel,
            source,
            upstream_server,
            upstream_key,
        }
    }
}

/// Every slot's hash in the replica's delta log equals the reference's: nothing lost or doubled.
fn assert_slot_hashes(state: &ReplicaState, hashes: &[(u64, Hash)]) {
    for (slot, hash) in hashes {
        assert_eq!(
            state
                .store()
                .delta_slot(*slot)
                .unwrap()
                .unwrap()
                .accounts_lt_hash,
            *hash,
            "slot {slot}"
        );
    }
}

fn root(source: &MemorySlotSource, hashes: &[(u64, Hash)], until: u64) {
    for (slot, _) in hashes.iter().filter(|(slot, _)| *slot <= until) {
        source.set_status(*slot, blockhash(*slot), SlotStatus::Rooted);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_to_a_to_b_matches_the_reference_slot_by_slot() {
    let Setup {
        dir,
        archive,
        reference,
        cancel,
        source,
        upstream_server,
        upstream_key,
    } = Setup::new();

    let a = replica(load(dir.path(), "a", &archive));
    let (a_server, a_key) = server(
        Arc::new(ReplicaSource::new(Arc::new(ServedState::new(a.clone())))),
        &cancel,
    );
    let b = replica(load(dir.path(), "b", &archive));
    // B prefers an upstream that does not answer, then fails over to A.
    let dead: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let a_task = follow(&a, vec![upstream(&upstream_server, &upstream_key)], &cancel);
    let b_task = follow(
        &b,
        vec![
            Upstream {
                addr: dead,
                identity: identity_pubkey(&a_key),
            },
            upstream(&a_server, &a_key),
        ],
        &cancel,
    );

    // Slots 101..=140 with 117 and 118 skipped; roots trail confirmations.
    let hashes = produce(
        &source,
        &reference,
        BASE + 1..=BASE + 40,
        &[BASE + 17, BASE + 18],
    );
    root(&source, &hashes, BASE + 20);
    wait_for_root(&a, BASE + 20).await;
    // The confirmed view runs ahead of the root.
    tokio::time::timeout(Duration::from_secs(30), async {
        while a.confirmed_slot() != Some(BASE + 40) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("A's confirmed view reaches the newest confirmed slot");
    let confirmed = a.bank(Commitment::Confirmed).unwrap();
    assert_eq!(confirmed.slot(), BASE + 40);
    assert_eq!(
        a.bank(Commitment::Finalized).unwrap().slot(),
        a.root_slot().unwrap()
    );
    drop(confirmed);

    root(&source, &hashes, BASE + 40);
    wait_for_root(&a, BASE + 40).await;
    wait_for_root(&b, BASE + 40).await;
    let expected = reference.root().unwrap();
    for state in [&a, &b] {
        assert_eq!(state.store().root().unwrap(), expected);
        let report = check_store(state.store()).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
    assert_slot_hashes(&b, &hashes);
    cancel.cancel();
    assert_eq!(a_task.await.unwrap(), SyncExit::Cancelled);
    assert_eq!(b_task.await.unwrap(), SyncExit::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_past_the_root_asks_for_a_new_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    let archive = SyntheticAccounts::new(SEED)
        .write_archive(dir.path(), 500, BASE, ArchiveFormat::TarZstd)
        .unwrap();
    let reference = load(dir.path(), "reference", &archive);
    let cancel = CancellationToken::new();
    let source = Arc::new(MemorySlotSource::new());
    let hashes = produce(&source, &reference, BASE + 1..=BASE + 10, &[]);
    root(&source, &hashes, BASE + 10);
    // The upstream has dropped slots up to 105; a replica whose root is 100 cannot continue.
    source.set_first_available_slot(BASE + 6);
    let (upstream_server, upstream_key) = server(source.clone(), &cancel);
    let stale = replica(load(dir.path(), "stale", &archive));
    let exit = tokio::time::timeout(
        Duration::from_secs(30),
        follow(
            &stale,
            vec![upstream(&upstream_server, &upstream_key)],
            &cancel,
        ),
    )
    .await
    .expect("the replica gives up instead of looping")
    .unwrap();
    assert!(matches!(exit, SyncExit::NeedsBootstrap { .. }), "{exit:?}");
    assert!(stale.needs_bootstrap().is_some());
    assert_eq!(stale.root_slot(), Some(BASE));
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_upstream_state_hash_is_never_committed() {
    let dir = tempfile::tempdir().unwrap();
    let archive = SyntheticAccounts::new(SEED)
        .write_archive(dir.path(), 500, BASE, ArchiveFormat::TarZstd)
        .unwrap();
    let reference = load(dir.path(), "reference", &archive);
    let cancel = CancellationToken::new();
    let source = Arc::new(MemorySlotSource::new());
    source.set_first_available_slot(BASE + 1);
    let mut hashes = produce(&source, &reference, BASE + 1..=BASE + 3, &[]);
    // Re-insert slot 102 claiming another state hash.
    hashes[1].1 = Hash::new_from_array([0xab; 32]);
    let writes = workload::SyntheticSlots {
        accounts: SyntheticAccounts::new(SEED),
        keyspace: 2_500,
        updates_per_slot: 300,
    }
    .slot(BASE + 2);
    let records = workload::as_records(&writes);
    source.insert_slot(
        SlotInfo {
            slot: BASE + 2,
            parent: BASE + 1,
            blockhash: blockhash(BASE + 2),
            status: SlotStatus::Confirmed,
            block_height: Some(BASE + 2),
            block_time: Some(1_700_000_000 + BASE as i64 + 2),
            executed_transaction_count: None,
        },
        records,
        Some(hashes[1].1),
    );
    root(&source, &hashes, BASE + 3);
    let (upstream_server, upstream_key) = server(source.clone(), &cancel);
    let diverged = replica(load(dir.path(), "diverged", &archive));
    let exit = tokio::time::timeout(
        Duration::from_secs(30),
        follow(
            &diverged,
            vec![upstream(&upstream_server, &upstream_key)],
            &cancel,
        ),
    )
    .await
    .expect("the replica stops")
    .unwrap();
    assert!(
        matches!(exit, SyncExit::NeedsBootstrap { ref reason } if reason.contains("hash")),
        "{exit:?}"
    );
    // The batch holding slots 101..=103 was refused whole.
    assert_eq!(diverged.root_slot(), Some(BASE));
    // The slot was refused when it arrived: no view ever served it, not even `confirmed`.
    assert!(diverged.confirmed_slot() < Some(BASE + 2));
    assert!(diverged.finalized_slot() < Some(BASE + 2));
    cancel.cancel();
}

/// A rooted slot in the overlay is what `finalized` reads before its commit lands: the rooted
/// tip's chain over the store's root, never behind it, and `confirmed` never behind finalized.
#[test]
fn finalized_reads_the_rooted_tip_before_its_commit() {
    use replica::{
        bank::overlay::OverlaySlot,
        store::{Account, IndexConfig},
    };
    let dir = tempfile::tempdir().unwrap();
    let archive = SyntheticAccounts::new(SEED)
        .write_archive(dir.path(), 500, BASE, ArchiveFormat::TarZstd)
        .unwrap();
    let state = replica(load(dir.path(), "a", &archive));
    let pubkey = solana_pubkey::Pubkey::new_unique();
    let account = Account {
        lamports: 42,
        rent_epoch: u64::MAX,
        owner: solana_pubkey::Pubkey::default(),
        executable: false,
        slot: BASE + 1,
        data: vec![7],
    };
    let root = state.store().root().unwrap();
    let meta = SlotMeta {
        slot: BASE + 1,
        parent: BASE,
        blockhash: blockhash(BASE + 1),
        block_height: Some(BASE + 1),
        block_time: None,
        executed_transaction_count: None,
        transaction_count: None,
    };
    let slot = OverlaySlot::new(
        meta,
        [(pubkey, Some(account))].into(),
        &IndexConfig::default(),
        root.capitalization + 42,
        None,
    );
    state.overlay().write().unwrap().insert(Arc::new(slot));
    assert_eq!(state.bank(Commitment::Finalized).unwrap().slot(), BASE);
    assert_eq!(state.finalized_slot(), Some(BASE));

    state
        .overlay()
        .write()
        .unwrap()
        .set_rooted_tip((BASE + 1, blockhash(BASE + 1)));
    let finalized = state.bank(Commitment::Finalized).unwrap();
    assert_eq!(finalized.slot(), BASE + 1);
    assert_eq!(finalized.get(&pubkey).unwrap().unwrap().lamports, 42);
    drop(finalized);
    assert_eq!(state.finalized_slot(), Some(BASE + 1));
    // No confirmed tip was set: confirmed reads the rooted slot too.
    assert_eq!(state.bank(Commitment::Confirmed).unwrap().slot(), BASE + 1);
    assert_eq!(state.confirmed_slot(), Some(BASE + 1));
    assert_eq!(state.root_slot(), Some(BASE));
}

/// Catching up over more rooted slots than the overlay holds before committing: the commits
/// land in steps, and the state and every slot's hash still equal the reference's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_catch_up_commits_in_steps_and_matches_the_reference() {
    let Setup {
        dir,
        archive,
        reference,
        cancel,
        source,
        upstream_server,
        upstream_key,
    } = Setup::new();
    // Everything is rooted before the replica starts, so its first answer lists all 60 slots.
    let hashes = produce(&source, &reference, BASE + 1..=BASE + 60, &[BASE + 30]);
    root(&source, &hashes, BASE + 60);

    let follower = replica(load(dir.path(), "follower", &archive));
    let task = follow(
        &follower,
        vec![upstream(&upstream_server, &upstream_key)],
        &cancel,
    );
    wait_for_root(&follower, BASE + 60).await;
    assert_eq!(follower.store().root().unwrap(), reference.root().unwrap());
    assert!(
        follower.metrics().commit_seconds.get_sample_count() >= 3,
        "59 rooted slots are committed in steps"
    );
    assert_slot_hashes(&follower, &hashes);
    assert!(check_store(follower.store()).unwrap().problems.is_empty());
    cancel.cancel();
    assert_eq!(task.await.unwrap(), SyncExit::Cancelled);
}
