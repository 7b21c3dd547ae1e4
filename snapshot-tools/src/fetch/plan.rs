//! Deciding what to fetch, without I/O.
//!
//! - No remote chain: up to date if there is a local chain, else nothing to fetch.
//! - The best remote slot is fewer than `min_slots` above the local chain: up to date.
//! - Otherwise candidates are the chains within `max_slots` of the best remote slot (a source
//!   lagging further behind is ignored) and at least `min_slots` above the local chain,
//!   ordered by slot, then how many sources agree on the head state, then whether the local
//!   full can be reused (only the incremental to download), then the sources' own order.

use {super::source::RemoteChain, crate::archive::Slot, solana_hash::Hash};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Keep the local chain.
    UpToDate,
    /// Nothing local and nothing remote.
    NothingAvailable,
    /// Try these chains (indices into the remote chains), in order.
    Fetch(Vec<usize>),
}

pub fn plan(
    local_slot: Option<Slot>,
    has_local_full: impl Fn(Slot, &Hash) -> bool,
    chains: &[RemoteChain],
    min_slots: u64,
    max_slots: u64,
) -> Plan {
    let Some(best) = chains.iter().map(|chain| chain.slot).max() else {
        return match local_slot {
            Some(_) => Plan::UpToDate,
            None => Plan::NothingAvailable,
        };
    };
    let floor = match local_slot {
        Some(local) if best < local.saturating_add(min_slots.max(1)) => return Plan::UpToDate,
        Some(local) => local.saturating_add(min_slots.max(1)),
        None => 0,
    };
    let lowest = best.saturating_sub(max_slots).max(floor);
    let mut candidates: Vec<usize> = (0..chains.len())
        .filter(|&at| chains[at].slot >= lowest)
        .collect();
    candidates.sort_by_key(|&at| {
        let chain = &chains[at];
        let needs_full = !has_local_full(chain.full.0, &chain.full.1);
        (
            std::cmp::Reverse(chain.slot),
            std::cmp::Reverse(chain.agreement),
            needs_full,
            chain.first_seen,
        )
    });
    Plan::Fetch(candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(slot: Slot, full_slot: Slot, agreement: usize, first_seen: usize) -> RemoteChain {
        RemoteChain {
            slot,
            hash: Hash::new_from_array([slot as u8; 32]),
            full: (full_slot, Hash::new_from_array([full_slot as u8; 32])),
            incremental: (slot != full_slot)
                .then(|| (slot, Hash::new_from_array([slot as u8; 32]))),
            full_offers: Vec::new(),
            incremental_offers: Vec::new(),
            agreement,
            first_seen,
        }
    }

    #[test]
    fn up_to_date_and_nothing() {
        assert_eq!(
            plan(None, |_, _| false, &[], 500, 10_000),
            Plan::NothingAvailable
        );
        assert_eq!(
            plan(Some(5), |_, _| false, &[], 500, 10_000),
            Plan::UpToDate
        );
        let chains = [chain(1_400, 1_400, 1, 0)];
        assert_eq!(
            plan(Some(1_000), |_, _| false, &chains, 500, 10_000),
            Plan::UpToDate
        );
        assert_eq!(
            plan(Some(1_000), |_, _| false, &chains, 400, 10_000),
            Plan::Fetch(vec![0])
        );
        // min_slots 0 still needs a newer slot.
        assert_eq!(
            plan(Some(1_400), |_, _| false, &chains, 0, 10_000),
            Plan::UpToDate
        );
    }

    #[test]
    fn orders_and_bounds_candidates() {
        let chains = [
            chain(20_000, 19_000, 1, 0),
            chain(20_000, 10_000, 1, 1),
            chain(20_000, 20_000, 2, 2),
            chain(15_000, 15_000, 5, 3),
            chain(9_000, 9_000, 9, 4),
        ];
        // The local full at 10,000 makes chain 1 cheaper than chain 0; chain 2 has agreement.
        let has_full = |slot: Slot, _: &Hash| slot == 10_000;
        assert_eq!(
            plan(None, has_full, &chains, 500, 10_000),
            Plan::Fetch(vec![2, 1, 0, 3])
        );
        assert_eq!(
            plan(Some(14_800), has_full, &chains, 500, 10_000),
            Plan::Fetch(vec![2, 1, 0])
        );
    }
}
