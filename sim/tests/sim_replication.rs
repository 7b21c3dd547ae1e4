//! The simulator drives the in-process plugin through the Geyser trait; a replication client
//! on QUIC loopback streams the rooted slots and applies them to a copy of the initial state:
//! every rooted slot must reproduce the simulator's own lattice hash, forks must never leak,
//! shed slots must be unavailable (never partial), and the delta log must survive a restart.

mod common;

use {
    agave_geyser_plugin_interface::geyser_plugin_interface::GeyserPlugin,
    common::*,
    geyser_plugin::{PluginConfig, ReplicationPlugin, config::HandoffConfig},
    replication_proto::{Slot, SlotStatus, transport::ClientError},
    sim::{RootedReport, SimConfig, SimNode, state::AccountsState},
    std::collections::{BTreeMap, HashSet},
    tokio_util::sync::CancellationToken,
};

fn sim_config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        start_slot: 1_000,
        // Epoch boundaries at 1024, 1088, 1152, 1216: StakeHistory, EpochRewards, rewards.
        slots_per_epoch: 64,
        transactions_per_slot: 24,
        fork_probability: 0.25,
        skip_probability: 0.05,
        root_lag: 5,
        ..SimConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooted_slots_replicate_exactly_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (identity_path, server_key) = keypair_file(dir.path(), "server.json");
    let (_, client_key) = keypair_file(dir.path(), "client.json");
    let mut plugin_config = PluginConfig::new(
        identity_path.clone(),
        dir.path().join("plugin"),
        "127.0.0.1:0".parse().unwrap(),
    );
    plugin_config.allowed_replicas = vec![pubkey_of(&client_key)];
    plugin_config.metrics_bind = Some("127.0.0.1:0".parse().unwrap());

    let (node, rooted_reports, forks) = tokio::task::spawn_blocking({
        let plugin_config = plugin_config.clone();
        move || {
            let mut node = SimNode::start(sim_config(7), &plugin_config).unwrap();
            let mut reports = Vec::new();
            let mut forks = Vec::new();
            for _ in 0..220 {
                let step = node.step().unwrap();
                reports.extend(step.rooted);
                forks.extend(step.fork);
            }
            assert!(node.wait_idle(SERVE_TIMEOUT));
            (node, reports, forks)
        }
    })
    .await
    .unwrap();
    assert_eq!(node.identity(), pubkey_of(&server_key));
    let genesis = node.genesis().clone();
    let last = *rooted_reports.last().expect("slots were rooted");
    assert!(forks.iter().any(|(_, dead)| *dead) && forks.iter().any(|(_, dead)| !*dead));

    let client = connect(&client_key, node.replication_addr(), node.identity()).await;
    let (rooted, first_available) = wait_rooted(&client, genesis.slot, last.slot).await;
    assert_eq!(first_available, genesis.slot + 1);
    // Exactly the simulator's rooted banks, in order; no fork bank among them.
    let served: Vec<(Slot, _)> = rooted.iter().map(|s| (s.slot, s.blockhash)).collect();
    let expected: Vec<(Slot, _)> = rooted_reports
        .iter()
        .map(|r| (r.slot, r.blockhash))
        .collect();
    assert_eq!(served, expected);
    let fork_slots: HashSet<Slot> = forks.iter().map(|(s, _)| *s).collect();
    assert!(served.iter().all(|(s, _)| !fork_slots.contains(s)));

    // Apply every rooted slot to the genesis state: each must give the simulator's hash.
    let reports: BTreeMap<Slot, RootedReport> =
        rooted_reports.iter().map(|r| (r.slot, *r)).collect();
    let mut state = state_from(&genesis.accounts);
    assert_eq!(checksum(&state), genesis.lt_hash_checksum);
    let mut parent = genesis.slot;
    let mut fetched_slots = Vec::new();
    for info in &rooted {
        assert_eq!(info.parent, parent, "chain broken at slot {}", info.slot);
        let fetched = fetch(&client, info).await;
        apply(&mut state, &fetched.records);
        let report = reports[&info.slot];
        assert_eq!(
            checksum(&state),
            report.accounts_lt_hash,
            "slot {}",
            info.slot
        );
        assert_eq!(
            fetched.trailer.accounts_lt_hash,
            Some(report.accounts_lt_hash)
        );
        parent = info.slot;
        fetched_slots.push(fetched);
    }

    // Confirmed slots above the root are listed and served from memory.
    let answer = client
        .slot_confirmation(last.slot, 0, std::time::Duration::ZERO)
        .await
        .unwrap();
    for info in &answer.slots {
        assert_eq!(info.status, SlotStatus::Confirmed);
        fetch(&client, info).await;
    }

    let metrics = node.metrics().clone();
    assert_eq!(metrics.dropped_handoff.get(), 0);
    assert_eq!(metrics.slots_unavailable.get(), 0);
    let dead = forks.iter().filter(|(_, dead)| *dead).count() as u64;
    assert_eq!(metrics.dead_slots.get(), dead);
    let abandoned_below_root = forks
        .iter()
        .filter(|(s, dead)| !*dead && *s < last.slot)
        .count() as u64;
    assert_eq!(metrics.pruned_slots.get(), abandoned_below_root);
    assert!(metrics.missed_confirmed.get() > 0);
    assert!(metrics.missed_rooted.get() > 0);
    assert_eq!(metrics.retained_slots.get(), rooted.len() as i64);
    assert!(metrics.retained_bytes.get() > 0);
    let text = http_get_metrics(node.metrics_addr().unwrap()).await;
    assert!(text.contains("geyser_records_dropped_total"), "{text}");
    assert!(text.contains("geyser_retained_bytes"));
    client.close();
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .unwrap();

    // Restart on the same delta log: the rooted slots are served from disk, identically.
    let mut plugin = ReplicationPlugin::new();
    let config_path = dir.path().join("restart.json");
    plugin_config.write(&config_path).unwrap();
    plugin
        .on_load(config_path.to_str().unwrap(), false)
        .unwrap();
    let service = plugin.service().unwrap();
    let client = connect(&client_key, service.local_addr(), service.identity()).await;
    let (again, first_available) = wait_rooted(&client, genesis.slot, last.slot).await;
    assert_eq!(first_available, genesis.slot + 1);
    assert_eq!(again, rooted);
    for before in fetched_slots.iter().step_by(7) {
        let after = fetch(&client, &before.info).await;
        assert_eq!(after.records, before.records);
        assert_eq!(after.trailer.records_digest, before.trailer.records_digest);
        assert_eq!(after.trailer.accounts_lt_hash, None); // no simulator behind it now
    }
    client.close();
    tokio::task::spawn_blocking(move || plugin.on_unload())
        .await
        .unwrap();
}

