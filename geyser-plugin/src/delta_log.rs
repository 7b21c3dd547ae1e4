//! The retained delta log: every rooted slot's final account versions and tombstones, on disk,
//! for a retention window, so that replicas that bootstrapped from a somewhat old snapshot can
//! catch up, and so that a restarted validator does not force every replica to re-bootstrap.
//!
//! Layout under the data directory:
//! - `slots/<slot, 20 digits>.slot`: one file per rooted slot, written to a temporary name,
//!   fsynced, then renamed (a crash leaves a slot either whole or absent). Contents: the magic
//!   [`SLOT_FILE_MAGIC`], then replication wire frames: a [`SlotFileHeader`], the records as
//!   `Response::Records` chunks exactly as served, and a `Response::SlotTrailer` (count and blake3
//!   digest, checked on every read).
//! - `delta-log.json`: `first_available_slot` (every rooted slot from it on is in the log) and
//!   `last_root` (the newest root handled, persisted or lost), rewritten atomically.
//!
//! The first available slot only moves forward: past slots deleted by retention, past rooted
//! slots that were lost (shed, ambiguous, gap). A replica whose next slot is before it must
//! re-bootstrap.

use {
    crate::collector::RootedSlot,
    replication_proto::{
        AccountRecord, Hash, Slot, SlotHeader, SlotInfo, SlotInfoV1, SlotRecords, SlotTrailer,
        SourceError,
        frame::{FRAME_HEADER_LEN, FrameConfig, FrameEncoder, FrameHeader, decode_payload},
        message::{Response, ResponseRef},
        slot_stream::{DEFAULT_CHUNK_TARGET_BYTES, RecordChunker, RecordsDigest},
    },
    serde::{Deserialize, Serialize},
    std::{
        collections::BTreeMap,
        fs::File,
        io::{BufReader, BufWriter, ErrorKind, Read, Write},
        path::{Path, PathBuf},
    },
};

/// First bytes of every slot file.
pub const SLOT_FILE_MAGIC: &[u8; 8] = b"RPLDLOG1";
/// Version of the slot file format.
pub const SLOT_FILE_VERSION: u16 = 2;
/// Largest frame in a slot file: a 10 MiB account (Solana's maximum) fits with room to spare.
pub const MAX_FILE_FRAME_LEN: u32 = 16 * 1024 * 1024;
const SLOTS_DIR: &str = "slots";
const META_FILE: &str = "delta-log.json";
const META_VERSION: u32 = 1;

/// Why the delta log failed.
#[derive(Debug, thiserror::Error)]
pub enum DeltaLogError {
    /// A file operation failed.
    #[error("{op} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The metadata file is unreadable.
    #[error("corrupt delta log metadata {}: {reason}", .path.display())]
    CorruptMeta {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A slot could not be encoded.
    #[error("failed to encode slot {slot}: {reason}")]
    Encode {
        /// The slot.
        slot: Slot,
        /// What failed.
        reason: String,
    },
}

/// The first frame of a slot file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotFileHeader {
    /// [`SLOT_FILE_VERSION`].
    pub version: u16,
    /// The rooted slot.
    pub info: SlotInfo,
    /// Records that follow.
    pub record_count: u64,
}

/// [`SlotFileHeader`] as version 1 wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SlotFileHeaderV1 {
    version: u16,
    info: SlotInfoV1,
    record_count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Meta {
    version: u32,
    first_available_slot: Slot,
    last_root: Option<Slot>,
}

/// One retained slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetainedSlot {
    /// Its info (status rooted).
    pub info: SlotInfo,
    /// Its file's size.
    pub bytes: u64,
}

/// What a change to the log did, for the serving view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogChange {
    /// Slots added.
    pub added: Vec<SlotInfo>,
    /// Slots deleted.
    pub removed: Vec<Slot>,
}

