//! Serving downstream replicas: the replica's own confirmed overlay and retained delta log as a
//! replication source, so replicas chain into trees without touching the validator.

use {
    crate::{
        bank::overlay::OverlaySlot,
        state::{ReplicaState, ServedState},
        store::delta_log::DeltaRecord,
    },
    replication_proto::{
        AccountRecord, SlotConfirmations, SlotHeader, SlotInfo, SlotRecords, SlotSource,
        SlotStatus, SourceError, source::SharedSlotRecords,
    },
    solana_clock::Slot,
    solana_hash::Hash,
    std::sync::Arc,
};

/// Slots listed per confirmation answer; a replica further behind asks again.
const MAX_LISTED_SLOTS: usize = 1024;

#[derive(Debug)]
pub struct ReplicaSource {
    /// Read afresh by each call, so a store loaded anew is served from its first answer on.
    served: Arc<ServedState>,
}

impl ReplicaSource {
    pub fn new(served: Arc<ServedState>) -> Self {
        Self { served }
    }
}

fn first_available_slot(state: &ReplicaState) -> Slot {
    let store = state.store();
    match store.first_delta_slot() {
        Ok(Some(slot)) => slot,
        _ => store.root_slot().unwrap_or_default() + 1,
    }
}

fn record(record: DeltaRecord) -> AccountRecord {
    AccountRecord {
        pubkey: record.pubkey,
        lamports: record.lamports,
        owner: record.owner,
        executable: record.executable,
        rent_epoch: record.rent_epoch,
        data: record.data,
    }
}

fn overlay_records(slot: &OverlaySlot) -> Vec<AccountRecord> {
    slot.accounts
        .iter()
        .map(|(pubkey, account)| match account {
            Some(account) => AccountRecord {
                pubkey: *pubkey,
                lamports: account.lamports,
                owner: account.owner,
                executable: account.executable,
                rent_epoch: account.rent_epoch,
                data: account.data.clone(),
            },
            None => AccountRecord {
                pubkey: *pubkey,
                ..AccountRecord::default()
            },
        })
        .collect()
}

