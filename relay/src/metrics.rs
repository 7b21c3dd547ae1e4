//! Prometheus metrics of both ends, named here once, and the `/health` state. Labels hold only
//! small fixed sets (drop reason, shred type), never slots or peers.

use {
    prometheus::{
        Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
        Registry, exponential_buckets,
    },
    std::sync::atomic::{AtomicU64, Ordering},
};

/// Packets captured (AF_PACKET frames or `--listen` datagrams that passed the checks).
pub const CAPTURED_PACKETS: &str = "relay_captured_packets_total";
/// Bytes of those packets (IP + UDP + payload, or payload with `--listen`).
pub const CAPTURED_BYTES: &str = "relay_captured_bytes_total";
/// Frames the kernel dropped before the capture socket read them (`PACKET_STATISTICS`).
pub const CAPTURE_KERNEL_DROPS: &str = "relay_capture_kernel_drops_total";
/// Tunnel datagrams sent (one per packet per `--to`).
pub const SENT_PACKETS: &str = "relay_sent_packets_total";
/// Bytes of those datagrams.
pub const SENT_BYTES: &str = "relay_sent_bytes_total";
/// Datagrams the kernel refused to send (capture: tunnel; forward: to the TVU).
pub const SEND_ERRORS: &str = "relay_send_errors_total";
/// Datagrams received on the forward's `--listen` socket.
pub const RECEIVED_PACKETS: &str = "relay_received_packets_total";
/// Bytes of those datagrams.
pub const RECEIVED_BYTES: &str = "relay_received_bytes_total";
/// Shreds sent to the TVU address.
pub const FORWARDED_PACKETS: &str = "relay_forwarded_packets_total";
/// Bytes of those shreds.
pub const FORWARDED_BYTES: &str = "relay_forwarded_bytes_total";
/// Packets dropped, label `reason` (see [`DropReason::label`]).
pub const DROPPED_PACKETS: &str = "relay_dropped_packets_total";
/// Tunnel sequence numbers skipped when a higher one arrived (loss, before late arrivals).
pub const TUNNEL_SEQ_GAPS: &str = "relay_tunnel_seq_gaps_total";
/// Tunnel datagrams that arrived after a higher sequence number (reordering).
pub const TUNNEL_REORDERED: &str = "relay_tunnel_reordered_total";
/// Tunnel sessions started (capture processes seen).
pub const TUNNEL_SESSIONS: &str = "relay_tunnel_sessions_total";
/// Capture-to-forward one-way latency from the header timestamp (needs a shared clock).
pub const TUNNEL_LATENCY: &str = "relay_tunnel_latency_seconds";
/// Shreds forwarded, label `type` = `data` | `code`.
pub const SHREDS: &str = "relay_shreds_total";
/// Highest slot forwarded.
pub const LATEST_SLOT: &str = "relay_latest_slot";
/// Shreds forwarded per slot, observed when a slot leaves the per-slot window.
pub const SHREDS_PER_SLOT: &str = "relay_shreds_per_slot";
/// `relay compare`: distinct shreds seen, label `path` = `direct` | `relayed`.
pub const COMPARE_SHREDS: &str = "relay_compare_shreds_total";
/// `relay compare`: shreds seen on both paths, by the path that delivered first (`path`).
pub const COMPARE_FIRST: &str = "relay_compare_first_total";
/// `relay compare`: how much earlier the first path delivered, by that path (`path`).
pub const COMPARE_LEAD: &str = "relay_compare_lead_seconds";
/// `relay compare`: shreds queued between its capture threads and the comparer.
pub const COMPARE_QUEUE_LEN: &str = "relay_compare_queue_len";
/// Unix time of the last packet (capture: captured; forward: forwarded).
pub const LAST_PACKET: &str = "relay_last_packet_timestamp_seconds";

/// Why a packet was not passed on. One label value each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Tunnel MAC missing or wrong.
    BadMac,
    /// Not a tunnel datagram (short, unknown version, reserved bits).
    MalformedTunnel,
    /// Tunnel sequence number already seen or below the window.
    Replay,
    /// Tunnel capture time outside the clock bound.
    Stale,
    /// New tunnel session while the session table is full of active ones.
    SessionRejected,
    /// Bad IP header (version, IHL, lengths, checksum, fragment).
    MalformedIp,
    /// IP but not UDP.
    NotUdp,
    /// Bad UDP header or length.
    MalformedUdp,
    /// UDP to another port than `--port` (capture; the kernel filter should have kept it out).
    WrongPort,
    /// Payload is not a shred.
    NotAShred,
    /// Shred of another shred version than `--shred-version`.
    WrongShredVersion,
    /// Shred already forwarded within the dedup window.
    Duplicate,
    /// Larger than the receive buffer slot.
    Oversize,
    /// The kernel's copy of an outgoing frame (should not reach user space).
    Outgoing,
}

impl DropReason {
    /// Every reason, in label order.
    pub const ALL: [DropReason; 14] = [
        Self::BadMac,
        Self::MalformedTunnel,
        Self::Replay,
        Self::Stale,
        Self::SessionRejected,
        Self::MalformedIp,
        Self::NotUdp,
        Self::MalformedUdp,
        Self::WrongPort,
        Self::NotAShred,
        Self::WrongShredVersion,
        Self::Duplicate,
        Self::Oversize,
        Self::Outgoing,
    ];

