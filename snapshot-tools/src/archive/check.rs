//! The checks Agave's snapshot loader (solana-runtime 4.2.2) makes on a bank manifest, and
//! nothing stricter, with errors that name the field.
//!
//! Where Agave makes them, in `bank_from_snapshot_archives` (`snapshot_bank_utils.rs`):
//! - **Capitalization** (`snapshot_bank_utils.rs`, right after `reconstruct_bank_from_fields`):
//!   `bank.capitalization() != info.calculated_capitalization` is
//!   `SnapshotError::MismatchedCapitalization`. The calculated value comes from accounts-db's
//!   `generate_index`: the lamports of every account's newest version over all storages
//!   (older versions subtracted, zero-lamport winners count 0), i.e. the lamports of the
//!   merged live state, [`ChainSummary::lamports`](super::ChainSummary::lamports). Only
//!   ledger-tool's `--limit-load-slot-count-from-snapshot` skips it. See
//!   [`check_capitalization`].
//! - **Epoch stakes** (`verify_epoch_stakes`): the manifest's versioned epoch stakes must hold
//!   every epoch from the bank's epoch up to its leader-schedule epoch, and none beyond.
//! - **Ticks** (`Bank::new_from_snapshot`, an `assert_eq!`): `max_tick_height` must be
//!   `(slot + 1) × ticks_per_slot`.
//! - **Epoch schedule** (`Bank::new_from_snapshot`, an `assert_eq!` against the genesis
//!   config): a genesis schedule is always built by `EpochSchedule::custom`, which requires
//!   `slots_per_epoch ≥ 32` (`MINIMUM_SLOTS_PER_EPOCH`) and derives `first_normal_epoch` and
//!   `first_normal_slot` from `slots_per_epoch` and `warmup`; a manifest schedule that
//!   `custom` cannot produce matches no genesis.
//!
//! Not checked here, because they need what an archive does not carry or are checked
//! elsewhere: the genesis itself (creation time, ticks per slot, the exact schedule), the slot
//! leader recomputed from the vote accounts, the stakes cache against the stake accounts, the
//! status cache, and the accounts lattice hash (that is [`ChainSummary::verify`], the part
//! `--no-verify` skips).
//!
//! [`ChainSummary::verify`]: super::ChainSummary::verify

use {
    super::{manifest::SnapshotManifest, name::Slot},
    solana_epoch_schedule::{EpochSchedule as AgaveEpochSchedule, MINIMUM_SLOTS_PER_EPOCH},
    std::ops::RangeInclusive,
};

/// A manifest check that failed; each variant names the manifest field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestCheckError {
    /// The manifest's capitalization is not the lamports of the accounts (Agave:
    /// `MismatchedCapitalization`).
    #[error(
        "capitalization: the manifest says {manifest} lamports, the accounts hold {accounts} (Agave refuses this: MismatchedCapitalization)"
    )]
    Capitalization {
        /// `capitalization` in the manifest.
        manifest: u64,
        /// Lamports of the merged live accounts.
        accounts: u64,
    },
    /// `epoch_schedule.slots_per_epoch` below Agave's minimum.
    #[error(
        "epoch_schedule.slots_per_epoch: {slots_per_epoch} is below Agave's minimum of {MINIMUM_SLOTS_PER_EPOCH}"
    )]
    SlotsPerEpoch {
        /// The manifest's value.
        slots_per_epoch: u64,
    },
    /// `epoch_schedule.first_normal_epoch` / `first_normal_slot` are not what
    /// `EpochSchedule::custom` derives from `slots_per_epoch` and `warmup`.
    #[error(
        "epoch_schedule.first_normal_epoch/first_normal_slot: the manifest says {found_epoch}/{found_slot}, but slots_per_epoch {slots_per_epoch} with warmup {warmup} gives {expected_epoch}/{expected_slot}"
    )]
    FirstNormal {
        /// `slots_per_epoch`.
        slots_per_epoch: u64,
        /// `warmup`.
        warmup: bool,
        /// The manifest's `first_normal_epoch`.
        found_epoch: u64,
        /// The manifest's `first_normal_slot`.
        found_slot: u64,
        /// What `EpochSchedule::custom` computes.
        expected_epoch: u64,
        /// What `EpochSchedule::custom` computes.
        expected_slot: u64,
    },
    /// `max_tick_height` is not `(slot + 1) × ticks_per_slot`.
    #[error(
        "max_tick_height: the manifest says {found}, but (slot {slot} + 1) × ticks_per_slot {ticks_per_slot} is {}",
        expected.map_or("beyond u64".to_string(), |value| value.to_string())
    )]
    MaxTickHeight {
        /// The manifest's value.
        found: u64,
        /// The bank slot.
        slot: Slot,
        /// `ticks_per_slot`.
        ticks_per_slot: u64,
        /// `(slot + 1) × ticks_per_slot`, `None` if it overflows.
        expected: Option<u64>,
    },
    /// `versioned_epoch_stakes` lacks an epoch Agave requires.
    #[error(
        "versioned_epoch_stakes: no stakes for epoch {missing}; slot {slot} needs epochs {first}..={last}"
    )]
    EpochStakesMissing {
        /// The first required epoch without stakes.
        missing: u64,
        /// The bank slot.
        slot: Slot,
        /// The bank's epoch.
        first: u64,
        /// Its leader-schedule epoch.
        last: u64,
    },
    /// `versioned_epoch_stakes` holds an epoch beyond the leader-schedule epoch.
    #[error(
        "versioned_epoch_stakes: stakes for epoch {epoch}, beyond slot {slot}'s leader-schedule epoch {last}"
    )]
    EpochStakesBeyond {
        /// The offending epoch.
        epoch: u64,
        /// The bank slot.
        slot: Slot,
        /// The leader-schedule epoch.
        last: u64,
    },
}

