//! The forward side. [`Forwarder`] is the decision for one datagram (tunnel check, replay,
//! unwrap, shred check, shred-version filter, dedup, per-slot statistics), with no I/O; `run`
//! is the socket loop around it.

pub mod dedup;
mod run;
pub mod slots;

pub use run::{ForwardSockets, run_forward};
use {
    crate::{
        metrics::DropReason,
        shred::{self, ShredHeader},
        tunnel::{
            self, FLAG_BARE, Key, ReplayConfig, ReplayError, ReplayGuard, SeqEvent, TunnelError,
        },
        unwrap::{self, UnwrapError},
    },
    dedup::DedupWindow,
    slots::{RetiredSlot, SlotStats},
};

/// What the forward side accepts.
#[derive(Debug, Clone)]
pub struct ForwarderConfig {
    /// Bare IP + UDP + payload datagrams (socat `type=2`) instead of tunnel datagrams.
    pub raw: bool,
    /// Tunnel key: without it, MACs are not checked.
    pub key: Option<Key>,
    /// Forward only shreds of this shred version.
    pub shred_version: Option<u16>,
    /// Dedup window, in shreds.
    pub dedup_capacity: usize,
    /// Per-slot statistics window, in slots.
    pub slot_window: usize,
    /// Tunnel sequence window and clock bound.
    pub replay: ReplayConfig,
}

impl Default for ForwarderConfig {
    fn default() -> Self {
        Self {
            raw: false,
            key: None,
            shred_version: None,
            dedup_capacity: dedup::DEFAULT_CAPACITY,
            slot_window: slots::DEFAULT_SLOT_WINDOW,
            replay: ReplayConfig::default(),
        }
    }
}

/// A shred to forward.
#[derive(Debug, Clone, Copy)]
pub struct Accepted<'a> {
    /// The UDP payload to send to the TVU port, byte for byte as captured.
    pub payload: &'a [u8],
    /// Its headers.
    pub shred: ShredHeader,
    /// Capture-to-now latency in ns, from the tunnel header (not in raw mode).
    pub latency_ns: Option<u64>,
    /// A slot that left the statistics window.
    pub retired: Option<RetiredSlot>,
}

/// The outcome for one datagram.
#[derive(Debug, Clone, Copy)]
pub struct Processed<'a> {
    /// What the tunnel header told about sequence and session, when it was accepted.
    pub seq: Option<SeqEvent>,
    /// The shred, or why not.
    pub result: Result<Accepted<'a>, DropReason>,
}

/// The forward side's state: sessions, dedup window, slot statistics.
#[derive(Debug)]
pub struct Forwarder {
    config: ForwarderConfig,
    replay: ReplayGuard,
    dedup: DedupWindow,
    slots: SlotStats,
}

fn unwrap_reason(error: UnwrapError) -> DropReason {
    match error {
        UnwrapError::NotUdp(_) => DropReason::NotUdp,
        error if error.is_ip() => DropReason::MalformedIp,
        _ => DropReason::MalformedUdp,
    }
}

fn tunnel_reason(error: TunnelError) -> DropReason {
    match error {
        TunnelError::BadMac | TunnelError::MissingMac => DropReason::BadMac,
        _ => DropReason::MalformedTunnel,
    }
}

fn replay_reason(error: ReplayError) -> DropReason {
    match error {
        ReplayError::Duplicate | ReplayError::BelowWindow => DropReason::Replay,
        ReplayError::Stale | ReplayError::Future => DropReason::Stale,
        ReplayError::NoSessionSlot => DropReason::SessionRejected,
    }
}

impl Forwarder {
    /// A forwarder with empty state.
    pub fn new(config: ForwarderConfig) -> Self {
        Self {
            replay: ReplayGuard::new(config.replay),
            dedup: DedupWindow::new(config.dedup_capacity),
            slots: SlotStats::new(config.slot_window),
            config,
        }
    }

    /// The per-slot statistics.
    pub fn slots(&self) -> &SlotStats {
        &self.slots
    }

