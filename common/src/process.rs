//! Supervised child processes: started with their output in a log file, awaited on the ready
//! file they write once listening (never a sleep), and stopped when dropped. `replica dev` and
//! the whole-system tests both run their processes through this.

#![allow(unsafe_code)]

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus},
    time::{Duration, Instant},
};

/// How often a ready file and the child's state are looked at while waiting.
const POLL: Duration = Duration::from_millis(10);

/// How a child is stopped when its handle is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOnDrop {
    /// SIGKILL at once (tests: nothing to flush).
    Kill,
    /// SIGTERM, then SIGKILL after the grace period (a clean shutdown first).
    Terminate(Duration),
}

/// Why waiting for a child's ready file ended without it.
#[derive(Debug, thiserror::Error)]
pub enum ReadyError {
    /// The child exited first.
    #[error("the {name} exited ({status}) before it was ready; see {}", .log.display())]
    Exited {
        name: String,
        status: ExitStatus,
        log: PathBuf,
    },
    /// The deadline passed.
    #[error("the {name} was not ready within {timeout:?}; see {}", .log.display())]
    Timeout {
        name: String,
        timeout: Duration,
        log: PathBuf,
    },
    /// The caller asked to stop waiting (a shutdown signal).
    #[error("stopped while waiting for the {name} to be ready")]
    Cancelled { name: String },
    /// The ready file exists but is not JSON.
    #[error("the {name} wrote an invalid ready file {}: {source}", .path.display())]
    Invalid {
        name: String,
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("waiting for the {name}: {source}")]
    Io {
        name: String,
        source: std::io::Error,
    },
}

/// A running child process, stopped (and reaped) when dropped.
#[derive(Debug)]
pub struct ChildProcess {
    child: Child,
    name: String,
    log: PathBuf,
    on_drop: StopOnDrop,
}

impl ChildProcess {
    /// Starts `command` (whose stdio the caller has set; `log` is where its diagnostics go, for
    /// error messages). The child gets its own process group, so a terminal's Ctrl-C reaches
    /// only the supervisor, which stops its children in order; and it gets SIGTERM if the
    /// supervisor dies without stopping it.
    pub fn spawn(
        name: &str,
        mut command: Command,
        log: &Path,
        on_drop: StopOnDrop,
    ) -> std::io::Result<Self> {
        command.process_group(0);
        // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no memory of ours.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command.spawn()?;
        Ok(Self {
            child,
            name: name.to_string(),
            log: log.to_path_buf(),
            on_drop,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The child's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status, if the child has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits until `ready` holds JSON (ready files are written atomically) and returns it.
    /// Fails early when the child exits, `timeout` passes, or `cancelled()` turns true.
    pub fn wait_ready(
        &mut self,
        ready: &Path,
        timeout: Duration,
        cancelled: impl Fn() -> bool,
    ) -> Result<serde_json::Value, ReadyError> {
        let deadline = Instant::now() + timeout;
        loop {
            if cancelled() {
                return Err(ReadyError::Cancelled {
                    name: self.name.clone(),
                });
            }
            match std::fs::read(ready) {
                Ok(bytes) => {
                    return serde_json::from_slice(&bytes).map_err(|source| ReadyError::Invalid {
                        name: self.name.clone(),
                        path: ready.to_path_buf(),
                        source,
                    });
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ReadyError::Io {
                        name: self.name.clone(),
                        source,
                    });
                }
            }
            if let Some(status) = self.exited() {
                return Err(ReadyError::Exited {
                    name: self.name.clone(),
                    status,
                    log: self.log.clone(),
                });
            }
            if Instant::now() >= deadline {
                return Err(ReadyError::Timeout {
                    name: self.name.clone(),
                    timeout,
                    log: self.log.clone(),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Sends `signal` to the child (if it still runs).
    pub fn signal(&mut self, signal: libc::c_int) {
        if self.exited().is_none() {
            // SAFETY: kill(2) on our own, not yet reaped child's pid has no memory effects.
            unsafe {
                libc::kill(self.child.id() as libc::pid_t, signal);
            }
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`; reaps it. Returns whether it
    /// stopped on its own within the grace period.
    pub fn stop(&mut self, grace: Duration) -> bool {
        if self.exited().is_some() {
            return true;
        }
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return true;
            }
            std::thread::sleep(POLL);
        }
        self.kill();
        false
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        match self.on_drop {
            StopOnDrop::Kill => self.kill(),
            StopOnDrop::Terminate(grace) => {
                self.stop(grace);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str, log: &Path) -> Command {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .stdout(std::fs::File::create(log).unwrap());
        command
    }

    #[test]
    fn waits_for_the_ready_file_and_reports_early_exits() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("child.log");
        let ready = dir.path().join("child.ready");
        let script = format!(
            "sleep 0.1; echo '{{\"rpc\":\"x\"}}' > {0}.tmp; mv {0}.tmp {0}; sleep 30",
            ready.display()
        );
        let mut child =
            ChildProcess::spawn("child", shell(&script, &log), &log, StopOnDrop::Kill).unwrap();
        let value = child
            .wait_ready(&ready, Duration::from_secs(10), || false)
            .unwrap();
        assert_eq!(value["rpc"], "x");
        assert!(child.stop(Duration::from_secs(5)), "sh stops on SIGTERM");

        let mut failing =
            ChildProcess::spawn("failing", shell("exit 3", &log), &log, StopOnDrop::Kill).unwrap();
        let error = failing
            .wait_ready(&dir.path().join("never"), Duration::from_secs(10), || false)
            .unwrap_err();
        assert!(matches!(error, ReadyError::Exited { status, .. } if status.code() == Some(3)));
    }

    #[test]
    fn cancellation_and_timeout_end_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("child.log");
        let never = dir.path().join("never");
        let mut child =
            ChildProcess::spawn("sleeper", shell("sleep 30", &log), &log, StopOnDrop::Kill)
                .unwrap();
        let started = Instant::now();
        assert!(matches!(
            child.wait_ready(&never, Duration::from_secs(30), || true),
            Err(ReadyError::Cancelled { .. })
        ));
        assert!(matches!(
            child.wait_ready(&never, Duration::from_millis(50), || false),
            Err(ReadyError::Timeout { .. })
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid = child.id() as libc::pid_t;
        drop(child);
        // SAFETY: signal 0 only checks whether the pid exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        assert!(!alive, "dropping the handle kills and reaps the child");
    }
}
