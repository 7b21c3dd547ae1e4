//! The example configuration in `deploy/` stays complete and valid as the configuration grows.

use {
    replica::config::ReplicaConfig,
    std::{
        path::{Path, PathBuf},
        process::Command,
    },
};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/replica.toml")
}

fn check(config: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_replica"))
        .args(["run", "--check", "--config"])
        .arg(config)
        .output()
        .unwrap()
}

/// Dotted paths of every key in a TOML table.
fn key_paths(value: &toml::Value, prefix: &str, paths: &mut Vec<String>) {
    if let toml::Value::Table(table) = value {
        for (key, value) in table {
            let path = format!("{prefix}{key}");
            key_paths(value, &format!("{path}."), paths);
            paths.push(path);
        }
    }
}

#[test]
fn the_example_passes_check_and_resolves_to_itself() {
    let output = check(&example());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: ReplicaConfig =
        toml::from_str(&String::from_utf8(output.stdout).unwrap()).unwrap();
    assert_eq!(printed, ReplicaConfig::from_file(&example()).unwrap());
    assert!(!printed.replication.upstreams.is_empty());
    assert!(printed.rpc.bind.is_some());
}

#[test]
fn the_example_shows_every_key() {
    let text = std::fs::read_to_string(example()).unwrap();
    let shown: toml::Value = toml::from_str(&text).unwrap();
    let mut shown_paths = Vec::new();
    key_paths(&shown, "", &mut shown_paths);
    let mut default_paths = Vec::new();
    key_paths(
        &toml::Value::try_from(ReplicaConfig::default()).unwrap(),
        "",
        &mut default_paths,
    );
    let missing: Vec<_> = default_paths
        .iter()
        .filter(|path| !shown_paths.contains(path))
        .collect();
    assert!(missing.is_empty(), "deploy/replica.toml lacks {missing:?}");
}

#[test]
fn check_rejects_unknown_keys_and_bad_upstreams() {
    let dir = tempfile::tempdir().unwrap();
    let example_text = std::fs::read_to_string(example()).unwrap();

    let unknown = dir.path().join("unknown.toml");
    std::fs::write(
        &unknown,
        example_text.replace("[store]\n", "[store]\nblock_cache = 1\n"),
    )
    .unwrap();
    let output = check(&unknown);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("block_cache"));

    let bad_upstream = dir.path().join("upstream.toml");
    std::fs::write(
        &bad_upstream,
        example_text.replace(
            "=7aJT1md3Hp6B2wVcYZ37iJv3eCbJtxHQEvLz4ihRFhiv",
            "=not-a-pubkey",
        ),
    )
    .unwrap();
    let output = check(&bad_upstream);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not-a-pubkey"));
}
