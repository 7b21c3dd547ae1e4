//! Delivering a bank's notifications to a plugin exactly as agave-validator does: account
//! writes as `ReplicaAccountInfoV3` (`is_startup` false, global write versions), `CreatedBank`
//! after the parent-derived sysvar writes, block metadata as `ReplicaBlockInfoV4` once frozen,
//! then statuses.

use {
    super::state::SimAccount,
    agave_geyser_plugin_interface::geyser_plugin_interface::{
        GeyserPlugin, GeyserPluginError, ReplicaAccountInfoV3, ReplicaAccountInfoVersions,
        ReplicaBlockInfoV4, ReplicaBlockInfoVersions, SlotStatus,
    },
    rand::Rng,
    rand_chacha::ChaCha8Rng,
    replication_proto::{Hash, Pubkey, Slot},
    solana_transaction_status::RewardsAndNumPartitions,
};

/// One notification, in delivery order.
#[derive(Clone, Debug)]
pub(super) enum Note {
    Account {
        slot: Slot,
        pubkey: Pubkey,
        account: SimAccount,
        /// The bank's last write of the account (what its state keeps).
        last: bool,
    },
    Status {
        slot: Slot,
        parent: Option<Slot>,
        status: SlotStatus,
    },
    Block {
        slot: Slot,
        parent: Slot,
        parent_blockhash: Hash,
        blockhash: Hash,
        block_height: u64,
        block_time: i64,
        transactions: u64,
    },
}

/// The last write of each account by the bank of `slot`: the versions its state keeps.
pub(super) fn last_writes(
    notes: &[Note],
    slot: Slot,
) -> impl Iterator<Item = (&Pubkey, &SimAccount)> {
    notes.iter().filter_map(move |note| match note {
        Note::Account {
            slot: written,
            pubkey,
            account,
            last: true,
        } if *written == slot => Some((pubkey, account)),
        _ => None,
    })
}

/// [`last_writes`], taken out of the notes.
pub(super) fn into_last_writes(
    notes: Vec<Note>,
    slot: Slot,
) -> impl Iterator<Item = (Pubkey, SimAccount)> {
    notes.into_iter().filter_map(move |note| match note {
        Note::Account {
            slot: written,
            pubkey,
            account,
            last: true,
        } if written == slot => Some((pubkey, account)),
        _ => None,
    })
}

/// Merges two banks' notifications at random, keeping each bank's own order (two replay
/// threads working at once).
pub(super) fn interleave(rng: &mut ChaCha8Rng, a: Vec<Note>, b: Vec<Note>) -> Vec<Note> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        match (a.peek().is_some(), b.peek().is_some()) {
            (false, false) => break,
            (true, false) => out.extend(a.by_ref()),
            (false, true) => out.extend(b.by_ref()),
            (true, true) => {
                let next = if rng.random_bool(0.5) {
                    a.next()
                } else {
                    b.next()
                };
                out.extend(next);
            }
        }
    }
    out
}

/// Sends notifications to the plugin; `write_version` is the validator's global counter.
pub(super) fn deliver(
    plugin: &dyn GeyserPlugin,
    notes: &[Note],
    write_version: &mut u64,
) -> Result<(), GeyserPluginError> {
    let accounts = plugin.account_data_notifications_enabled();
    for note in notes {
        match note {
            Note::Account {
                slot,
                pubkey,
                account,
                ..
            } => {
                *write_version += 1;
                if !accounts {
                    continue;
                }
                let info = ReplicaAccountInfoV3 {
                    pubkey: pubkey.as_ref(),
                    lamports: account.lamports,
                    owner: account.owner.as_ref(),
                    executable: account.executable,
                    rent_epoch: account.rent_epoch,
                    data: &account.data,
                    write_version: *write_version,
                    txn: None,
                };
                plugin.update_account(ReplicaAccountInfoVersions::V0_0_3(&info), *slot, false)?;
            }
            Note::Status {
                slot,
                parent,
                status,
            } => plugin.update_slot_status(*slot, *parent, status)?,
            Note::Block {
                slot,
                parent,
                parent_blockhash,
                blockhash,
                block_height,
                block_time,
                transactions,
            } => {
                let rewards = RewardsAndNumPartitions {
                    rewards: Vec::new(),
                    num_partitions: None,
                };
                let (parent_blockhash, blockhash) =
                    (parent_blockhash.to_string(), blockhash.to_string());
                let info = ReplicaBlockInfoV4 {
                    parent_slot: *parent,
                    parent_blockhash: &parent_blockhash,
                    slot: *slot,
                    blockhash: &blockhash,
                    rewards: &rewards,
                    block_time: Some(*block_time),
                    block_height: Some(*block_height),
                    executed_transaction_count: *transactions,
                    entry_count: 64,
                };
                plugin.notify_block_metadata(ReplicaBlockInfoVersions::V0_0_4(&info))?;
            }
        }
    }
    Ok(())
}

/// Startup: the snapshot's accounts (only if the plugin wants them), then end of startup.
pub(super) fn deliver_startup(
    plugin: &dyn GeyserPlugin,
    slot: Slot,
    accounts: &[(Pubkey, SimAccount)],
    write_version: &mut u64,
) -> Result<(), GeyserPluginError> {
    if plugin.account_data_notifications_enabled()
        && plugin.account_data_snapshot_notifications_enabled()
    {
        for (pubkey, account) in accounts {
            let info = ReplicaAccountInfoV3 {
                pubkey: pubkey.as_ref(),
                lamports: account.lamports,
                owner: account.owner.as_ref(),
                executable: account.executable,
                rent_epoch: account.rent_epoch,
                data: &account.data,
                write_version: 0,
                txn: None,
            };
            plugin.update_account(ReplicaAccountInfoVersions::V0_0_3(&info), slot, true)?;
        }
    }
    *write_version += 1;
    plugin.notify_end_of_startup()
}
