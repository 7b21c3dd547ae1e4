//! The TVU shred relay: capture shreds at a well-connected site (AF_PACKET on a mirror port, or
//! a plain UDP socket), carry them over an authenticated, sequenced UDP tunnel, and at the
//! validator's site strip the IP/UDP headers, check that each is a shred, and forward it to the
//! validator's TVU port.
//!
//! Pure protocol code: [`shred`], [`unwrap`], [`tunnel`], [`capture::filter`],
//! [`forward::Forwarder`]. I/O: [`sys`] (the only `unsafe`), the `run` loops, [`http`].

pub mod capture;
pub mod compare;
pub mod config;
pub mod forward;
pub mod http;
pub mod metrics;
pub mod shred;
pub mod sys;
pub mod testkit;
pub mod tunnel;
pub mod unwrap;

use {
    socket2::{Domain, Protocol, Socket, Type},
    std::{
        io,
        net::{SocketAddr, UdpSocket},
        time::{Duration, SystemTime, UNIX_EPOCH},
    },
};

/// Lets a repeated warning through at most once per interval, so that a dead peer or a downed
/// interface does not flood the log.
#[derive(Debug)]
pub struct LogLimiter {
    every: Duration,
    last: Option<std::time::Instant>,
    suppressed: u64,
}

impl LogLimiter {
    /// At most one message per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(messages suppressed since the last one)` when a message may go out now.
    pub fn ready(&mut self) -> Option<u64> {
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.every)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Now, in ns since the Unix epoch (0 before 1970).
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// A UDP socket bound to `addr`, with a receive buffer of `recv_buffer` bytes (0: the system
/// default) and an optional read timeout (so loops can notice shutdown).
pub fn udp_socket(
    addr: SocketAddr,
    recv_buffer: usize,
    read_timeout: Option<Duration>,
) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(false).ok();
    }
    if recv_buffer > 0 {
        use std::os::fd::AsFd;
        sys::set_recv_buffer(socket.as_fd(), recv_buffer)?;
    }
    socket.set_send_buffer_size(4 << 20).ok();
    socket.set_read_timeout(read_timeout)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}
