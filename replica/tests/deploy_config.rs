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

/// The header promises: "values are the defaults unless marked example". Each key whose value
/// differs from the default needs "example" in its comment: the nearest block of comment lines
/// above it (within its paragraph), or a comment on its own line.
#[test]
fn every_value_other_than_the_default_is_marked_as_an_example() {
    let text = std::fs::read_to_string(example()).unwrap();
    let shown: toml::Value = toml::from_str(&text).unwrap();
    let defaults = toml::Value::try_from(ReplicaConfig::default()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut section: Vec<String> = Vec::new();
    let mut unmarked = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[') {
            section = name
                .trim_end_matches(']')
                .split('.')
                .map(String::from)
                .collect();
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        let path: Vec<&str> = section
            .iter()
            .map(String::as_str)
            .chain([key.trim()])
            .collect();
        let lookup = |value: &toml::Value| {
            path.iter()
                .try_fold(value.clone(), |value, key| value.get(key).cloned())
        };
        if lookup(&shown) == lookup(&defaults) {
            continue;
        }
        let mut comment = line
            .split_once('#')
            .map(|(_, c)| c.to_string())
            .unwrap_or_default();
        // The nearest comment block above, which may describe several keys in a row.
        let mut in_block = false;
        for above in lines[..index].iter().rev().map(|line| line.trim()) {
            if above.is_empty() || above.starts_with('[') {
                break;
            }
            match above.strip_prefix('#') {
                Some(text) => {
                    comment.push_str(text);
                    in_block = true;
                }
                None if in_block => break,
                None => {}
            }
        }
        if !comment.to_lowercase().contains("example") {
            unmarked.push(path.join("."));
        }
    }
    assert!(
        unmarked.is_empty(),
        "deploy/replica.toml shows non-default values without marking them as examples: {unmarked:?}"
    );
}
