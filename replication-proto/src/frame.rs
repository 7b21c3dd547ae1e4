//! Framing: `[u32 payload length LE][u8 flags][payload]`.
//!
//! Flags bit 0 marks a zstd-compressed payload; other bits must be zero. The length counts the
//! payload as sent (compressed if compressed). A receiver checks the length against its limit
//! *before* allocating anything, and bounds a compressed payload's decompressed size by the same
//! limit while decompressing (the size a zstd frame declares is never trusted). The payload is a
//! bincode 1.3 message with fixed-width little-endian integers, as Solana encodes.
//!
//! No I/O here: encoders write into [`BufMut`], decoders read from [`Buf`] or byte slices.

pub use crate::error::FrameError;
use {
    bincode::Options,
    bytes::{Buf, BufMut},
    serde::{Serialize, de::DeserializeOwned},
    std::{borrow::Cow, io::Read},
};

/// Bytes before the payload: length (u32 LE) and flags (u8).
pub const FRAME_HEADER_LEN: usize = 5;
/// Flags bit: the payload is zstd-compressed.
pub const FLAG_ZSTD: u8 = 0b0000_0001;
/// Default frame limit: one record with 10 MiB of account data (Solana's maximum) plus
/// generous overhead.
pub const DEFAULT_MAX_FRAME_LEN: u32 = 12 * 1024 * 1024;
/// Default size above which a payload is compressed (when compression helps).
pub const DEFAULT_COMPRESS_THRESHOLD: usize = 16 * 1024;
/// Default zstd level: fast, so that a validator-side server spends little CPU.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// Framing limits and compression settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameConfig {
    /// Largest payload accepted or produced, compressed or not (bytes).
    pub max_frame_len: u32,
    /// Payloads larger than this are compressed when that makes them smaller (bytes).
    pub compress_threshold: usize,
    /// zstd compression level.
    pub zstd_level: i32,
}

impl Default for FrameConfig {
    fn default() -> Self {
        Self {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            compress_threshold: DEFAULT_COMPRESS_THRESHOLD,
            zstd_level: DEFAULT_ZSTD_LEVEL,
        }
    }
}

/// The fixed-size head of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Length of the payload as sent.
    pub payload_len: u32,
    /// Whether the payload is zstd-compressed.
    pub compressed: bool,
}

impl FrameHeader {
    /// Writes the header.
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_u32_le(self.payload_len);
        out.put_u8(if self.compressed { FLAG_ZSTD } else { 0 });
    }

    /// Reads a header from the front of `src` and checks its length against `max_frame_len`
    /// and its flags. Consumes [`FRAME_HEADER_LEN`] bytes on success.
    pub fn decode<B: Buf>(src: &mut B, max_frame_len: u32) -> Result<Self, FrameError> {
        if src.remaining() < FRAME_HEADER_LEN {
            return Err(FrameError::Incomplete {
                needed: FRAME_HEADER_LEN,
                available: src.remaining(),
            });
        }
        let payload_len = src.get_u32_le();
        let flags = src.get_u8();
        if flags & !FLAG_ZSTD != 0 {
            return Err(FrameError::UnknownFlags { flags });
        }
        if payload_len > max_frame_len {
            return Err(FrameError::TooLarge {
                len: u64::from(payload_len),
                limit: u64::from(max_frame_len),
            });
        }
        Ok(Self {
            payload_len,
            compressed: flags & FLAG_ZSTD != 0,
        })
    }
}

fn bincode_options() -> impl Options + Copy {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
}

