//! The compare loop: one capture thread per path feeding a bounded channel, the comparer on the
//! calling thread. All threads are scoped: they end before `run_compare` returns.

use {
    super::{Comparer, Path, Sighting},
    crate::{
        capture::{check_frame, filter},
        metrics::{DropReason, Health, Metrics},
        shred::{self, ShredHeader},
        sys::{PacketSocket, RecvBatch},
        unix_nanos, unwrap,
    },
    std::{
        io,
        os::fd::AsFd,
        sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel},
        time::Duration,
    },
    tokio_util::sync::CancellationToken,
};

/// Receive slot size: a 1500-byte MTU frame fits.
const SLOT: usize = 2048;
/// Shreds queued between the capture threads and the comparer.
const QUEUE: usize = 16_384;

/// The two captures of the validator's TVU port.
#[derive(Debug)]
pub struct CompareSources {
    direct: PacketSocket,
    relayed: PacketSocket,
    port: u16,
}

impl CompareSources {
    /// Opens AF_PACKET captures of UDP to `port` on both interfaces.
    pub fn open(direct: &str, relayed: &str, port: u16, recv_buffer: usize) -> io::Result<Self> {
        let program = filter::udp_port_filter(port);
        Ok(Self {
            direct: PacketSocket::open(direct, &program, recv_buffer)?,
            relayed: PacketSocket::open(relayed, &program, recv_buffer)?,
            port,
        })
    }
}

fn capture_path(
    socket: &PacketSocket,
    port: u16,
    path: Path,
    queue: SyncSender<(Path, ShredHeader, u64)>,
    metrics: &Metrics,
    cancel: &CancellationToken,
) -> io::Result<()> {
    let mut batch = RecvBatch::new(SLOT);
    while !cancel.is_cancelled() {
        let count = match batch.recv(socket.as_fd(), true) {
            Ok(count) => count,
            Err(error) if error.raw_os_error() == Some(libc::ENETDOWN) => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(error) => return Err(error),
        };
        let now = unix_nanos();
        for i in 0..count {
            let packet = batch.datagram(i);
            if batch.truncated(i) {
                metrics.drop_packets(DropReason::Oversize, 1);
                continue;
            }
            if let Err(reason) = check_frame(packet, batch.pkttype(i), port) {
                metrics.drop_packets(reason, 1);
                continue;
            }
            let Ok(udp) = unwrap::strip(packet) else {
                continue;
            };
            let Ok(header) = shred::parse(udp.payload) else {
                metrics.drop_packets(DropReason::NotAShred, 1);
                continue;
            };
            // Blocks when the comparer falls behind: the kernel then drops and counts.
            metrics.compare_queue_len.inc();
            if queue.send((path, header, now)).is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Runs until `cancel`: captures both paths and compares them over `window` shreds.
pub fn run_compare(
    sources: CompareSources,
    window: usize,
    metrics: &Metrics,
    health: &Health,
    cancel: &CancellationToken,
) -> io::Result<()> {
    let (sender, receiver) = sync_channel(QUEUE);
    std::thread::scope(|scope| {
        let mut threads = Vec::new();
        for (path, socket, name) in [
            (Path::Direct, &sources.direct, "relay-cmp-dir"),
            (Path::Relayed, &sources.relayed, "relay-cmp-rel"),
        ] {
            let queue = sender.clone();
            let port = sources.port;
            threads.push(std::thread::Builder::new().name(name.into()).spawn_scoped(
                scope,
                move || {
                    let result = capture_path(socket, port, path, queue, metrics, cancel);
                    cancel.cancel();
                    result
                },
            )?);
        }
        drop(sender);
        let mut comparer = Comparer::new(window);
        loop {
            match receiver.recv_timeout(Duration::from_millis(100)) {
                Ok((path, header, at)) => {
                    metrics.compare_queue_len.dec();
                    health.packet(at);
                    match comparer.record(&header, path, at) {
                        Sighting::First => metrics.compare_shreds(path).inc(),
                        Sighting::Second { first, lead_ns } => {
                            metrics.compare_shreds(path).inc();
                            metrics.compare_first(first).inc();
                            metrics.compare_lead(first).observe(lead_ns as f64 * 1e-9);
                        }
                        Sighting::Repeat => {}
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        for thread in threads {
            thread
                .join()
                .map_err(|_| io::Error::other("compare capture thread panicked"))??;
        }
        Ok(())
    })
}
