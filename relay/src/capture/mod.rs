//! The capture side: where packets come from (an `AF_PACKET` socket on the mirror interface with
//! the kernel filter of [`filter`], or a plain UDP socket), the user-space re-check, and the
//! tunnel framing ([`TunnelSender`]). `run` is the socket loop.

pub mod filter;
mod run;

use crate::{
    metrics::DropReason,
    sys::PACKET_OUTGOING,
    tunnel::{self, FLAG_BARE, Key, TunnelError, TunnelHeader},
    unwrap::{self, UnwrapError},
};
pub use run::{CaptureSource, run_capture};

/// Re-checks a frame the kernel filter accepted (defence in depth): not an outgoing copy, a
/// well-formed IP + UDP packet, to `port`.
pub fn check_frame(packet: &[u8], pkttype: u8, port: u16) -> Result<(), DropReason> {
    if pkttype == PACKET_OUTGOING {
        return Err(DropReason::Outgoing);
    }
    match unwrap::strip(packet) {
        Ok(udp) if udp.destination.port() == port => Ok(()),
        Ok(_) => Err(DropReason::WrongPort),
        Err(UnwrapError::NotUdp(_)) => Err(DropReason::NotUdp),
        Err(error) if error.is_ip() => Err(DropReason::MalformedIp),
        Err(_) => Err(DropReason::MalformedUdp),
    }
}

/// The sending end of a tunnel session: numbers and frames datagrams.
#[derive(Debug)]
pub struct TunnelSender {
    session: u64,
    next_seq: u64,
    key: Option<Key>,
    bare: bool,
}

impl TunnelSender {
    /// A session `session` (random per process), sequence from 0; `bare` for UDP payloads.
    pub fn new(session: u64, key: Option<Key>, bare: bool) -> Self {
        Self {
            session,
            next_seq: 0,
            key,
            bare,
        }
    }

    /// The session id.
    pub fn session(&self) -> u64 {
        self.session
    }

    /// Frames `packet`, captured at `now_ns`, into `out`; the sequence advances only on success.
    pub fn frame(
        &mut self,
        packet: &[u8],
        now_ns: u64,
        out: &mut [u8],
    ) -> Result<usize, TunnelError> {
        let header = TunnelHeader {
            flags: if self.bare { FLAG_BARE } else { 0 },
            session: self.session,
            seq: self.next_seq,
            timestamp_ns: now_ns,
        };
        let len = tunnel::encode(&header, packet, self.key.as_ref(), out)?;
        self.next_seq += 1;
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::{tunnel::decode, unwrap::wrap_ipv4},
        std::net::Ipv4Addr,
    };

    #[test]
    fn frames_in_sequence() {
        let key = Key::from_bytes([1; 32]);
        let mut sender = TunnelSender::new(9, Some(key.clone()), false);
        let mut out = [0u8; 256];
        for seq in 0..3 {
            let len = sender.frame(b"pkt", 100 + seq, &mut out).unwrap();
            let (header, inner) = decode(&out[..len], Some(&key)).unwrap();
            assert_eq!(
                (header.session, header.seq, header.timestamp_ns),
                (9, seq, 100 + seq)
            );
            assert_eq!(inner, b"pkt");
        }
        assert!(sender.frame(&[0; 300], 0, &mut out).is_err());
        let len = sender.frame(b"x", 0, &mut out).unwrap();
        assert_eq!(decode(&out[..len], Some(&key)).unwrap().0.seq, 3);
    }

    #[test]
    fn rechecks_frames() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let good = wrap_ipv4((a, 1), (a, 20000), b"s");
        assert_eq!(check_frame(&good, 0, 20000), Ok(()));
        assert_eq!(
            check_frame(&good, PACKET_OUTGOING, 20000),
            Err(DropReason::Outgoing)
        );
        assert_eq!(check_frame(&good, 0, 20001), Err(DropReason::WrongPort));
        assert_eq!(
            check_frame(&good[..10], 0, 20000),
            Err(DropReason::MalformedIp)
        );
    }
}