/// Encodes frames, reusing a zstd context and a scratch buffer across calls.
pub struct FrameEncoder {
    config: FrameConfig,
    compressor: Option<zstd::bulk::Compressor<'static>>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for FrameEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameEncoder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl FrameEncoder {
    /// An encoder with these settings.
    pub fn new(config: FrameConfig) -> Self {
        Self {
            config,
            compressor: None,
            scratch: Vec::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &FrameConfig {
        &self.config
    }

    /// Encodes `msg` as one frame into `out`; returns the number of bytes written.
    ///
    /// Fails with [`FrameError::TooLarge`] if the (compressed, when compressed) payload would
    /// exceed the limit, and with [`FrameError::BufferTooSmall`] if `out` has no room; in both
    /// cases nothing is written.
    pub fn encode<T: Serialize + ?Sized, B: BufMut>(
        &mut self,
        msg: &T,
        out: &mut B,
    ) -> Result<usize, FrameError> {
        let opts = bincode_options();
        let size = opts.serialized_size(msg).map_err(FrameError::Encode)?;
        let limit = u64::from(self.config.max_frame_len);
        let plain_len =
            usize::try_from(size).map_err(|_| FrameError::TooLarge { len: size, limit })?;

        if plain_len <= self.config.compress_threshold {
            if size > limit {
                return Err(FrameError::TooLarge { len: size, limit });
            }
            let needed = FRAME_HEADER_LEN + plain_len;
            check_room(out, needed)?;
            FrameHeader {
                payload_len: size as u32,
                compressed: false,
            }
            .encode(out);
            opts.serialize_into((&mut *out).writer(), msg)
                .map_err(FrameError::Encode)?;
            return Ok(needed);
        }

        self.scratch.clear();
        self.scratch.reserve(plain_len);
        opts.serialize_into(&mut self.scratch, msg)
            .map_err(FrameError::Encode)?;
        let compressed = self.compress()?;
        let (payload, is_compressed) = match &compressed {
            Some(c) if c.len() < self.scratch.len() => (c.as_slice(), true),
            _ => (self.scratch.as_slice(), false),
        };
        if payload.len() as u64 > limit {
            return Err(FrameError::TooLarge {
                len: payload.len() as u64,
                limit,
            });
        }
        let needed = FRAME_HEADER_LEN + payload.len();
        check_room(out, needed)?;
        FrameHeader {
            payload_len: payload.len() as u32,
            compressed: is_compressed,
        }
        .encode(out);
        out.put_slice(payload);
        Ok(needed)
    }

    fn compress(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let compressor = match &mut self.compressor {
            Some(c) => c,
            None => self.compressor.insert(
                zstd::bulk::Compressor::new(self.config.zstd_level)
                    .map_err(FrameError::Compress)?,
            ),
        };
        // A compressed payload is only worth sending if it is smaller: give zstd exactly that
        // much room and treat "does not fit" as "does not help".
        let mut out = Vec::with_capacity(self.scratch.len());
        match compressor.compress_to_buffer(&self.scratch, &mut out) {
            Ok(_) => Ok(Some(out)),
            Err(_) => Ok(None),
        }
    }
}

fn check_room<B: BufMut>(out: &B, needed: usize) -> Result<(), FrameError> {
    if out.remaining_mut() < needed {
        return Err(FrameError::BufferTooSmall {
            needed,
            available: out.remaining_mut(),
        });
    }
    Ok(())
}

/// Encodes `msg` as one frame into `out` (see [`FrameEncoder::encode`]).
pub fn encode_frame<T: Serialize + ?Sized, B: BufMut>(
    msg: &T,
    config: &FrameConfig,
    out: &mut B,
) -> Result<usize, FrameError> {
    FrameEncoder::new(*config).encode(msg, out)
}

/// Returns the plain payload of a frame: `payload` itself, or its decompression bounded by
/// `max_frame_len`. `payload` must be exactly `header.payload_len` bytes.
pub fn payload_bytes<'a>(
    header: &FrameHeader,
    payload: &'a [u8],
    max_frame_len: u32,
) -> Result<Cow<'a, [u8]>, FrameError> {
    if payload.len() != header.payload_len as usize {
        return Err(FrameError::Incomplete {
            needed: header.payload_len as usize,
            available: payload.len(),
        });
    }
    if header.compressed {
        decompress_bounded(payload, max_frame_len).map(Cow::Owned)
    } else {
        Ok(Cow::Borrowed(payload))
    }
}

