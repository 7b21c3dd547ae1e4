//! Strips the IP (IPv4 with its IHL, or IPv6) and UDP headers off a captured packet, as
//! `shred-unwrap.py` did, with every length checked. Pure: bytes in, a view of them out.

use {
    std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    thiserror::Error,
};

const IPV4_MIN_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const UDP_HEADER: usize = 8;
const IPPROTO_UDP: u8 = 17;

/// A UDP datagram found inside an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Source address and port.
    pub source: SocketAddr,
    /// Destination address and port.
    pub destination: SocketAddr,
    /// The UDP payload (the shred).
    pub payload: &'a [u8],
}

/// Why a packet could not be unwrapped. [`UnwrapError::is_ip`] tells IP-level faults from UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum UnwrapError {
    /// Empty, or shorter than the fixed IP header.
    #[error("truncated IP header ({0} bytes)")]
    TruncatedIp(usize),
    /// Version nibble neither 4 nor 6.
    #[error("IP version {0}")]
    BadVersion(u8),
    /// IPv4 IHL below 5 or past the packet.
    #[error("bad IPv4 header length {0}")]
    BadIhl(u8),
    /// IP total/payload length beyond the captured bytes or below the header.
    #[error("bad IP length {claimed} for {captured} captured bytes")]
    BadIpLength {
        /// What the header says.
        claimed: usize,
        /// What was captured.
        captured: usize,
    },
    /// IPv4 header checksum does not add up.
    #[error("bad IPv4 header checksum")]
    BadChecksum,
    /// A fragment (more-fragments set or non-zero offset): UDP cannot be read from it alone.
    #[error("IP fragment")]
    Fragment,
    /// Not UDP (or IPv6 with extension headers before UDP).
    #[error("IP protocol {0} is not UDP")]
    NotUdp(u8),
    /// Fewer than 8 bytes for the UDP header.
    #[error("truncated UDP header")]
    TruncatedUdp,
    /// UDP length below 8 or beyond the IP payload.
    #[error("bad UDP length {claimed} for {available} bytes")]
    BadUdpLength {
        /// What the header says.
        claimed: usize,
        /// What the IP payload holds.
        available: usize,
    },
}

impl UnwrapError {
    /// Whether the fault is in the IP layer (else UDP).
    pub fn is_ip(&self) -> bool {
        !matches!(self, Self::TruncatedUdp | Self::BadUdpLength { .. })
    }
}

fn be16(bytes: &[u8], offset: usize) -> u16 {
    u16::from_be_bytes([bytes[offset], bytes[offset + 1]])
}

/// RFC 1071 one's complement sum over an IPv4 header; zero when the checksum is right.
fn ipv4_checksum_ok(header: &[u8]) -> bool {
    let mut sum: u32 = 0;
    for pair in header.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

/// Unwraps an IPv4 or IPv6 packet (as AF_PACKET `SOCK_DGRAM` or `socat ... type=2` deliver it)
/// down to its UDP payload. Bytes after the IP length (link padding) are ignored.
pub fn strip(packet: &[u8]) -> Result<UdpDatagram<'_>, UnwrapError> {
    let Some(first) = packet.first() else {
        return Err(UnwrapError::TruncatedIp(0));
    };
    match first >> 4 {
        4 => strip_v4(packet),
        6 => strip_v6(packet),
        version => Err(UnwrapError::BadVersion(version)),
    }
}

fn strip_v4(packet: &[u8]) -> Result<UdpDatagram<'_>, UnwrapError> {
    if packet.len() < IPV4_MIN_HEADER {
        return Err(UnwrapError::TruncatedIp(packet.len()));
    }
    let ihl = packet[0] & 0x0f;
    let header_len = usize::from(ihl) * 4;
    if ihl < 5 || header_len > packet.len() {
        return Err(UnwrapError::BadIhl(ihl));
    }
    let total = usize::from(be16(packet, 2));
    if total < header_len || total > packet.len() {
        return Err(UnwrapError::BadIpLength {
            claimed: total,
            captured: packet.len(),
        });
    }
    if !ipv4_checksum_ok(&packet[..header_len]) {
        return Err(UnwrapError::BadChecksum);
    }
    let fragment = be16(packet, 6);
    if fragment & 0x3fff != 0 {
        return Err(UnwrapError::Fragment);
    }
    if packet[9] != IPPROTO_UDP {
        return Err(UnwrapError::NotUdp(packet[9]));
    }
    let src = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
    let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
    strip_udp(&packet[header_len..total], IpAddr::V4(src), IpAddr::V4(dst))
}

