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
