//! Child processes for tests: started with `--ready-file`, awaited on that file, killed (and
//! reaped) when dropped, their log kept for failure messages. The supervision itself is
//! `common::process`, which `replica dev` uses too.

use {
    anyhow::Context,
    common::process::{ChildProcess, StopOnDrop},
    std::{
        path::Path,
        process::{Command, Stdio},
        time::Duration,
    },
};

/// A running child process; killed and reaped on drop.
#[derive(Debug)]
pub struct Process {
    child: ChildProcess,
}

impl Process {
    /// Starts `command` with `--ready-file <dir>/<name>.ready` appended and its output in
    /// `<dir>/<name>.log`, then waits until the ready file exists (it is written atomically)
    /// and returns its JSON. Fails early, with the log, if the process exits first.
    pub fn spawn_ready(
        mut command: Command,
        dir: &Path,
        name: &str,
        timeout: Duration,
    ) -> anyhow::Result<(Self, serde_json::Value)> {
        let ready = dir.join(format!("{name}.ready"));
        let log = dir.join(format!("{name}.log"));
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        command
            .arg("--ready-file")
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        let description = format!("{command:?}");
        let mut child = ChildProcess::spawn(name, command, &log, StopOnDrop::Kill)
            .with_context(|| format!("starting {name}: {description}"))?;
        match child.wait_ready(&ready, timeout, || false) {
            Ok(info) => Ok((Self { child }, info)),
            Err(error) => Err(anyhow::anyhow!("{error}; log:\n{}", child.log_text())),
        }
    }

    pub fn name(&self) -> &str {
        self.child.name()
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `libc::SIGSTOP`) to the process, if it still runs.
    pub fn signal(&mut self, signal: libc::c_int) {
        self.child.signal(signal);
    }

    /// The process's output so far.
    pub fn log_text(&self) -> String {
        self.child.log_text()
    }
}
