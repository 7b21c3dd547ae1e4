//! Standing adversarial harness of the pure protocol code (frames, messages, slot streams):
//! arbitrary bytes and mutated valid streams never panic, never produce anything larger than
//! the frame limit, and either decode to exactly what was encoded or fail with an error.
//!
//! Case counts are small by default so that `cargo test` stays fast; `PROPTEST_CASES=100000`
//! runs a long session (each property scales from that number).

use {
    bytes::BufMut,
    proptest::prelude::*,
    replication_proto::{
        AccountRecord, ErrorCode, ErrorFrame, FrameConfig, Hash, Pubkey, Request, Response,
        SlotConfirmations, SlotHeader, SlotInfo, SlotStatus, SlotStreamEvent, SlotStreamReader,
        SlotStreamWriter, SlotTrailer,
        frame::{FRAME_HEADER_LEN, FrameEncoder, FrameHeader, decode_frame, payload_bytes},
    },
};

/// Cases per property: `PROPTEST_CASES` if set, else `default` (kept small for `cargo test`).
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn pubkey() -> impl Strategy<Value = Pubkey> {
    any::<[u8; 32]>().prop_map(Pubkey::new_from_array)
}

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash::new_from_array)
}

fn record() -> impl Strategy<Value = AccountRecord> {
    (
        pubkey(),
        any::<u64>(),
        pubkey(),
        any::<bool>(),
        any::<u64>(),
        // Mostly short data, sometimes compressible runs long enough to be compressed.
        prop_oneof![
            3 => proptest::collection::vec(any::<u8>(), 0..200),
            1 => (any::<u8>(), 0usize..40_000).prop_map(|(byte, len)| vec![byte; len]),
        ],
    )
        .prop_map(
            |(pubkey, lamports, owner, executable, rent_epoch, data)| AccountRecord {
                pubkey,
                lamports,
                owner,
                executable,
                rent_epoch,
                data,
            },
        )
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        any::<u16>().prop_map(|supported| ErrorCode::UnsupportedVersion { supported }),
        any::<u64>().prop_map(|limit| ErrorCode::FrameTooLarge { limit }),
        Just(ErrorCode::NotAllowed),
        any::<u64>().prop_map(|first_available_slot| ErrorCode::SlotUnavailable {
            first_available_slot
        }),
        Just(ErrorCode::UnknownSlot),
        Just(ErrorCode::Malformed),
        Just(ErrorCode::Internal),
        Just(ErrorCode::ShuttingDown),
    ]
}

fn slot_info() -> impl Strategy<Value = SlotInfo> {
    (
        any::<u64>(),
        any::<u64>(),
        hash(),
        any::<bool>(),
        any::<Option<u64>>(),
        any::<Option<i64>>(),
        any::<Option<u64>>(),
    )
        .prop_map(
            |(slot, parent, blockhash, rooted, block_height, block_time, executed)| SlotInfo {
                slot,
                parent,
                blockhash,
                status: if rooted {
                    SlotStatus::Rooted
                } else {
                    SlotStatus::Confirmed
                },
                block_height,
                block_time,
                executed_transaction_count: executed,
            },
        )
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        (
            any::<u64>(),
            any::<u64>(),
            proptest::collection::vec(slot_info(), 0..4)
        )
            .prop_map(|(seq, first_available_slot, slots)| {
                Response::SlotConfirmations(SlotConfirmations {
                    seq,
                    first_available_slot,
                    slots,
                    fleet: None,
                })
            }),
        (any::<u64>(), hash(), any::<u64>(), any::<u64>()).prop_map(
            |(slot, blockhash, parent, record_count)| Response::SlotHeader(SlotHeader {
                slot,
                blockhash,
                parent,
                record_count,
            })
        ),
        proptest::collection::vec(record(), 0..6).prop_map(Response::Records),
        (any::<u64>(), hash(), proptest::option::of(hash())).prop_map(
            |(record_count, records_digest, accounts_lt_hash)| Response::SlotTrailer(SlotTrailer {
                record_count,
                records_digest,
                accounts_lt_hash,
            })
        ),
        (error_code(), ".{0,40}")
            .prop_map(|(code, message)| Response::Error(ErrorFrame::new(code, message))),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (any::<u16>(), any::<u64>(), any::<u64>(), any::<u32>()).prop_map(
            |(version, last_replicated_slot, known_seq, wait_ms)| Request::SlotConfirmation {
                version,
                last_replicated_slot,
                known_seq,
                wait_ms,
                progress: None,
            }
        ),
        (any::<u16>(), any::<u64>(), hash()).prop_map(|(version, slot, blockhash)| {
            Request::SlotAccounts {
                version,
                slot,
                blockhash,
            }
        }),
    ]
}