/// `first_normal_epoch` and `first_normal_slot` as `EpochSchedule::custom` derives them: with
/// warmup, epochs start at 32 slots and double up to `slots_per_epoch` rounded up to a power of
/// two; without, there is no warmup period. `None` if no `u64` schedule has that many slots.
pub fn first_normal(slots_per_epoch: u64, warmup: bool) -> Option<(u64, Slot)> {
    if !warmup {
        return Some((0, 0));
    }
    let rounded = slots_per_epoch.checked_next_power_of_two()?;
    let epoch = rounded
        .trailing_zeros()
        .saturating_sub(MINIMUM_SLOTS_PER_EPOCH.trailing_zeros());
    Some((
        u64::from(epoch),
        rounded.saturating_sub(MINIMUM_SLOTS_PER_EPOCH),
    ))
}

impl SnapshotManifest {
    /// Agave's epoch-schedule type for this manifest, once [`validate`](Self::validate) (or at
    /// least its schedule check) has passed.
    fn agave_epoch_schedule(&self) -> AgaveEpochSchedule {
        let schedule = &self.epoch_schedule;
        AgaveEpochSchedule {
            slots_per_epoch: schedule.slots_per_epoch,
            leader_schedule_slot_offset: schedule.leader_schedule_slot_offset,
            warmup: schedule.warmup,
            first_normal_epoch: schedule.first_normal_epoch,
            first_normal_slot: schedule.first_normal_slot,
        }
    }

    /// Agave's epoch schedule of this manifest, if it is one Agave accepts.
    pub(crate) fn epoch_schedule_checked(&self) -> Option<AgaveEpochSchedule> {
        self.check_epoch_schedule().ok()?;
        Some(self.agave_epoch_schedule())
    }

    fn check_epoch_schedule(&self) -> Result<(), ManifestCheckError> {
        let schedule = &self.epoch_schedule;
        if schedule.slots_per_epoch < MINIMUM_SLOTS_PER_EPOCH {
            return Err(ManifestCheckError::SlotsPerEpoch {
                slots_per_epoch: schedule.slots_per_epoch,
            });
        }
        let expected = first_normal(schedule.slots_per_epoch, schedule.warmup);
        if expected != Some((schedule.first_normal_epoch, schedule.first_normal_slot)) {
            let (expected_epoch, expected_slot) = expected.unwrap_or((u64::MAX, u64::MAX));
            return Err(ManifestCheckError::FirstNormal {
                slots_per_epoch: schedule.slots_per_epoch,
                warmup: schedule.warmup,
                found_epoch: schedule.first_normal_epoch,
                found_slot: schedule.first_normal_slot,
                expected_epoch,
                expected_slot,
            });
        }
        Ok(())
    }