async fn http_get_metrics(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

/// A plugin on a free port that accepts any replica, with the key of a client to connect as.
fn open_plugin(dir: &std::path::Path) -> (PluginConfig, solana_keypair::Keypair) {
    let (identity_path, _) = keypair_file(dir, "server.json");
    let (_, client_key) = keypair_file(dir, "client.json");
    let mut plugin_config = PluginConfig::new(
        identity_path,
        dir.join("plugin"),
        "127.0.0.1:0".parse().unwrap(),
    );
    plugin_config.allow_any_replica = true;
    (plugin_config, client_key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shed_slots_are_unavailable_never_partial() {
    let dir = tempfile::tempdir().unwrap();
    let (mut plugin_config, client_key) = open_plugin(dir.path());
    // Smaller than the SlotHistory sysvar (131 KB) every bank writes: every bank is shed.
    plugin_config.handoff = HandoffConfig {
        max_events: 1 << 16,
        max_bytes: 100_000,
    };
    let (node, reports) = tokio::task::spawn_blocking(move || {
        let mut node = SimNode::start(sim_config(11), &plugin_config).unwrap();
        let mut reports = Vec::new();
        node.run(Some(40), 0, &CancellationToken::new(), |r| reports.push(*r))
            .unwrap();
        (node, reports)
    })
    .await
    .unwrap();
    assert!(node.wait_idle(SERVE_TIMEOUT));
    let metrics = node.metrics().clone();
    // The newest root the plugin handled (its own Rooted status may have been shed too).
    let handled = metrics.last_rooted_slot.get() as Slot;
    assert!(handled > node.genesis().slot, "no root handled");
    let client = connect(&client_key, node.replication_addr(), node.identity()).await;
    let answer = client
        .slot_confirmation(0, 0, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(answer.first_available_slot, handled + 1);
    assert!(answer.slots.is_empty(), "{:?}", answer.slots);
    for report in reports.iter().filter(|r| r.slot <= handled) {
        match client.slot_accounts(report.slot, report.blockhash).await {
            Err(ClientError::SlotUnavailable {
                first_available_slot,
            }) => assert_eq!(first_available_slot, handled + 1),
            other => panic!("expected SlotUnavailable, got {other:?}"),
        }
    }
    assert!(metrics.dropped_handoff.get() >= reports.len() as u64);
    assert!(metrics.slots_unavailable.get() > 0);
    assert_eq!(metrics.retained_slots.get(), 0);
    client.close();
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_served_slot_is_exact_under_random_shedding() {
    let dir = tempfile::tempdir().unwrap();
    let (mut plugin_config, client_key) = open_plugin(dir.path());
    plugin_config.handoff = HandoffConfig {
        max_events: 300,
        max_bytes: 1 << 30,
    };
    // The state after every main-chain slot, to check each served slot on its own.
    let (node, states, reports) = tokio::task::spawn_blocking(move || {
        let mut node = SimNode::start(sim_config(23), &plugin_config).unwrap();
        let mut states: BTreeMap<Slot, AccountsState> = BTreeMap::new();
        states.insert(node.genesis().slot, node.simulator().state().clone());
        let mut reports = Vec::new();
        for _ in 0..80 {
            let step = node.step().unwrap();
            states.insert(step.slot, node.simulator().state().clone());
            reports.extend(step.rooted);
        }
        (node, states, reports)
    })
    .await
    .unwrap();
    assert!(node.wait_idle(SERVE_TIMEOUT));
    let handled = node.metrics().last_rooted_slot.get() as Slot;
    let client = connect(&client_key, node.replication_addr(), node.identity()).await;
    let answer = client
        .slot_confirmation(0, 0, std::time::Duration::ZERO)
        .await
        .unwrap();
    let mut served = 0;
    for info in answer
        .slots
        .iter()
        .filter(|s| s.status == SlotStatus::Rooted)
    {
        let fetched = fetch(&client, info).await;
        let mut state = states[&info.parent].clone();
        apply(&mut state, &fetched.records);
        assert_eq!(
            checksum(&state),
            checksum(&states[&info.slot]),
            "slot {}",
            info.slot
        );
        served += 1;
    }
    // No silent gap: every rooted slot from the first available one on is served.
    let listed: HashSet<Slot> = answer.slots.iter().map(|s| s.slot).collect();
    for report in reports
        .iter()
        .filter(|r| r.slot >= answer.first_available_slot && r.slot <= handled)
    {
        assert!(
            listed.contains(&report.slot),
            "rooted slot {} missing",
            report.slot
        );
    }
    let metrics = node.metrics();
    assert_eq!(
        metrics.slots_unavailable.get() > 0,
        answer.first_available_slot > node.genesis().slot + 1
    );
    eprintln!(
        "served {served} rooted slots; dropped {} events; {} slots unavailable",
        metrics.dropped_handoff.get(),
        metrics.slots_unavailable.get()
    );
    client.close();
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .unwrap();
}
