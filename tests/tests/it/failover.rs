//! Validator failover against a real etcd (Debian's, started here): two simulated validators
//! on one chain (same seed), their `failover agent`s, and a replica following the published
//! upstream. The scenarios run one at a time (they time failovers against lease TTLs).
//! They need `etcd`/`etcdctl` (Debian `etcd-server`, `etcd-client`) and the `failover` and
//! `replica` binaries (`cargo build -p failover -p replica`).

use {
    serde_json::Value,
    std::{
        path::PathBuf,
        sync::{
            Arc, Mutex,
            atomic::{AtomicBool, Ordering},
        },
        thread::JoinHandle,
        time::{Duration, Instant},
    },
    tests::{
        cluster::{self, path_arg, wait_for},
        etcd::Etcd,
        failover::{AgentSettings, FakeHealth, Host, Staked, etcd_tower, failover, status},
    },
};

/// Lease TTL of the tests: fence at 1.5 s without keep-alives, take over after ≥ 3 s.
const TTL: u64 = 3;
const SLOT_MS: u64 = 100;

/// One scenario at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn settings(cluster: &str) -> AgentSettings {
    AgentSettings {
        cluster: cluster.to_string(),
        lease_ttl_secs: TTL,
        // A fresh cluster has no tower anywhere: the first active node starts one.
        extra: "allow_new_tower = true\n".to_string(),
    }
}

/// Samples every validator's identity every 20 ms and counts the instants at which more than
/// one holds the staked identity.
struct Sampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<(u64, Vec<String>)>>,
}