fn strip_v6(packet: &[u8]) -> Result<UdpDatagram<'_>, UnwrapError> {
    if packet.len() < IPV6_HEADER {
        return Err(UnwrapError::TruncatedIp(packet.len()));
    }
    let payload_len = usize::from(be16(packet, 4));
    let total = IPV6_HEADER + payload_len;
    if total > packet.len() {
        return Err(UnwrapError::BadIpLength {
            claimed: total,
            captured: packet.len(),
        });
    }
    let next_header = packet[6];
    if next_header != IPPROTO_UDP {
        return Err(UnwrapError::NotUdp(next_header));
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&packet[8..24]);
    dst.copy_from_slice(&packet[24..40]);
    strip_udp(
        &packet[IPV6_HEADER..total],
        IpAddr::V6(Ipv6Addr::from(src)),
        IpAddr::V6(Ipv6Addr::from(dst)),
    )
}

fn strip_udp(ip_payload: &[u8], src: IpAddr, dst: IpAddr) -> Result<UdpDatagram<'_>, UnwrapError> {
    if ip_payload.len() < UDP_HEADER {
        return Err(UnwrapError::TruncatedUdp);
    }
    let udp_len = usize::from(be16(ip_payload, 4));
    if udp_len < UDP_HEADER || udp_len > ip_payload.len() {
        return Err(UnwrapError::BadUdpLength {
            claimed: udp_len,
            available: ip_payload.len(),
        });
    }
    Ok(UdpDatagram {
        source: SocketAddr::new(src, be16(ip_payload, 0)),
        destination: SocketAddr::new(dst, be16(ip_payload, 2)),
        payload: &ip_payload[UDP_HEADER..udp_len],
    })
}