/// The delta log (single writer: the collector thread).
#[derive(Debug)]
pub struct DeltaLog {
    dir: PathBuf,
    slots_dir: PathBuf,
    index: BTreeMap<Slot, RetainedSlot>,
    first_available_slot: Slot,
    last_root: Option<Slot>,
    retained_bytes: u64,
    encoder: FrameEncoder,
}

fn io_error<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> DeltaLogError + 'a {
    move |source| DeltaLogError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Path of a slot's file in the slots directory.
pub fn slot_path(slots_dir: &Path, slot: Slot) -> PathBuf {
    slots_dir.join(format!("{slot:020}.slot"))
}

fn parse_slot_file_name(name: &str) -> Option<Slot> {
    let digits = name.strip_suffix(".slot")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn sync_dir(dir: &Path) -> Result<(), DeltaLogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("fsync directory", dir))
}

impl DeltaLog {
    /// Opens (or creates) the log under `data_dir`: reads the metadata and every slot file's
    /// header, deletes temporary files and slots before the first available slot. A slot file
    /// that cannot be read counts as lost (the first available slot moves past it).
    pub fn open(data_dir: &Path) -> Result<Self, DeltaLogError> {
        let slots_dir = data_dir.join(SLOTS_DIR);
        std::fs::create_dir_all(&slots_dir).map_err(io_error("create", &slots_dir))?;
        let meta_path = data_dir.join(META_FILE);
        let meta = match std::fs::read(&meta_path) {
            Ok(bytes) => {
                let meta: Meta =
                    serde_json::from_slice(&bytes).map_err(|e| DeltaLogError::CorruptMeta {
                        path: meta_path.clone(),
                        reason: e.to_string(),
                    })?;
                if meta.version != META_VERSION {
                    return Err(DeltaLogError::CorruptMeta {
                        path: meta_path,
                        reason: format!("unsupported version {}", meta.version),
                    });
                }
                meta
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Meta {
                version: META_VERSION,
                first_available_slot: 0,
                last_root: None,
            },
            Err(e) => return Err(io_error("read", &meta_path)(e)),
        };
        let mut log = Self {
            dir: data_dir.to_path_buf(),
            slots_dir: slots_dir.clone(),
            index: BTreeMap::new(),
            first_available_slot: meta.first_available_slot,
            last_root: meta.last_root,
            retained_bytes: 0,
            encoder: FrameEncoder::new(FrameConfig {
                max_frame_len: MAX_FILE_FRAME_LEN,
                ..FrameConfig::default()
            }),
        };
        let mut unreadable = Vec::new();
        for entry in std::fs::read_dir(&slots_dir).map_err(io_error("list", &slots_dir))? {
            let entry = entry.map_err(io_error("list", &slots_dir))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(slot) = parse_slot_file_name(&name) else {
                if name.starts_with("tmp-") {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            };
            if slot < log.first_available_slot {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            match read_header(&path) {
                Ok((header, bytes)) if header.info.slot == slot => {
                    log.retained_bytes += bytes;
                    log.index.insert(
                        slot,
                        RetainedSlot {
                            info: header.info,
                            bytes,
                        },
                    );
                }
                Ok(_) | Err(_) => {
                    tracing::warn!(path = %path.display(), "unreadable delta log slot file");
                    unreadable.push(slot);
                }
            }
        }
        if let Some(newest) = log.index.keys().next_back().copied() {
            log.last_root = Some(log.last_root.map_or(newest, |r| r.max(newest)));
        }
        if let Some(&worst) = unreadable.iter().max() {
            log.lose(worst)?;
        } else {
            log.write_meta()?;
        }
        Ok(log)
    }

    /// The slots directory (readers open files there).
    pub fn slots_dir(&self) -> &Path {
        &self.slots_dir
    }

    /// Every rooted slot from this one on is retained.
    pub fn first_available_slot(&self) -> Slot {
        self.first_available_slot
    }

    /// The newest root handled (persisted or lost).
    pub fn last_root(&self) -> Option<Slot> {
        self.last_root
    }

    /// Retained slots, ascending.
    pub fn slots(&self) -> impl Iterator<Item = &RetainedSlot> {
        self.index.values()
    }

    /// Bytes on disk.
    pub fn retained_bytes(&self) -> u64 {
        self.retained_bytes
    }

    /// Number of retained slots.
    pub fn retained_slots(&self) -> usize {
        self.index.len()
    }

    fn write_meta(&self) -> Result<(), DeltaLogError> {
        let meta = Meta {
            version: META_VERSION,
            first_available_slot: self.first_available_slot,
            last_root: self.last_root,
        };
        let path = self.dir.join(META_FILE);
        let temp = self.dir.join(format!("tmp-{META_FILE}"));
        let json = serde_json::to_vec_pretty(&meta).expect("meta serializes");
        let mut file = File::create(&temp).map_err(io_error("create", &temp))?;
        file.write_all(&json)
            .and_then(|()| file.sync_all())
            .map_err(io_error("write", &temp))?;
        std::fs::rename(&temp, &path).map_err(io_error("rename", &temp))?;
        sync_dir(&self.dir)
    }

    /// On an empty log: replication starts after `slot`.
    pub fn start_after(&mut self, slot: Slot) -> Result<(), DeltaLogError> {
        if self.last_root.is_none() && self.index.is_empty() {
            self.first_available_slot = self.first_available_slot.max(slot + 1);
            self.last_root = Some(slot);
            self.write_meta()?;
        }
        Ok(())
    }

    /// Persists a rooted slot (atomically) and records it as the newest root.
    pub fn append(&mut self, rooted: &RootedSlot) -> Result<LogChange, DeltaLogError> {
        let slot = rooted.info.slot;
        let path = slot_path(&self.slots_dir, slot);
        let temp = self.slots_dir.join(format!("tmp-{slot}.slot"));
        let bytes = self.write_slot_file(&temp, rooted)?;
        std::fs::rename(&temp, &path).map_err(io_error("rename", &temp))?;
        sync_dir(&self.slots_dir)?;
        if let Some(old) = self.index.insert(
            slot,
            RetainedSlot {
                info: rooted.info.clone(),
                bytes,
            },
        ) {
            self.retained_bytes -= old.bytes;
        }
        self.retained_bytes += bytes;
        self.last_root = Some(self.last_root.map_or(slot, |r| r.max(slot)));
        self.write_meta()?;
        Ok(LogChange {
            added: vec![rooted.info.clone()],
            removed: Vec::new(),
        })
    }

    fn write_slot_file(&mut self, path: &Path, rooted: &RootedSlot) -> Result<u64, DeltaLogError> {
        let slot = rooted.info.slot;
        let encode_error = |e: replication_proto::FrameError| DeltaLogError::Encode {
            slot,
            reason: e.to_string(),
        };
        let file = File::create(path).map_err(io_error("create", path))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut buf = Vec::with_capacity(DEFAULT_CHUNK_TARGET_BYTES + 1024);
        buf.extend_from_slice(SLOT_FILE_MAGIC);
        let header = SlotFileHeader {
            version: SLOT_FILE_VERSION,
            info: rooted.info.clone(),
            record_count: rooted.records.len() as u64,
        };
        self.encoder
            .encode(&header, &mut buf)
            .map_err(encode_error)?;
        let mut written = 0u64;
        let mut digest = RecordsDigest::new();
        let mut flush = |buf: &mut Vec<u8>, out: &mut BufWriter<File>| {
            written += buf.len() as u64;
            let result = out.write_all(buf);
            buf.clear();
            result.map_err(io_error("write", path))
        };
        let mut chunker = RecordChunker::new(DEFAULT_CHUNK_TARGET_BYTES);
        let mut chunks = Vec::new();
        for record in rooted.records.iter() {
            digest.update(record);
            if let Some(chunk) = chunker.push(record.clone()) {
                chunks.push(chunk);
            }
            for chunk in chunks.drain(..) {
                self.encoder
                    .encode(&ResponseRef::Records(&chunk), &mut buf)
                    .map_err(encode_error)?;
                flush(&mut buf, &mut out)?;
            }
        }
        if let Some(chunk) = chunker.finish() {
            self.encoder
                .encode(&ResponseRef::Records(&chunk), &mut buf)
                .map_err(encode_error)?;
        }
        let trailer = SlotTrailer {
            record_count: rooted.records.len() as u64,
            records_digest: digest.finalize(),
            accounts_lt_hash: None,
        };
        self.encoder
            .encode(&ResponseRef::SlotTrailer(&trailer), &mut buf)
            .map_err(encode_error)?;
        flush(&mut buf, &mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| io_error("write", path)(e.into_error()))?;
        file.sync_all().map_err(io_error("fsync", path))?;
        Ok(written)
    }

    /// Every rooted slot up to `slot` is unavailable: moves the first available slot past it
    /// and deletes older files.
    pub fn lose(&mut self, slot: Slot) -> Result<LogChange, DeltaLogError> {
        self.first_available_slot = self.first_available_slot.max(slot + 1);
        self.last_root = Some(self.last_root.map_or(slot, |r| r.max(slot)));
        let removed = self.delete_before(self.first_available_slot);
        self.write_meta()?;
        Ok(LogChange {
            added: Vec::new(),
            removed,
        })
    }

    /// Deletes slots older than `retention_slots` before the newest root.
    pub fn retain(&mut self, retention_slots: u64) -> Result<LogChange, DeltaLogError> {
        let Some(root) = self.last_root else {
            return Ok(LogChange::default());
        };
        let floor = root.saturating_sub(retention_slots.saturating_sub(1));
        let Some(newest_old) = self.index.range(..floor).next_back().map(|(s, _)| *s) else {
            return Ok(LogChange::default());
        };
        self.first_available_slot = self.first_available_slot.max(newest_old + 1);
        let removed = self.delete_before(self.first_available_slot);
        self.write_meta()?;
        Ok(LogChange {
            added: Vec::new(),
            removed,
        })
    }

    fn delete_before(&mut self, slot: Slot) -> Vec<Slot> {
        let kept = self.index.split_off(&slot);
        let old = std::mem::replace(&mut self.index, kept);
        let mut removed = Vec::with_capacity(old.len());
        for (old_slot, retained) in old {
            self.retained_bytes -= retained.bytes;
            let path = slot_path(&self.slots_dir, old_slot);
            if let Err(error) = std::fs::remove_file(&path)
                && error.kind() != ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), %error, "failed to delete old slot file");
            }
            removed.push(old_slot);
        }
        removed
    }
}

