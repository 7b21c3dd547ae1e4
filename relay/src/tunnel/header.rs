//! Tunnel datagram layout (version 1, integers little-endian):
//!
//! ```text
//! offset size field
//!  0     1    version (1)
//!  1     1    flags: bit 0 MAC trailer present, bit 1 bare (inner is a UDP payload, not an IP
//!             packet); other bits zero
//!  2     2    reserved, zero
//!  4     8    session id (random per capture process)
//!  12    8    sequence number (per session, from 0, +1 per datagram)
//!  20    8    capture time, ns since the Unix epoch (capture host's clock)
//!  28    n    inner: the captured IP + UDP + shred packet (or the bare shred)
//!  28+n  32   with flag bit 0: keyed BLAKE3 of bytes 0..28+n
//! ```

use {super::key::Key, thiserror::Error};

/// Tunnel format version.
pub const VERSION: u8 = 1;
/// Bytes before the inner packet.
pub const HEADER_LEN: usize = 28;
/// Bytes of the MAC trailer.
pub const MAC_LEN: usize = 32;
/// Flag: a MAC trailer follows the inner packet.
pub const FLAG_MAC: u8 = 0b01;
/// Flag: the inner bytes are a UDP payload (capture `--listen`), not an IP packet.
pub const FLAG_BARE: u8 = 0b10;
const KNOWN_FLAGS: u8 = FLAG_MAC | FLAG_BARE;

/// The header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelHeader {
    /// Flags ([`FLAG_MAC`] is set by [`encode`] from the key, not by the caller).
    pub flags: u8,
    /// Random per capture process; a new one starts a new sequence.
    pub session: u64,
    /// Per-session sequence number.
    pub seq: u64,
    /// Capture time, ns since the Unix epoch.
    pub timestamp_ns: u64,
}

/// Why a datagram is not a valid tunnel datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TunnelError {
    /// Shorter than the header (plus MAC if flagged).
    #[error("tunnel datagram of {0} bytes is too short")]
    TooShort(usize),
    /// Not version 1.
    #[error("unknown tunnel version {0}")]
    UnknownVersion(u8),
    /// Unknown flag bits or non-zero reserved bytes.
    #[error("reserved bits set")]
    Reserved,
    /// The receiver has a key but the datagram carries no MAC.
    #[error("no MAC on a keyed tunnel")]
    MissingMac,
    /// The MAC does not match: forged, corrupted, or another key.
    #[error("bad MAC")]
    BadMac,
    /// The encoded datagram does not fit the output buffer.
    #[error("datagram of {0} bytes does not fit the buffer")]
    TooLarge(usize),
}

/// Bytes the tunnel adds to a packet at most.
pub const fn max_overhead() -> usize {
    HEADER_LEN + MAC_LEN
}

/// Writes header, inner packet and (with a key) the MAC into `out`; returns the length.
pub fn encode(
    header: &TunnelHeader,
    inner: &[u8],
    key: Option<&Key>,
    out: &mut [u8],
) -> Result<usize, TunnelError> {
    let flags = (header.flags & FLAG_BARE) | if key.is_some() { FLAG_MAC } else { 0 };
    let body = HEADER_LEN + inner.len();
    let total = body + if key.is_some() { MAC_LEN } else { 0 };
    if total > out.len() {
        return Err(TunnelError::TooLarge(total));
    }
    out[0] = VERSION;
    out[1] = flags;
    out[2..4].copy_from_slice(&[0, 0]);
    out[4..12].copy_from_slice(&header.session.to_le_bytes());
    out[12..20].copy_from_slice(&header.seq.to_le_bytes());
    out[20..28].copy_from_slice(&header.timestamp_ns.to_le_bytes());
    out[HEADER_LEN..body].copy_from_slice(inner);
    if let Some(key) = key {
        let mac = key.mac(&out[..body]);
        out[body..total].copy_from_slice(mac.as_bytes());
    }
    Ok(total)
}

fn le64(bytes: &[u8], offset: usize) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(buf)
}