/// Decompresses a zstd payload, failing as soon as the output would exceed `limit` bytes.
fn decompress_bounded(data: &[u8], limit: u32) -> Result<Vec<u8>, FrameError> {
    let limit64 = u64::from(limit);
    // The declared content size is only a capacity hint, capped by the limit; the real output
    // is bounded by `take` below.
    let hint = match zstd::zstd_safe::get_frame_content_size(data) {
        Ok(Some(declared)) if declared > limit64 => {
            return Err(FrameError::TooLarge {
                len: declared,
                limit: limit64,
            });
        }
        Ok(Some(declared)) => declared as usize,
        _ => 0,
    };
    // The decoder allocates the window a frame header asks for (up to 128 MiB by default)
    // before producing a byte; no payload within the limit needs a larger window than the
    // limit's next power of two.
    let window_log = window_log_for(limit);
    if let Some(window) = zstd_window_size(data)
        && window > 1u64 << window_log
    {
        return Err(FrameError::TooLarge {
            len: window,
            limit: limit64,
        });
    }
    let mut decoder =
        zstd::stream::read::Decoder::with_buffer(data).map_err(FrameError::Decompress)?;
    // A backstop for later frames of a multi-frame payload.
    decoder
        .window_log_max(window_log)
        .map_err(FrameError::Decompress)?;
    let mut out = Vec::with_capacity(hint);
    decoder
        .take(limit64 + 1)
        .read_to_end(&mut out)
        .map_err(FrameError::Decompress)?;
    if out.len() as u64 > limit64 {
        return Err(FrameError::TooLarge {
            len: out.len() as u64,
            limit: limit64,
        });
    }
    Ok(out)
}

/// The smallest zstd window (log2 bytes) that covers `limit` bytes of output, within zstd's
/// bounds (10 to 31).
fn window_log_for(limit: u32) -> u32 {
    u64::from(limit)
        .next_power_of_two()
        .trailing_zeros()
        .clamp(10, 31)
}

/// The window size the first zstd frame of `data` declares (RFC 8878, 3.1.1.1.2), or `None`
/// when `data` does not start with a zstd frame header or the frame is single-segment (then
/// the window is its content size, which is checked on its own).
fn zstd_window_size(data: &[u8]) -> Option<u64> {
    const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    let (magic, rest) = data.split_first_chunk::<4>()?;
    if *magic != MAGIC {
        return None;
    }
    let (&descriptor, rest) = rest.split_first()?;
    let single_segment = descriptor & 0b0010_0000 != 0;
    if single_segment {
        return None;
    }
    let window_descriptor = *rest.first()?;
    let window_log = 10 + u64::from(window_descriptor >> 3);
    let base = 1u64 << window_log;
    Some(base + base / 8 * u64::from(window_descriptor & 0b111))
}

/// Decodes a bincode message that must fill `bytes` exactly.
pub fn decode_message<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FrameError> {
    bincode_options()
        .with_limit(bytes.len() as u64)
        .reject_trailing_bytes()
        .deserialize(bytes)
        .map_err(FrameError::Malformed)
}

/// Decodes a frame's message given its header and its `payload` as sent.
pub fn decode_payload<T: DeserializeOwned>(
    header: &FrameHeader,
    payload: &[u8],
    max_frame_len: u32,
) -> Result<T, FrameError> {
    decode_message(&payload_bytes(header, payload, max_frame_len)?)
}