/// Reads exactly one frame's payload; `None` at a clean end of file.
fn read_frame<R: Read>(reader: &mut R) -> std::io::Result<Option<(FrameHeader, Vec<u8>)>> {
    let mut head = [0u8; FRAME_HEADER_LEN];
    let mut filled = 0;
    while filled < head.len() {
        match reader.read(&mut head[filled..])? {
            0 if filled == 0 => return Ok(None),
            0 => return Err(ErrorKind::UnexpectedEof.into()),
            n => filled += n,
        }
    }
    let header = FrameHeader::decode(&mut &head[..], MAX_FILE_FRAME_LEN)
        .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
    let mut payload = vec![0u8; header.payload_len as usize];
    reader.read_exact(&mut payload)?;
    Ok(Some((header, payload)))
}

fn decode<T: serde::de::DeserializeOwned>(
    header: &FrameHeader,
    payload: &[u8],
) -> std::io::Result<T> {
    decode_payload(header, payload, MAX_FILE_FRAME_LEN)
        .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))
}

fn open_file(path: &Path) -> std::io::Result<(BufReader<File>, SlotFileHeader, u64)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut magic = [0u8; 8];
    reader.read_exact(&mut magic)?;
    if &magic != SLOT_FILE_MAGIC {
        return Err(std::io::Error::new(ErrorKind::InvalidData, "bad magic"));
    }
    let (header, payload) =
        read_frame(&mut reader)?.ok_or_else(|| std::io::Error::from(ErrorKind::UnexpectedEof))?;
    // Version 1 files (written before slots carried their transaction count) are one byte
    // shorter, so they never decode as version 2.
    let header = match decode::<SlotFileHeader>(&header, &payload) {
        Ok(header) => header,
        Err(error) => match decode::<SlotFileHeaderV1>(&header, &payload) {
            Ok(v1) if v1.version == 1 => SlotFileHeader {
                version: v1.version,
                info: v1.info.into(),
                record_count: v1.record_count,
            },
            _ => return Err(error),
        },
    };
    if !(1..=SLOT_FILE_VERSION).contains(&header.version) {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            format!("unsupported slot file version {}", header.version),
        ));
    }
    Ok((reader, header, len))
}