    /// Decides what to do with one received datagram at `now_ns` (ns since the Unix epoch).
    pub fn process<'a>(&mut self, datagram: &'a [u8], now_ns: u64) -> Processed<'a> {
        let mut seq = None;
        let result = self.decide(datagram, now_ns, &mut seq);
        Processed { seq, result }
    }

    fn decide<'a>(
        &mut self,
        datagram: &'a [u8],
        now_ns: u64,
        seq: &mut Option<SeqEvent>,
    ) -> Result<Accepted<'a>, DropReason> {
        let (inner, bare, latency_ns) = if self.config.raw {
            (datagram, false, None)
        } else {
            let (header, inner) =
                tunnel::decode(datagram, self.config.key.as_ref()).map_err(tunnel_reason)?;
            let event = self
                .replay
                .check(header.session, header.seq, header.timestamp_ns, now_ns)
                .map_err(replay_reason)?;
            *seq = Some(event);
            let latency = now_ns.checked_sub(header.timestamp_ns);
            (inner, header.flags & FLAG_BARE != 0, latency)
        };
        let payload = if bare {
            inner
        } else {
            unwrap::strip(inner).map_err(unwrap_reason)?.payload
        };
        let shred = shred::parse(payload).map_err(|_| DropReason::NotAShred)?;
        if self
            .config
            .shred_version
            .is_some_and(|version| version != shred.version)
        {
            return Err(DropReason::WrongShredVersion);
        }
        if !self.dedup.insert(&shred) {
            return Err(DropReason::Duplicate);
        }
        let retired = self.slots.record(&shred, payload.len(), now_ns);
        Ok(Accepted {
            payload,
            shred,
            latency_ns,
            retired,
        })
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::{
            testkit::{ShredSpec, build_shred},
            tunnel::{TunnelHeader, encode},
            unwrap::wrap_ipv4,
        },
        proptest::prelude::*,
        std::net::Ipv4Addr,
    };

    const NOW: u64 = 1_700_000_000_000_000_000;

    fn packet(n: u64, version: u16) -> Vec<u8> {
        let shred = build_shred(&ShredSpec::nth(n, 1000, version));
        wrap_ipv4(
            (Ipv4Addr::new(1, 1, 1, 1), 8000),
            (Ipv4Addr::new(2, 2, 2, 2), 20000),
            &shred,
        )
    }

    fn tunnel(seq: u64, inner: &[u8], key: Option<&Key>) -> Vec<u8> {
        let mut out = vec![0u8; 2048];
        let header = TunnelHeader {
            flags: 0,
            session: 77,
            seq,
            timestamp_ns: NOW - 1000,
        };
        let len = encode(&header, inner, key, &mut out).unwrap();
        out.truncate(len);
        out
    }

    fn keyed() -> Forwarder {
        Forwarder::new(ForwarderConfig {
            key: Some(Key::from_bytes([5; 32])),
            shred_version: Some(42),
            ..ForwarderConfig::default()
        })
    }

    #[test]
    fn forwards_the_payload_byte_for_byte() {
        let key = Key::from_bytes([5; 32]);
        let mut forwarder = keyed();
        let inner = packet(0, 42);
        let datagram = tunnel(0, &inner, Some(&key));
        let processed = forwarder.process(&datagram, NOW);
        let accepted = processed.result.unwrap();
        assert_eq!(accepted.payload, &inner[28..]);
        assert_eq!(accepted.latency_ns, Some(1000));
        assert!(processed.seq.unwrap().new_session);
    }

    #[test]
    fn drops_with_reasons() {
        let key = Key::from_bytes([5; 32]);
        let wrong = Key::from_bytes([6; 32]);
        let mut f = keyed();
        let reason = |f: &mut Forwarder, d: &[u8]| f.process(d, NOW).result.err();
        assert_eq!(
            reason(&mut f, &tunnel(0, &packet(0, 42), Some(&wrong))),
            Some(DropReason::BadMac)
        );
        assert_eq!(
            reason(&mut f, &tunnel(0, &packet(0, 42), None)),
            Some(DropReason::BadMac)
        );
        assert_eq!(
            reason(&mut f, &packet(0, 42)),
            Some(DropReason::MalformedTunnel)
        );
        let good = tunnel(1, &packet(1, 42), Some(&key));
        assert_eq!(reason(&mut f, &good), None);
        assert_eq!(reason(&mut f, &good), Some(DropReason::Replay));
        // Same shred again under a new sequence number: a duplicate shred.
        assert_eq!(
            reason(&mut f, &tunnel(2, &packet(1, 42), Some(&key))),
            Some(DropReason::Duplicate)
        );
        assert_eq!(
            reason(&mut f, &tunnel(3, &packet(3, 7), Some(&key))),
            Some(DropReason::WrongShredVersion)
        );
        assert_eq!(
            reason(&mut f, &tunnel(4, b"\x45garbage", Some(&key))),
            Some(DropReason::MalformedIp)
        );
        let mut bad_udp = packet(5, 42);
        bad_udp[24..26].copy_from_slice(&3u16.to_be_bytes());
        assert_eq!(
            reason(&mut f, &tunnel(5, &bad_udp, Some(&key))),
            Some(DropReason::MalformedUdp)
        );
        let not_shred = wrap_ipv4((Ipv4Addr::LOCALHOST, 1), (Ipv4Addr::LOCALHOST, 2), b"hello");
        assert_eq!(
            reason(&mut f, &tunnel(6, &not_shred, Some(&key))),
            Some(DropReason::NotAShred)
        );
        let mut stale = tunnel(7, &packet(7, 42), Some(&key));
        stale.truncate(0);
        let header = TunnelHeader {
            flags: 0,
            session: 77,
            seq: 8,
            timestamp_ns: NOW - 60_000_000_000,
        };
        let mut out = vec![0u8; 2048];
        let len = encode(&header, &packet(8, 42), Some(&key), &mut out).unwrap();
        assert_eq!(reason(&mut f, &out[..len]), Some(DropReason::Stale));
    }

    #[test]
    fn raw_mode_takes_socat_datagrams() {
        let mut f = Forwarder::new(ForwarderConfig {
            raw: true,
            ..ForwarderConfig::default()
        });
        let inner = packet(9, 1);
        assert_eq!(f.process(&inner, NOW).result.unwrap().payload, &inner[28..]);
        assert_eq!(
            f.process(&inner, NOW).result.err(),
            Some(DropReason::Duplicate)
        );
    }

    #[test]
    fn bare_payloads_skip_the_unwrap() {
        let mut f = Forwarder::new(ForwarderConfig::default());
        let shred = build_shred(&ShredSpec::nth(3, 5, 1));
        let mut out = vec![0u8; 2048];
        let header = TunnelHeader {
            flags: FLAG_BARE,
            session: 1,
            seq: 0,
            timestamp_ns: NOW,
        };
        let len = encode(&header, &shred, None, &mut out).unwrap();
        assert_eq!(
            f.process(&out[..len], NOW).result.unwrap().payload,
            &shred[..]
        );
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1500), raw in any::<bool>()) {
            let mut f = Forwarder::new(ForwarderConfig { raw, ..ForwarderConfig::default() });
            let _ = f.process(&bytes, NOW);
        }

        #[test]
        fn mutated_tunnel_datagrams_never_pass_the_mac(offset in 0usize..1400, bit in 0u8..8) {
            let key = Key::from_bytes([5; 32]);
            let mut f = keyed();
            let mut datagram = tunnel(0, &packet(0, 42), Some(&key));
            let offset = offset % datagram.len();
            datagram[offset] ^= 1 << bit;
            let result = f.process(&datagram, NOW).result;
            prop_assert!(matches!(result, Err(DropReason::BadMac) | Err(DropReason::MalformedTunnel)));
        }
    }
}
