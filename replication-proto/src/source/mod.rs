//! What a replication server serves from.
//!
//! [`SlotSource`] is implemented by the Geyser plugin (from its retained delta log) and by the
//! replica (from its own delta log). [`SlotRecords`] streams one slot's records in bounded
//! chunks. Both may block (disk, RocksDB): the server calls them from `spawn_blocking` behind a
//! semaphore, never on the async runtime.
//!
//! `SlotSource` needs the `transport` feature because its change notification is a
//! `tokio::sync::watch` channel; `SlotRecords` and [`SourceError`] are always available.

#[cfg(feature = "transport")]
mod memory;

pub use crate::error::SourceError;
#[cfg(feature = "transport")]
pub use memory::MemorySlotSource;
use {
    crate::{
        message::{AccountRecord, Hash, SlotHeader},
        slot_stream::RecordChunker,
    },
    std::sync::Arc,
};

/// One slot's records, as a server streams them.
///
/// The server reads [`header`](Self::header), then calls [`next_chunk`](Self::next_chunk)
/// until it returns `Ok(None)`, then reads [`accounts_lt_hash`](Self::accounts_lt_hash) for the
/// trailer. The server computes the trailer's count and digest itself from what it sent, and
/// fails the stream if the count differs from the header's.
pub trait SlotRecords: Send {
    /// The stream's header; `record_count` must equal the number of records the chunks yield.
    fn header(&self) -> &SlotHeader;

    /// The next chunk, about `max_bytes` of encoded records at most (a single larger record
    /// may come alone), or `None` when all were yielded. May block.
    fn next_chunk(&mut self, max_bytes: usize) -> Result<Option<Vec<AccountRecord>>, SourceError>;

    /// The accounts lattice hash after this slot, when the source knows it.
    fn accounts_lt_hash(&self) -> Option<Hash>;
}

/// A server's view of the slots it can serve.
#[cfg(feature = "transport")]
pub trait SlotSource: Send + Sync + 'static {
    /// Every known confirmed or rooted slot after `last_replicated_slot`, ascending by slot,
    /// with the current change sequence number and the oldest streamable slot. Cheap and
    /// in-memory: called on the async runtime.
    fn confirmations(
        &self,
        last_replicated_slot: crate::message::Slot,
    ) -> crate::message::SlotConfirmations;

    /// A receiver of the change sequence number; the source bumps it whenever the answer of
    /// [`confirmations`](Self::confirmations) may have changed. Long-polls wait on it.
    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64>;

    /// A downstream member of a fleet reported its subtree's progress (every v3 long-poll of a
    /// fleet member carries it). Cheap: called on the async runtime. Sources outside a fleet
    /// ignore it.
    fn report_progress(
        &self,
        peer: &crate::message::Pubkey,
        progress: crate::message::FleetProgress,
    ) {
        let _ = (peer, progress);
    }

    /// Opens the records of bank (`slot`, `blockhash`). May block.
    fn slot_accounts(
        &self,
        slot: crate::message::Slot,
        blockhash: &Hash,
    ) -> Result<Box<dyn SlotRecords>, SourceError>;
}

/// [`SlotRecords`] over records held in memory and shared (cloned chunk by chunk).
#[derive(Debug)]
pub struct SharedSlotRecords {
    header: SlotHeader,
    records: Arc<[AccountRecord]>,
    next: usize,
    accounts_lt_hash: Option<Hash>,
}

impl SharedSlotRecords {
    /// Streams `records` under `header` (whose `record_count` is set to `records.len()`).
    pub fn new(
        mut header: SlotHeader,
        records: Arc<[AccountRecord]>,
        accounts_lt_hash: Option<Hash>,
    ) -> Self {
        header.record_count = records.len() as u64;
        Self {
            header,
            records,
            next: 0,
            accounts_lt_hash,
        }
    }
}

impl SlotRecords for SharedSlotRecords {
    fn header(&self) -> &SlotHeader {
        &self.header
    }

    fn next_chunk(&mut self, max_bytes: usize) -> Result<Option<Vec<AccountRecord>>, SourceError> {
        let mut chunker = RecordChunker::new(max_bytes);
        while let Some(record) = self.records.get(self.next) {
            if let Some(chunk) = chunker.push(record.clone()) {
                // `record` opened the next chunk; leave it for the next call.
                return Ok(Some(chunk));
            }
            self.next += 1;
        }
        Ok(chunker.finish())
    }

    fn accounts_lt_hash(&self) -> Option<Hash> {
        self.accounts_lt_hash
    }
}

#[cfg(test)]
mod tests {
    use {super::*, crate::message::Pubkey};

    #[test]
    fn shared_records_chunk_by_bytes() {
        let records: Vec<AccountRecord> = (0..100)
            .map(|i| AccountRecord {
                pubkey: Pubkey::new_unique(),
                lamports: i,
                data: vec![1; 100],
                ..AccountRecord::default()
            })
            .collect();
        let header = SlotHeader {
            slot: 1,
            blockhash: Hash::default(),
            parent: 0,
            record_count: 0,
        };
        let mut src = SharedSlotRecords::new(header, records.clone().into(), None);
        assert_eq!(src.header().record_count, 100);
        let mut all = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = src.next_chunk(1000).unwrap() {
            let bytes: usize = chunk.iter().map(AccountRecord::encoded_len).sum();
            assert!(bytes <= 1000);
            all.extend(chunk);
            chunks += 1;
        }
        assert_eq!(all, records);
        assert_eq!(chunks, 20); // 189 bytes per record: 5 per chunk
    }
}