    /// The `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::BadMac => "bad_mac",
            Self::MalformedTunnel => "malformed_tunnel",
            Self::Replay => "replay",
            Self::Stale => "stale",
            Self::SessionRejected => "session_rejected",
            Self::MalformedIp => "malformed_ip",
            Self::NotUdp => "not_udp",
            Self::MalformedUdp => "malformed_udp",
            Self::WrongPort => "wrong_port",
            Self::NotAShred => "not_a_shred",
            Self::WrongShredVersion => "wrong_shred_version",
            Self::Duplicate => "duplicate",
            Self::Oversize => "oversize",
            Self::Outgoing => "outgoing",
        }
    }

    fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|reason| *reason == self)
            .unwrap_or(0)
    }
}

/// All metrics of a relay process, registered in one registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The registry `/metrics` serves.
    pub registry: Registry,
    /// See [`CAPTURED_PACKETS`].
    pub captured_packets: IntCounter,
    /// See [`CAPTURED_BYTES`].
    pub captured_bytes: IntCounter,
    /// See [`CAPTURE_KERNEL_DROPS`].
    pub capture_kernel_drops: IntCounter,
    /// See [`SENT_PACKETS`].
    pub sent_packets: IntCounter,
    /// See [`SENT_BYTES`].
    pub sent_bytes: IntCounter,
    /// See [`SEND_ERRORS`].
    pub send_errors: IntCounter,
    /// See [`RECEIVED_PACKETS`].
    pub received_packets: IntCounter,
    /// See [`RECEIVED_BYTES`].
    pub received_bytes: IntCounter,
    /// See [`FORWARDED_PACKETS`].
    pub forwarded_packets: IntCounter,
    /// See [`FORWARDED_BYTES`].
    pub forwarded_bytes: IntCounter,
    dropped: Vec<IntCounter>,
    /// See [`TUNNEL_SEQ_GAPS`].
    pub seq_gaps: IntCounter,
    /// See [`TUNNEL_REORDERED`].
    pub reordered: IntCounter,
    /// See [`TUNNEL_SESSIONS`].
    pub sessions: IntCounter,
    /// See [`TUNNEL_LATENCY`].
    pub latency: Histogram,
    /// See [`SHREDS`], `type="data"`.
    pub data_shreds: IntCounter,
    /// See [`SHREDS`], `type="code"`.
    pub code_shreds: IntCounter,
    /// See [`LATEST_SLOT`].
    pub latest_slot: IntGauge,
    /// See [`SHREDS_PER_SLOT`].
    pub shreds_per_slot: Histogram,
    /// See [`LAST_PACKET`].
    pub last_packet: IntGauge,
    compare_shreds: IntCounterVec,
    compare_first: IntCounterVec,
    compare_lead: HistogramVec,
    /// See [`COMPARE_QUEUE_LEN`].
    pub compare_queue_len: IntGauge,
}