fn read_header(path: &Path) -> std::io::Result<(SlotFileHeader, u64)> {
    open_file(path).map(|(_, header, len)| (header, len))
}

/// [`SlotRecords`] streamed from a slot file, checked against its trailer as it goes.
#[derive(Debug)]
pub struct FileSlotRecords {
    path: PathBuf,
    reader: BufReader<File>,
    header: SlotHeader,
    pending: std::collections::VecDeque<AccountRecord>,
    digest: RecordsDigest,
    read: u64,
    done: bool,
    accounts_lt_hash: Option<Hash>,
}

impl FileSlotRecords {
    /// Opens the file of `slot`; `Ok(None)` if it does not exist (deleted by retention) or holds
    /// another bank.
    pub fn open(
        slots_dir: &Path,
        slot: Slot,
        blockhash: &Hash,
        accounts_lt_hash: Option<Hash>,
    ) -> Result<Option<Self>, SourceError> {
        let path = slot_path(slots_dir, slot);
        let (reader, file_header, _) = match open_file(&path) {
            Ok(opened) => opened,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(SourceError::Internal(format!(
                    "delta log file {}: {e}",
                    path.display()
                )));
            }
        };
        if file_header.info.slot != slot || file_header.info.blockhash != *blockhash {
            return Ok(None);
        }
        Ok(Some(Self {
            header: SlotHeader {
                slot,
                blockhash: *blockhash,
                parent: file_header.info.parent,
                record_count: file_header.record_count,
            },
            path,
            reader,
            pending: Default::default(),
            digest: RecordsDigest::new(),
            read: 0,
            done: false,
            accounts_lt_hash,
        }))
    }

    fn corrupt(&self, reason: impl std::fmt::Display) -> SourceError {
        SourceError::Internal(format!(
            "corrupt delta log file {}: {reason}",
            self.path.display()
        ))
    }

    /// Reads the next records frame into `pending`; on the trailer, checks it and finishes.
    fn fill(&mut self) -> Result<(), SourceError> {
        let (frame, payload) = match read_frame(&mut self.reader) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Err(self.corrupt("missing trailer")),
            Err(e) => return Err(self.corrupt(e)),
        };
        match decode::<Response>(&frame, &payload).map_err(|e| self.corrupt(e))? {
            Response::Records(records) => {
                for record in &records {
                    self.digest.update(record);
                }
                self.read += records.len() as u64;
                self.pending.extend(records);
                Ok(())
            }
            Response::SlotTrailer(trailer) => {
                if trailer.record_count != self.read
                    || trailer.record_count != self.header.record_count
                {
                    return Err(self.corrupt("record count mismatch"));
                }
                if trailer.records_digest != self.digest.finalize() {
                    return Err(self.corrupt("records digest mismatch"));
                }
                self.done = true;
                Ok(())
            }
            other => Err(self.corrupt(format!("unexpected {} frame", other.kind()))),
        }
    }
}

