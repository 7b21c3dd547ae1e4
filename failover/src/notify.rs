//! systemd's notification protocol (`sd_notify`): `READY=1` once started, `WATCHDOG=1` from
//! the decision loop, `STOPPING=1` on shutdown. Without `NOTIFY_SOCKET` (not under systemd,
//! or `Type=simple`) nothing is sent. With `WatchdogSec=` in the unit, a hung or paused agent
//! stops pinging and systemd kills it; `ExecStopPost=failover fence` then switches the
//! validator to its unstaked identity (see `deploy/systemd/failover-agent.service`).

use std::{
    os::unix::net::UnixDatagram,
    time::{Duration, Instant},
};

fn send(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|addr| socket.send_to_addr(state.as_bytes(), &addr))
    } else {
        socket.send_to(state.as_bytes(), &path)
    };
    if let Err(error) = sent {
        tracing::debug!(%error, state, "sd_notify failed");
    }
}

/// `READY=1`.
pub fn ready() {
    send("READY=1");
}

/// `STOPPING=1`.
pub fn stopping() {
    send("STOPPING=1");
}

/// Pings systemd's watchdog at half its interval (`WATCHDOG_USEC`).
#[derive(Debug)]
pub struct Watchdog {
    every: Option<Duration>,
    last: Option<Instant>,
}

impl Watchdog {
    /// From `WATCHDOG_USEC` (and `WATCHDOG_PID`, when it names another process, none).
    pub fn from_env() -> Self {
        let pid_ok = std::env::var("WATCHDOG_PID")
            .ok()
            .is_none_or(|pid| pid.parse::<u32>().ok() == Some(std::process::id()));
        let every = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|usec| usec.parse::<u64>().ok())
            .filter(|_| pid_ok)
            .map(|usec| Duration::from_micros(usec) / 2);
        Self { every, last: None }
    }

    /// Sends `WATCHDOG=1` if half the interval passed since the last ping.
    pub fn ping(&mut self) {
        let Some(every) = self.every else {
            return;
        };
        if self.last.is_none_or(|last| last.elapsed() >= every) {
            send("WATCHDOG=1");
            self.last = Some(Instant::now());
        }
    }
}
