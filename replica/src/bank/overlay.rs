//! Confirmed slots not yet rooted, kept in memory by (slot, blockhash) with their parent, so the
//! `confirmed` view can read them over the rooted store.

use {
    crate::store::{Account, IndexConfig, IndexKind, SlotMeta},
    foldhash::{HashMap as FastMap, HashSet as FastSet},
    snapshot_tools::archive::LtHash,
    solana_clock::Slot,
    solana_hash::Hash,
    solana_pubkey::Pubkey,
    std::{
        collections::{BTreeMap, HashMap, HashSet},
        sync::Arc,
    },
};

/// One confirmed slot's final account versions.
#[derive(Debug)]
pub struct OverlaySlot {
    pub meta: SlotMeta,
    /// Versions written in this slot; `None` is a deletion.
    pub accounts: BTreeMap<Pubkey, Option<Account>>,
    /// The keys of `accounts`: every read through the overlay asks each slot of its chain
    /// whether it wrote a pubkey, and a hash probe answers that where the ordered map takes a
    /// dozen comparisons.
    written: FastSet<Pubkey>,
    /// Index entries of this slot's live versions: (kind, index key) → pubkeys.
    pub index_entries: FastMap<(IndexKind, Pubkey), Vec<Pubkey>>,
    /// Capitalization of the bank after this slot.
    pub capitalization: u64,
    /// Full-state lattice-hash checksum after this slot, when the upstream supplied it.
    pub accounts_lt_hash: Option<Hash>,
    /// The full-state lattice hash after this slot, computed here (and checked against
    /// `accounts_lt_hash` when there is one) when the slot entered the overlay.
    pub state_lt_hash: Option<LtHash>,
    /// Each written account's version in the parent bank, in `accounts` order, when known: the
    /// root commit then need not read them again.
    pub previous: Option<Vec<Option<Account>>>,
}

impl OverlaySlot {
    pub fn new(
        meta: SlotMeta,
        accounts: BTreeMap<Pubkey, Option<Account>>,
        indexes: &IndexConfig,
        capitalization: u64,
        accounts_lt_hash: Option<Hash>,
    ) -> Self {
        let mut index_entries: FastMap<(IndexKind, Pubkey), Vec<Pubkey>> = FastMap::default();
        for (pubkey, account) in &accounts {
            let Some(account) = account else { continue };
            for (kind, key) in IndexKind::ALL
                .into_iter()
                .zip(indexes.entries(&account.owner, &account.data))
            {
                if let Some(key) = key {
                    index_entries.entry((kind, key)).or_default().push(*pubkey);
                }
            }
        }
        let written = accounts.keys().copied().collect();
        Self {
            meta,
            accounts,
            written,
            index_entries,
            capitalization,
            accounts_lt_hash,
            state_lt_hash: None,
            previous: None,
        }
    }

    /// The version of `pubkey` this slot wrote, if it wrote one: `Some(None)` is a deletion.
    pub fn version(&self, pubkey: &Pubkey) -> Option<Option<&Account>> {
        if !self.written.contains(pubkey) {
            return None;
        }
        self.accounts.get(pubkey).map(Option::as_ref)
    }

    /// Records the state's lattice hash after this slot.
    pub fn with_state_lt_hash(mut self, lt_hash: LtHash) -> Self {
        self.state_lt_hash = Some(lt_hash);
        self
    }

    /// Records the written accounts' versions in the parent bank (in `accounts` order).
    pub fn with_previous(mut self, previous: Vec<Option<Account>>) -> Self {
        if previous.len() == self.accounts.len() {
            self.previous = Some(previous);
        }
        self
    }

    pub fn slot(&self) -> Slot {
        self.meta.slot
    }
}

/// The confirmed slots above the root.
#[derive(Debug, Default)]
pub struct Overlay {
    slots: BTreeMap<(Slot, Hash), Arc<OverlaySlot>>,
    /// The newest confirmed slot whose chain down to the root is complete.
    confirmed_tip: Option<(Slot, Hash)>,
    /// Banks already announced as confirmed (above the root).
    announced: HashSet<(Slot, Hash)>,
    /// The newest slot the upstream reported rooted whose chain down to the root is here and
    /// verified: the `finalized` view reads it before its commit lands.
    rooted_tip: Option<(Slot, Hash)>,
    /// Banks already announced as rooted (above the root).
    announced_rooted: HashSet<(Slot, Hash)>,
}

impl Overlay {
    pub fn insert(&mut self, slot: Arc<OverlaySlot>) {
        self.slots
            .insert((slot.meta.slot, slot.meta.blockhash), slot);
    }

    pub fn get(&self, slot: Slot, blockhash: &Hash) -> Option<&Arc<OverlaySlot>> {
        self.slots.get(&(slot, *blockhash))
    }

