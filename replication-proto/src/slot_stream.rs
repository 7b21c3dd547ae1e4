//! A slot's account stream as a state machine: `SlotHeader`, `Records`*, `SlotTrailer`.
//!
//! [`SlotStreamReader`] checks a received stream frame by frame and yields
//! [`SlotStreamEvent`]s; a consumer applies the slot only after [`SlotStreamEvent::End`].
//! [`SlotStreamWriter`] produces a stream (chunking records and computing the trailer's count and
//! digest). [`RecordChunker`] groups records into chunks of bounded encoded size for sources.
//! No I/O here.

pub use crate::error::ProtocolError;
use {
    crate::{
        frame::{FrameConfig, FrameEncoder},
        message::{
            AccountRecord, ErrorFrame, Hash, Response, ResponseRef, Slot, SlotConfirmations,
            SlotHeader, SlotTrailer,
        },
    },
    bytes::BufMut,
};

/// Default target size of one records chunk (encoded bytes).
pub const DEFAULT_CHUNK_TARGET_BYTES: usize = 256 * 1024;

/// The running blake3 digest over the bincode of records in stream order.
#[derive(Clone, Debug, Default)]
pub struct RecordsDigest {
    hasher: blake3::Hasher,
}

impl RecordsDigest {
    /// An empty digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one record. Writes exactly the bincode encoding of [`AccountRecord`] (fixed-width
    /// little-endian), without serializing through serde.
    pub fn update(&mut self, record: &AccountRecord) {
        let h = &mut self.hasher;
        h.update(record.pubkey.as_ref());
        h.update(&record.lamports.to_le_bytes());
        h.update(record.owner.as_ref());
        h.update(&[u8::from(record.executable)]);
        h.update(&record.rent_epoch.to_le_bytes());
        h.update(&(record.data.len() as u64).to_le_bytes());
        h.update(&record.data);
    }

    /// The digest so far.
    pub fn finalize(&self) -> Hash {
        Hash::new_from_array(*self.hasher.finalize().as_bytes())
    }
}

/// What a valid frame of a slot stream means to the consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotStreamEvent {
    /// The stream opened; it matches the requested slot and blockhash.
    Header(SlotHeader),
    /// A chunk of records (not yet safe to apply).
    Records(Vec<AccountRecord>),
    /// The stream is complete and verified (count and digest): the slot may be applied.
    End(SlotTrailer),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReaderState {
    AwaitHeader,
    Records { declared: u64 },
    Ended,
    Failed,
}

/// Validates one slot's account stream as its frames arrive.
#[derive(Debug)]
pub struct SlotStreamReader {
    slot: Slot,
    blockhash: Hash,
    state: ReaderState,
    received: u64,
    digest: RecordsDigest,
}

impl SlotStreamReader {
    /// A reader for the stream answering `SlotAccounts { slot, blockhash }`.
    pub fn new(slot: Slot, blockhash: Hash) -> Self {
        Self {
            slot,
            blockhash,
            state: ReaderState::AwaitHeader,
            received: 0,
            digest: RecordsDigest::new(),
        }
    }

    /// Feeds the next frame. After an error the reader stays failed and rejects every frame.
    pub fn on_frame(&mut self, frame: Response) -> Result<SlotStreamEvent, ProtocolError> {
        let result = self.step(frame);
        if result.is_err() {
            self.state = ReaderState::Failed;
        }
        result
    }