impl SlotRecords for FileSlotRecords {
    fn header(&self) -> &SlotHeader {
        &self.header
    }

    fn next_chunk(&mut self, max_bytes: usize) -> Result<Option<Vec<AccountRecord>>, SourceError> {
        let mut chunker = RecordChunker::new(max_bytes);
        loop {
            while let Some(record) = self.pending.pop_front() {
                if let Some(chunk) = chunker.push(record) {
                    // The record that overflowed opened the next chunk; put it back.
                    let mut rest = chunker.finish().unwrap_or_default();
                    while let Some(r) = rest.pop() {
                        self.pending.push_front(r);
                    }
                    return Ok(Some(chunk));
                }
            }
            if self.done {
                return Ok(chunker.finish());
            }
            self.fill()?;
        }
    }

    fn accounts_lt_hash(&self) -> Option<Hash> {
        self.accounts_lt_hash
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        replication_proto::{Pubkey, SlotStatus},
    };

    fn rooted(slot: Slot, n: usize, data_len: usize) -> RootedSlot {
        let mut records: Vec<AccountRecord> = (0..n)
            .map(|i| AccountRecord {
                pubkey: Pubkey::new_unique(),
                lamports: i as u64 + 1,
                owner: Pubkey::new_unique(),
                executable: false,
                rent_epoch: u64::MAX,
                data: vec![(i % 251) as u8; data_len],
            })
            .collect();
        records.sort_by_key(|a| a.pubkey);
        RootedSlot {
            info: SlotInfo {
                slot,
                parent: slot - 1,
                blockhash: Hash::new_from_array([slot as u8; 32]),
                status: SlotStatus::Rooted,
                block_height: Some(slot),
                block_time: Some(1),
                executed_transaction_count: None,
            },
            records: records.into(),
        }
    }

