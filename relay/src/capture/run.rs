//! The capture loop: batches of frames in (`recvmmsg` on the packet or UDP socket), re-checked,
//! framed, and sent to every destination (`sendmmsg`).

use {
    super::{TunnelSender, check_frame, filter},
    crate::{
        LogLimiter,
        metrics::{DropReason, Health, Metrics},
        sys::{self, PacketSocket, RecvBatch},
        tunnel, udp_socket, unix_nanos,
    },
    std::{
        io,
        net::{SocketAddr, UdpSocket},
        os::fd::{AsFd, BorrowedFd},
        time::{Duration, Instant},
    },
    tokio_util::sync::CancellationToken,
};

/// Receive slot size: a full 1500-byte MTU packet fits; larger frames are counted and dropped.
const SLOT: usize = 2048;
const OUT_SLOT: usize = SLOT + tunnel::max_overhead();
const STATS_EVERY: Duration = Duration::from_secs(1);
/// Repeated warnings go out at most this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Where captured packets come from.
#[derive(Debug)]
pub enum CaptureSource {
    /// Frames of one interface, UDP to `port` (AF_PACKET with the kernel filter).
    Interface {
        /// The packet socket.
        socket: PacketSocket,
        /// The UDP destination port captured.
        port: u16,
    },
    /// Datagrams sent to a local UDP socket (the payload is the shred).
    Udp(UdpSocket),
}

impl CaptureSource {
    /// Opens an AF_PACKET capture of UDP to `port` on `interface`.
    pub fn interface(interface: &str, port: u16, recv_buffer: usize) -> io::Result<Self> {
        let socket = PacketSocket::open(interface, &filter::udp_port_filter(port), recv_buffer)?;
        Ok(Self::Interface { socket, port })
    }

    /// Binds a UDP socket on `addr`.
    pub fn udp(addr: SocketAddr, recv_buffer: usize) -> io::Result<Self> {
        Ok(Self::Udp(udp_socket(
            addr,
            recv_buffer,
            Some(Duration::from_millis(100)),
        )?))
    }

    /// The receive buffer the kernel granted, bytes.
    pub fn recv_buffer(&self) -> io::Result<usize> {
        match self {
            Self::Interface { socket, .. } => socket.recv_buffer(),
            Self::Udp(socket) => Ok(socket2::SockRef::from(socket).recv_buffer_size()? / 2),
        }
    }

    /// The bound UDP address (UDP sources only).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Self::Udp(socket) => socket.local_addr().ok(),
            Self::Interface { .. } => None,
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Self::Interface { socket, .. } => socket.as_fd(),
            Self::Udp(socket) => socket.as_fd(),
        }
    }
}

struct Destination {
    addr: SocketAddr,
    socket: UdpSocket,
    warn: LogLimiter,
    /// Whether the path takes UDP GSO sends (turned off at the first refusal).
    gso: bool,
}

/// Runs until `cancel`: captures, re-checks, frames with `sender`, sends to each of
/// `destinations`, counts.
pub fn run_capture(
    source: CaptureSource,
    mut sender: TunnelSender,
    destinations: &[SocketAddr],
    metrics: &Metrics,
    health: &Health,
    cancel: &CancellationToken,
) -> io::Result<()> {
    let mut destinations = destinations
        .iter()
        .map(|addr| {
            let unspecified = if addr.is_ipv4() {
                SocketAddr::from(([0, 0, 0, 0], 0))
            } else {
                SocketAddr::from(([0u16; 8], 0))
            };
            // Connected: the route is looked up once, not per datagram.
            let socket = udp_socket(unspecified, 0, None)?;
            socket.connect(addr)?;
            Ok(Destination {
                addr: *addr,
                socket,
                gso: true,
                warn: LogLimiter::new(WARN_EVERY),
            })
        })
        .collect::<io::Result<Vec<_>>>()?;
    let (packet_names, port) = match &source {
        CaptureSource::Interface { port, .. } => (true, Some(*port)),
        CaptureSource::Udp(_) => (false, None),
    };
    let mut batch = RecvBatch::new(SLOT);
    let mut out_buf = vec![0u8; OUT_SLOT * sys::MAX_BATCH];
    let mut lens = [0usize; sys::MAX_BATCH];
    let mut last_stats = Instant::now();
    let mut down_warn = LogLimiter::new(WARN_EVERY);
    while !cancel.is_cancelled() {
        if let CaptureSource::Interface { socket, .. } = &source
            && last_stats.elapsed() >= STATS_EVERY
        {
            last_stats = Instant::now();
            match socket.statistics() {
                Ok(stats) => metrics.capture_kernel_drops.inc_by(u64::from(stats.drops)),
                Err(error) => tracing::warn!(%error, "PACKET_STATISTICS failed"),
            }
        }
        let count = match batch.recv(source.fd(), packet_names) {
            Ok(count) => count,
            // The interface went down: the kernel says so once, and capture resumes when it
            // comes back up.
            Err(error) if error.raw_os_error() == Some(libc::ENETDOWN) => {
                if let Some(suppressed) = down_warn.ready() {
                    tracing::warn!(%error, suppressed, "capture interface down");
                }
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(error) => return Err(error),
        };
        if count == 0 {
            continue;
        }
        let now = unix_nanos();
        let mut framed = 0;
        let mut captured_bytes = 0u64;
        for i in 0..count {
            let packet = batch.datagram(i);
            if batch.truncated(i) {
                metrics.drop_packets(DropReason::Oversize, 1);
                continue;
            }
            if let Some(port) = port
                && let Err(reason) = check_frame(packet, batch.pkttype(i), port)
            {
                metrics.drop_packets(reason, 1);
                tracing::debug!(
                    reason = reason.label(),
                    len = packet.len(),
                    "frame passed the kernel filter but not the re-check"
                );
                continue;
            }
            let slot = &mut out_buf[framed * OUT_SLOT..(framed + 1) * OUT_SLOT];
            match sender.frame(packet, now, slot) {
                Ok(len) => {
                    lens[framed] = len;
                    framed += 1;
                    captured_bytes += packet.len() as u64;
                }
                Err(error) => {
                    metrics.drop_packets(DropReason::Oversize, 1);
                    tracing::debug!(%error, "cannot frame packet");
                }
            }
        }
        if framed == 0 {
            continue;
        }
        metrics.captured_packets.inc_by(framed as u64);
        metrics.captured_bytes.inc_by(captured_bytes);
        health.packet(now);
        metrics
            .last_packet
            .set(i64::try_from(now / 1_000_000_000).unwrap_or(i64::MAX));
        let datagrams: Vec<&[u8]> = (0..framed)
            .map(|i| &out_buf[i * OUT_SLOT..i * OUT_SLOT + lens[i]])
            .collect();
        for destination in &mut destinations {
            let (outcome, error) =
                sys::send_gso(destination.socket.as_fd(), &datagrams, &mut destination.gso);
            metrics.sent_packets.inc_by(outcome.sent as u64);
            metrics.sent_bytes.inc_by(outcome.bytes as u64);
            if outcome.failed > 0 {
                metrics.send_errors.inc_by(outcome.failed as u64);
                if let Some(suppressed) = destination.warn.ready() {
                    tracing::warn!(
                        failed = outcome.failed,
                        suppressed,
                        error = ?error,
                        to = %destination.addr,
                        "tunnel send failed"
                    );
                }
            }
        }
    }
    Ok(())
}
