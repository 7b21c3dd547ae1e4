//! The fence guard: a child process of the agent that fences the validator when the agent can
//! no longer do it. An agent outside the validator cannot stop it from voting when the agent
//! itself dies (SIGKILL, OOM, crash) or freezes (SIGSTOP, a hung runtime); the old etcd tower
//! storage had no such gap because it lived in the validator. The guard closes most of it:
//!
//! - every decision tick the agent writes `trust <ms>` (while it may hold the staked identity:
//!   how long its lease stays trusted) or `idle` to the guard's stdin;
//! - when a trust deadline passes without a newer message (the agent froze or hangs), the
//!   guard switches the validator to the unstaked identity, as the agent would have;
//! - when stdin closes (the agent exited, however it died), the guard fences and exits.
//!
//! The guard runs in its own process group and outlives the agent. What it cannot cover: the
//! guard and the agent killed together (a kill of both pids, a host freeze), which systemd's
//! `ExecStopPost=failover fence` covers for the agent's unit.

use {
    crate::admin::{AdminClient, AdminError},
    std::{
        path::{Path, PathBuf},
        process::Stdio,
        time::Duration,
    },
    tokio::{
        io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt},
        process::{Child, ChildStdin, Command},
        time::Instant,
    },
};

/// Pause between fence attempts while the validator does not answer.
const FENCE_RETRY: Duration = Duration::from_millis(250);
/// How long the guard keeps trying to fence after the agent is gone.
const EXIT_FENCE_DEADLINE: Duration = Duration::from_secs(30);

/// A message from the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardMessage {
    /// The agent may hold the staked identity; its lease is trusted for this long.
    Trust(Duration),
    /// The agent holds nothing: nothing to guard.
    Idle,
}

impl GuardMessage {
    fn line(self) -> String {
        match self {
            GuardMessage::Trust(remaining) => format!("trust {}\n", remaining.as_millis()),
            GuardMessage::Idle => "idle\n".to_string(),
        }
    }

    fn parse(line: &str) -> Option<Self> {
        let line = line.trim();
        if line == "idle" {
            return Some(GuardMessage::Idle);
        }
        let ms = line.strip_prefix("trust ")?.parse().ok()?;
        Some(GuardMessage::Trust(Duration::from_millis(ms)))
    }
}

/// Fences; `true` when done or when there is no validator to fence (its socket is gone or
/// refuses connections: a stopped validator holds no identity).
async fn fence(admin: &AdminClient, unstaked: &Path, why: &str) -> bool {
    match admin.set_identity(unstaked, false, false).await {
        Ok(()) => {
            tracing::warn!(why, "guard: fenced the validator");
            true
        }
        Err(AdminError::Connect { source, .. })
            if matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            tracing::info!(why, "guard: the validator is not running");
            true
        }
        Err(error) => {
            tracing::error!(%error, why, "guard: cannot fence the validator; retrying");
            false
        }
    }
}

/// The guard's loop over the agent's messages on `input`; returns once `input` closed and the
/// validator was fenced (or the exit deadline passed).
pub async fn run(admin: AdminClient, unstaked: PathBuf, input: impl AsyncBufRead + Unpin) {
    let mut lines = input.lines();
    let mut deadline: Option<Instant> = None;
    loop {
        let expired = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => match GuardMessage::parse(&line) {
                    Some(GuardMessage::Trust(remaining)) => deadline = Some(Instant::now() + remaining),
                    Some(GuardMessage::Idle) => deadline = None,
                    None => tracing::warn!(line, "guard: unknown message"),
                },
                Ok(None) | Err(_) => break,
            },
            _ = expired => {
                if fence(&admin, &unstaked, "the agent stopped renewing its trust").await {
                    deadline = None;
                } else {
                    deadline = Some(Instant::now() + FENCE_RETRY);
                }
            }
        }
    }
    let until = Instant::now() + EXIT_FENCE_DEADLINE;
    while !fence(&admin, &unstaked, "the agent exited").await && Instant::now() < until {
        tokio::time::sleep(FENCE_RETRY).await;
    }
}

