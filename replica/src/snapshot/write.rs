//! Writing the replica's own snapshot archives from one consistent store view: a full archive of
//! every account, or an incremental one of the accounts written (or deleted) since a base full
//! snapshot, taken from the retained delta log. The archive's name and manifest carry the whole
//! state's lattice hash, so any reader can verify it.

use {
    crate::store::{AccountsStore, BankFields, StoreError, delta_log::DeltaRecord},
    snapshot_tools::archive::{
        AccountRecord, ArchiveFormat, ArchiveKind, ArchiveWriter, SnapshotManifest,
        manifest::{BlockhashEntry, BlockhashQueue},
        writer::WriteError,
    },
    solana_clock::Slot,
    solana_pubkey::Pubkey,
    std::{
        collections::BTreeMap,
        ops::ControlFlow,
        path::{Path, PathBuf},
    },
};

/// Accounts go into storages of at most this many bytes, each under its own slot (counting
/// down from the snapshot slot), since Agave allows one storage per slot and 16 GiB per storage.
const STORAGE_BYTES: u64 = 4 << 30;
/// Slots of blockhashes put into the manifest's queue.
const BLOCKHASH_QUEUE_SLOTS: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotWriteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("the store has no bank information from a bootstrap snapshot")]
    NoBankInfo,
    #[error("the delta log does not cover slots {from}..={to} (it starts at {first:?})")]
    DeltaLogGap {
        from: Slot,
        to: Slot,
        first: Option<Slot>,
    },
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenSnapshot {
    pub path: PathBuf,
    pub slot: Slot,
    pub base_slot: Option<Slot>,
    pub accounts: u64,
}

fn manifest(
    store: &AccountsStore,
    bank: &BankFields,
    slot: Slot,
    capitalization: u64,
) -> Result<SnapshotManifest, StoreError> {
    let meta = store.slot_meta(slot)?;
    let mut manifest = SnapshotManifest::from_bank_fields(
        slot,
        meta.map_or(slot.saturating_sub(1), |meta| meta.parent),
        capitalization,
        bank,
    );
    manifest.block_height = meta.and_then(|meta| meta.block_height).unwrap_or(slot);
    // The running count where this replica knows it (else the bootstrap snapshot's).
    if let Some(count) = meta.and_then(|meta| meta.transaction_count) {
        manifest.transaction_count = count;
    }
    manifest.epoch_total_stakes = covering_stakes(&manifest);
    // The blockhash queue: the newest rooted slots' blockhashes, newest with the highest index.
    let recent: Vec<_> = store
        .recent_slots(BLOCKHASH_QUEUE_SLOTS)?
        .into_iter()
        .filter(|meta| meta.slot <= slot)
        .collect();
    let newest_index = recent.len() as u64;
    let entries: Vec<BlockhashEntry> = recent
        .iter()
        .enumerate()
        .map(|(age, meta)| BlockhashEntry {
            hash: meta.blockhash,
            lamports_per_signature: bank.lamports_per_signature,
            hash_index: newest_index - age as u64,
            timestamp: meta.block_time.unwrap_or_default().max(0) as u64,
        })
        .collect();
    manifest.blockhash_queue = BlockhashQueue {
        last_hash_index: newest_index,
        last_hash: recent.first().map(|meta| meta.blockhash),
        entries,
        max_age: BLOCKHASH_QUEUE_SLOTS as u64,
    };
    Ok(manifest)
}

/// Epoch stakes for exactly the epochs Agave's loader requires of a bank at the manifest's
/// slot (its epoch through its leader-schedule epoch): the known totals, and for epochs the
/// bootstrap snapshot did not know, the newest total before them.
fn covering_stakes(manifest: &SnapshotManifest) -> Vec<(u64, u64)> {
    let Some(required) = manifest.required_stake_epochs() else {
        return manifest.epoch_total_stakes.clone();
    };
    let known = &manifest.epoch_total_stakes;
    required
        .map(|epoch| {
            let total = known
                .iter()
                .filter(|(known_epoch, _)| *known_epoch <= epoch)
                .max_by_key(|(known_epoch, _)| *known_epoch)
                .or_else(|| known.iter().min_by_key(|(known_epoch, _)| *known_epoch))
                .map_or(0, |(_, total)| *total);
            (epoch, total)
        })
        .collect()
}

/// Hands records to the writer, opening a new storage (one slot lower) every `STORAGE_BYTES`.
struct StorageSpreader {
    writer: ArchiveWriter,
    slot: Slot,
    lowest: Slot,
    bytes: u64,
}

