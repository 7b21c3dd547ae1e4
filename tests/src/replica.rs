//! A replica process bootstrapped from archives and serving JSON-RPC on `127.0.0.1:0`.

use {
    crate::{bin, process::Process, rpc::RpcClient},
    anyhow::Context,
    std::{
        net::SocketAddr,
        path::{Path, PathBuf},
        process::Command,
        time::Duration,
    },
    tempfile::TempDir,
};

/// Bootstrap of the small fixtures takes well under a second; debug builds and busy CI
/// machines get slack.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug)]
pub struct Replica {
    // Dropped first: the process dies before its directory goes.
    process: Process,
    pub rpc: SocketAddr,
    pub ready: serde_json::Value,
    dir: TempDir,
}

impl Replica {
    /// `replica run --ledger <tmp> --snapshot … --rpc-bind 127.0.0.1:0 <extra>`.
    pub fn start(archives: &[PathBuf], extra: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut command = Command::new(bin::path("replica"));
        command
            .arg("run")
            .arg("--ledger")
            .arg(dir.path().join("ledger"))
            .args(["--rpc-bind", "127.0.0.1:0"])
            .args(extra);
        for archive in archives {
            command.arg("--snapshot").arg(archive);
        }
        command.env("RUST_LOG", "info");
        let (process, ready) = Process::spawn_ready(command, dir.path(), "replica", READY_TIMEOUT)?;
        let rpc = ready["rpc"]
            .as_str()
            .context("ready file without an rpc address")?
            .parse()
            .context("rpc address")?;
        Ok(Self {
            process,
            rpc,
            ready,
            dir,
        })
    }

    /// `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.rpc)
    }

    pub fn client(&self) -> RpcClient {
        RpcClient::new(&self.url())
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        self.process.log_text()
    }

    /// The replica's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }
}
