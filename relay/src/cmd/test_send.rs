//! `relay test-send` (hidden): genuine-layout shreds to a UDP address at a fixed or maximum
//! rate, optionally stamped with a sequence number and send time (for loss and latency).

use {
    anyhow::Context,
    clap::Args,
    relay::{
        sys::{self, RawAddr},
        testkit::{ShredSpec, build_shred, stamp},
        udp_socket, unix_nanos,
    },
    std::{
        net::SocketAddr,
        os::fd::AsFd,
        time::{Duration, Instant},
    },
};

#[derive(Debug, Args)]
pub(crate) struct TestSendArgs {
    /// Destination.
    #[arg(long)]
    to: SocketAddr,
    /// Shreds to send.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Shreds per second (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Position in the generated stream to start from.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// First slot of the stream.
    #[arg(long, default_value_t = 1000)]
    first_slot: u64,
    /// Shred version.
    #[arg(long, default_value_t = 1)]
    shred_version: u16,
    /// Write the stream position and the send time into each shred's data.
    #[arg(long)]
    stamp: bool,
}

pub(crate) fn run(args: TestSendArgs) -> anyhow::Result<()> {
    let bind = if args.to.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = udp_socket(bind, 0, None).context("failed to bind the sending socket")?;
    let dest = RawAddr::from(args.to);
    let mut buffers: Vec<Vec<u8>> = Vec::with_capacity(sys::MAX_BATCH);
    let started = Instant::now();
    let (mut sent, mut failed) = (0u64, 0u64);
    while sent + failed < args.count {
        let remaining = args.count - sent - failed;
        let due = if args.rate == 0 {
            remaining
        } else {
            let elapsed = started.elapsed().as_secs_f64();
            let target = ((elapsed * args.rate as f64) as u64 + 1).min(args.count);
            let due = target.saturating_sub(sent + failed);
            if due == 0 {
                let next = Duration::from_secs_f64((sent + failed) as f64 / args.rate as f64);
                // Sleep, never spin: a spinning sender would take a core from what is measured.
                // Whatever fell due meanwhile goes out as one batch.
                let wait = next.saturating_sub(started.elapsed());
                std::thread::sleep(wait.max(Duration::from_micros(20)));
                continue;
            }
            due
        };
        let batch = due.min(remaining).min(sys::MAX_BATCH as u64);
        buffers.clear();
        let now = unix_nanos();
        for k in 0..batch {
            let n = args.start + sent + failed + k;
            let mut shred = build_shred(&ShredSpec::nth(n, args.first_slot, args.shred_version));
            if args.stamp {
                stamp(&mut shred, n, now);
            }
            buffers.push(shred);
        }
        let datagrams: Vec<&[u8]> = buffers.iter().map(Vec::as_slice).collect();
        let (outcome, error) = sys::send_batch(socket.as_fd(), &datagrams, Some(&dest));
        sent += outcome.sent as u64;
        failed += outcome.failed as u64;
        if let Some(error) = error {
            tracing::debug!(%error, "send failed");
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "sent": sent, "failed": failed, "seconds": seconds })
    );
    Ok(())
}
