//! A real S3-compatible server on loopback: s3s-fs (from crates.io, installed by `scripts/test`).
//! `S3_SERVER_BIN` names the binary; the default is where `.ci/run` installs it. A missing
//! binary fails the test with the install command.

use {
    super::Proc,
    snapshot_tools::s3::{S3Client, S3Location},
    std::{
        io::{BufRead, BufReader},
        path::PathBuf,
        process::{Command, Stdio},
        sync::mpsc,
        time::Duration,
    },
};

pub(crate) const ACCESS_KEY: &str = "test-access-key";
pub(crate) const SECRET_KEY: &str = "test-secret-key-0123456789";
pub(crate) const REGION: &str = "us-east-1";

pub(crate) fn server_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("S3_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/s3-server/bin/s3s-fs")
}

#[derive(Debug)]
pub(crate) struct S3Server {
    _proc: Proc,
    pub(crate) endpoint: String,
    _root: tempfile::TempDir,
}

impl S3Server {
    /// Starts s3s-fs on 127.0.0.1 with a free port and the given buckets.
    pub(crate) fn start(buckets: &[&str]) -> Self {
        let bin = server_bin();
        assert!(
            bin.exists(),
            "S3 server binary not found at {}: install it with `cargo install --locked --root \
             $HOME/.cache/s3-server s3s-fs --version 0.14.1 --features binary` or set S3_SERVER_BIN",
            bin.display()
        );
        let root = tempfile::tempdir().unwrap();
        for bucket in buckets {
            std::fs::create_dir(root.path().join(bucket)).unwrap();
        }
        let log = root.path().join("s3s-fs.log");
        let mut child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .env("RUST_LOG", "s3s_fs=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", bin.display()));
        // It logs "server is running at http://127.0.0.1:<port>" once listening.
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(at) = line.find("server is running at ") {
                    let url = line[at + "server is running at ".len()..]
                        .trim()
                        .to_string();
                    let _ = sender.send(url);
                    sent = true;
                }
            }
        });
        let proc = Proc { child, log };
        let endpoint = receiver
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("s3s-fs did not start:\n{}", proc.log_text()));
        Self {
            _proc: proc,
            endpoint,
            _root: root,
        }
    }

    pub(crate) fn location(&self, bucket: &str, prefix: &str) -> S3Location {
        S3Location {
            endpoint: self.endpoint.parse().unwrap(),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            region: REGION.to_string(),
            virtual_host: false,
        }
    }

    pub(crate) fn client(&self, bucket: &str, prefix: &str) -> S3Client {
        S3Client::new(
            &self.location(bucket, prefix),
            Some(rusty_s3::Credentials::new(ACCESS_KEY, SECRET_KEY)),
            reqwest::Client::new(),
        )
        .unwrap()
    }
}