/// Framing settings that compress some payloads and not others.
fn frame_config() -> impl Strategy<Value = FrameConfig> {
    (prop_oneof![Just(0usize), 0usize..2_000, Just(16 * 1024)]).prop_map(|threshold| FrameConfig {
        compress_threshold: threshold,
        ..FrameConfig::default()
    })
}

/// Ways to damage a byte stream.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR the byte at (position modulo length) with a non-zero mask.
    Flip { at: usize, mask: u8 },
    /// Overwrite four bytes with a little-endian u32 (lengths are u32s).
    Word { at: usize, value: u32 },
    /// Cut the stream at (position modulo length + 1).
    Truncate { at: usize },
    /// Insert bytes.
    Insert { at: usize, bytes: Vec<u8> },
    /// Remove up to `len` bytes.
    Remove { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        2 => (any::<usize>(), any::<u32>()).prop_map(|(at, value)| Mutation::Word { at, value }),
        2 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        1 => (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Remove { at, len }),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match mutation {
        Mutation::Flip { at, mask } => bytes[at % len] ^= mask,
        Mutation::Word { at, value } => {
            let at = at % len;
            for (offset, byte) in value.to_le_bytes().into_iter().enumerate() {
                if let Some(slot) = bytes.get_mut(at + offset) {
                    *slot = byte;
                }
            }
        }
        Mutation::Truncate { at } => bytes.truncate(at % len),
        Mutation::Insert {
            at,
            bytes: inserted,
        } => {
            let at = at % (len + 1);
            bytes.splice(at..at, inserted.iter().copied());
        }
        Mutation::Remove { at, len: count } => {
            let at = at % len;
            let end = (at + count).min(len);
            bytes.drain(at..end);
        }
    }
}

/// Encodes every message, one frame each, into one buffer.
fn encode_all<T: serde::Serialize>(messages: &[T], config: FrameConfig) -> Vec<u8> {
    let mut encoder = FrameEncoder::new(config);
    let mut buf = Vec::new();
    for message in messages {
        encoder.encode(message, &mut buf).expect("encodable");
    }
    buf
}

/// Decodes frames from the front of `bytes` until it is used up, incomplete or invalid.
/// Checks on the way that every decoded frame lies within `bytes` and within the limit.
fn decode_all<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    limit: u32,
) -> (Vec<T>, Option<&'static str>) {
    let mut decoded = Vec::new();
    let mut rest = bytes;
    loop {
        if rest.is_empty() {
            return (decoded, None);
        }
        match decode_frame::<T>(rest, limit) {
            Ok(Some((message, used))) => {
                assert!(used >= FRAME_HEADER_LEN && used <= rest.len());
                assert!(used - FRAME_HEADER_LEN <= limit as usize);
                decoded.push(message);
                rest = &rest[used..];
            }
            Ok(None) => return (decoded, Some("incomplete")),
            Err(_) => return (decoded, Some("error")),
        }
    }
}

/// Encodes a slot stream (header, records in chunks, trailer) as a server would.
fn slot_stream(
    slot: u64,
    blockhash: Hash,
    records: &[AccountRecord],
    config: FrameConfig,
    chunk: usize,
) -> Vec<u8> {
    let header = SlotHeader {
        slot,
        blockhash,
        parent: slot.saturating_sub(1),
        record_count: records.len() as u64,
    };
    let mut writer = SlotStreamWriter::new(header, config, chunk);
    let mut buf = Vec::new();
    writer.write_header(&mut buf).unwrap();
    for part in records.chunks(3) {
        writer.write_records(part, &mut buf).unwrap();
    }
    writer.write_trailer(None, &mut buf).unwrap();
    buf
}

