//! Writing the replica's own snapshot archives from one consistent store view: a full archive of
//! every account, or an incremental one of the accounts written (or deleted) since a base full
//! snapshot, taken from the retained delta log. The archive's name and manifest carry the whole
//! state's lattice hash, so any reader can verify it.

use {
    super::bank::{collect_stakes, empty_stakes, manifest, status_roots},
    crate::store::{AccountsStore, StoreError, delta_log::DeltaRecord},
    snapshot_tools::archive::{
        AccountRecord, ArchiveFormat, ArchiveKind, ArchiveWriter,
        stakes::{STAKE_PROGRAM, VOTE_PROGRAM},
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
    let mut stakes = empty_stakes(&view, &bank, root.slot)?;
    let mut spreader = StorageSpreader {
        writer: ArchiveWriter::new(dir, ArchiveKind::Full, root.slot, format)
            .with_status_cache_roots(status_roots(&view, root.slot)?),
        slot: root.slot,
        lowest: 0,
        bytes: 0,
    };
    let mut failure = None;
    let mut data_len = 0u64;
    let _ = view.scan(|pubkey, account| {
        data_len += account.data().len() as u64;
        let owner = account.owner();
        if owner == VOTE_PROGRAM || owner == STAKE_PROGRAM {
            stakes.offer(
                pubkey,
                account.lamports(),
                &owner,
                account.executable(),
                account.rent_epoch(),
                account.data(),
            );
        }
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
    let mut manifest = manifest(
        store,
        &bank,
        root.slot,
        root.capitalization,
        stakes.finish(),
        &root.lt_hash,
    )?;
    manifest.accounts_data_len = data_len;
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
        )
        .with_status_cache_roots(status_roots(&view, root.slot)?),
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
    let stakes = collect_stakes(&view, empty_stakes(&view, &bank, root.slot)?)?;
    let manifest = manifest(
        store,
        &bank,
        root.slot,
        root.capitalization,
        stakes,
        &root.lt_hash,
    )?;
    let path = spreader.writer.finish(manifest, &root.lt_hash)?;
    Ok(WrittenSnapshot {
        path,
        slot: root.slot,
        base_slot: Some(base_slot),
        accounts,
    })
}