    /// The epochs whose stakes Agave requires in the manifest: from the bank's epoch up to its
    /// leader-schedule epoch (in practice two). `None` if the epoch schedule is invalid.
    pub fn required_stake_epochs(&self) -> Option<RangeInclusive<u64>> {
        self.check_epoch_schedule().ok()?;
        let schedule = self.agave_epoch_schedule();
        Some(schedule.get_epoch(self.slot)..=schedule.get_leader_schedule_epoch(self.slot))
    }

    /// The checks Agave's loader makes that need only the manifest (see the module
    /// documentation): epoch schedule, `max_tick_height`, epoch stakes. The first failure is
    /// returned.
    pub fn validate(&self) -> Result<(), ManifestCheckError> {
        self.check_epoch_schedule()?;
        let expected = self
            .slot
            .checked_add(1)
            .and_then(|slots| slots.checked_mul(self.ticks_per_slot));
        if expected != Some(self.max_tick_height) {
            return Err(ManifestCheckError::MaxTickHeight {
                found: self.max_tick_height,
                slot: self.slot,
                ticks_per_slot: self.ticks_per_slot,
                expected,
            });
        }
        let required = self
            .required_stake_epochs()
            .expect("the epoch schedule was checked above");
        let (first, last) = (*required.start(), *required.end());
        if let Some(&(epoch, _)) = self
            .epoch_total_stakes
            .iter()
            .find(|(epoch, _)| *epoch > last)
        {
            return Err(ManifestCheckError::EpochStakesBeyond {
                epoch,
                slot: self.slot,
                last,
            });
        }
        if let Some(missing) = required.clone().find(|epoch| {
            !self
                .epoch_total_stakes
                .iter()
                .any(|(stakes_epoch, _)| stakes_epoch == epoch)
        }) {
            return Err(ManifestCheckError::EpochStakesMissing {
                missing,
                slot: self.slot,
                first,
                last,
            });
        }
        Ok(())
    }
}