/// Checks and splits a tunnel datagram. With `key`, the MAC must be present and match (checked
/// in constant time); without, a MAC trailer is skipped unchecked.
pub fn decode<'a>(
    datagram: &'a [u8],
    key: Option<&Key>,
) -> Result<(TunnelHeader, &'a [u8]), TunnelError> {
    if datagram.len() < HEADER_LEN {
        return Err(TunnelError::TooShort(datagram.len()));
    }
    if datagram[0] != VERSION {
        return Err(TunnelError::UnknownVersion(datagram[0]));
    }
    let flags = datagram[1];
    if flags & !KNOWN_FLAGS != 0 || datagram[2] != 0 || datagram[3] != 0 {
        return Err(TunnelError::Reserved);
    }
    let body_len = if flags & FLAG_MAC != 0 {
        datagram
            .len()
            .checked_sub(MAC_LEN)
            .filter(|len| *len >= HEADER_LEN)
            .ok_or(TunnelError::TooShort(datagram.len()))?
    } else {
        datagram.len()
    };
    if let Some(key) = key {
        if flags & FLAG_MAC == 0 {
            return Err(TunnelError::MissingMac);
        }
        let mut mac = [0u8; MAC_LEN];
        mac.copy_from_slice(&datagram[body_len..]);
        // blake3::Hash compares in constant time.
        if key.mac(&datagram[..body_len]) != blake3::Hash::from(mac) {
            return Err(TunnelError::BadMac);
        }
    }
    let header = TunnelHeader {
        flags,
        session: le64(datagram, 4),
        seq: le64(datagram, 12),
        timestamp_ns: le64(datagram, 20),
    };
    Ok((header, &datagram[HEADER_LEN..body_len]))
}

#[cfg(test)]
mod tests {
    use {super::*, proptest::prelude::*};

    fn header(seq: u64) -> TunnelHeader {
        TunnelHeader {
            flags: 0,
            session: 0xfeed,
            seq,
            timestamp_ns: 1_700_000_000_000_000_000,
        }
    }

    #[test]
    fn round_trip_with_and_without_key() {
        let key = Key::from_bytes([7; 32]);
        let mut out = [0u8; 2048];
        let len = encode(&header(5), b"packet", Some(&key), &mut out).unwrap();
        assert_eq!(len, HEADER_LEN + 6 + MAC_LEN);
        let (h, inner) = decode(&out[..len], Some(&key)).unwrap();
        assert_eq!(inner, b"packet");
        assert_eq!(h.seq, 5);
        assert_eq!(h.flags, FLAG_MAC);
        // A receiver without a key skips the MAC.
        assert_eq!(decode(&out[..len], None).unwrap().1, b"packet");
        let len = encode(&header(6), b"packet", None, &mut out).unwrap();
        assert_eq!(decode(&out[..len], None).unwrap().1, b"packet");
        assert_eq!(
            decode(&out[..len], Some(&key)),
            Err(TunnelError::MissingMac)
        );
    }

    #[test]
    fn any_flipped_bit_fails_the_mac() {
        let key = Key::from_bytes([1; 32]);
        let mut out = [0u8; 256];
        let len = encode(&header(1), b"shred bytes", Some(&key), &mut out).unwrap();
        for byte in 0..len {
            for bit in 0..8 {
                let mut copy = out;
                copy[byte] ^= 1 << bit;
                assert!(
                    decode(&copy[..len], Some(&key)).is_err(),
                    "byte {byte} bit {bit}"
                );
            }
        }
        let other = Key::from_bytes([2; 32]);
        assert_eq!(decode(&out[..len], Some(&other)), Err(TunnelError::BadMac));
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(decode(&[1; 10], None), Err(TunnelError::TooShort(10)));
        let mut out = [0u8; 64];
        let len = encode(&header(1), b"", None, &mut out).unwrap();
        let mut v = out;
        v[0] = 2;
        assert_eq!(decode(&v[..len], None), Err(TunnelError::UnknownVersion(2)));
        let mut r = out;
        r[1] = 0x80;
        assert_eq!(decode(&r[..len], None), Err(TunnelError::Reserved));
        let mut m = out;
        m[1] = FLAG_MAC;
        assert!(matches!(
            decode(&m[..len], None),
            Err(TunnelError::TooShort(_))
        ));
        assert_eq!(
            encode(&header(1), &[0; 100], None, &mut [0u8; 64]),
            Err(TunnelError::TooLarge(128))
        );
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), keyed in any::<bool>()) {
            let key = Key::from_bytes([3; 32]);
            let _ = decode(&bytes, keyed.then_some(&key));
        }

        #[test]
        fn encode_decode_round_trip(
            inner in proptest::collection::vec(any::<u8>(), 0..1400),
            session in any::<u64>(), seq in any::<u64>(), ts in any::<u64>(), bare in any::<bool>(),
        ) {
            let key = Key::from_bytes([9; 32]);
            let mut out = vec![0u8; 1500];
            let h = TunnelHeader { flags: if bare { FLAG_BARE } else { 0 }, session, seq, timestamp_ns: ts };
            let len = encode(&h, &inner, Some(&key), &mut out).unwrap();
            let (decoded, got) = decode(&out[..len], Some(&key)).unwrap();
            prop_assert_eq!(got, &inner[..]);
            prop_assert_eq!(decoded.session, session);
            prop_assert_eq!(decoded.seq, seq);
            prop_assert_eq!(decoded.timestamp_ns, ts);
            prop_assert_eq!(decoded.flags & FLAG_BARE != 0, bare);
        }
    }
}