fn counter(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let counter = IntCounter::new(name, help)?;
    registry.register(Box::new(counter.clone()))?;
    Ok(counter)
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let r = &registry;
        let dropped_vec = IntCounterVec::new(
            Opts::new(DROPPED_PACKETS, "Packets dropped, by reason"),
            &["reason"],
        )?;
        registry.register(Box::new(dropped_vec.clone()))?;
        let dropped = DropReason::ALL
            .iter()
            .map(|reason| dropped_vec.with_label_values(&[reason.label()]))
            .collect();
        let shreds = IntCounterVec::new(Opts::new(SHREDS, "Shreds forwarded, by type"), &["type"])?;
        registry.register(Box::new(shreds.clone()))?;
        let latency = Histogram::with_opts(
            HistogramOpts::new(
                TUNNEL_LATENCY,
                "One-way capture-to-forward latency (header timestamp to receive)",
            )
            .buckets(exponential_buckets(5e-6, 2.0, 20)?),
        )?;
        registry.register(Box::new(latency.clone()))?;
        let shreds_per_slot = Histogram::with_opts(
            HistogramOpts::new(SHREDS_PER_SLOT, "Shreds forwarded per slot")
                .buckets(exponential_buckets(16.0, 2.0, 12)?),
        )?;
        registry.register(Box::new(shreds_per_slot.clone()))?;
        let latest_slot = IntGauge::new(LATEST_SLOT, "Highest slot forwarded")?;
        registry.register(Box::new(latest_slot.clone()))?;
        let last_packet = IntGauge::new(LAST_PACKET, "Unix time of the last packet")?;
        registry.register(Box::new(last_packet.clone()))?;
        let compare_shreds = IntCounterVec::new(
            Opts::new(COMPARE_SHREDS, "Distinct shreds seen, by path"),
            &["path"],
        )?;
        registry.register(Box::new(compare_shreds.clone()))?;
        let compare_first = IntCounterVec::new(
            Opts::new(
                COMPARE_FIRST,
                "Shreds seen on both paths, by the path that was first",
            ),
            &["path"],
        )?;
        registry.register(Box::new(compare_first.clone()))?;
        let compare_lead = HistogramVec::new(
            HistogramOpts::new(
                COMPARE_LEAD,
                "How much earlier the first path delivered a shred",
            )
            .buckets(exponential_buckets(1e-5, 2.0, 20)?),
            &["path"],
        )?;
        registry.register(Box::new(compare_lead.clone()))?;
        let compare_queue_len = IntGauge::new(
            COMPARE_QUEUE_LEN,
            "Shreds queued between the compare capture threads and the comparer",
        )?;
        registry.register(Box::new(compare_queue_len.clone()))?;
        Ok(Self {
            captured_packets: counter(r, CAPTURED_PACKETS, "Packets captured")?,
            captured_bytes: counter(r, CAPTURED_BYTES, "Bytes captured")?,
            capture_kernel_drops: counter(
                r,
                CAPTURE_KERNEL_DROPS,
                "Frames the kernel dropped before the capture socket read them",
            )?,
            sent_packets: counter(r, SENT_PACKETS, "Tunnel datagrams sent")?,
            sent_bytes: counter(r, SENT_BYTES, "Tunnel bytes sent")?,
            send_errors: counter(r, SEND_ERRORS, "Datagrams the kernel refused to send")?,
            received_packets: counter(r, RECEIVED_PACKETS, "Datagrams received")?,
            received_bytes: counter(r, RECEIVED_BYTES, "Bytes received")?,
            forwarded_packets: counter(r, FORWARDED_PACKETS, "Shreds sent to the TVU")?,
            forwarded_bytes: counter(r, FORWARDED_BYTES, "Shred bytes sent to the TVU")?,
            dropped,
            seq_gaps: counter(r, TUNNEL_SEQ_GAPS, "Tunnel sequence numbers skipped")?,
            reordered: counter(r, TUNNEL_REORDERED, "Tunnel datagrams arriving late")?,
            sessions: counter(r, TUNNEL_SESSIONS, "Tunnel sessions started")?,
            latency,
            data_shreds: shreds.with_label_values(&["data"]),
            code_shreds: shreds.with_label_values(&["code"]),
            latest_slot,
            shreds_per_slot,
            last_packet,
            compare_shreds,
            compare_first,
            compare_lead,
            compare_queue_len,
            registry,
        })
    }

    /// See [`COMPARE_SHREDS`].
    pub fn compare_shreds(&self, path: crate::compare::Path) -> IntCounter {
        self.compare_shreds.with_label_values(&[path.label()])
    }

    /// See [`COMPARE_FIRST`].
    pub fn compare_first(&self, path: crate::compare::Path) -> IntCounter {
        self.compare_first.with_label_values(&[path.label()])
    }

    /// See [`COMPARE_LEAD`].
    pub fn compare_lead(&self, path: crate::compare::Path) -> Histogram {
        self.compare_lead.with_label_values(&[path.label()])
    }

    /// Counts `count` packets dropped for `reason`.
    pub fn drop_packets(&self, reason: DropReason, count: u64) {
        if let Some(counter) = self.dropped.get(reason.index()) {
            counter.inc_by(count);
        }
    }

    /// Packets dropped so far for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason.index()).map_or(0, IntCounter::get)
    }
}

/// `/health`: ok while a packet arrived within the idle bound.
#[derive(Debug)]
pub struct Health {
    last_packet_ns: AtomicU64,
    idle_ns: u64,
}

impl Health {
    /// Starts as if a packet arrived at `now_ns` (a fresh process gets the idle bound to start).
    pub fn new(idle_ns: u64, now_ns: u64) -> Self {
        Self {
            last_packet_ns: AtomicU64::new(now_ns),
            idle_ns,
        }
    }

    /// Records a packet at `now_ns`.
    pub fn packet(&self, now_ns: u64) {
        self.last_packet_ns.fetch_max(now_ns, Ordering::Relaxed);
    }

    /// `Ok(idle ns)` when healthy at `now_ns`, `Err(idle ns)` when idle too long.
    pub fn check(&self, now_ns: u64) -> Result<u64, u64> {
        let idle = now_ns.saturating_sub(self.last_packet_ns.load(Ordering::Relaxed));
        if idle <= self.idle_ns {
            Ok(idle)
        } else {
            Err(idle)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_house_rules() {
        let metrics = Metrics::new().unwrap();
        metrics.drop_packets(DropReason::Duplicate, 2);
        assert_eq!(metrics.dropped(DropReason::Duplicate), 2);
        for family in metrics.registry.gather() {
            let name = family.name();
            assert!(name.starts_with("relay_"), "{name}");
            for metric in family.get_metric() {
                for label in metric.get_label() {
                    assert!(["reason", "type", "path"].contains(&label.name()), "{name}");
                }
            }
        }
    }

    #[test]
    fn health_turns_idle() {
        let health = Health::new(10, 100);
        assert_eq!(health.check(105), Ok(5));
        assert_eq!(health.check(111), Err(11));
        health.packet(110);
        assert_eq!(health.check(111), Ok(1));
    }
}
