//! The `failover` binary's configuration checks and errors, without etcd (the scenarios with a
//! real etcd are in the workspace's `tests/`). Also makes `cargo test --workspace` build the
//! binary those scenarios run.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/failover.toml")
}

fn failover(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_failover"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The example with its files made in `dir` (keypairs, dummy TLS files).
fn localized(dir: &Path) -> String {
    let mut text = std::fs::read_to_string(example()).unwrap();
    for (name, from) in [
        ("staked.json", "/etc/validator/identity.json"),
        ("unstaked.json", "/etc/validator/unstaked-a.json"),
    ] {
        let path = dir.join(name);
        let keypair = solana_keypair::Keypair::new();
        solana_keypair::write_keypair_file(&keypair, &path).unwrap();
        text = text.replace(from, &path.display().to_string());
    }
    for (name, from) in [
        ("ca.pem", "/etc/failover/certs/etcd-ca.pem"),
        ("validator.pem", "/etc/failover/certs/validator.pem"),
        ("validator-key.pem", "/etc/failover/certs/validator-key.pem"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, "not used by --check").unwrap();
        text = text.replace(from, &path.display().to_string());
    }
    text
}

#[test]
fn the_example_checks_and_resolves_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("failover.toml");
    let text = localized(dir.path());
    std::fs::write(&config, &text).unwrap();
    let path = config.display().to_string();
    let (ok, stdout, stderr) = failover(&["agent", "--config", &path, "--check"]);
    assert!(ok, "{stderr}");
    let printed: failover::config::AgentConfig = toml::from_str(&stdout).unwrap();
    let written: failover::config::AgentConfig = toml::from_str(&text).unwrap();
    assert_eq!(printed, written);
    assert!(stderr.contains("staked identity"), "{stderr}");
}

#[test]
fn the_example_shows_every_key() {
    let text = std::fs::read_to_string(example()).unwrap();
    let shown: toml::Value = toml::from_str(&text).unwrap();
    let defaults = toml::Value::try_from(failover::config::AgentConfig::default()).unwrap();
    let (toml::Value::Table(shown), toml::Value::Table(defaults)) = (shown, defaults) else {
        panic!("tables");
    };
    let mut missing = Vec::new();
    for (key, value) in &defaults {
        match (value, shown.get(key)) {
            (toml::Value::Table(section), Some(toml::Value::Table(shown_section))) => {
                for sub in section.keys() {
                    if !shown_section.contains_key(sub) {
                        missing.push(format!("{key}.{sub}"));
                    }
                }
            }
            (_, None) => missing.push(key.clone()),
            _ => {}
        }
    }
    assert!(missing.is_empty(), "deploy/failover.toml lacks {missing:?}");
}

#[test]
fn bad_configurations_and_unreachable_etcd_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = localized(dir.path());
    for (edit, expected) in [
        ("lease_ttl = 5", "unknown field"),
        ("[health]\nbogus = 1", "duplicate key"),
    ] {
        let config = dir.path().join("bad.toml");
        std::fs::write(&config, format!("{text}\n{edit}\n")).unwrap();
        let path = config.display().to_string();
        let (ok, _, stderr) = failover(&["agent", "--config", &path, "--check"]);
        assert!(!ok);
        assert!(stderr.contains(expected), "{edit}: {stderr}");
    }
    let config = dir.path().join("missing.toml");
    let path = config.display().to_string();
    let (ok, _, stderr) = failover(&["status", "--config", &path]);
    assert!(!ok);
    assert!(stderr.contains("cannot read"), "{stderr}");

    // Plain http to a port nobody listens on.
    let plain = text
        .lines()
        .filter(|l| !l.starts_with("etcd_"))
        .collect::<Vec<_>>()
        .join("\n");
    let config = dir.path().join("plain.toml");
    std::fs::write(
        &config,
        format!("etcd_endpoints = [\"http://127.0.0.1:9\"]\n{plain}\n"),
    )
    .unwrap();
    let path = config.display().to_string();
    let (ok, _, stderr) = failover(&["status", "--config", &path]);
    assert!(!ok);
    assert!(stderr.contains("etcd"), "{stderr}");
    let (ok, _, stderr) = failover(&["switchover", "--config", &path, "--to", "b/x"]);
    assert!(!ok);
    assert!(stderr.contains("not a node name"), "{stderr}");
    // No validator at the ledger: the fence fails clearly.
    let (ok, _, stderr) = failover(&["fence", "--config", &path]);
    assert!(!ok);
    assert!(stderr.contains("admin RPC"), "{stderr}");
}
