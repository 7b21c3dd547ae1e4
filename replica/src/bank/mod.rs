//! Bank views: what a commitment level reads. `finalized` is the rooted store; `confirmed` is the
//! chain of confirmed overlay slots over the store. Every read of a view sees one slot's state.

pub mod overlay;

use {
    crate::store::{
        Account, AccountRef, AccountsStore, IndexKind, SlotMeta, StoreError, StoreView,
    },
    overlay::OverlaySlot,
    solana_clock::Slot,
    solana_hash::Hash,
    solana_pubkey::Pubkey,
    std::{
        collections::{BTreeMap, HashSet},
        ops::ControlFlow,
        sync::Arc,
    },
};

/// A borrowed account as a view reads it.
#[derive(Debug, Clone, Copy)]
pub struct AccountRead<'a> {
    pub lamports: u64,
    pub owner: Pubkey,
    pub executable: bool,
    pub rent_epoch: u64,
    /// The slot that last wrote the account.
    pub slot: Slot,
    pub data: &'a [u8],
}

impl<'a> From<AccountRef<'a>> for AccountRead<'a> {
    fn from(account: AccountRef<'a>) -> Self {
        Self {
            lamports: account.lamports(),
            owner: account.owner(),
            executable: account.executable(),
            rent_epoch: account.rent_epoch(),
            slot: account.slot(),
            data: account.data(),
        }
    }
}

impl<'a> From<&'a Account> for AccountRead<'a> {
    fn from(account: &'a Account) -> Self {
        Self {
            lamports: account.lamports,
            owner: account.owner,
            executable: account.executable,
            rent_epoch: account.rent_epoch,
            slot: account.slot,
            data: &account.data,
        }
    }
}

impl AccountRead<'_> {
    pub fn to_account(&self) -> Account {
        Account {
            lamports: self.lamports,
            rent_epoch: self.rent_epoch,
            owner: self.owner,
            executable: self.executable,
            slot: self.slot,
            data: self.data.to_vec(),
        }
    }
}

/// The state at one slot: the rooted store plus the overlay chain above it (newest first).
pub struct BankView<'a> {
    store: StoreView<'a>,
    root_slot: Slot,
    chain: Vec<Arc<OverlaySlot>>,
    meta: SlotMeta,
    root_capitalization: u64,
}

impl std::fmt::Debug for BankView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankView")
            .field("slot", &self.meta.slot)
            .field("root_slot", &self.root_slot)
            .finish_non_exhaustive()
    }
}

impl<'a> BankView<'a> {
    /// A view of `store` at its root plus `chain` (newest first; slots at or below the store
    /// view's root are dropped, since the store already holds them).
    pub fn new(store: &'a AccountsStore, chain: Vec<Arc<OverlaySlot>>) -> Result<Self, StoreError> {
        let view = store.view();
        let root_slot = view.root_slot()?;
        let chain: Vec<_> = chain
            .into_iter()
            .filter(|slot| slot.slot() > root_slot)
            .collect();
        let root_meta = store.slot_meta(root_slot)?;
        let meta = match chain.first() {
            Some(tip) => tip.meta,
            None => root_meta.unwrap_or(SlotMeta {
                slot: root_slot,
                parent: root_slot.saturating_sub(1),
                blockhash: Hash::default(),
                block_height: None,
                block_time: None,
                executed_transaction_count: None,
                transaction_count: None,
            }),
        };
        let root_capitalization = store
            .root()
            .map(|root| root.capitalization)
            .unwrap_or_default();
        Ok(Self {
            store: view,
            root_slot,
            chain,
            meta,
            root_capitalization,
        })
    }

    pub fn slot(&self) -> Slot {
        self.meta.slot
    }

    pub fn meta(&self) -> &SlotMeta {
        &self.meta
    }

    pub fn root_slot(&self) -> Slot {
        self.root_slot
    }

    /// Whether this view is the rooted state.
    pub fn is_rooted(&self) -> bool {
        self.chain.is_empty()
    }

