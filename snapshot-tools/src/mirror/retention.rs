//! Which archives a mirror deletes, without I/O: keep the newest `retain_fulls` full
//! snapshots (by slot; every format of a kept slot stays) and, for each kept full, its newest
//! `retain_incrementals` incrementals. A deleted full takes its incrementals with it, and an
//! incremental whose full is absent is useless and goes too. `retain_fulls == 0` keeps all.

use {
    crate::archive::{ArchiveName, Slot},
    std::collections::{BTreeSet, HashMap},
};

pub fn to_delete(
    names: &[ArchiveName],
    retain_fulls: usize,
    retain_incrementals: usize,
) -> Vec<ArchiveName> {
    if retain_fulls == 0 {
        return Vec::new();
    }
    let full_slots: BTreeSet<Slot> = names
        .iter()
        .filter(|name| name.is_full())
        .map(|name| name.slot)
        .collect();
    let kept: BTreeSet<Slot> = full_slots
        .iter()
        .rev()
        .take(retain_fulls)
        .copied()
        .collect();
    // Incremental slots per kept base, newest first.
    let mut incrementals: HashMap<Slot, BTreeSet<Slot>> = HashMap::new();
    for name in names {
        if let Some(base) = name.base_slot()
            && kept.contains(&base)
        {
            incrementals.entry(base).or_default().insert(name.slot);
        }
    }
    let kept_incrementals: BTreeSet<(Slot, Slot)> = incrementals
        .iter()
        .flat_map(|(base, slots)| {
            slots
                .iter()
                .rev()
                .take(retain_incrementals)
                .map(move |slot| (*base, *slot))
        })
        .collect();
    let mut delete: Vec<ArchiveName> = names
        .iter()
        .filter(|name| match name.base_slot() {
            None => !kept.contains(&name.slot),
            Some(base) => !kept_incrementals.contains(&(base, name.slot)),
        })
        .copied()
        .collect();
    delete.sort_by(crate::catalog::best_first);
    delete
}

#[cfg(test)]
mod tests {
    use {super::*, crate::archive::ArchiveFormat, solana_hash::Hash};

    fn full(slot: Slot) -> ArchiveName {
        ArchiveName::full(
            slot,
            Hash::new_from_array([slot as u8; 32]),
            ArchiveFormat::TarZstd,
        )
    }

    fn incremental(base: Slot, slot: Slot) -> ArchiveName {
        ArchiveName::incremental(
            base,
            slot,
            Hash::new_from_array([slot as u8; 32]),
            ArchiveFormat::TarZstd,
        )
    }

    #[test]
    fn keeps_newest_fulls_and_their_newest_incrementals() {
        let names = vec![
            full(100),
            incremental(100, 110),
            full(200),
            incremental(200, 210),
            incremental(200, 220),
            incremental(200, 230),
            full(300),
            incremental(300, 310),
            incremental(150, 160),
        ];
        let mut deleted = to_delete(&names, 2, 2);
        deleted.sort_by_key(|name| (name.slot, name.base_slot()));
        assert_eq!(
            deleted,
            vec![
                full(100),
                incremental(100, 110),
                incremental(150, 160),
                incremental(200, 210)
            ]
        );
        assert!(to_delete(&names, 0, 1).is_empty());
        assert_eq!(to_delete(&names, 10, 10), vec![incremental(150, 160)]);
    }
}
