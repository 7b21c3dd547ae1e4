//! The binary as an operator meets it: exit codes, one line per fatal error, quiet broken
//! pipes, and log output without colour codes when stderr is not a terminal.

use {
    crate::support::{BIN, describe},
    std::process::{Command, Output, Stdio},
};

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("run snapshot-tools")
}

#[test]
fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(&[
        "synthesize",
        "--dir",
        dir.path().to_str().unwrap(),
        "--accounts",
        "10",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("archive written"), "{}", describe(&output));
    assert!(!stderr.contains('\u{1b}'), "{}", describe(&output));
}

/// The lines a run wrote to stderr (logs and the error line).
fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// A fatal error is exactly one line, `error: ...`, and names each cause once.
fn assert_one_error_line(output: &Output, cause: &str) -> String {
    let lines = stderr_lines(output);
    assert_eq!(lines.len(), 1, "{}", describe(output));
    let line = lines[0].clone();
    assert!(line.starts_with("error: "), "{}", describe(output));
    assert_eq!(line.matches(cause).count(), 1, "{}", describe(output));
    line
}

fn fixture_copy(dir: &std::path::Path, prefix: &str, keep: Option<usize>) -> String {
    let source = crate::support::fixture(prefix);
    let mut bytes = std::fs::read(&source).unwrap();
    if let Some(keep) = keep {
        bytes.truncate(keep);
    }
    let path = dir.join(source.file_name().unwrap());
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn fetch_without_a_source_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().to_str().unwrap();
    let output = run(&["fetch", "--ledger", ledger]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--tracker"),
        "{}",
        describe(&output)
    );
    // Half a bucket is a usage error too, for fetch and for mirror.
    let output = run(&[
        "fetch",
        "--ledger",
        ledger,
        "--s3-url",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let output = run(&["mirror", "--tracker", "http://127.0.0.1:1"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
}

#[test]
fn fatal_errors_are_one_line_with_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    // No tracker answers: one line naming the tracker's cause, no warning before it.
    let ledger = dir.path().join("ledger");
    let output = run(&[
        "fetch",
        "--ledger",
        ledger.to_str().unwrap(),
        "--tracker",
        "http://127.0.0.1:1",
        "--no-progress",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let line = assert_one_error_line(&output, "http://127.0.0.1:1/v1/best_snapshots");
    assert!(line.contains("no source answered"), "{line}");
    assert!(line.to_lowercase().contains("connection refused"), "{line}");

    // A missing configuration file.
    let output = run(&["tracker", "--config", "/nonexistent/tracker.yaml"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert_one_error_line(&output, "No such file or directory");

    // A missing archive: cannot check, exit 1.
    let missing = dir
        .path()
        .join("snapshot-1-28uuGLSjbsLD59sj9bz76cpCtNeJncYMAEHZf5UqQqQj.tar.zst");
    let output = run(&["inspect", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let line = assert_one_error_line(&output, "No such file or directory");
    assert!(line.contains(missing.to_str().unwrap()), "{line}");
}

#[test]
fn inspect_names_archive_entry_and_offset_of_a_truncated_archive_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    // Cut inside a storage entry of the lz4 full archive.
    let cut = fixture_copy(dir.path(), "snapshot-2-", Some(16_000));
    let output = run(&["inspect", &cut]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let line = assert_one_error_line(&output, &cut);
    assert!(line.contains("entry `accounts/2.2` at offset "), "{line}");
    assert!(line.contains("tar header at "), "{line}");
    assert!(line.contains("corrupt or truncated"), "{line}");
    // Cut inside the first compressed block: before the first tar header.
    let cut = fixture_copy(dir.path(), "snapshot-1-", Some(5_000));
    let output = run(&["inspect", &cut]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let line = assert_one_error_line(&output, &cut);
    assert!(line.contains("tar header at offset 0"), "{line}");
    // Not an archive name: does not form a chain, exit 2.
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, b"x").unwrap();
    let output = run(&["inspect", other.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
}

#[test]
fn inspect_runs_agaves_manifest_checks_even_without_the_hash_check() {
    let dir = tempfile::tempdir().unwrap();
    let full1 = fixture_copy(dir.path(), "snapshot-1-", None);
    let incremental = fixture_copy(dir.path(), "incremental-snapshot-1-2-", None);
    let full2 = fixture_copy(dir.path(), "snapshot-2-", None);
    // Slot 1 alone: the lattice hash verifies, the capitalization does not (Agave refuses
    // it too); --no-verify skips only the hash.
    for extra in [&[][..], &["--no-verify"][..]] {
        let mut args = vec!["inspect", full1.as_str(), "--json"];
        args.extend(extra);
        let output = run(&args);
        assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["verified"], false);
        assert!(
            report["manifestError"]
                .as_str()
                .unwrap()
                .starts_with("capitalization: the manifest says 1002001000891185 lamports, the accounts hold 1002006000891185"),
            "{report}"
        );
        assert_eq!(report["hashChecked"], extra.is_empty());
        assert_eq!(report["hashError"], serde_json::Value::Null);
    }
    for args in [
        vec!["inspect", full1.as_str(), incremental.as_str()],
        vec!["inspect", full2.as_str()],
        vec!["inspect", full2.as_str(), "--no-verify"],
    ] {
        let output = run(&args);
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("manifest check   yes"), "{stdout}");
        assert!(stdout.contains("verified         yes"), "{stdout}");
    }
}

#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let full2 = fixture_copy(dir.path(), "snapshot-2-", None);
    let cases: Vec<(Vec<String>, i32)> = vec![
        (vec!["inspect".into(), full2.clone()], 0),
        (vec!["inspect".into(), full2.clone(), "--json".into()], 0),
        (
            vec![
                "synthesize".into(),
                "--dir".into(),
                dir.path().join("synthetic").display().to_string(),
                "--accounts".into(),
                "10".into(),
            ],
            0,
        ),
    ];
    for (args, code) in cases {
        // The reading end is closed before the process starts: every write gets EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = Command::new(BIN)
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}: {}",
            describe(&output)
        );
        assert!(output.stderr.is_empty(), "{args:?}: {}", describe(&output));
    }
}

#[test]
fn synthesize_writes_the_mints_of_its_token_accounts() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, accounts) in [(None, 30 + 18), (Some("--no-mints"), 30)] {
        let out = dir.path().join(extra.unwrap_or("default"));
        let mut args = vec![
            "synthesize",
            "--dir",
            out.to_str().unwrap(),
            "--accounts",
            "30",
        ];
        args.extend(extra);
        let output = run(&args);
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        let path = String::from_utf8(output.stdout).unwrap();
        let output = run(&["inspect", path.trim(), "--json"]);
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        // 30 accounts hold 18 token accounts, over 18 mints.
        assert_eq!(report["accounts"], accounts, "{extra:?}");
    }
}