impl Sampler {
    fn start(sockets: Vec<(String, PathBuf)>, staked: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (stop_flag, staked) = (stop.clone(), staked.to_string());
        let handle = std::thread::spawn(move || {
            let mut samples = 0;
            let mut violations = Vec::new();
            while !stop_flag.load(Ordering::Relaxed) {
                let holders: Vec<&str> = sockets
                    .iter()
                    .filter(|(_, socket)| {
                        tests::failover::validator_identity(socket).as_deref()
                            == Some(staked.as_str())
                    })
                    .map(|(name, _)| name.as_str())
                    .collect();
                samples += 1;
                if holders.len() > 1 {
                    violations.push(holders.join("+"));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (samples, violations)
        });
        Self {
            stop,
            handle: Some(handle),
        }
    }

    /// Stops sampling; asserts the staked identity was never held twice.
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let (samples, violations) = self.handle.take().unwrap().join().unwrap();
        assert!(
            violations.is_empty(),
            "the staked identity was held twice at {} of {samples} samples: {violations:?}",
            violations.len()
        );
        samples
    }
}

/// The host whose validator holds the staked identity, once exactly one does.
fn wait_active<'a>(hosts: &'a [&'a Host], staked: &Staked, timeout: Duration) -> &'a Host {
    wait_for("an active validator", timeout, || {
        let holders: Vec<_> = hosts
            .iter()
            .filter(|h| h.identity().as_deref() == Some(staked.pubkey.as_str()))
            .collect();
        (holders.len() == 1).then(|| *holders[0])
    })
}

fn logs(hosts: &[&Host]) -> String {
    hosts
        .iter()
        .map(|h| format!("--- agent {}:\n{}", h.name, h.agent_log()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Once the replica's root passes `after`, its lattice hash at its root equals the
/// simulator's at that slot (a gap or a wrong slot would change the hash).
fn replica_matches(replica: &cluster::Node, sim: &cluster::Node, after: u64) {
    let (root, hash) = wait_for(
        "the replica to root past the kill",
        Duration::from_secs(90),
        || {
            let status = cluster::status(replica)?;
            let root = status["rootSlot"].as_u64()?;
            (root > after).then(|| (root, status["accountsLtHash"].as_str().map(str::to_string)))
        },
    );
    let expected = wait_for(
        "the simulator to root the slot",
        Duration::from_secs(30),
        || cluster::rooted_map(sim).get(&root).cloned(),
    );
    assert_eq!(
        hash.as_deref(),
        Some(expected.as_str()),
        "replica at {root}:\n{}",
        replica.log()
    );
}

fn active_of(status: &Value) -> Option<String> {
    status["active"].as_str().map(str::to_string)
}

#[test]
fn failover_kill_restart_switchover_and_a_replica_that_follows() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start().expect("etcd");
    let staked = Staked::new(dir.path());
    let clock = tests::failover::unix_ms();
    let settings = settings("kill");
    let mut a = Host::new(dir.path(), "a");
    let mut b = Host::new(dir.path(), "b");
    for host in [&mut a, &mut b] {
        host.start_sim(&staked, SLOT_MS, clock);
        host.write_config(&etcd, &staked, &settings);
    }
    let sampler = Sampler::start(
        vec![("a".into(), a.admin.clone()), ("b".into(), b.admin.clone())],
        &staked.pubkey,
    );
    a.start_agent();
    b.start_agent();
    let first = wait_active(&[&a, &b], &staked, Duration::from_secs(30))
        .name
        .clone();
    let (active_host, standby_host) = if first == "a" { (&a, &b) } else { (&b, &a) };
    let metrics = wait_for("the active agent's metrics", Duration::from_secs(5), || {
        let text = active_host.metrics();
        text.contains("failover_active 1").then_some(text)
    });
    for name in [
        "failover_fencing_token",
        "failover_elections_won_total 1",
        "failover_lease_age_seconds",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    assert!(standby_host.metrics().contains("failover_active 0"));
    let status_now = status(&a.config).unwrap();
    assert_eq!(active_of(&status_now), Some(first.clone()), "{status_now}");
    assert!(status_now["fencingToken"].as_i64().unwrap() > 0);
    let nodes = status_now["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{status_now}");
    for node in nodes {
        let mut keys: Vec<_> = node.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["healthy", "identity", "node", "towerSlot"], "{node}");
    }

    // A replica following the published upstream, bootstrapped from the (identical)
    // snapshot both simulators wrote.
    let snapshot = path_arg(&cluster::sim_snapshot(a.sim.as_ref().unwrap()));
    let endpoint = etcd.endpoint();
    let replica = cluster::replica(
        dir.path(),
        "replica",
        &[
            "--snapshot",
            &snapshot,
            "--upstream-from-etcd",
            "kill",
            "--etcd-endpoint",
            &endpoint,
        ],
    );
    let start = a.sim.as_ref().unwrap().ready["snapshotSlot"]
        .as_u64()
        .unwrap();
    wait_for("the replica to follow", Duration::from_secs(60), || {
        (cluster::status(&replica)?["rootSlot"].as_u64()? > start + 20).then_some(())
    });

    // The tower is pushed as the active validator votes.
    let (writer, token, pushed) = wait_for("a pushed tower", Duration::from_secs(20), || {
        etcd_tower(&etcd, "kill").filter(|(_, _, slot)| *slot > start)
    });
    assert_eq!(writer, first);

    // kill -9 the active agent and its validator.
    let (old, new) = if first == "a" {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    let last_pushed = etcd_tower(&etcd, "kill").unwrap().2;
    assert!(last_pushed >= pushed);
    let killed_at = Instant::now();
    old.kill();
    wait_for(
        "the standby to take the identity",
        Duration::from_secs(TTL + 10),
        || (new.identity().as_deref() == Some(staked.pubkey.as_str())).then_some(()),
    );
    let took = killed_at.elapsed();
    assert!(
        took <= Duration::from_secs(TTL + 2),
        "took {took:?} > TTL + 2 s\n{}",
        logs(&[old, new])
    );
    let (writer, new_token, slot) = wait_for("the new tower", Duration::from_secs(10), || {
        etcd_tower(&etcd, "kill").filter(|(writer, _, _)| *writer == new.name)
    });
    assert_eq!(writer, new.name);
    assert!(new_token > token, "a newer election: {new_token} > {token}");
    assert!(
        slot >= last_pushed,
        "the adopted tower ({slot}) is at least as new as the last one pushed ({last_pushed})"
    );

    // The survivor publishes its endpoint; the replica switches to it.
    let survivor_upstream = new.upstream();
    wait_for(
        "the survivor's published upstream",
        Duration::from_secs(10),
        || {
            let text = etcd.get("/failover/kill/upstream").ok()??;
            let published: Value = serde_json::from_str(&text).ok()?;
            (published["upstream"] == survivor_upstream.as_str()).then_some(())
        },
    );
    let published_at = Instant::now();
    wait_for("the replica to switch", Duration::from_secs(15), || {
        (cluster::status(&replica)?["upstream"] == survivor_upstream.as_str()).then_some(())
    });
    let switched = published_at.elapsed();
    println!("the replica switched upstream {switched:?} after the publication");
    assert!(
        switched <= Duration::from_secs(2),
        "switched after {switched:?}"
    );

    // The replica switched to the survivor and continues on the same chain: its lattice hash
    // at a slot rooted after the kill equals the surviving simulator's.
    let survivor = new.sim.as_ref().unwrap();
    replica_matches(&replica, survivor, last_pushed + 30);

    // The old primary restarts: it does not take the identity back.
    old.start_sim(&staked, SLOT_MS, clock);
    old.write_config(&etcd, &staked, &settings);
    old.start_agent();
    let until = Instant::now() + Duration::from_secs(2 * TTL + 2);
    while Instant::now() < until {
        assert_eq!(
            old.identity().as_deref(),
            Some(old.unstaked.as_str()),
            "the restarted node holds its unstaked identity\n{}",
            old.agent_log()
        );
        assert_eq!(new.identity().as_deref(), Some(staked.pubkey.as_str()));
        std::thread::sleep(Duration::from_millis(100));
    }
    let status_now = status(&old.config).unwrap();
    assert_eq!(
        active_of(&status_now),
        Some(new.name.clone()),
        "{status_now}"
    );

    // A planned switchover moves the tower back to the old primary.
    let before = etcd_tower(&etcd, "kill").unwrap().2;
    let config = old.config.display().to_string();
    let (ok, stdout, stderr) = failover(&[
        "switchover",
        "--config",
        &config,
        "--to",
        &old.name,
        "--timeout-secs",
        "30",
    ]);
    assert!(ok, "switchover failed: {stderr}\n{}", logs(&[old, new]));
    let switched: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(active_of(&switched), Some(old.name.clone()), "{switched}");
    assert_eq!(old.identity().as_deref(), Some(staked.pubkey.as_str()));
    assert_eq!(new.identity().as_deref(), Some(new.unstaked.as_str()));
    let (writer, _, slot) = wait_for("the moved tower", Duration::from_secs(10), || {
        etcd_tower(&etcd, "kill").filter(|(writer, _, slot)| *writer == old.name && *slot > before)
    });
    assert_eq!(writer, old.name);
    assert!(slot > before);
    let samples = sampler.finish();
    assert!(samples > 100, "{samples} samples");
}

#[test]
fn failover_etcd_outage_fences_and_a_paused_agent_writes_no_stale_tower() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut etcd = Etcd::start().expect("etcd");
    let staked = Staked::new(dir.path());
    let clock = tests::failover::unix_ms();
    let settings = settings("outage");
    let mut a = Host::new(dir.path(), "a");
    let mut b = Host::new(dir.path(), "b");
    for host in [&mut a, &mut b] {
        host.start_sim(&staked, SLOT_MS, clock);
        host.write_config(&etcd, &staked, &settings);
        host.start_agent();
    }
    let sampler = Sampler::start(
        vec![("a".into(), a.admin.clone()), ("b".into(), b.admin.clone())],
        &staked.pubkey,
    );
    let active = wait_active(&[&a, &b], &staked, Duration::from_secs(30))
        .name
        .clone();
    wait_for("a pushed tower", Duration::from_secs(20), || {
        etcd_tower(&etcd, "outage")
    });

    // etcd stops: the active node fences within the TTL, and nobody holds the staked identity
    // until etcd returns.
    let stopped_at = Instant::now();
    etcd.stop();
    wait_for(
        "the active node to fence",
        Duration::from_secs(TTL + 5),
        || {
            [&a, &b]
                .iter()
                .all(|h| h.identity().as_deref() != Some(staked.pubkey.as_str()))
                .then_some(())
        },
    );
    let fenced_after = stopped_at.elapsed();
    assert!(
        fenced_after < Duration::from_secs(TTL),
        "fenced after {fenced_after:?}, not within the {TTL} s TTL\n{}",
        logs(&[&a, &b])
    );
    let until = stopped_at + Duration::from_secs(2 * TTL + 1);
    while Instant::now() < until {
        for host in [&a, &b] {
            assert_ne!(
                host.identity().as_deref(),
                Some(staked.pubkey.as_str()),
                "{} holds the staked identity without etcd",
                host.name
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    etcd.resume().expect("etcd restarts");
    let again = wait_active(&[&a, &b], &staked, Duration::from_secs(30))
        .name
        .clone();
    println!("active before the outage: {active}, after: {again}");

    // The active agent freezes (SIGSTOP) while its validator runs on: the agent's fence guard
    // fences the validator once the agent's trust lapses, the other node takes over once the
    // lease expires, and the resumed agent fences and never writes its stale tower.
    let (frozen, other) = if again == "a" { (&a, &b) } else { (&b, &a) };
    wait_for(
        "a tower from the active node",
        Duration::from_secs(20),
        || etcd_tower(&etcd, "outage").filter(|(writer, _, _)| *writer == frozen.name),
    );
    let stopped_at = Instant::now();
    frozen.signal_agent(libc::SIGSTOP);
    wait_for("the guard to fence", Duration::from_secs(TTL + 5), || {
        (frozen.identity().as_deref() == Some(frozen.unstaked.as_str())).then_some(())
    });
    assert!(
        stopped_at.elapsed() < Duration::from_secs(TTL),
        "the guard fenced after {:?}",
        stopped_at.elapsed()
    );
    wait_for(
        "the other node to take over",
        Duration::from_secs(TTL + 10),
        || (other.identity().as_deref() == Some(staked.pubkey.as_str())).then_some(()),
    );
    let (writer, token, slot) = wait_for("the new tower", Duration::from_secs(10), || {
        etcd_tower(&etcd, "outage").filter(|(writer, _, _)| *writer == other.name)
    });
    frozen.signal_agent(libc::SIGCONT);
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let (now_writer, now_token, now_slot) = etcd_tower(&etcd, "outage").unwrap();
        assert_eq!(
            now_writer,
            writer,
            "a stale tower was written\n{}",
            frozen.agent_log()
        );
        assert!(now_token >= token && now_slot >= slot);
        assert_eq!(frozen.identity().as_deref(), Some(frozen.unstaked.as_str()));
        std::thread::sleep(Duration::from_millis(100));
    }

    // The active agent is killed (SIGKILL) and its validator runs on: the guard fences it at
    // once, and the other node takes over after the TTL.
    let (dying, survivor) = if other.name == "a" {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    let killed_at = Instant::now();
    dying.agent = None;
    wait_for("the guard to fence", Duration::from_secs(TTL + 5), || {
        (dying.identity().as_deref() == Some(dying.unstaked.as_str())).then_some(())
    });
    assert!(
        killed_at.elapsed() < Duration::from_secs(1),
        "fenced {:?} after the agent died",
        killed_at.elapsed()
    );
    wait_for(
        "the other node to take over",
        Duration::from_secs(TTL + 10),
        || (survivor.identity().as_deref() == Some(staked.pubkey.as_str())).then_some(()),
    );
    sampler.finish();
}

#[test]
fn failover_when_the_active_validator_fails_its_health_checks() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start().expect("etcd");
    let staked = Staked::new(dir.path());
    let clock = tests::failover::unix_ms();
    let mut a = Host::new(dir.path(), "a");
    let mut b = Host::new(dir.path(), "b");
    let health = [FakeHealth::start(), FakeHealth::start()];
    for (host, health) in [(&mut a, &health[0]), (&mut b, &health[1])] {
        let mut settings = settings("health");
        settings.extra.push_str(&format!(
            "[health]\nrpc_url = \"{}\"\ninterval_ms = 200\nfailover_after_secs = 2\n",
            health.url
        ));
        host.start_sim(&staked, SLOT_MS, clock);
        host.write_config(&etcd, &staked, &settings);
        host.start_agent();
    }
    let sampler = Sampler::start(
        vec![("a".into(), a.admin.clone()), ("b".into(), b.admin.clone())],
        &staked.pubkey,
    );
    let first = wait_active(&[&a, &b], &staked, Duration::from_secs(30))
        .name
        .clone();
    let (sick, well, sick_health) = if first == "a" {
        (&a, &b, &health[0])
    } else {
        (&b, &a, &health[1])
    };
    // Let the standby's hold-off pass, then the active validator's checks fail.
    std::thread::sleep(Duration::from_secs(TTL));
    let failing_at = Instant::now();
    sick_health.set_healthy(false);
    wait_for(
        "the healthy node to take over",
        Duration::from_secs(15),
        || (well.identity().as_deref() == Some(staked.pubkey.as_str())).then_some(()),
    );
    let took = failing_at.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took <= Duration::from_secs(2 + TTL + 2),
        "took {took:?}\n{}",
        logs(&[sick, well])
    );
    assert_eq!(sick.identity().as_deref(), Some(sick.unstaked.as_str()));
    let status_now = status(&well.config).unwrap();
    assert_eq!(
        active_of(&status_now),
        Some(well.name.clone()),
        "{status_now}"
    );
    let sick_record = status_now["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == sick.name.as_str())
        .unwrap()
        .clone();
    assert_eq!(sick_record["healthy"], false, "{status_now}");
    // Healthy again, the old active node stays a standby: no flapping.
    sick_health.set_healthy(true);
    let until = Instant::now() + Duration::from_secs(2 * TTL);
    while Instant::now() < until {
        assert_eq!(well.identity().as_deref(), Some(staked.pubkey.as_str()));
        assert_eq!(sick.identity().as_deref(), Some(sick.unstaked.as_str()));
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovered = sick.name.clone();
    sampler.finish();

    // The active validator process dies while its agent runs on: unreachable counts as
    // unhealthy, so after failover_after the agent resigns and the other node takes over.
    let (dead, alive) = if recovered == "a" {
        (&mut b, &a)
    } else {
        (&mut a, &b)
    };
    let (_, _, before) = etcd_tower(&etcd, "health").unwrap();
    let died_at = Instant::now();
    dead.sim = None;
    wait_for(
        "the other node to take over from a dead validator",
        Duration::from_secs(20),
        || (alive.identity().as_deref() == Some(staked.pubkey.as_str())).then_some(()),
    );
    let took = died_at.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took <= Duration::from_secs(2 + TTL + 2),
        "took {took:?}\n{}",
        logs(&[dead, alive])
    );
    let (writer, _, slot) = wait_for("the new tower", Duration::from_secs(10), || {
        etcd_tower(&etcd, "health").filter(|(writer, _, _)| *writer == alive.name)
    });
    assert_eq!(writer, alive.name);
    assert!(slot >= before);
}

#[test]
fn failover_with_mtls_and_clear_refusals() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start_tls().expect("etcd with client-certificate auth");
    let staked = Staked::new(dir.path());
    let clock = tests::failover::unix_ms();
    let settings = settings("tls");
    let mut a = Host::new(dir.path(), "a");
    a.start_sim(&staked, SLOT_MS, clock);
    a.write_config(&etcd, &staked, &settings);
    a.start_agent();
    wait_active(&[&a], &staked, Duration::from_secs(30));
    let status_now = status(&a.config).unwrap();
    assert_eq!(active_of(&status_now), Some("a".into()), "{status_now}");
    assert_eq!(status_now["cluster"], "tls");

    // A client certificate from another CA: a clear error, never an active node.
    let certs = &etcd.certs().unwrap().0;
    let rogue = certs.foreign_client("rogue").unwrap();
    let text = std::fs::read_to_string(&a.config).unwrap();
    let client = &etcd.certs().unwrap().1;
    let rogue_config = dir.path().join("rogue.toml");
    std::fs::write(
        &rogue_config,
        text.replace(
            &client.cert.display().to_string(),
            &rogue.cert.display().to_string(),
        )
        .replace(
            &client.key.display().to_string(),
            &rogue.key.display().to_string(),
        ),
    )
    .unwrap();
    let path = rogue_config.display().to_string();
    let (ok, _, stderr) = failover(&["status", "--config", &path]);
    assert!(!ok);
    assert!(stderr.contains("etcd"), "{stderr}");

    // An agent with that certificate never gets a lease, so never activates, and says why.
    let mut d = Host::new(dir.path(), "d");
    d.start_sim(&staked, SLOT_MS, clock);
    d.write_config(&etcd, &staked, &settings);
    let d_text = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(
        &d.config,
        d_text
            .replace(
                &client.cert.display().to_string(),
                &rogue.cert.display().to_string(),
            )
            .replace(
                &client.key.display().to_string(),
                &rogue.key.display().to_string(),
            ),
    )
    .unwrap();
    d.start_agent();
    wait_for("the refused agent's error", Duration::from_secs(20), || {
        d.agent_log().contains("cannot grant a lease").then_some(())
    });
    let until = Instant::now() + Duration::from_secs(2 * TTL);
    while Instant::now() < until {
        assert_eq!(d.identity().as_deref(), Some(d.unstaked.as_str()));
        assert_eq!(a.identity().as_deref(), Some(staked.pubkey.as_str()));
        std::thread::sleep(Duration::from_millis(100));
    }
    d.kill();

    // No client certificate at all.
    let plain_config = dir.path().join("no-cert.toml");
    std::fs::write(
        &plain_config,
        text.lines()
            .filter(|l| !l.starts_with("etcd_cert") && !l.starts_with("etcd_key"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let path = plain_config.display().to_string();
    let (ok, _, stderr) = failover(&["status", "--config", &path]);
    assert!(!ok, "etcd requires a client certificate");
    assert!(stderr.contains("etcd"), "{stderr}");

    // Unreachable etcd.
    let unreachable = dir.path().join("unreachable.toml");
    std::fs::write(
        &unreachable,
        text.replace(&etcd.endpoint(), "https://127.0.0.1:9"),
    )
    .unwrap();
    let path = unreachable.display().to_string();
    let (ok, _, stderr) = failover(&["status", "--config", &path]);
    assert!(!ok);
    assert!(stderr.contains("etcd"), "{stderr}");

    // Bad configurations.
    for (name, edit, expected) in [
        ("unknown-key.toml", "lease_ttl = 5\n", "unknown field"),
        ("bad-ttl.toml", "fence_after_ms = 2900\n", "fence_after_ms"),
    ] {
        let bad = dir.path().join(name);
        std::fs::write(&bad, format!("{text}\n{edit}")).unwrap();
        let path = bad.display().to_string();
        let (ok, _, stderr) = failover(&["agent", "--config", &path, "--check"]);
        assert!(!ok, "{name}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
    let missing_key = dir.path().join("missing-keypair.toml");
    std::fs::write(
        &missing_key,
        text.replace(
            &a.unstaked_path().display().to_string(),
            "/nonexistent/unstaked.json",
        ),
    )
    .unwrap();
    let path = missing_key.display().to_string();
    let (ok, _, stderr) = failover(&["agent", "--config", &path, "--check"]);
    assert!(!ok);
    assert!(stderr.contains("unstaked_identity"), "{stderr}");
    let path = a.config.display().to_string();
    let (ok, stdout, stderr) = failover(&["agent", "--config", &path, "--check"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("cluster = \"tls\""), "{stdout}");

    // A tower in etcd signed by another identity: no node of a fresh cluster activates.
    std::fs::create_dir_all(dir.path().join("other")).unwrap();
    let other_staked = Staked::new(&dir.path().join("other"));
    let tower = {
        use {base64::Engine, solana_signer::Signer};
        let keypair = solana_keypair::read_keypair_file(&other_staked.path).unwrap();
        let mut tower = ::failover::tower::Tower::new(keypair.pubkey());
        tower.record_vote(5, Default::default(), 5);
        base64::engine::general_purpose::STANDARD.encode(tower.encode(&keypair).unwrap())
    };
    etcd.put(
        "/failover/forged/tower",
        &format!(
            "{{\"node\":\"x\",\"fencingToken\":1,\"identity\":\"{}\",\"lastVoteSlot\":5,\"root\":null,\"tower\":\"{tower}\"}}",
            staked.pubkey
        ),
    )
    .unwrap();
    let mut c = Host::new(dir.path(), "c");
    c.start_sim(&staked, SLOT_MS, clock);
    c.write_config(&etcd, &staked, &self::settings("forged"));
    c.start_agent();
    wait_for("the refusal", Duration::from_secs(20), || {
        c.agent_log()
            .contains("not a valid tower of the staked identity")
            .then_some(())
    });
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        assert_eq!(c.identity().as_deref(), Some(c.unstaked.as_str()));
        std::thread::sleep(Duration::from_millis(100));
    }
    // The other cluster's active node is untouched.
    assert_eq!(a.identity().as_deref(), Some(staked.pubkey.as_str()));
}