/// The agent's side: the guard process and the pipe to it.
#[derive(Debug)]
pub struct Guard {
    program: PathBuf,
    config: PathBuf,
    child: Option<(Child, ChildStdin)>,
}

impl Guard {
    /// A guard running `program guard --config <config>` (started on the first message).
    pub fn new(program: PathBuf, config: PathBuf) -> Self {
        Self {
            program,
            config,
            child: None,
        }
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let mut command = Command::new(&self.program);
        command
            .arg("guard")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            // Its own process group: a signal to the agent's group does not take it along, and
            // it outlives the agent to fence after it.
            .process_group(0)
            .kill_on_drop(false);
        let mut child = command.spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("the guard has no stdin"))?;
        tracing::info!(pid = child.id(), "fence guard started");
        self.child = Some((child, stdin));
        Ok(())
    }

    /// Sends `message`, starting (or restarting) the guard first if needed.
    pub async fn send(&mut self, message: GuardMessage) {
        if let Some((child, _)) = &mut self.child
            && child.try_wait().ok().flatten().is_some()
        {
            tracing::error!("the fence guard exited; restarting it");
            self.child = None;
        }
        if self.child.is_none()
            && let Err(error) = self.spawn()
        {
            tracing::error!(%error, "cannot start the fence guard");
            return;
        }
        if let Some((_, stdin)) = &mut self.child {
            let line = message.line();
            let written = tokio::time::timeout(Duration::from_millis(100), async {
                stdin.write_all(line.as_bytes()).await?;
                stdin.flush().await
            })
            .await;
            if !matches!(written, Ok(Ok(()))) {
                tracing::warn!("cannot reach the fence guard; restarting it");
                self.child = None;
            }
        }
    }

    /// Stops the guard without fencing: tells it `idle` and closes the pipe after a clean
    /// shutdown (the guard then fences, which a standby's validator already is).
    pub async fn close(mut self) {
        self.send(GuardMessage::Idle).await;
        if let Some((mut child, stdin)) = self.child.take() {
            drop(stdin);
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        tokio::{io::BufReader, net::UnixListener},
    };

    #[test]
    fn messages_round_trip() {
        for message in [
            GuardMessage::Idle,
            GuardMessage::Trust(Duration::from_millis(1500)),
        ] {
            assert_eq!(GuardMessage::parse(&message.line()), Some(message));
        }
        assert_eq!(GuardMessage::parse("trust x"), None);
    }

    /// A validator that counts setIdentity calls.
    async fn validator(listener: UnixListener, calls: tokio::sync::mpsc::Sender<()>) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            if let Ok(Some(_)) = lines.next_line().await {
                let _ = calls.send(()).await;
                let _ = write
                    .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}\n")
                    .await;
            }
        }
    }

    #[tokio::test]
    async fn fences_when_trust_lapses_and_when_the_agent_goes() {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(crate::admin::socket_path(dir.path())).unwrap();
        let (tx, mut calls) = tokio::sync::mpsc::channel(16);
        tokio::spawn(validator(listener, tx));
        let admin = AdminClient::new(dir.path(), Duration::from_secs(2));
        let (mut agent, guard_input) = tokio::io::duplex(1024);
        let guard = tokio::spawn(run(
            admin,
            PathBuf::from("/unstaked.json"),
            BufReader::new(guard_input),
        ));
        // Renewed trust: no fence.
        for _ in 0..5 {
            agent.write_all(b"trust 200\n").await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(calls.try_recv().is_err());
        // Lapsed: one fence.
        let lapsed = Instant::now();
        calls.recv().await.unwrap();
        assert!(lapsed.elapsed() < Duration::from_millis(400));
        agent.write_all(b"idle\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(calls.try_recv().is_err(), "idle: nothing to guard");
        // The agent goes away: a fence, and the guard exits.
        drop(agent);
        calls.recv().await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), guard)
            .await
            .unwrap()
            .unwrap();
    }
}
