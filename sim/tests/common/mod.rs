//! Helpers shared by the plugin's socket tests: identities, a replication client that follows
//! rooted slots, and applying served slots to a copy of the simulator's state.

#![allow(dead_code, unreachable_pub)]

use {
    replication_proto::{
        AccountRecord, Hash, Pubkey, Slot, SlotInfo, SlotStatus, SlotTrailer,
        transport::{ReplicationClient, ReplicationClientConfig, identity_pubkey},
    },
    sim::{
        SimAccount,
        state::{AccountsState, lt_hash_checksum},
    },
    solana_keypair::Keypair,
    std::{
        net::SocketAddr,
        path::{Path, PathBuf},
        time::{Duration, Instant},
    },
};

/// How long a test waits for the plugin to serve what the simulator produced.
pub const SERVE_TIMEOUT: Duration = Duration::from_secs(60);

/// Writes a fresh keypair file; returns its path and the keypair.
pub fn keypair_file(dir: &Path, name: &str) -> (PathBuf, Keypair) {
    let keypair = Keypair::new();
    let path = dir.join(name);
    solana_keypair::write_keypair_file(&keypair, &path).expect("write keypair");
    (path, keypair)
}

/// The replica identity's pubkey.
pub fn pubkey_of(keypair: &Keypair) -> Pubkey {
    identity_pubkey(keypair)
}

/// A state built from the genesis accounts.
pub fn state_from(accounts: &[(Pubkey, SimAccount)]) -> AccountsState {
    let mut state = AccountsState::default();
    for (pubkey, account) in accounts {
        state.set(*pubkey, account.clone());
    }
    state
}

/// Applies a served slot's records (tombstones delete).
pub fn apply(state: &mut AccountsState, records: &[AccountRecord]) {
    for record in records {
        state.set(
            record.pubkey,
            SimAccount {
                lamports: record.lamports,
                owner: record.owner,
                executable: record.executable,
                rent_epoch: record.rent_epoch,
                data: record.data.clone(),
            },
        );
    }
}

/// The checksum of a state.
pub fn checksum(state: &AccountsState) -> Hash {
    lt_hash_checksum(state.lt_hash())
}

/// One fetched slot.
#[derive(Debug)]
pub struct Fetched {
    pub info: SlotInfo,
    pub records: Vec<AccountRecord>,
    pub trailer: SlotTrailer,
}

/// Connects to the plugin's server.
pub async fn connect(identity: &Keypair, addr: SocketAddr, server: Pubkey) -> ReplicationClient {
    ReplicationClient::connect(identity, addr, server, ReplicationClientConfig::default())
        .await
        .expect("connect to the plugin")
}

/// Long-polls until the server lists `slot` as rooted (or times out); returns the rooted slots
/// listed after `after`, and the answer's first available slot.
pub async fn wait_rooted(
    client: &ReplicationClient,
    after: Slot,
    slot: Slot,
) -> (Vec<SlotInfo>, Slot) {
    let deadline = Instant::now() + SERVE_TIMEOUT;
    let mut seq = 0;
    loop {
        let answer = client
            .slot_confirmation(after, seq, Duration::from_millis(500))
            .await
            .expect("slot confirmation");
        seq = answer.seq;
        let rooted: Vec<SlotInfo> = answer
            .slots
            .iter()
            .filter(|s| s.status == SlotStatus::Rooted)
            .cloned()
            .collect();
        if rooted.iter().any(|s| s.slot >= slot) {
            return (rooted, answer.first_available_slot);
        }
        assert!(
            Instant::now() < deadline,
            "slot {slot} not rooted in time; listed {:?}",
            answer.slots.iter().map(|s| s.slot).collect::<Vec<_>>()
        );
    }
}

/// Fetches one slot's stream.
pub async fn fetch(client: &ReplicationClient, info: &SlotInfo) -> Fetched {
    let (header, records, trailer) = client
        .slot_accounts(info.slot, info.blockhash)
        .await
        .unwrap_or_else(|e| panic!("slot {} not served: {e}", info.slot))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("slot {} stream failed: {e}", info.slot));
    assert_eq!(header.parent, info.parent);
    Fetched {
        info: info.clone(),
        records,
        trailer,
    }
}
