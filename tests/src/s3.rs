//! A real S3-compatible server on loopback: s3s-fs (installed by `scripts/test`; `S3_SERVER_BIN`
//! names the binary, by default `$HOME/.cache/s3-server/bin/s3s-fs`).

use {
    common::process::{ChildProcess, StopOnDrop},
    std::{path::PathBuf, process::Command, time::Duration},
};

pub const ACCESS_KEY: &str = "test-access-key";
pub const SECRET_KEY: &str = "test-secret-key-0123456789";

fn server_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("S3_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/s3-server/bin/s3s-fs")
}

/// s3s-fs serving a temporary directory; stopped on drop.
#[derive(Debug)]
pub struct S3Server {
    _process: ChildProcess,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    _root: tempfile::TempDir,
}

impl S3Server {
    /// Starts s3s-fs on a free port with the given (empty) buckets.
    pub fn start(buckets: &[&str]) -> Self {
        let bin = server_bin();
        assert!(
            bin.exists(),
            "S3 server binary not found at {}: run scripts/test, or set S3_SERVER_BIN",
            bin.display()
        );
        let root = tempfile::tempdir().unwrap();
        for bucket in buckets {
            std::fs::create_dir(root.path().join(bucket)).unwrap();
        }
        let log = root.path().join("s3s-fs.log");
        let mut command = Command::new(&bin);
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .env("RUST_LOG", "s3s_fs=info");
        let log_file = std::fs::File::create(&log).unwrap();
        command
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file);
        let process = ChildProcess::spawn("s3s-fs", command, &log, StopOnDrop::Kill)
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", bin.display()));
        // It logs "server is running at http://127.0.0.1:<port>" once listening.
        const MARK: &str = "server is running at ";
        let endpoint =
            crate::cluster::wait_for("s3s-fs to listen", Duration::from_secs(30), || {
                let text = process.log_text();
                let at = text.find(MARK)?;
                let rest = &text[at + MARK.len()..];
                let end = rest.find(char::is_whitespace)?;
                Some(rest[..end].to_string())
            });
        Self {
            _process: process,
            endpoint,
            _root: root,
        }
    }

    /// The credentials as the tools read them from the environment.
    pub fn credentials_env() -> [(&'static str, &'static str); 2] {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ]
    }
}