impl StorageSpreader {
    fn push(&mut self, record: &AccountRecord<'_>) -> Result<(), WriteError> {
        let size = 136 + record.data.len() as u64;
        if self.bytes > 0 && self.bytes + size > STORAGE_BYTES && self.slot > self.lowest {
            self.slot -= 1;
            self.bytes = 0;
        }
        self.bytes += size;
        self.writer.push(&AccountRecord {
            slot: self.slot,
            ..*record
        })
    }
}

/// Writes a full archive of the store's current root into `dir`.
pub fn write_full(
    store: &AccountsStore,
    dir: &Path,
    format: ArchiveFormat,
) -> Result<WrittenSnapshot, SnapshotWriteError> {
    let bank = store.bank_fields()?.ok_or(SnapshotWriteError::NoBankInfo)?;
    let view = store.view();
    let root = view.root_state()?;
    let mut spreader = StorageSpreader {
        writer: ArchiveWriter::new(dir, ArchiveKind::Full, root.slot, format),
        slot: root.slot,
        lowest: 0,
        bytes: 0,
    };
    let mut failure = None;
    let _ = view.scan(|pubkey, account| {
        let record = AccountRecord {
            pubkey: *pubkey,
            slot: root.slot,
            lamports: account.lamports(),
            rent_epoch: account.rent_epoch(),
            owner: account.owner(),
            executable: account.executable(),
            data: account.data(),
        };
        match spreader.push(&record) {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => {
                failure = Some(error);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(error) = failure {
        return Err(error.into());
    }
    let accounts = spreader.writer.pushed_accounts();
    let manifest = manifest(store, &bank, root.slot, root.capitalization)?;
    let path = spreader.writer.finish(manifest, &root.lt_hash)?;
    Ok(WrittenSnapshot {
        path,
        slot: root.slot,
        base_slot: None,
        accounts,
    })
}

/// Writes an incremental archive on top of the full snapshot at `base_slot`: the final version
/// of every account written in slots `base_slot+1..=root`, deletions as tombstones.
pub fn write_incremental(
    store: &AccountsStore,
    dir: &Path,
    base_slot: Slot,
    format: ArchiveFormat,
) -> Result<WrittenSnapshot, SnapshotWriteError> {
    let bank = store.bank_fields()?.ok_or(SnapshotWriteError::NoBankInfo)?;
    let view = store.view();
    let root = view.root_state()?;
    let mut changed: BTreeMap<Pubkey, DeltaRecord> = BTreeMap::new();
    let first = store.first_delta_slot()?;
    if first.is_none_or(|first| first > base_slot + 1) && root.slot > base_slot {
        // Slots after the base may have been empty-skipped, but the oldest retained slot must
        // not be newer than the first slot after the base that exists.
        let covered = match first {
            Some(first) => store
                .slot_meta(first)?
                .is_some_and(|meta| meta.parent <= base_slot),
            None => false,
        };
        if !covered {
            return Err(SnapshotWriteError::DeltaLogGap {
                from: base_slot + 1,
                to: root.slot,
                first,
            });
        }
    }
    for slot in base_slot + 1..=root.slot {
        let Some(header) = view.delta_slot(slot)? else {
            continue;
        };
        for chunk in 0..header.chunks {
            let records =
                view.delta_chunk(slot, chunk)?
                    .ok_or(SnapshotWriteError::DeltaLogGap {
                        from: slot,
                        to: slot,
                        first,
                    })?;
            for record in records {
                changed.insert(record.pubkey, record);
            }
        }
    }
    let mut spreader = StorageSpreader {
        writer: ArchiveWriter::new(
            dir,
            ArchiveKind::Incremental { base_slot },
            root.slot,
            format,
        ),
        slot: root.slot,
        lowest: base_slot + 1,
        bytes: 0,
    };
    for (pubkey, record) in &changed {
        spreader.push(&AccountRecord {
            pubkey: *pubkey,
            slot: root.slot,
            lamports: record.lamports,
            rent_epoch: record.rent_epoch,
            owner: record.owner,
            executable: record.executable,
            data: &record.data,
        })?;
    }
    let accounts = spreader.writer.pushed_accounts();
    let manifest = manifest(store, &bank, root.slot, root.capitalization)?;
    let path = spreader.writer.finish(manifest, &root.lt_hash)?;
    Ok(WrittenSnapshot {
        path,
        slot: root.slot,
        base_slot: Some(base_slot),
        accounts,
    })
}
