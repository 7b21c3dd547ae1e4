//! Child processes for tests: started with `--ready-file`, awaited on that file, killed (and
//! reaped) when dropped, their log kept for failure messages.

use {
    anyhow::{Context, bail},
    std::{
        path::{Path, PathBuf},
        process::{Child, Command, Stdio},
        time::{Duration, Instant},
    },
};

/// How often the ready file is looked for.
const READY_POLL: Duration = Duration::from_millis(10);

/// A running child process; killed and reaped on drop.
#[derive(Debug)]
pub struct Process {
    child: Child,
    name: String,
    log: PathBuf,
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
        let child = command
            .spawn()
            .with_context(|| format!("starting {name}: {command:?}"))?;
        let mut process = Self {
            child,
            name: name.to_string(),
            log,
        };
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                let info = serde_json::from_str(&text)
                    .with_context(|| format!("{name} wrote an invalid ready file: {text}"))?;
                return Ok((process, info));
            }
            if let Some(status) = process.child.try_wait()? {
                bail!(
                    "{name} exited with {status} before it was ready; log:\n{}",
                    process.log_text()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{name} not ready after {timeout:?}; log:\n{}",
                    process.log_text()
                );
            }
            std::thread::sleep(READY_POLL);
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The process's output so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