    pub fn contains(&self, slot: Slot, blockhash: &Hash) -> bool {
        self.slots.contains_key(&(slot, *blockhash))
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The entry for `slot`; with several banks for one slot, the one on the tip's chain wins
    /// when known, otherwise none is chosen.
    fn by_slot(&self, slot: Slot) -> Option<&Arc<OverlaySlot>> {
        let mut banks = self
            .slots
            .range((slot, Hash::default())..=(slot, Hash::new_from_array([0xff; 32])));
        let first = banks.next()?;
        if banks.next().is_some() {
            return None;
        }
        Some(first.1)
    }

    /// The bank of `slot` if exactly one is known.
    pub fn bank_at(&self, slot: Slot) -> Option<(Slot, Hash)> {
        self.by_slot(slot)
            .map(|bank| (bank.meta.slot, bank.meta.blockhash))
    }

    /// The chain from `tip` down to (not including) `root`, newest first; `None` if a link is
    /// missing or ambiguous.
    pub fn chain(&self, tip: (Slot, Hash), root: Slot) -> Option<Vec<Arc<OverlaySlot>>> {
        let mut chain = Vec::new();
        let mut current = self.slots.get(&tip)?.clone();
        loop {
            let parent = current.meta.parent;
            chain.push(current);
            if parent <= root {
                return Some(chain);
            }
            current = self.by_slot(parent)?.clone();
        }
    }

    pub fn set_confirmed_tip(&mut self, tip: (Slot, Hash)) {
        self.confirmed_tip = Some(tip);
    }

    /// Marks a bank as announced confirmed; `true` the first time.
    pub fn announce(&mut self, slot: &OverlaySlot) -> bool {
        self.announced.insert((slot.meta.slot, slot.meta.blockhash))
    }

    pub fn confirmed_tip(&self) -> Option<(Slot, Hash)> {
        self.confirmed_tip
    }

    pub fn set_rooted_tip(&mut self, tip: (Slot, Hash)) {
        self.rooted_tip = Some(tip);
    }

    pub fn rooted_tip(&self) -> Option<(Slot, Hash)> {
        self.rooted_tip
    }

    /// Marks a bank as announced rooted; `true` the first time.
    pub fn announce_rooted(&mut self, slot: &OverlaySlot) -> bool {
        self.announced_rooted
            .insert((slot.meta.slot, slot.meta.blockhash))
    }

    /// Drops slots at or below the new root and those that do not descend from it.
    pub fn prune(&mut self, root: Slot, root_blockhash: &Hash) {
        self.announced.retain(|(slot, _)| *slot > root);
        self.announced_rooted.retain(|(slot, _)| *slot > root);
        let mut keep: HashMap<Slot, Hash> = HashMap::from([(root, *root_blockhash)]);
        let entries: Vec<(Slot, Hash, Slot)> = self
            .slots
            .values()
            .map(|slot| (slot.meta.slot, slot.meta.blockhash, slot.meta.parent))
            .collect();
        for (slot, blockhash, parent) in entries {
            if slot <= root || !keep.contains_key(&parent) {
                self.slots.remove(&(slot, blockhash));
            } else {
                keep.insert(slot, blockhash);
            }
        }
        if self
            .confirmed_tip
            .is_some_and(|tip| !self.slots.contains_key(&tip))
        {
            self.confirmed_tip = None;
        }
        if self
            .rooted_tip
            .is_some_and(|tip| !self.slots.contains_key(&tip))
        {
            self.rooted_tip = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(slot: Slot, parent: Slot, tag: u8) -> Arc<OverlaySlot> {
        let meta = SlotMeta {
            slot,
            parent,
            blockhash: Hash::new_from_array([tag; 32]),
            block_height: None,
            block_time: None,
            executed_transaction_count: None,
            transaction_count: None,
        };
        Arc::new(OverlaySlot::new(
            meta,
            BTreeMap::new(),
            &IndexConfig::default(),
            0,
            None,
        ))
    }

    #[test]
    fn chains_and_pruning() {
        let mut overlay = Overlay::default();
        overlay.insert(slot(11, 10, 1));
        overlay.insert(slot(12, 11, 2));
        overlay.insert(slot(14, 12, 4));
        overlay.insert(slot(13, 11, 3)); // a fork off 11
        let chain = overlay
            .chain((14, Hash::new_from_array([4; 32])), 10)
            .unwrap();
        assert_eq!(
            chain.iter().map(|slot| slot.slot()).collect::<Vec<_>>(),
            vec![14, 12, 11]
        );
        assert!(
            overlay
                .chain((14, Hash::new_from_array([4; 32])), 12)
                .unwrap()
                .len()
                == 1
        );
        // A missing link breaks the chain.
        overlay.insert(slot(16, 15, 6));
        assert!(
            overlay
                .chain((16, Hash::new_from_array([6; 32])), 10)
                .is_none()
        );
        // Rooting 12 drops 11, 12, the fork at 13 and the orphan at 16.
        overlay.prune(12, &Hash::new_from_array([2; 32]));
        let left: Vec<_> = overlay.slots.keys().map(|(slot, _)| *slot).collect();
        assert_eq!(left, vec![14]);
    }
}