/// What a consumer that applies only after `End` would apply, or why it refuses.
fn read_slot_stream(
    bytes: &[u8],
    slot: u64,
    blockhash: Hash,
    limit: u32,
) -> Result<(SlotHeader, Vec<AccountRecord>), String> {
    let mut reader = SlotStreamReader::new(slot, blockhash);
    let mut header = None;
    let mut records = Vec::new();
    let mut rest = bytes;
    loop {
        if rest.is_empty() {
            reader.on_end_of_stream().map_err(|e| e.to_string())?;
            break;
        }
        let (frame, used) = match decode_frame::<Response>(rest, limit) {
            Ok(Some(decoded)) => decoded,
            // The stream ended inside a frame: truncated.
            Ok(None) => {
                reader.on_end_of_stream().map_err(|e| e.to_string())?;
                unreachable!("a stream that ends inside a frame has no trailer")
            }
            Err(error) => return Err(error.to_string()),
        };
        rest = &rest[used..];
        match reader.on_frame(frame).map_err(|e| e.to_string())? {
            SlotStreamEvent::Header(h) => header = Some(h),
            SlotStreamEvent::Records(chunk) => records.extend(chunk),
            SlotStreamEvent::End(_) => {
                if !rest.is_empty() {
                    return Err("bytes after the trailer".into());
                }
                break;
            }
        }
    }
    assert!(reader.is_complete());
    Ok((header.expect("End comes after a header"), records))
}