/// Agave's capitalization check: the manifest's `capitalization` must equal the lamports of the
/// merged live accounts (`lamport_sum`, e.g. [`ChainSummary::lamports`]).
///
/// The genuine fixture `snapshot-1-28uu…` fails it, and Agave 4.2.2 refuses that archive on
/// its own too: its accounts hold 5,000,000,000 lamports more than its capitalization. The
/// fixture generator stored the 3-byte data account (5 SOL, in storage `accounts/0.0`) with
/// `Bank::store_account`, a test helper that writes an account without updating the bank's
/// capitalization (`store_account_and_update_capitalization` does both); the manifest's
/// `accounts_data_len` misses its 3 bytes for the same reason. No builtin, incinerator or
/// rent is involved: every account of the archive is counted on both sides. Slot 2 deletes
/// the account again (also without touching capitalization), so the incremental 1→2 and the
/// slot-2 full archive agree with their capitalization and load.
///
/// [`ChainSummary::lamports`]: super::ChainSummary::lamports
pub fn check_capitalization(
    manifest: &SnapshotManifest,
    lamport_sum: u64,
) -> Result<(), ManifestCheckError> {
    if manifest.capitalization != lamport_sum {
        return Err(ManifestCheckError::Capitalization {
            manifest: manifest.capitalization,
            accounts: lamport_sum,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use {super::*, crate::archive::manifest::EpochSchedule};

    fn manifest(slot: Slot, schedule: EpochSchedule) -> SnapshotManifest {
        let mut manifest = SnapshotManifest::new(slot, slot.saturating_sub(1), 0);
        manifest.epoch_schedule = schedule;
        manifest.epoch_total_stakes = manifest
            .required_stake_epochs()
            .map(|epochs| epochs.map(|epoch| (epoch, 1)).collect())
            .unwrap_or_default();
        manifest
    }

    fn custom(slots_per_epoch: u64, warmup: bool) -> EpochSchedule {
        let agave = AgaveEpochSchedule::custom(slots_per_epoch, slots_per_epoch, warmup);
        EpochSchedule {
            slots_per_epoch: agave.slots_per_epoch,
            leader_schedule_slot_offset: agave.leader_schedule_slot_offset,
            warmup: agave.warmup,
            first_normal_epoch: agave.first_normal_epoch,
            first_normal_slot: agave.first_normal_slot,
        }
    }

    #[test]
    fn first_normal_matches_agave_custom() {
        for slots_per_epoch in (32..=5_000).chain([8_192, 432_000, 1 << 40, (1 << 63) - 5]) {
            for warmup in [false, true] {
                let agave = AgaveEpochSchedule::custom(slots_per_epoch, 1, warmup);
                assert_eq!(
                    first_normal(slots_per_epoch, warmup),
                    Some((agave.first_normal_epoch, agave.first_normal_slot)),
                    "{slots_per_epoch} {warmup}"
                );
            }
        }
        assert_eq!(first_normal((1 << 63) + 1, true), None);
    }

    #[test]
    fn schedules_agave_builds_pass() {
        for (slots_per_epoch, warmup) in [(432_000, false), (432_000, true), (32, true), (33, true)]
        {
            for slot in [0, 1, 31, 32, 100, 524_255, 524_256, 10_000_000] {
                let manifest = manifest(slot, custom(slots_per_epoch, warmup));
                assert_eq!(
                    manifest.validate(),
                    Ok(()),
                    "{slots_per_epoch} {warmup} {slot}"
                );
            }
        }
        // SnapshotManifest::new (what the synthetic archives use) passes as it is.
        for slot in [0, 1, 1_000, 431_999, 432_000, 10_000_000] {
            assert_eq!(SnapshotManifest::new(slot, 0, 0).validate(), Ok(()));
        }
    }

    #[test]
    fn each_check_names_its_field() {
        let good = manifest(1_000, custom(432_000, true));
        assert_eq!(good.validate(), Ok(()));

        let mut bad = good.clone();
        bad.epoch_schedule.slots_per_epoch = 31;
        let error = bad.validate().unwrap_err();
        assert!(matches!(
            error,
            ManifestCheckError::SlotsPerEpoch {
                slots_per_epoch: 31
            }
        ));
        assert!(
            error
                .to_string()
                .starts_with("epoch_schedule.slots_per_epoch"),
            "{error}"
        );

        let mut bad = good.clone();
        bad.epoch_schedule.first_normal_slot += 1;
        let error = bad.validate().unwrap_err();
        assert!(
            matches!(error, ManifestCheckError::FirstNormal { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("first_normal_slot"), "{error}");

        let mut bad = good.clone();
        bad.epoch_schedule.warmup = false;
        assert!(matches!(
            bad.validate(),
            Err(ManifestCheckError::FirstNormal {
                expected_epoch: 0,
                expected_slot: 0,
                ..
            })
        ));

        let mut bad = good.clone();
        bad.max_tick_height += 1;
        let error = bad.validate().unwrap_err();
        assert!(matches!(error, ManifestCheckError::MaxTickHeight { .. }));
        assert!(error.to_string().starts_with("max_tick_height"), "{error}");
        bad.slot = u64::MAX;
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("beyond u64")
        );

        // Slot 1,000 of a warmup schedule is in epoch 5 (epochs of 32, 64, ... slots).
        assert_eq!(good.required_stake_epochs(), Some(5..=6));
        let mut bad = good.clone();
        bad.epoch_total_stakes.retain(|(epoch, _)| *epoch != 6);
        let error = bad.validate().unwrap_err();
        assert_eq!(
            error,
            ManifestCheckError::EpochStakesMissing {
                missing: 6,
                slot: 1_000,
                first: 5,
                last: 6
            }
        );
        assert!(
            error.to_string().starts_with("versioned_epoch_stakes"),
            "{error}"
        );

        let mut bad = good.clone();
        bad.epoch_total_stakes.push((7, 5));
        assert!(matches!(
            bad.validate(),
            Err(ManifestCheckError::EpochStakesBeyond {
                epoch: 7,
                last: 6,
                ..
            })
        ));
        // Older epochs are allowed (Agave keeps a few).
        let mut older = good.clone();
        older.epoch_total_stakes.push((0, 5));
        assert_eq!(older.validate(), Ok(()));

        assert_eq!(check_capitalization(&good, 0), Ok(()));
        let error = check_capitalization(&good, 5).unwrap_err();
        assert_eq!(
            error,
            ManifestCheckError::Capitalization {
                manifest: 0,
                accounts: 5
            }
        );
        assert!(error.to_string().starts_with("capitalization"), "{error}");
    }
}
