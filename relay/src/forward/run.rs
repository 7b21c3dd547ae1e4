//! The forward loop: batches of datagrams in (`recvmmsg`), decisions by [`Forwarder`], shreds
//! out to the TVU address (`sendmmsg`, straight from the receive buffers).

use {
    super::{Forwarder, slots::SlotsView},
    crate::{
        LogLimiter,
        metrics::{DropReason, Health, Metrics},
        shred::ShredType,
        sys::{self, RecvBatch},
        udp_socket, unix_nanos,
    },
    std::{
        io,
        net::{SocketAddr, UdpSocket},
        os::fd::AsFd,
        time::{Duration, Instant},
    },
    tokio_util::sync::CancellationToken,
};

/// Receive slot size: room for a `UDP_GRO` train of datagrams (at most 64 KiB).
const SLOT: usize = 65_536;

/// The forward side's sockets.
#[derive(Debug)]
pub struct ForwardSockets {
    listen: UdpSocket,
    send: UdpSocket,
    tvu: SocketAddr,
}

impl ForwardSockets {
    /// Binds the tunnel (or raw) socket on `listen` and a sending socket for `tvu`.
    pub fn bind(listen: SocketAddr, tvu: SocketAddr, recv_buffer: usize) -> io::Result<Self> {
        let listen = udp_socket(listen, recv_buffer, Some(Duration::from_millis(100)))?;
        // The kernel may hand over a train of datagrams of one sender at once.
        if let Err(error) = sys::enable_gro(listen.as_fd()) {
            tracing::debug!(%error, "UDP_GRO not available");
        }
        let unspecified = if tvu.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        // Connected: the route is looked up once, not per datagram. While the TVU port is closed
        // (validator restarting) sends fail and are counted.
        let send = udp_socket(unspecified, 0, None)?;
        send.connect(tvu)?;
        Ok(Self { listen, send, tvu })
    }

    /// The receive buffer the kernel granted the tunnel socket, bytes.
    pub fn recv_buffer(&self) -> io::Result<usize> {
        Ok(socket2::SockRef::from(&self.listen).recv_buffer_size()? / 2)
    }

    /// The bound tunnel address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listen.local_addr()
    }
}

/// How often the per-slot statistics are published for `GET /slots`.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// Runs until `cancel`: receives, decides, forwards, counts; publishes the per-slot statistics
/// into `slots` about once a second.
pub fn run_forward(
    sockets: ForwardSockets,
    mut forwarder: Forwarder,
    metrics: &Metrics,
    health: &Health,
    slots: &SlotsView,
    cancel: &CancellationToken,
) -> io::Result<()> {
    let mut published = Instant::now();
    let mut batch = RecvBatch::new(SLOT);
    let mut gso = true;
    let mut send_warn = LogLimiter::new(Duration::from_secs(10));
    while !cancel.is_cancelled() {
        if published.elapsed() >= PUBLISH_EVERY {
            published = Instant::now();
            if let Ok(mut view) = slots.lock() {
                *view = forwarder.slots().rows();
            }
        }
        let count = batch.recv(sockets.listen.as_fd(), false)?;
        if count == 0 {
            continue;
        }
        let now = unix_nanos();
        let mut out: Vec<&[u8]> = Vec::with_capacity(count);
        let (mut received, mut received_bytes) = (0u64, 0u64);
        for i in 0..count {
            if batch.truncated(i) {
                received += 1;
                received_bytes += batch.datagram(i).len() as u64;
                metrics.drop_packets(DropReason::Oversize, 1);
                continue;
            }
            for datagram in batch.segments(i) {
                received += 1;
                received_bytes += datagram.len() as u64;
                handle(&mut forwarder, datagram, now, metrics, &mut out);
            }
        }
        metrics.received_packets.inc_by(received);
        metrics.received_bytes.inc_by(received_bytes);
        if let Some(slot) = forwarder.slots().latest() {
            metrics
                .latest_slot
                .set(i64::try_from(slot).unwrap_or(i64::MAX));
        }
        if out.is_empty() {
            continue;
        }
        let (outcome, error) = sys::send_gso(sockets.send.as_fd(), &out, &mut gso);
        metrics.forwarded_packets.inc_by(outcome.sent as u64);
        metrics.forwarded_bytes.inc_by(outcome.bytes as u64);
        if outcome.sent > 0 {
            health.packet(now);
            metrics
                .last_packet
                .set(i64::try_from(now / 1_000_000_000).unwrap_or(i64::MAX));
        }
        if outcome.failed > 0 {
            metrics.send_errors.inc_by(outcome.failed as u64);
            let Some(suppressed) = send_warn.ready() else {
                continue;
            };
            tracing::warn!(
                suppressed,
                failed = outcome.failed,
                error = ?error,
                tvu = %sockets.tvu,
                "send to TVU failed"
            );
        }
    }
    Ok(())
}

/// Decides about one datagram, counts, and queues an accepted shred in `out`.
fn handle<'a>(
    forwarder: &mut Forwarder,
    datagram: &'a [u8],
    now: u64,
    metrics: &Metrics,
    out: &mut Vec<&'a [u8]>,
) {
    let processed = forwarder.process(datagram, now);
    if let Some(event) = processed.seq {
        metrics.seq_gaps.inc_by(event.gap);
        if event.reordered {
            metrics.reordered.inc();
        }
        if event.new_session {
            metrics.sessions.inc();
            tracing::info!(sessions = forwarder.replay.sessions(), "new tunnel session");
        }
    }
    match processed.result {
        Ok(accepted) => {
            match accepted.shred.shred_type() {
                ShredType::Data => metrics.data_shreds.inc(),
                ShredType::Code => metrics.code_shreds.inc(),
            }
            if let Some(latency) = accepted.latency_ns {
                metrics.latency.observe(latency as f64 * 1e-9);
            }
            if let Some(retired) = accepted.retired {
                metrics
                    .shreds_per_slot
                    .observe(f64::from(retired.counts.shreds()));
                tracing::debug!(
                    slot = retired.slot,
                    data = retired.counts.data,
                    code = retired.counts.code,
                    last_index = ?retired.counts.last_index,
                    "slot statistics"
                );
            }
            out.push(accepted.payload);
        }
        Err(reason) => {
            metrics.drop_packets(reason, 1);
            tracing::trace!(reason = reason.label(), len = datagram.len(), "dropped");
        }
    }
}
