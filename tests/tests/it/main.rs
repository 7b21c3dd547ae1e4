//! Whole-system tests, one binary (reth `bin/reth/tests/it/main.rs`): each module a scenario.
//! They run the `replica` binary built in the same profile (`cargo build -p replica` first).

mod agave_archives;
mod client_js;
mod client_python;
mod client_rust;
mod dev_cluster;
mod failover;
mod fleet;
mod fleet_consistency;
mod kill_campaign;
mod load_balancer;
mod pubsub;
mod replication;
mod rpc_golden;
mod rpc_hostile;
mod rpc_http;
mod rpc_options;
mod rpc_scans;
mod rpc_tokens;
mod rpc_values;
mod sim_load;
mod transaction_count;

use {
    serde_json::Value,
    tests::{
        fixtures::{self, ArchiveState, TokenFixture},
        replica::Replica,
    },
};

/// A replica of the token archive (the Agave state plus token accounts) with `extra` flags,
/// and the archive's state read independently.
pub(crate) fn token_replica(extra: &[&str]) -> (Replica, TokenFixture, ArchiveState) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (archive, fixture) = fixtures::write_token_archive(dir.path()).expect("token archive");
    let state = ArchiveState::read(std::slice::from_ref(&archive)).expect("reading the archive");
    let replica = Replica::start(&[archive], extra).expect("replica");
    (replica, fixture, state)
}

/// A replica of the genuine Agave full + incremental archives.
pub(crate) fn agave_replica(extra: &[&str]) -> Replica {
    Replica::start(&fixtures::agave_full_and_incremental(), extra).expect("replica")
}

/// A legacy message moving 1 lamport from `signers[0]` to `to` (a System transfer), signed
/// by all of `signers`.
pub(crate) fn transfer_message(
    signers: &[solana_pubkey::Pubkey],
    to: &solana_pubkey::Pubkey,
    blockhash: solana_hash::Hash,
) -> solana_message::legacy::Message {
    let mut keys = signers.to_vec();
    keys.push(*to);
    keys.push(solana_pubkey::Pubkey::default());
    // SystemInstruction::Transfer { lamports: 1 }
    let mut data = vec![2, 0, 0, 0];
    data.extend_from_slice(&1u64.to_le_bytes());
    solana_message::legacy::Message {
        header: solana_message::MessageHeader {
            num_required_signatures: signers.len() as u8,
            num_readonly_signed_accounts: 0,
            num_readonly_unsigned_accounts: 1,
        },
        recent_blockhash: blockhash,
        instructions: vec![solana_message::compiled_instruction::CompiledInstruction {
            program_id_index: (keys.len() - 1) as u8,
            accounts: vec![0, (keys.len() - 2) as u8],
            data,
        }],
        account_keys: keys,
    }
}

/// Replaces the parts of a response that legitimately vary (`apiVersion`) so golden
/// comparisons are exact elsewhere.
pub(crate) fn normalized(mut response: Value) -> Value {
    if let Some(context) = response
        .pointer_mut("/result/context")
        .and_then(Value::as_object_mut)
    {
        context.insert("apiVersion".into(), Value::from("<apiVersion>"));
    }
    response
}

/// Running the client scripts of `tests/clients/`.
pub(crate) mod clients {
    use {
        serde_json::json,
        solana_pubkey::Pubkey,
        std::{path::Path, process::Command},
    };

    pub(crate) const GENESIS_HASH: &str = "EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG";

    /// Starts a token-archive replica, writes the expectations and runs
    /// `<program> <args> <url> <expectations>` in `dir`; fails with its output.
    pub(crate) fn run_client(program: &str, args: &[&str], dir: &Path) {
        let (replica, fixture, state) = super::token_replica(&["--genesis-hash", GENESIS_HASH]);
        // Agave 4.2's gate of the 1 SOL minimum delegation (`upgrade_bpf_stake_program_to_v5`).
        let raise = Pubkey::from_str_const("STk5Xj8hdAx3sTzmtJ3QysKkq6X2A3yj73JtxttiRyk");
        let raised = state
            .accounts
            .get(&raise)
            .is_some_and(|feature| feature.data.first() == Some(&1));
        let expectations = state.expectations(
            &fixture,
            json!({
                "genesisHash": GENESIS_HASH,
                "identity": replica.ready["identity"],
                "stakeMinimumDelegation": if raised { 1_000_000_000u64 } else { 1 },
            }),
        );
        let path = replica.dir().join("expectations.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&expectations).unwrap()).unwrap();
        let output = Command::new(program)
            .args(args)
            .arg(replica.url())
            .arg(&path)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{program} {args:?} failed ({}):\n{stdout}\n{stderr}\nreplica log:\n{}",
            output.status,
            replica.log()
        );
        assert!(stdout.contains(" passed, 0 failed"), "{stdout}\n{stderr}");
        println!(
            "{program}: {}",
            stdout.trim_end().lines().last().unwrap_or_default()
        );
    }
}