impl SlotSource for ReplicaSource {
    fn confirmations(&self, last_replicated_slot: Slot) -> SlotConfirmations {
        let state = self.served.load();
        let seq = state.change_seq();
        let store = state.store();
        let mut slots: Vec<SlotInfo> =
            match store.delta_slots_after(last_replicated_slot, MAX_LISTED_SLOTS) {
                Ok(headers) => headers
                    .into_iter()
                    .map(|header| SlotInfo {
                        slot: header.meta.slot,
                        parent: header.meta.parent,
                        blockhash: header.meta.blockhash,
                        status: SlotStatus::Rooted,
                        block_height: header.meta.block_height,
                        block_time: header.meta.block_time,
                        executed_transaction_count: header.meta.executed_transaction_count,
                    })
                    .collect(),
                Err(error) => {
                    tracing::warn!(%error, "reading the delta log for confirmations failed");
                    Vec::new()
                }
            };
        let listed_until = slots.last().map_or(last_replicated_slot, |info| info.slot);
        if slots.len() < MAX_LISTED_SLOTS {
            let root = store.root_slot().unwrap_or_default();
            let overlay = state.overlay().read().expect("overlay lock");
            // Under fleet consistency rooted slots wait in the overlay for the fleet; downstream
            // members must still learn that they are rooted.
            let rooted_until = state.node().fleet().rooted_slot().unwrap_or_default();
            if let Some(tip) = overlay.confirmed_tip()
                && let Some(mut chain) = overlay.chain(tip, root)
            {
                chain.reverse();
                slots.extend(
                    chain
                        .iter()
                        .filter(|slot| slot.slot() > listed_until.max(last_replicated_slot))
                        .map(|slot| SlotInfo {
                            slot: slot.meta.slot,
                            parent: slot.meta.parent,
                            blockhash: slot.meta.blockhash,
                            status: if slot.slot() <= rooted_until {
                                SlotStatus::Rooted
                            } else {
                                SlotStatus::Confirmed
                            },
                            block_height: slot.meta.block_height,
                            block_time: slot.meta.block_time,
                            executed_transaction_count: slot.meta.executed_transaction_count,
                        }),
                );
            }
        }
        SlotConfirmations {
            seq,
            first_available_slot: first_available_slot(&state),
            slots,
            fleet: state.node().fleet().announcement(),
        }
    }

    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.served.load().node().subscribe_changes()
    }

    fn report_progress(
        &self,
        peer: &replication_proto::Pubkey,
        progress: replication_proto::FleetProgress,
    ) {
        let state = self.served.load();
        state.node().fleet().report(*peer, progress);
        crate::fleet::refresh(&state);
    }

    fn slot_accounts(
        &self,
        slot: Slot,
        blockhash: &Hash,
    ) -> Result<Box<dyn SlotRecords>, SourceError> {
        let state = self.served.load();
        if let Some(overlay_slot) = state
            .overlay()
            .read()
            .expect("overlay lock")
            .get(slot, blockhash)
            .cloned()
        {
            let header = SlotHeader {
                slot,
                blockhash: *blockhash,
                parent: overlay_slot.meta.parent,
                record_count: 0,
            };
            let records: Arc<[AccountRecord]> = overlay_records(&overlay_slot).into();
            return Ok(Box::new(SharedSlotRecords::new(
                header,
                records,
                overlay_slot.accounts_lt_hash,
            )));
        }
        let store = state.store();
        let internal = |error: crate::store::StoreError| SourceError::Internal(error.to_string());
        match store.delta_slot(slot).map_err(internal)? {
            Some(header) if header.meta.blockhash == *blockhash => Ok(Box::new(DeltaLogRecords {
                state: state.clone(),
                header: SlotHeader {
                    slot,
                    blockhash: *blockhash,
                    parent: header.meta.parent,
                    record_count: header.records,
                },
                chunks: header.chunks,
                next_chunk: 0,
                pending: Vec::new(),
                accounts_lt_hash: header.accounts_lt_hash,
            })),
            Some(_) => Err(SourceError::UnknownSlot {
                slot,
                blockhash: *blockhash,
            }),
            None => {
                let first_available_slot = first_available_slot(&state);
                if slot < first_available_slot {
                    Err(SourceError::SlotUnavailable {
                        first_available_slot,
                    })
                } else {
                    Err(SourceError::UnknownSlot {
                        slot,
                        blockhash: *blockhash,
                    })
                }
            }
        }
    }
}

/// A rooted slot streamed chunk by chunk from the delta log.
struct DeltaLogRecords {
    state: Arc<ReplicaState>,
    header: SlotHeader,
    chunks: u32,
    next_chunk: u32,
    pending: Vec<AccountRecord>,
    accounts_lt_hash: Hash,
}

impl SlotRecords for DeltaLogRecords {
    fn header(&self) -> &SlotHeader {
        &self.header
    }

    fn next_chunk(&mut self, max_bytes: usize) -> Result<Option<Vec<AccountRecord>>, SourceError> {
        let mut out = Vec::new();
        let mut bytes = 0;
        loop {
            if self.pending.is_empty() {
                if self.next_chunk == self.chunks {
                    break;
                }
                let chunk = self
                    .state
                    .store()
                    .delta_chunk(self.header.slot, self.next_chunk)
                    .map_err(|error| SourceError::Internal(error.to_string()))?
                    .ok_or_else(|| SourceError::SlotUnavailable {
                        first_available_slot: self.header.slot + 1,
                    })?;
                self.next_chunk += 1;
                self.pending = chunk.into_iter().rev().map(record).collect();
            }
            let size = self.pending.last().map_or(0, AccountRecord::encoded_len);
            if !out.is_empty() && bytes + size > max_bytes {
                break;
            }
            bytes += size;
            out.push(self.pending.pop().expect("not empty"));
        }
        Ok((!out.is_empty()).then_some(out))
    }

    fn accounts_lt_hash(&self) -> Option<Hash> {
        Some(self.accounts_lt_hash)
    }
}
