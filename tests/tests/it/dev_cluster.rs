//! `replica dev` as a user runs it: within 30 s both replicas answer for an account the
//! simulator keeps changing, at an advancing slot, with equal lattice hashes at equal roots; an
//! interrupt stops every process it started.

use {
    serde_json::{Value, json},
    std::{
        process::{Command, Stdio},
        time::{Duration, Instant},
    },
    tests::{bin, rpc::RpcClient, ws::WsClient},
};

/// Pids of the direct children of `parent`, from /proc.
fn children(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The parent pid is the second field after the parenthesised command name.
        let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        if after
            .split_whitespace()
            .nth(1)
            .and_then(|ppid| ppid.parse::<u32>().ok())
            == Some(parent)
        {
            found.push(pid);
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn clock(client: &RpcClient) -> Option<(u64, u64)> {
    let response = client.call(
        "getAccountInfo",
        json!(["SysvarC1ock11111111111111111111111111111111", {"encoding": "jsonParsed", "commitment": "confirmed"}]),
    );
    let result = response.get("result")?;
    Some((
        result["context"]["slot"].as_u64()?,
        result["value"]["data"]["parsed"]["info"]["slot"].as_u64()?,
    ))
}

#[test]
fn dev_cluster_serves_two_chained_replicas_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("dev.ready");
    let started = Instant::now();
    let mut dev = Command::new(bin::path("replica"))
        .args([
            "dev",
            "--rpc-bind",
            "127.0.0.1:0",
            "--second-rpc-bind",
            "127.0.0.1:0",
            "--slot-ms",
            "400",
            "--dir",
        ])
        .arg(dir.path().join("cluster"))
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("dev.err")).unwrap())
        .spawn()
        .unwrap();
    let deadline = started + Duration::from_secs(30);
    let info: Value = loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            break serde_json::from_str(&text).unwrap();
        }
        assert!(
            dev.try_wait().unwrap().is_none(),
            "replica dev exited early"
        );
        assert!(
            Instant::now() < deadline,
            "replica dev was not up within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let clients: Vec<RpcClient> = info["rpc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|addr| RpcClient::new(&format!("http://{}/", addr.as_str().unwrap())))
        .collect();
    // Both serve PubSub, listed in the ready file: a slot subscription is notified.
    for addr in info["pubsub"].as_array().unwrap() {
        let mut ws = WsClient::connect(addr.as_str().unwrap().parse().unwrap()).unwrap();
        ws.subscribe(1, "slotSubscribe", json!([]));
        let notification = ws.recv_json(Duration::from_secs(10)).unwrap();
        assert_eq!(notification["method"], "slotNotification", "{notification}");
    }
    // Both answer for the Clock sysvar, which the simulator rewrites every slot, and the slot
    // advances.
    let mut first = Vec::new();
    for client in &clients {
        let answer = loop {
            if let Some(answer) = clock(client) {
                break answer;
            }
            assert!(
                Instant::now() < deadline,
                "no getAccountInfo answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        first.push(answer);
    }
    assert!(
        Instant::now() <= deadline + Duration::from_secs(1),
        "answers came after 30 s"
    );
    for (client, (slot, clock_slot)) in clients.iter().zip(&first) {
        assert_eq!(slot, clock_slot, "the Clock sysvar is the bank's own slot");
        let later = Instant::now() + Duration::from_secs(20);
        loop {
            let (now, _) = clock(client).expect("still answering");
            if now > *slot {
                break;
            }
            assert!(Instant::now() < later, "the slot does not advance");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Equal lattice hashes at equal roots: sample both until they report the same root.
    let later = Instant::now() + Duration::from_secs(30);
    loop {
        let statuses: Vec<Value> = clients
            .iter()
            .map(|client| client.call("getReplicaStatus", Value::Null)["result"].clone())
            .collect();
        if statuses[0]["rootSlot"] == statuses[1]["rootSlot"]
            && statuses[0]["rootSlot"].as_u64().is_some()
        {
            assert_eq!(
                statuses[0]["accountsLtHash"], statuses[1]["accountsLtHash"],
                "{statuses:?}"
            );
            break;
        }
        assert!(
            Instant::now() < later,
            "the replicas never reported the same root"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A healthy start warns about nothing, in any process's log.
    let cluster = dir.path().join("cluster");
    for log in ["simulator.log", "replica-1.log", "replica-2.log"]
        .map(|name| cluster.join(name))
        .into_iter()
        .chain([dir.path().join("dev.err")])
    {
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            !text.contains(" WARN ") && !text.contains(" ERROR "),
            "{}:\n{text}",
            log.display()
        );
    }

    // Ctrl-C leaves no process behind.
    let spawned = children(dev.id());
    assert_eq!(spawned.len(), 3, "simulator and two replicas: {spawned:?}");
    #[allow(unsafe_code)]
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(dev.id() as libc::pid_t, libc::SIGINT);
    }
    let stop_deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = dev.try_wait().unwrap() {
            assert!(status.success(), "replica dev exited with {status}");
            break;
        }
        assert!(Instant::now() < stop_deadline, "replica dev did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in spawned {
        assert!(!alive(pid), "process {pid} survived Ctrl-C");
    }
}

#[test]
fn dev_refuses_a_taken_port_at_once_and_stops_quietly_on_ctrl_c_during_start_up() {
    let dir = tempfile::tempdir().unwrap();
    // A taken port: refused before anything starts, naming the address and the flag.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(bin::path("replica"))
        .args([
            "dev",
            "--rpc-bind",
            &addr,
            "--second-rpc-bind",
            "127.0.0.1:0",
            "--dir",
        ])
        .arg(dir.path().join("refused"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&addr) && stderr.contains("--rpc-bind"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one error line: {stderr}");
    assert!(!dir.path().join("refused").exists(), "nothing started");

    // Ctrl-C while replica 1 starts: everything stops at once, quietly, successfully.
    let out = dir.path().join("dev.out");
    let err = dir.path().join("dev.err");
    let mut dev = Command::new(bin::path("replica"))
        .args([
            "dev",
            "--rpc-bind",
            "127.0.0.1:0",
            "--second-rpc-bind",
            "127.0.0.1:0",
            "--dir",
        ])
        .arg(dir.path().join("cluster"))
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&out)
        .unwrap()
        .contains("starting replica 1")
    {
        assert!(Instant::now() < deadline, "replica dev did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    let spawned = children(dev.id());
    assert!(!spawned.is_empty(), "the simulator runs");
    let interrupted = Instant::now();
    #[allow(unsafe_code)]
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(dev.id() as libc::pid_t, libc::SIGINT);
    }
    let status = loop {
        if let Some(status) = dev.try_wait().unwrap() {
            break status;
        }
        assert!(
            interrupted.elapsed() < Duration::from_secs(15),
            "replica dev did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out).unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert!(
        stdout
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("stopped"),
        "{stdout}"
    );
    assert!(
        !stderr.contains("error") && !stderr.contains(" WARN "),
        "{stderr}"
    );
    for pid in spawned {
        assert!(!alive(pid), "process {pid} survived Ctrl-C");
    }
}