    fn step(&mut self, frame: Response) -> Result<SlotStreamEvent, ProtocolError> {
        match (self.state, frame) {
            (ReaderState::Failed, frame) => Err(ProtocolError::UnexpectedFrame {
                expected: "nothing (stream failed)",
                got: frame.kind(),
            }),
            (ReaderState::Ended, frame) => Err(ProtocolError::UnexpectedFrame {
                expected: "nothing (stream ended)",
                got: frame.kind(),
            }),
            (_, Response::Error(error)) => Err(ProtocolError::Remote(error)),
            (ReaderState::AwaitHeader, Response::SlotHeader(header)) => {
                if header.slot != self.slot {
                    return Err(ProtocolError::SlotMismatch {
                        expected: self.slot,
                        got: header.slot,
                    });
                }
                if header.blockhash != self.blockhash {
                    return Err(ProtocolError::BlockhashMismatch {
                        expected: self.blockhash,
                        got: header.blockhash,
                    });
                }
                self.state = ReaderState::Records {
                    declared: header.record_count,
                };
                Ok(SlotStreamEvent::Header(header))
            }
            (ReaderState::AwaitHeader, frame) => Err(ProtocolError::UnexpectedFrame {
                expected: "SlotHeader",
                got: frame.kind(),
            }),
            (ReaderState::Records { declared }, Response::Records(records)) => {
                let received = self.received.saturating_add(records.len() as u64);
                if received > declared {
                    return Err(ProtocolError::RecordCountMismatch { declared, received });
                }
                for record in &records {
                    self.digest.update(record);
                }
                self.received = received;
                Ok(SlotStreamEvent::Records(records))
            }
            (ReaderState::Records { declared }, Response::SlotTrailer(trailer)) => {
                if trailer.record_count != declared {
                    return Err(ProtocolError::RecordCountMismatch {
                        declared: trailer.record_count,
                        received: declared,
                    });
                }
                if self.received != declared {
                    return Err(ProtocolError::RecordCountMismatch {
                        declared,
                        received: self.received,
                    });
                }
                let computed = self.digest.finalize();
                if computed != trailer.records_digest {
                    return Err(ProtocolError::DigestMismatch {
                        expected: trailer.records_digest,
                        computed,
                    });
                }
                self.state = ReaderState::Ended;
                Ok(SlotStreamEvent::End(trailer))
            }
            (ReaderState::Records { .. }, frame) => Err(ProtocolError::UnexpectedFrame {
                expected: "Records or SlotTrailer",
                got: frame.kind(),
            }),
        }
    }

    /// Tells the reader the stream ended (the peer finished it). Fails with
    /// [`ProtocolError::Truncated`] unless the trailer was received.
    pub fn on_end_of_stream(&mut self) -> Result<(), ProtocolError> {
        match self.state {
            ReaderState::Ended => Ok(()),
            _ => {
                self.state = ReaderState::Failed;
                Err(ProtocolError::Truncated {
                    received: self.received,
                })
            }
        }
    }

    /// Whether the trailer was received and verified.
    pub fn is_complete(&self) -> bool {
        self.state == ReaderState::Ended
    }

    /// Records received so far.
    pub fn records_received(&self) -> u64 {
        self.received
    }
}