/// Decodes one frame from the front of `src`. Returns `Ok(None)` if `src` does not yet hold
/// a complete frame (but its header, once present, is checked at once), or the message and
/// the number of bytes the frame took.
pub fn decode_frame<T: DeserializeOwned>(
    src: &[u8],
    max_frame_len: u32,
) -> Result<Option<(T, usize)>, FrameError> {
    if src.len() < FRAME_HEADER_LEN {
        return Ok(None);
    }
    let mut head = &src[..FRAME_HEADER_LEN];
    let header = FrameHeader::decode(&mut head, max_frame_len)?;
    let end = FRAME_HEADER_LEN + header.payload_len as usize;
    let Some(payload) = src.get(FRAME_HEADER_LEN..end) else {
        return Ok(None);
    };
    let msg = decode_payload(&header, payload, max_frame_len)?;
    Ok(Some((msg, end)))
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::message::{
            AccountRecord, ErrorCode, ErrorFrame, Hash, Pubkey, Request, Response, SlotHeader,
        },
    };

    fn records(n: usize, data_len: usize) -> Vec<AccountRecord> {
        (0..n)
            .map(|i| AccountRecord {
                pubkey: Pubkey::new_unique(),
                lamports: i as u64 + 1,
                owner: Pubkey::new_from_array([3; 32]),
                executable: false,
                rent_epoch: u64::MAX,
                data: vec![(i % 7) as u8; data_len],
            })
            .collect()
    }

    fn round_trip(msg: &Response, config: &FrameConfig) -> (Response, FrameHeader, usize) {
        let mut buf = Vec::new();
        let written = encode_frame(msg, config, &mut buf).unwrap();
        assert_eq!(written, buf.len());
        let header = FrameHeader::decode(&mut &buf[..], config.max_frame_len).unwrap();
        let (decoded, used) = decode_frame::<Response>(&buf, config.max_frame_len)
            .unwrap()
            .unwrap();
        assert_eq!(used, buf.len());
        (decoded, header, buf.len())
    }

    #[test]
    fn plain_round_trip() {
        let msg = Response::SlotHeader(SlotHeader {
            slot: 5,
            blockhash: Hash::new_unique(),
            parent: 4,
            record_count: 9,
        });
        let (decoded, header, len) = round_trip(&msg, &FrameConfig::default());
        assert_eq!(decoded, msg);
        assert!(!header.compressed);
        assert_eq!(len, FRAME_HEADER_LEN + header.payload_len as usize);
    }

    #[test]
    fn plain_payload_is_solana_bincode() {
        let req = Request::SlotConfirmation {
            version: 1,
            last_replicated_slot: 10,
            known_seq: 3,
            wait_ms: 500,
            progress: None,
        };
        let mut buf = Vec::new();
        encode_frame(&req, &FrameConfig::default(), &mut buf).unwrap();
        assert_eq!(&buf[FRAME_HEADER_LEN..], bincode::serialize(&req).unwrap());
        assert_eq!(&buf[..4], &(buf.len() as u32 - 5).to_le_bytes());
        assert_eq!(buf[4], 0);
    }

    #[test]
    fn zstd_round_trip() {
        let msg = Response::Records(records(200, 165));
        let (decoded, header, len) = round_trip(&msg, &FrameConfig::default());
        assert_eq!(decoded, msg);
        assert!(header.compressed, "compressible payload above threshold");
        let plain = bincode::serialized_size(&msg).unwrap() as usize;
        assert!(len < plain, "compressed {len} >= plain {plain}");
    }

    #[test]
    fn incompressible_payload_stays_plain() {
        // Pseudo-random data does not compress: the frame must be sent plain.
        let mut state = 0x1234_5678_9abc_def0_u64;
        let data: Vec<u8> = (0..64 * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let mut recs = records(1, 0);
        recs[0].data = data;
        let msg = Response::Records(recs);
        let (decoded, header, _) = round_trip(&msg, &FrameConfig::default());
        assert_eq!(decoded, msg);
        assert!(!header.compressed);
    }

    #[test]
    fn partial_input_returns_none() {
        let msg = Response::Records(records(3, 10));
        let mut buf = Vec::new();
        encode_frame(&msg, &FrameConfig::default(), &mut buf).unwrap();
        for cut in [0, 3, FRAME_HEADER_LEN, buf.len() - 1] {
            assert!(
                decode_frame::<Response>(&buf[..cut], DEFAULT_MAX_FRAME_LEN)
                    .unwrap()
                    .is_none()
            );
        }
        // Two frames back to back decode one at a time.
        let mut two = buf.clone();
        two.extend_from_slice(&buf);
        let (_, used) = decode_frame::<Response>(&two, DEFAULT_MAX_FRAME_LEN)
            .unwrap()
            .unwrap();
        assert_eq!(used, buf.len());
    }

    #[test]
    fn oversized_length_rejected_from_header_alone() {
        // Only the 5 header bytes exist: the decoder must refuse without waiting for (or
        // allocating) the declared payload.
        let mut head = Vec::new();
        FrameHeader {
            payload_len: u32::MAX,
            compressed: false,
        }
        .encode(&mut head);
        let err = decode_frame::<Response>(&head, 1024).unwrap_err();
        assert!(
            matches!(err, FrameError::TooLarge { len, limit: 1024 } if len == u64::from(u32::MAX)),
            "{err:?}"
        );
        assert_eq!(err.error_code(), ErrorCode::FrameTooLarge { limit: 1024 });
        let err = FrameHeader::decode(&mut &head[..], 1024).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }));
    }

    #[test]
    fn encoder_refuses_oversized_message() {
        let config = FrameConfig {
            max_frame_len: 100,
            ..FrameConfig::default()
        };
        let mut buf = Vec::new();
        let err = encode_frame(&Response::Records(records(2, 100)), &config, &mut buf).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { limit: 100, .. }));
        assert!(buf.is_empty());
    }

    #[test]
    fn encoder_refuses_small_buffer() {
        let mut storage = [0u8; 8];
        let mut out = &mut storage[..];
        let err = encode_frame(
            &Response::Error(ErrorFrame::new(ErrorCode::Internal, "too long for 8 bytes")),
            &FrameConfig::default(),
            &mut out,
        )
        .unwrap_err();
        assert!(matches!(err, FrameError::BufferTooSmall { .. }));
    }

    #[test]
    fn unknown_flags_rejected() {
        let mut buf = Vec::new();
        encode_frame(
            &Response::Records(vec![]),
            &FrameConfig::default(),
            &mut buf,
        )
        .unwrap();
        buf[4] = 0x82;
        let err = decode_frame::<Response>(&buf, DEFAULT_MAX_FRAME_LEN).unwrap_err();
        assert!(matches!(err, FrameError::UnknownFlags { flags: 0x82 }));
    }

    #[test]
    fn corrupt_zstd_rejected() {
        let msg = Response::Records(records(200, 165));
        let mut buf = Vec::new();
        encode_frame(&msg, &FrameConfig::default(), &mut buf).unwrap();
        assert_eq!(buf[4], FLAG_ZSTD);
        // Flip bytes in the middle of the compressed stream.
        let mid = buf.len() / 2;
        for b in &mut buf[mid..mid + 16] {
            *b ^= 0xa5;
        }
        let err = decode_frame::<Response>(&buf, DEFAULT_MAX_FRAME_LEN).unwrap_err();
        assert!(
            matches!(err, FrameError::Decompress(_) | FrameError::Malformed(_)),
            "{err:?}"
        );
        assert_eq!(err.error_code(), ErrorCode::Malformed);

        // Not zstd at all, but flagged as such.
        let mut fake = Vec::new();
        FrameHeader {
            payload_len: 8,
            compressed: true,
        }
        .encode(&mut fake);
        fake.extend_from_slice(b"notzstd!");
        let err = decode_frame::<Response>(&fake, DEFAULT_MAX_FRAME_LEN).unwrap_err();
        assert!(matches!(err, FrameError::Decompress(_)), "{err:?}");
    }

    #[test]
    fn zstd_bomb_bounded_by_limit() {
        // 1 MiB of zeros compresses to a few dozen bytes; a receiver limited to 64 KiB must stop.
        let zeros = vec![0u8; 1 << 20];
        for with_size in [true, false] {
            let mut enc = zstd::bulk::Compressor::new(3).unwrap();
            enc.include_contentsize(with_size).unwrap();
            let compressed = enc.compress(&zeros).unwrap();
            let mut buf = Vec::new();
            FrameHeader {
                payload_len: compressed.len() as u32,
                compressed: true,
            }
            .encode(&mut buf);
            buf.extend_from_slice(&compressed);
            let err = decode_frame::<Response>(&buf, 64 * 1024).unwrap_err();
            assert!(
                matches!(err, FrameError::TooLarge { limit: 65536, .. }),
                "{err:?}"
            );
        }
    }

    #[test]
    fn a_window_beyond_the_limit_is_refused_before_decoding() {
        // A tiny payload whose frame header asks for a 128 MiB window: decoding it would
        // allocate that window (outside Rust's allocator) although the output is 5 bytes.
        let mut payload = Vec::new();
        {
            let mut encoder = zstd::stream::write::Encoder::new(&mut payload, 1).unwrap();
            encoder
                .set_parameter(zstd::zstd_safe::CParameter::WindowLog(27))
                .unwrap();
            encoder.include_contentsize(false).unwrap();
            std::io::Write::write_all(&mut encoder, &bincode::serialize(&7u8).unwrap()).unwrap();
            encoder.finish().unwrap();
        }
        assert_eq!(zstd_window_size(&payload), Some(128 << 20));
        let header = FrameHeader {
            payload_len: payload.len() as u32,
            compressed: true,
        };
        let err = payload_bytes(&header, &payload, DEFAULT_MAX_FRAME_LEN).unwrap_err();
        assert!(
            matches!(err, FrameError::TooLarge { len, .. } if len == 128 << 20),
            "{err:?}"
        );
        // The same bytes are fine for a receiver whose limit covers the window.
        assert_eq!(
            payload_bytes(&header, &payload, 128 << 20)
                .unwrap()
                .as_ref(),
            &[7]
        );
        // Frames this crate encodes always fit: the window follows the payload size.
        let big = vec![AccountRecord {
            data: (0..(10u32 << 20)).map(|i| (i % 251) as u8).collect(),
            ..AccountRecord::default()
        }];
        let mut buf = Vec::new();
        encode_frame(
            &Response::Records(big.clone()),
            &FrameConfig::default(),
            &mut buf,
        )
        .unwrap();
        let (decoded, _) = decode_frame::<Response>(&buf, DEFAULT_MAX_FRAME_LEN)
            .unwrap()
            .unwrap();
        assert_eq!(decoded, Response::Records(big));
    }

    #[test]
    fn bincode_garbage_rejected() {
        let cases: [&[u8]; 4] = [
            &[0xff, 0xff, 0xff, 0xff], // unknown variant
            &[1, 0, 0, 0, 1, 2],       // truncated SlotHeader
            &[2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // huge Vec length
            &[4, 0, 0, 0, 7, 0, 0, 0], // Error with unknown ErrorCode
        ];
        for payload in cases {
            let mut buf = Vec::new();
            FrameHeader {
                payload_len: payload.len() as u32,
                compressed: false,
            }
            .encode(&mut buf);
            buf.extend_from_slice(payload);
            let err = decode_frame::<Response>(&buf, DEFAULT_MAX_FRAME_LEN).unwrap_err();
            assert!(
                matches!(err, FrameError::Malformed(_)),
                "{payload:?}: {err:?}"
            );
        }
        // Trailing bytes after a valid message are malformed too.
        let mut payload = bincode::serialize(&Response::Records(vec![])).unwrap();
        payload.push(0);
        let mut buf = Vec::new();
        FrameHeader {
            payload_len: payload.len() as u32,
            compressed: false,
        }
        .encode(&mut buf);
        buf.extend_from_slice(&payload);
        assert!(matches!(
            decode_frame::<Response>(&buf, DEFAULT_MAX_FRAME_LEN),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (state >> 56) as usize;
            let mut bytes = Vec::with_capacity(len + FRAME_HEADER_LEN);
            bytes.extend_from_slice(&(len as u32).to_le_bytes());
            bytes.push((state >> 8) as u8 & 1);
            for i in 0..len {
                bytes.push((state >> (i % 64)) as u8 ^ i as u8);
            }
            let _ = decode_frame::<Response>(&bytes, DEFAULT_MAX_FRAME_LEN);
            let _ = decode_frame::<Request>(&bytes, DEFAULT_MAX_FRAME_LEN);
        }
    }
}