    pub fn store_view(&self) -> &StoreView<'a> {
        &self.store
    }

    /// Overlay slots above the root, newest first.
    pub fn chain(&self) -> &[Arc<OverlaySlot>] {
        &self.chain
    }

    pub fn capitalization(&self) -> u64 {
        self.chain
            .first()
            .map_or(self.root_capitalization, |tip| tip.capitalization)
    }

    /// The newest overlay version of `pubkey`: `Some(None)` if deleted there.
    fn overlay_version(&self, pubkey: &Pubkey) -> Option<Option<&Account>> {
        self.chain.iter().find_map(|slot| slot.version(pubkey))
    }

    pub fn get(&self, pubkey: &Pubkey) -> Result<Option<Account>, StoreError> {
        match self.overlay_version(pubkey) {
            Some(version) => Ok(version.cloned()),
            None => self.store.get(pubkey),
        }
    }

    /// Calls `visit` with each of `pubkeys` (in order) and its account, if any.
    pub fn for_each_of(
        &self,
        pubkeys: &[Pubkey],
        mut visit: impl FnMut(&Pubkey, Option<AccountRead<'_>>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, StoreError> {
        if self.chain.is_empty() {
            return self.store.for_each_of(pubkeys, |pubkey, account| {
                visit(pubkey, account.map(AccountRead::from))
            });
        }
        let (in_overlay, stored) = self.overlay_then_store(pubkeys)?;
        let mut stored = stored.into_iter();
        for (pubkey, version) in pubkeys.iter().zip(in_overlay) {
            let flow = match version {
                Some(version) => visit(pubkey, version.map(AccountRead::from)),
                None => visit(
                    pubkey,
                    stored.next().flatten().as_ref().map(AccountRead::from),
                ),
            };
            if flow.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Each of `pubkeys`' overlay version (`None`: not in the overlay), and, in order, the
    /// stored accounts of those the overlay does not hold.
    #[allow(clippy::type_complexity)]
    fn overlay_then_store(
        &self,
        pubkeys: &[Pubkey],
    ) -> Result<(Vec<Option<Option<&Account>>>, Vec<Option<Account>>), StoreError> {
        let in_overlay: Vec<Option<Option<&Account>>> = pubkeys
            .iter()
            .map(|pubkey| self.overlay_version(pubkey))
            .collect();
        let from_store: Vec<Pubkey> = pubkeys
            .iter()
            .zip(&in_overlay)
            .filter(|(_, version)| version.is_none())
            .map(|(pubkey, _)| *pubkey)
            .collect();
        let mut stored = Vec::with_capacity(from_store.len());
        let _: ControlFlow<()> = self.store.for_each_of(&from_store, |_, account| {
            stored.push(account.map(|account| account.to_account()));
            ControlFlow::Continue(())
        })?;
        Ok((in_overlay, stored))
    }

    pub fn multi_get(&self, pubkeys: &[Pubkey]) -> Result<Vec<Option<Account>>, StoreError> {
        let mut accounts = Vec::with_capacity(pubkeys.len());
        if self.chain.is_empty() {
            let _: ControlFlow<()> = self.store.for_each_of(pubkeys, |_, account| {
                accounts.push(account.map(|account| account.to_account()));
                ControlFlow::Continue(())
            })?;
            return Ok(accounts);
        }
        let (in_overlay, stored) = self.overlay_then_store(pubkeys)?;
        let mut stored = stored.into_iter();
        for version in in_overlay {
            accounts.push(match version {
                Some(version) => version.cloned(),
                None => stored.next().flatten(),
            });
        }
        Ok(accounts)
    }

    pub fn has_index(&self, kind: IndexKind) -> bool {
        self.store.has_index(kind)
    }

    /// Pubkeys changed anywhere in the chain.
    fn changed(&self) -> HashSet<Pubkey> {
        self.chain
            .iter()
            .flat_map(|slot| slot.accounts.keys().copied())
            .collect()
    }

    /// Accounts indexed under `key` in `kind`, in pubkey order, until `visit` breaks.
    pub fn index_scan(
        &self,
        kind: IndexKind,
        key: &Pubkey,
        mut visit: impl FnMut(&Pubkey, AccountRead<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, StoreError> {
        if self.chain.is_empty() {
            return self
                .store
                .index_scan(kind, key, |pubkey, account| visit(pubkey, account.into()));
        }
        // Overlay versions that carry the entry now (their newest version must still match).
        let indexes = &self.store.store().config().indexes;
        let mut from_overlay: BTreeMap<Pubkey, &Account> = BTreeMap::new();
        for slot in &self.chain {
            for pubkey in slot.index_entries.get(&(kind, *key)).into_iter().flatten() {
                if let Some(Some(account)) = self.overlay_version(pubkey) {
                    let entries = indexes.entries(&account.owner, &account.data);
                    if entries[kind as usize] == Some(*key) {
                        from_overlay.insert(*pubkey, account);
                    }
                }
            }
        }
        let changed = self.changed();
        self.merge_sorted(from_overlay, &changed, &mut visit, |store, inner| {
            store.index_scan(kind, key, inner)
        })
    }

    /// Every account, in pubkey order, until `visit` breaks.
    pub fn scan(
        &self,
        mut visit: impl FnMut(&Pubkey, AccountRead<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, StoreError> {
        if self.chain.is_empty() {
            return self
                .store
                .scan(|pubkey, account| visit(pubkey, account.into()));
        }
        let changed = self.changed();
        let from_overlay: BTreeMap<Pubkey, &Account> = changed
            .iter()
            .filter_map(|pubkey| match self.overlay_version(pubkey) {
                Some(Some(account)) => Some((*pubkey, account)),
                _ => None,
            })
            .collect();
        self.merge_sorted(from_overlay, &changed, &mut visit, |store, inner| {
            store.scan(inner)
        })
    }

    /// Merges overlay accounts into a sorted store walk, skipping store versions the overlay
    /// shadows.
    fn merge_sorted<F>(
        &self,
        from_overlay: BTreeMap<Pubkey, &Account>,
        changed: &HashSet<Pubkey>,
        visit: &mut dyn FnMut(&Pubkey, AccountRead<'_>) -> ControlFlow<()>,
        walk: F,
    ) -> Result<ControlFlow<()>, StoreError>
    where
        F: FnOnce(
            &StoreView<'a>,
            &mut dyn FnMut(&Pubkey, AccountRef<'_>) -> ControlFlow<()>,
        ) -> Result<ControlFlow<()>, StoreError>,
    {
        let mut pending = from_overlay.into_iter().peekable();
        let mut stopped = false;
        let flow = walk(&self.store, &mut |pubkey, account| {
            while let Some((overlay_key, overlay_account)) =
                pending.next_if(|(overlay_key, _)| overlay_key < pubkey)
            {
                if visit(&overlay_key, overlay_account.into()).is_break() {
                    stopped = true;
                    return ControlFlow::Break(());
                }
            }
            if changed.contains(pubkey) {
                return ControlFlow::Continue(());
            }
            visit(pubkey, account.into())
        })?;
        if stopped || flow.is_break() {
            return Ok(ControlFlow::Break(()));
        }
        for (pubkey, account) in pending {
            if visit(&pubkey, account.into()).is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Blockhashes of this view's slot and its ancestors, newest first, up to `limit`:
    /// overlay slots, then rooted slots, then the bootstrap snapshot's blockhash queue.
    pub fn recent_blockhashes(&self, limit: usize) -> Result<Vec<Hash>, StoreError> {
        let mut hashes: Vec<Hash> = self
            .chain
            .iter()
            .map(|slot| slot.meta.blockhash)
            .take(limit)
            .collect();
        if hashes.len() < limit {
            for meta in self.store.store().recent_slots(limit - hashes.len())? {
                if meta.slot <= self.root_slot && !hashes.contains(&meta.blockhash) {
                    hashes.push(meta.blockhash);
                }
            }
        }
        if hashes.len() < limit
            && let Some(bank) = self.store.store().bank_fields()?
        {
            let mut queue = bank.blockhash_queue.entries.clone();
            queue.sort_by_key(|entry| std::cmp::Reverse(entry.hash_index));
            for entry in queue {
                if hashes.len() >= limit {
                    break;
                }
                if !hashes.contains(&entry.hash) {
                    hashes.push(entry.hash);
                }
            }
        }
        hashes.retain(|hash| *hash != Hash::default());
        Ok(hashes)
    }
}

#[cfg(test)]
mod tests;