/// Checks the contract of a [`SlotConfirmations`] answer to
/// `SlotConfirmation { last_replicated_slot, .. }`: every slot after `last_replicated_slot`,
/// ascending by slot.
pub fn validate_confirmations(
    confirmations: &SlotConfirmations,
    last_replicated_slot: Slot,
) -> Result<(), ProtocolError> {
    let mut previous: Option<Slot> = None;
    for info in &confirmations.slots {
        if info.slot <= last_replicated_slot {
            return Err(ProtocolError::InvalidConfirmations {
                reason: "slot not after last_replicated_slot",
            });
        }
        if previous.is_some_and(|p| info.slot < p) {
            return Err(ProtocolError::InvalidConfirmations {
                reason: "slots not ascending",
            });
        }
        previous = Some(info.slot);
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WriterState {
    Header,
    Records,
    Ended,
}

/// Produces a slot's account stream as frames: header, records chunks bounded by
/// `chunk_target_bytes`, and a trailer carrying the count and digest of what was written.
#[derive(Debug)]
pub struct SlotStreamWriter {
    header: SlotHeader,
    encoder: FrameEncoder,
    chunk_target_bytes: usize,
    state: WriterState,
    sent: u64,
    digest: RecordsDigest,
}

impl SlotStreamWriter {
    /// A writer for the stream that `header` opens.
    pub fn new(header: SlotHeader, frame_config: FrameConfig, chunk_target_bytes: usize) -> Self {
        Self {
            header,
            encoder: FrameEncoder::new(frame_config),
            chunk_target_bytes: chunk_target_bytes.max(1),
            state: WriterState::Header,
            sent: 0,
            digest: RecordsDigest::new(),
        }
    }

    /// The header this stream opens with.
    pub fn header(&self) -> &SlotHeader {
        &self.header
    }

    /// Encodes the header frame.
    pub fn write_header<B: BufMut>(&mut self, out: &mut B) -> Result<(), ProtocolError> {
        if self.state != WriterState::Header {
            return Err(ProtocolError::UnexpectedFrame {
                expected: "Records or SlotTrailer",
                got: "SlotHeader",
            });
        }
        self.encoder
            .encode(&ResponseRef::SlotHeader(&self.header), out)?;
        self.state = WriterState::Records;
        Ok(())
    }

    /// Encodes `records` as one or more Records frames, each holding at most about
    /// `chunk_target_bytes` of encoded records (a larger single record goes alone). Fails,
    /// writing nothing, if this would exceed the header's record count.
    pub fn write_records<B: BufMut>(
        &mut self,
        records: &[AccountRecord],
        out: &mut B,
    ) -> Result<(), ProtocolError> {
        if self.state != WriterState::Records {
            return Err(ProtocolError::UnexpectedFrame {
                expected: "SlotHeader first",
                got: "Records",
            });
        }
        let received = self.sent.saturating_add(records.len() as u64);
        if received > self.header.record_count {
            return Err(ProtocolError::RecordCountMismatch {
                declared: self.header.record_count,
                received,
            });
        }
        let mut start = 0;
        while start < records.len() {
            let mut end = start;
            let mut bytes = 0usize;
            while end < records.len() {
                let len = records[end].encoded_len();
                if end > start && bytes + len > self.chunk_target_bytes {
                    break;
                }
                bytes += len;
                end += 1;
            }
            let chunk = &records[start..end];
            self.encoder.encode(&ResponseRef::Records(chunk), out)?;
            for record in chunk {
                self.digest.update(record);
            }
            self.sent += chunk.len() as u64;
            start = end;
        }
        Ok(())
    }

    /// Encodes the trailer; fails if fewer records were written than the header declared.
    pub fn write_trailer<B: BufMut>(
        &mut self,
        accounts_lt_hash: Option<Hash>,
        out: &mut B,
    ) -> Result<SlotTrailer, ProtocolError> {
        if self.state != WriterState::Records {
            return Err(ProtocolError::UnexpectedFrame {
                expected: "SlotHeader first",
                got: "SlotTrailer",
            });
        }
        if self.sent != self.header.record_count {
            return Err(ProtocolError::RecordCountMismatch {
                declared: self.header.record_count,
                received: self.sent,
            });
        }
        let trailer = SlotTrailer {
            record_count: self.sent,
            records_digest: self.digest.finalize(),
            accounts_lt_hash,
        };
        self.encoder
            .encode(&ResponseRef::SlotTrailer(&trailer), out)?;
        self.state = WriterState::Ended;
        Ok(trailer)
    }

    /// Records written so far.
    pub fn records_written(&self) -> u64 {
        self.sent
    }

    /// Encodes an error frame (ending the stream in failure).
    pub fn write_error<B: BufMut>(
        &mut self,
        error: &ErrorFrame,
        out: &mut B,
    ) -> Result<(), ProtocolError> {
        self.encoder.encode(&ResponseRef::Error(error), out)?;
        self.state = WriterState::Ended;
        Ok(())
    }
}

/// Groups records into chunks of at most about `target_bytes` encoded bytes (a larger single
/// record forms a chunk alone). For [`SlotRecords`](crate::source::SlotRecords) implementations.
#[derive(Debug)]
pub struct RecordChunker {
    target_bytes: usize,
    chunk: Vec<AccountRecord>,
    bytes: usize,
}

impl RecordChunker {
    /// A chunker with this target.
    pub fn new(target_bytes: usize) -> Self {
        Self {
            target_bytes: target_bytes.max(1),
            chunk: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds a record; returns the previous chunk if this record would overflow it.
    pub fn push(&mut self, record: AccountRecord) -> Option<Vec<AccountRecord>> {
        let len = record.encoded_len();
        let full = if !self.chunk.is_empty() && self.bytes + len > self.target_bytes {
            self.bytes = 0;
            Some(std::mem::take(&mut self.chunk))
        } else {
            None
        };
        self.bytes += len;
        self.chunk.push(record);
        full
    }

    /// The last, partial chunk, if any.
    pub fn finish(&mut self) -> Option<Vec<AccountRecord>> {
        self.bytes = 0;
        (!self.chunk.is_empty()).then(|| std::mem::take(&mut self.chunk))
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::{
            frame::{DEFAULT_MAX_FRAME_LEN, decode_frame},
            message::{ErrorCode, Pubkey, SlotInfo, SlotStatus},
        },
    };

    fn records(n: usize, data_len: usize) -> Vec<AccountRecord> {
        (0..n)
            .map(|i| AccountRecord {
                pubkey: Pubkey::new_unique(),
                lamports: i as u64,
                owner: Pubkey::new_unique(),
                executable: i % 5 == 0,
                rent_epoch: 7,
                data: vec![i as u8; data_len],
            })
            .collect()
    }

    fn header(count: u64) -> SlotHeader {
        SlotHeader {
            slot: 100,
            blockhash: Hash::new_from_array([9; 32]),
            parent: 99,
            record_count: count,
        }
    }

    /// Writes a whole stream with the writer and decodes it back into frames.
    fn stream(records: &[AccountRecord], chunk_target: usize) -> Vec<Response> {
        let mut writer = SlotStreamWriter::new(
            header(records.len() as u64),
            FrameConfig::default(),
            chunk_target,
        );
        let mut buf = Vec::new();
        writer.write_header(&mut buf).unwrap();
        writer.write_records(records, &mut buf).unwrap();
        writer
            .write_trailer(Some(Hash::new_unique()), &mut buf)
            .unwrap();
        let mut frames = Vec::new();
        let mut rest = &buf[..];
        while let Some((frame, used)) =
            decode_frame::<Response>(rest, DEFAULT_MAX_FRAME_LEN).unwrap()
        {
            frames.push(frame);
            rest = &rest[used..];
        }
        assert!(rest.is_empty());
        frames
    }

    fn new_reader() -> SlotStreamReader {
        SlotStreamReader::new(100, Hash::new_from_array([9; 32]))
    }

    #[test]
    fn digest_matches_bincode() {
        let recs = records(10, 33);
        let mut digest = RecordsDigest::new();
        let mut hasher = blake3::Hasher::new();
        for r in &recs {
            digest.update(r);
            hasher.update(&bincode::serialize(r).unwrap());
        }
        assert_eq!(digest.finalize().to_bytes(), *hasher.finalize().as_bytes());
    }

    #[test]
    fn happy_path_multi_chunk() {
        let recs = records(100, 200);
        let frames = stream(&recs, 2048);
        assert!(
            frames.len() > 3,
            "expected several chunks, got {}",
            frames.len()
        );
        let mut reader = new_reader();
        let mut got = Vec::new();
        let mut ended = None;
        for frame in frames {
            match reader.on_frame(frame).unwrap() {
                SlotStreamEvent::Header(h) => assert_eq!(h.record_count, 100),
                SlotStreamEvent::Records(r) => got.extend(r),
                SlotStreamEvent::End(t) => ended = Some(t),
            }
        }
        reader.on_end_of_stream().unwrap();
        assert!(reader.is_complete());
        assert_eq!(got, recs);
        assert_eq!(ended.unwrap().record_count, 100);
    }

    #[test]
    fn empty_slot() {
        let frames = stream(&[], 1024);
        assert_eq!(frames.len(), 2);
        let mut reader = new_reader();
        for frame in frames {
            reader.on_frame(frame).unwrap();
        }
        reader.on_end_of_stream().unwrap();
    }

    #[test]
    fn missing_trailer_is_truncated() {
        let mut frames = stream(&records(10, 10), 300);
        frames.pop();
        let mut reader = new_reader();
        for frame in frames {
            reader.on_frame(frame).unwrap();
        }
        assert!(!reader.is_complete());
        let err = reader.on_end_of_stream().unwrap_err();
        assert!(
            matches!(err, ProtocolError::Truncated { received: 10 }),
            "{err:?}"
        );

        // Nothing at all is truncated too.
        assert!(matches!(
            new_reader().on_end_of_stream(),
            Err(ProtocolError::Truncated { received: 0 })
        ));
    }

    #[test]
    fn count_mismatch_detected() {
        // A chunk dropped in the middle: the trailer arrives early.
        let mut frames = stream(&records(10, 10), 300);
        assert!(frames.len() >= 4);
        frames.remove(1);
        let mut reader = new_reader();
        let err = frames
            .into_iter()
            .find_map(|f| reader.on_frame(f).err())
            .unwrap();
        assert!(
            matches!(err, ProtocolError::RecordCountMismatch { declared: 10, .. }),
            "{err:?}"
        );

        // More records than the header declared.
        let mut frames = stream(&records(3, 10), 1 << 20);
        frames.insert(2, Response::Records(records(1, 1)));
        let mut reader = new_reader();
        reader.on_frame(frames.remove(0)).unwrap();
        reader.on_frame(frames.remove(0)).unwrap();
        let err = reader.on_frame(frames.remove(0)).unwrap_err();
        assert!(
            matches!(
                err,
                ProtocolError::RecordCountMismatch {
                    declared: 3,
                    received: 4
                }
            ),
            "{err:?}"
        );

        // Trailer count disagreeing with the header.
        let mut frames = stream(&records(3, 10), 1 << 20);
        if let Some(Response::SlotTrailer(t)) = frames.last_mut() {
            t.record_count = 4;
        }
        let mut reader = new_reader();
        let err = frames
            .into_iter()
            .find_map(|f| reader.on_frame(f).err())
            .unwrap();
        assert!(
            matches!(err, ProtocolError::RecordCountMismatch { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn digest_mismatch_detected() {
        let mut frames = stream(&records(5, 10), 1 << 20);
        if let Response::Records(r) = &mut frames[1] {
            r[2].lamports += 1;
        }
        let mut reader = new_reader();
        let err = frames
            .into_iter()
            .find_map(|f| reader.on_frame(f).err())
            .unwrap();
        assert!(
            matches!(err, ProtocolError::DigestMismatch { .. }),
            "{err:?}"
        );
        assert!(!reader.is_complete());
    }

    #[test]
    fn out_of_order_frames_rejected() {
        let frames = stream(&records(5, 10), 1 << 20);
        // Records before the header.
        let err = new_reader().on_frame(frames[1].clone()).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::UnexpectedFrame {
                expected: "SlotHeader",
                got: "Records"
            }
        ));
        // Trailer before the header.
        let err = new_reader().on_frame(frames[2].clone()).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::UnexpectedFrame {
                got: "SlotTrailer",
                ..
            }
        ));
        // Header twice.
        let mut r = new_reader();
        r.on_frame(frames[0].clone()).unwrap();
        let err = r.on_frame(frames[0].clone()).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::UnexpectedFrame {
                got: "SlotHeader",
                ..
            }
        ));
        // Anything after the trailer.
        let mut r = new_reader();
        for f in frames.iter().cloned() {
            r.on_frame(f).unwrap();
        }
        let err = r.on_frame(frames[1].clone()).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::UnexpectedFrame { got: "Records", .. }
        ));
        // A confirmations frame inside a slot stream.
        let mut r = new_reader();
        r.on_frame(frames[0].clone()).unwrap();
        let err = r
            .on_frame(Response::SlotConfirmations(SlotConfirmations::default()))
            .unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::UnexpectedFrame {
                got: "SlotConfirmations",
                ..
            }
        ));
        // Once failed, always failed.
        assert!(r.on_frame(frames[1].clone()).is_err());
    }

    #[test]
    fn wrong_slot_or_blockhash_rejected() {
        let mut h = header(0);
        h.slot = 101;
        let err = new_reader().on_frame(Response::SlotHeader(h)).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::SlotMismatch {
                expected: 100,
                got: 101
            }
        ));
        let mut h = header(0);
        h.blockhash = Hash::new_from_array([1; 32]);
        let err = new_reader().on_frame(Response::SlotHeader(h)).unwrap_err();
        assert!(matches!(err, ProtocolError::BlockhashMismatch { .. }));
    }

    #[test]
    fn error_frame_surfaces_as_remote() {
        let mut r = new_reader();
        let frame = ErrorFrame::new(
            ErrorCode::SlotUnavailable {
                first_available_slot: 50,
            },
            "gone",
        );
        let err = r.on_frame(Response::Error(frame.clone())).unwrap_err();
        assert!(matches!(err, ProtocolError::Remote(f) if f == frame));
    }

    #[test]
    fn writer_enforces_header_count() {
        let mut w = SlotStreamWriter::new(header(2), FrameConfig::default(), 1024);
        let mut buf = Vec::new();
        assert!(
            w.write_records(&records(1, 1), &mut buf).is_err(),
            "records before header"
        );
        w.write_header(&mut buf).unwrap();
        let err = w.write_records(&records(3, 1), &mut buf).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::RecordCountMismatch {
                declared: 2,
                received: 3
            }
        ));
        w.write_records(&records(1, 1), &mut buf).unwrap();
        let err = w.write_trailer(None, &mut buf).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::RecordCountMismatch {
                declared: 2,
                received: 1
            }
        ));
    }

    #[test]
    fn chunker_bounds_chunks() {
        let mut chunker = RecordChunker::new(1000);
        let mut chunks = Vec::new();
        for r in records(50, 100).into_iter().chain(records(1, 5000)) {
            chunks.extend(chunker.push(r));
        }
        chunks.extend(chunker.finish());
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 51);
        for c in &chunks {
            let bytes: usize = c.iter().map(AccountRecord::encoded_len).sum();
            assert!(bytes <= 1000 || c.len() == 1, "chunk of {bytes} bytes");
        }
        assert!(chunker.finish().is_none());
    }

    #[test]
    fn confirmations_contract() {
        let info = |slot| SlotInfo {
            slot,
            parent: slot - 1,
            blockhash: Hash::default(),
            status: SlotStatus::Confirmed,
            block_height: None,
            block_time: None,
            executed_transaction_count: None,
        };
        let ok = SlotConfirmations {
            seq: 1,
            first_available_slot: 0,
            slots: vec![info(11), info(12), info(12), info(14)],
            fleet: None,
        };
        validate_confirmations(&ok, 10).unwrap();
        assert!(validate_confirmations(&ok, 11).is_err());
        let unsorted = SlotConfirmations {
            slots: vec![info(12), info(11)],
            ..ok
        };
        assert!(validate_confirmations(&unsorted, 10).is_err());
    }
}