/// Builds an IPv4 + UDP packet (header checksum set, UDP checksum zero) around `payload`: for
/// tests, the benchmark and `relay test-send`.
pub fn wrap_ipv4(source: (Ipv4Addr, u16), destination: (Ipv4Addr, u16), payload: &[u8]) -> Vec<u8> {
    let total = IPV4_MIN_HEADER + UDP_HEADER + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&(total as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0x40, 0, 64, IPPROTO_UDP, 0, 0]);
    out.extend_from_slice(&source.0.octets());
    out.extend_from_slice(&destination.0.octets());
    let mut sum: u32 = out
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    out[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    out.extend_from_slice(&source.1.to_be_bytes());
    out.extend_from_slice(&destination.1.to_be_bytes());
    out.extend_from_slice(&((UDP_HEADER + payload.len()) as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    out
}

/// Builds an IPv6 + UDP packet around `payload` (UDP checksum zero): for tests.
pub fn wrap_ipv6(source: (Ipv6Addr, u16), destination: (Ipv6Addr, u16), payload: &[u8]) -> Vec<u8> {
    let udp_len = UDP_HEADER + payload.len();
    let mut out = Vec::with_capacity(IPV6_HEADER + udp_len);
    out.extend_from_slice(&[0x60, 0, 0, 0]);
    out.extend_from_slice(&(udp_len as u16).to_be_bytes());
    out.extend_from_slice(&[IPPROTO_UDP, 64]);
    out.extend_from_slice(&source.0.octets());
    out.extend_from_slice(&destination.0.octets());
    out.extend_from_slice(&source.1.to_be_bytes());
    out.extend_from_slice(&destination.1.to_be_bytes());
    out.extend_from_slice(&(udp_len as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use {super::*, proptest::prelude::*};

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    #[test]
    fn ipv4_round_trip() {
        let packet = wrap_ipv4((A, 4000), (B, 20000), b"shred");
        let udp = strip(&packet).unwrap();
        assert_eq!(udp.payload, b"shred");
        assert_eq!(udp.destination, SocketAddr::from((B, 20000)));
        assert_eq!(udp.source, SocketAddr::from((A, 4000)));
    }

    #[test]
    fn ipv4_with_options_uses_ihl() {
        let mut packet = wrap_ipv4((A, 1), (B, 20000), b"payload");
        // Insert 8 bytes of options (NOPs) and fix IHL, total length and checksum.
        let options = [1u8; 8];
        packet.splice(20..20, options);
        packet[0] = 0x47;
        let total = packet.len() as u16;
        packet[2..4].copy_from_slice(&total.to_be_bytes());
        packet[10..12].copy_from_slice(&[0, 0]);
        let mut sum: u32 = packet[..28]
            .chunks(2)
            .map(|p| u32::from(u16::from_be_bytes([p[0], p[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        packet[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        assert_eq!(strip(&packet).unwrap().payload, b"payload");
    }

    #[test]
    fn ipv4_padding_is_ignored() {
        let mut packet = wrap_ipv4((A, 1), (B, 2), b"x");
        packet.extend_from_slice(&[0; 17]);
        assert_eq!(strip(&packet).unwrap().payload, b"x");
    }

    #[test]
    fn ipv6_round_trip() {
        let a: Ipv6Addr = "fd00::1".parse().unwrap();
        let b: Ipv6Addr = "fd00::2".parse().unwrap();
        let packet = wrap_ipv6((a, 9), (b, 20000), b"six");
        let udp = strip(&packet).unwrap();
        assert_eq!(udp.payload, b"six");
        assert_eq!(udp.destination, SocketAddr::from((b, 20000)));
    }

    #[test]
    fn malformed_packets_are_classified() {
        let good = wrap_ipv4((A, 1), (B, 2), b"abc");
        assert_eq!(strip(&[]), Err(UnwrapError::TruncatedIp(0)));
        assert_eq!(strip(&good[..19]), Err(UnwrapError::TruncatedIp(19)));
        let mut v = good.clone();
        v[0] = 0x55;
        assert_eq!(strip(&v), Err(UnwrapError::BadVersion(5)));
        let mut ihl = good.clone();
        ihl[0] = 0x44;
        assert_eq!(strip(&ihl), Err(UnwrapError::BadIhl(4)));
        let mut long = good.clone();
        long[2..4].copy_from_slice(&1000u16.to_be_bytes());
        assert!(matches!(strip(&long), Err(UnwrapError::BadIpLength { .. })));
        let mut sum = good.clone();
        sum[10] ^= 1;
        assert_eq!(strip(&sum), Err(UnwrapError::BadChecksum));
        let mut frag = wrap_ipv4((A, 1), (B, 2), b"abc");
        frag[6] = 0x20; // MF
        frag[10..12].copy_from_slice(&[0, 0]);
        let fixed = {
            let mut s: u32 = frag[..20]
                .chunks(2)
                .map(|p| u32::from(u16::from_be_bytes([p[0], p[1]])))
                .sum();
            while s > 0xffff {
                s = (s & 0xffff) + (s >> 16);
            }
            !(s as u16)
        };
        frag[10..12].copy_from_slice(&fixed.to_be_bytes());
        assert_eq!(strip(&frag), Err(UnwrapError::Fragment));
        let mut udp_len = good.clone();
        udp_len[24..26].copy_from_slice(&500u16.to_be_bytes());
        let err = strip(&udp_len).unwrap_err();
        assert!(!err.is_ip());
        assert!(matches!(err, UnwrapError::BadUdpLength { .. }));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(udp) = strip(&bytes) {
                prop_assert!(udp.payload.len() + 28 <= bytes.len());
            }
        }

        #[test]
        fn round_trips(payload in proptest::collection::vec(any::<u8>(), 0..1300), port in any::<u16>()) {
            let v4 = wrap_ipv4((A, 1), (B, port), &payload);
            prop_assert_eq!(strip(&v4).unwrap().payload, &payload[..]);
            prop_assert_eq!(strip(&v4).unwrap().destination.port(), port);
            let v6 = wrap_ipv6(("fd00::1".parse().unwrap(), 1), ("fd00::2".parse().unwrap(), port), &payload);
            prop_assert_eq!(strip(&v6).unwrap().payload, &payload[..]);
        }

        #[test]
        fn truncation_is_an_error(payload in proptest::collection::vec(any::<u8>(), 1..300), cut in 1usize..300) {
            let v4 = wrap_ipv4((A, 1), (B, 2), &payload);
            let cut = cut.min(v4.len() - 1);
            prop_assert!(strip(&v4[..v4.len() - cut]).is_err());
        }
    }
}