proptest! {
    #![proptest_config(config(256))]

    /// Valid frames decode to exactly what was encoded, compressed or not.
    #[test]
    fn valid_frames_round_trip(
        responses in proptest::collection::vec(response(), 0..6),
        requests in proptest::collection::vec(request(), 0..4),
        config in frame_config(),
    ) {
        let bytes = encode_all(&responses, config);
        prop_assert_eq!(decode_all::<Response>(&bytes, config.max_frame_len), (responses, None));
        let bytes = encode_all(&requests, config);
        prop_assert_eq!(decode_all::<Request>(&bytes, config.max_frame_len), (requests, None));
    }

    /// Arbitrary bytes never panic and never yield a frame beyond the limit.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..512),
            // Garbage after a zstd magic number exercises the decompressor.
            proptest::collection::vec(any::<u8>(), 0..512)
                .prop_map(|tail| [&[0x28, 0xb5, 0x2f, 0xfd][..], &tail].concat()),
        ],
        limit in prop_oneof![0u32..64, 64u32..4096, Just(u32::MAX)],
    ) {
        let _ = decode_all::<Response>(&bytes, limit);
        let _ = decode_all::<Request>(&bytes, limit);
        let _ = replication_proto::frame::decode_message::<Response>(&bytes);
        let _ = replication_proto::frame::decode_message::<Request>(&bytes);
        // Treated as a compressed payload: what it decompresses to never exceeds the limit.
        let limit = limit.min(1 << 20);
        let header = FrameHeader { payload_len: bytes.len() as u32, compressed: true };
        if let Ok(plain) = payload_bytes(&header, &bytes, limit) {
            prop_assert!(plain.len() <= limit as usize);
        }
    }

    /// Any frame header with a length over the limit is refused before its payload is even
    /// looked at.
    #[test]
    fn oversized_lengths_are_refused_up_front(
        limit in 0u32..1_000_000,
        excess in 1u32..,
        compressed in any::<bool>(),
    ) {
        let mut buf = Vec::new();
        FrameHeader { payload_len: limit.saturating_add(excess).max(limit + 1), compressed }
            .encode(&mut buf);
        let result = decode_frame::<Response>(&buf, limit);
        prop_assert!(
            matches!(result, Err(replication_proto::FrameError::TooLarge { .. })),
            "{:?}", result
        );
    }

    /// Compressed payloads that expand beyond the limit are cut off, however they declare
    /// their size.
    #[test]
    fn decompression_is_bounded(
        len in 1usize..200_000,
        byte in any::<u8>(),
        with_size in any::<bool>(),
        limit in 1u32..100_000,
    ) {
        let mut compressor = zstd::bulk::Compressor::new(1).unwrap();
        compressor.include_contentsize(with_size).unwrap();
        let payload = compressor.compress(&vec![byte; len]).unwrap();
        let header = FrameHeader { payload_len: payload.len() as u32, compressed: true };
        match payload_bytes(&header, &payload, limit) {
            Ok(plain) => {
                prop_assert!(plain.len() <= limit as usize);
                prop_assert_eq!(plain.len(), len);
            }
            Err(error) => prop_assert!(len > limit as usize, "{} for {} bytes", error, len),
        }
    }

    /// Damaged streams of frames never panic; decoding stops at an error or an incomplete
    /// frame, and an undamaged stream decodes exactly.
    #[test]
    fn mutated_frame_streams_fail_cleanly(
        responses in proptest::collection::vec(response(), 1..5),
        config in frame_config(),
        mutations in proptest::collection::vec(mutation(), 0..4),
    ) {
        let original = encode_all(&responses, config);
        let mut bytes = original.clone();
        for mutation in &mutations {
            mutate(&mut bytes, mutation);
        }
        let (decoded, stop) = decode_all::<Response>(&bytes, config.max_frame_len);
        if bytes == original {
            prop_assert_eq!((decoded, stop), (responses, None));
        } else {
            prop_assert!(decoded.len() <= responses.len() + bytes.len() / FRAME_HEADER_LEN);
        }
    }

    /// A damaged slot stream is either refused or, if the consumer reaches `End`, holds
    /// exactly the records the server wrote, for the slot and bank requested.
    #[test]
    fn mutated_slot_streams_apply_exactly_or_not_at_all(
        slot in any::<u64>(),
        blockhash in hash(),
        records in proptest::collection::vec(record(), 0..8),
        config in frame_config(),
        chunk in prop_oneof![Just(1usize), 1usize..4_000, Just(256 * 1024)],
        mutations in proptest::collection::vec(mutation(), 0..3),
    ) {
        let original = slot_stream(slot, blockhash, &records, config, chunk);
        let mut bytes = original.clone();
        for mutation in &mutations {
            mutate(&mut bytes, mutation);
        }
        match read_slot_stream(&bytes, slot, blockhash, config.max_frame_len) {
            Ok((header, received)) => {
                prop_assert_eq!(header.slot, slot);
                prop_assert_eq!(header.blockhash, blockhash);
                prop_assert_eq!(header.record_count, records.len() as u64);
                prop_assert_eq!(received, records);
            }
            Err(reason) => prop_assert!(bytes != original, "a valid stream failed: {}", reason),
        }
    }

    /// Frames that are valid but out of place (a stream of arbitrary well-formed responses)
    /// are refused unless they form exactly one header, its records and a matching trailer.
    #[test]
    fn arbitrary_frame_sequences_never_apply_wrong_records(
        frames in proptest::collection::vec(response(), 0..6),
        slot in any::<u64>(),
        blockhash in hash(),
    ) {
        let bytes = encode_all(&frames, FrameConfig::default());
        if let Ok((header, records)) = read_slot_stream(&bytes, slot, blockhash, u32::MAX) {
            // Only possible if the sequence is itself a valid stream for this slot and bank.
            prop_assert_eq!(header.slot, slot);
            prop_assert_eq!(header.blockhash, blockhash);
            let mut digest = replication_proto::slot_stream::RecordsDigest::new();
            for record in &records {
                digest.update(record);
            }
            let Some(Response::SlotTrailer(trailer)) = frames.last() else {
                return Err(TestCaseError::fail("End without a trailer"));
            };
            prop_assert_eq!(trailer.records_digest, digest.finalize());
            prop_assert_eq!(trailer.record_count, records.len() as u64);
        }
    }
}

#[test]
fn buffers_too_small_are_refused_without_writing() {
    let mut encoder = FrameEncoder::new(FrameConfig::default());
    let mut small = [0u8; 8];
    let mut out = &mut small[..];
    let before = out.remaining_mut();
    let error = encoder
        .encode(&Response::Records(vec![AccountRecord::default()]), &mut out)
        .unwrap_err();
    assert!(matches!(
        error,
        replication_proto::FrameError::BufferTooSmall { .. }
    ));
    assert_eq!(out.remaining_mut(), before);
}