    fn read_all(log: &DeltaLog, slot: Slot, chunk: usize) -> Vec<AccountRecord> {
        let blockhash = Hash::new_from_array([slot as u8; 32]);
        let mut records = FileSlotRecords::open(log.slots_dir(), slot, &blockhash, None)
            .unwrap()
            .unwrap();
        let mut all = Vec::new();
        while let Some(c) = records.next_chunk(chunk).unwrap() {
            let bytes: usize = c.iter().map(AccountRecord::encoded_len).sum();
            assert!(c.len() == 1 || bytes <= chunk);
            all.extend(c);
        }
        assert_eq!(all.len() as u64, records.header().record_count);
        all
    }

    #[test]
    fn persists_streams_and_survives_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = DeltaLog::open(dir.path()).unwrap();
        assert_eq!(log.first_available_slot(), 0);
        log.start_after(9).unwrap();
        let slots: Vec<RootedSlot> = (10..14).map(|s| rooted(s, 300, 2000)).collect();
        for slot in &slots {
            log.append(slot).unwrap();
        }
        assert_eq!(log.first_available_slot(), 10);
        assert_eq!(log.retained_slots(), 4);
        for slot in &slots {
            assert_eq!(read_all(&log, slot.info.slot, 64 * 1024), &slot.records[..]);
        }
        let bytes = log.retained_bytes();
        // Another bank of slot 10 is not there.
        assert!(
            FileSlotRecords::open(log.slots_dir(), 10, &Hash::new_unique(), None)
                .unwrap()
                .is_none()
        );
        drop(log);
        // A leftover temporary file from a crash is removed on open.
        std::fs::write(dir.path().join("slots/tmp-14.slot"), b"partial").unwrap();
        let log = DeltaLog::open(dir.path()).unwrap();
        assert_eq!(log.first_available_slot(), 10);
        assert_eq!(log.last_root(), Some(13));
        assert_eq!(log.retained_bytes(), bytes);
        let infos: Vec<SlotInfo> = log.slots().map(|s| s.info.clone()).collect();
        assert_eq!(
            infos,
            slots.iter().map(|s| s.info.clone()).collect::<Vec<_>>()
        );
        assert_eq!(read_all(&log, 12, 10_000), &slots[2].records[..]);
        assert!(!dir.path().join("slots/tmp-14.slot").exists());
    }

    #[test]
    fn slot_files_of_version_1_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = DeltaLog::open(dir.path()).unwrap();
        log.start_after(9).unwrap();
        let mut slot = rooted(10, 50, 100);
        slot.info.executed_transaction_count = Some(42);
        log.append(&slot).unwrap();
        assert_eq!(log.slots().next().unwrap().info, slot.info);
        // Rewrite the file's header as version 1 wrote it (no transaction count).
        let path = slot_path(log.slots_dir(), 10);
        let bytes = std::fs::read(&path).unwrap();
        let mut rest = &bytes[SLOT_FILE_MAGIC.len()..];
        let (frame, payload) = read_frame(&mut rest).unwrap().unwrap();
        let header: SlotFileHeader = decode(&frame, &payload).unwrap();
        let mut v1 = SLOT_FILE_MAGIC.to_vec();
        FrameEncoder::new(FrameConfig::default())
            .encode(
                &SlotFileHeaderV1 {
                    version: 1,
                    info: SlotInfoV1::from(&header.info),
                    record_count: header.record_count,
                },
                &mut v1,
            )
            .unwrap();
        v1.extend_from_slice(rest);
        std::fs::write(&path, v1).unwrap();
        drop(log);
        let log = DeltaLog::open(dir.path()).unwrap();
        let info = &log.slots().next().unwrap().info;
        assert_eq!(info.executed_transaction_count, None);
        assert_eq!(info.blockhash, slot.info.blockhash);
        assert_eq!(read_all(&log, 10, 64 * 1024), &slot.records[..]);
    }

    #[test]
    fn retention_and_loss_move_the_first_available_slot() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = DeltaLog::open(dir.path()).unwrap();
        log.start_after(99).unwrap();
        for slot in [100, 101, 103, 104, 105] {
            log.append(&rooted(slot, 2, 10)).unwrap();
        }
        // Keep 3 slots' worth of slot numbers: 103..=105.
        let change = log.retain(3).unwrap();
        assert_eq!(change.removed, [100, 101]);
        assert_eq!(log.first_available_slot(), 102);
        assert!(!slot_path(log.slots_dir(), 100).exists());
        // Slot 106 was shed: 103..=105 become unavailable too.
        let change = log.lose(106).unwrap();
        assert_eq!(change.removed, [103, 104, 105]);
        assert_eq!(log.first_available_slot(), 107);
        assert_eq!(log.last_root(), Some(106));
        assert_eq!(log.retained_slots(), 0);
        log.append(&rooted(107, 1, 1)).unwrap();
        drop(log);
        let log = DeltaLog::open(dir.path()).unwrap();
        assert_eq!(log.first_available_slot(), 107);
        assert_eq!(log.last_root(), Some(107));
        assert_eq!(log.retained_slots(), 1);
    }

    #[test]
    fn corrupt_files_are_lost_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = DeltaLog::open(dir.path()).unwrap();
        log.start_after(0).unwrap();
        for slot in 1..=3 {
            log.append(&rooted(slot, 50, 100)).unwrap();
        }
        let path = slot_path(log.slots_dir(), 2);
        drop(log);
        std::fs::write(&path, b"garbage").unwrap();
        let log = DeltaLog::open(dir.path()).unwrap();
        assert_eq!(log.first_available_slot(), 3);
        assert_eq!(log.slots().map(|s| s.info.slot).collect::<Vec<_>>(), [3]);

        // A file corrupted after its header was read fails the stream instead of serving it.
        let mut bytes = std::fs::read(slot_path(log.slots_dir(), 3)).unwrap();
        let n = bytes.len();
        bytes[n - 200] ^= 0xff;
        std::fs::write(slot_path(log.slots_dir(), 3), &bytes).unwrap();
        let blockhash = Hash::new_from_array([3; 32]);
        let mut records = FileSlotRecords::open(log.slots_dir(), 3, &blockhash, None)
            .unwrap()
            .unwrap();
        let mut failed = false;
        loop {
            match records.next_chunk(1 << 20) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(SourceError::Internal(_)) => {
                    failed = true;
                    break;
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        assert!(failed);
    }
}
