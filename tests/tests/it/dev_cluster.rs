//! `replica dev` as a user runs it: within 30 s both replicas answer for an account the
//! simulator keeps changing, at an advancing slot, with equal lattice hashes at equal roots; an
//! interrupt stops every process it started.

use {
    serde_json::{Value, json},
    std::{
        process::{Command, Stdio},
        time::{Duration, Instant},
    },
    tests::{bin, rpc::RpcClient},
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
        .stderr(Stdio::null())
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
