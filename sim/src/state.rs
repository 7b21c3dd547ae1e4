//! The simulator's account state, its accounts lattice hash (as Agave computes it), and the
//! per-bank overlay a bank's transactions read and write.

use {
    replication_proto::{Hash, Pubkey},
    solana_lattice_hash::lt_hash::LtHash,
    std::collections::HashMap,
};

/// An account as the simulator holds it. Zero lamports means the account does not exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimAccount {
    /// Balance.
    pub lamports: u64,
    /// Owning program.
    pub owner: Pubkey,
    /// Executable program account.
    pub executable: bool,
    /// Rent epoch (`u64::MAX` for rent-exempt accounts, as Agave stores them).
    pub rent_epoch: u64,
    /// Data.
    pub data: Vec<u8>,
}

impl SimAccount {
    /// A rent-exempt account.
    pub fn new(lamports: u64, owner: Pubkey, data: Vec<u8>) -> Self {
        Self {
            lamports,
            owner,
            executable: false,
            rent_epoch: u64::MAX,
            data,
        }
    }

    /// The closed form: zero lamports, zeroed owner, no data.
    pub fn closed() -> Self {
        Self {
            lamports: 0,
            owner: Pubkey::default(),
            executable: false,
            rent_epoch: 0,
            data: Vec::new(),
        }
    }
}

/// An account's lattice hash: identity for zero lamports, else blake3-XOF of
/// `lamports ‖ data ‖ executable ‖ owner ‖ pubkey` (accounts-db `lt_hash_account`).
pub fn account_lt_hash(pubkey: &Pubkey, account: &SimAccount) -> LtHash {
    if account.lamports == 0 {
        return LtHash::identity();
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(&account.lamports.to_le_bytes());
    hasher.update(&account.data);
    hasher.update(&[u8::from(account.executable)]);
    hasher.update(account.owner.as_ref());
    hasher.update(pubkey.as_ref());
    LtHash::with(&hasher)
}

/// blake3 of a lattice hash: the checksum printed, served in trailers and put in archive names.
pub fn lt_hash_checksum(lt_hash: &LtHash) -> Hash {
    Hash::new_from_array(lt_hash.checksum().0)
}

/// The full account state with its running lattice hash and capitalization.
#[derive(Clone, Debug)]
pub struct AccountsState {
    accounts: HashMap<Pubkey, SimAccount>,
    lt_hash: LtHash,
    capitalization: u64,
}

impl Default for AccountsState {
    fn default() -> Self {
        Self {
            accounts: HashMap::new(),
            lt_hash: LtHash::identity(),
            capitalization: 0,
        }
    }
}

impl AccountsState {
    /// A live account.
    pub fn get(&self, pubkey: &Pubkey) -> Option<&SimAccount> {
        self.accounts.get(pubkey)
    }

    /// Writes (or, with zero lamports, deletes) an account.
    pub fn set(&mut self, pubkey: Pubkey, account: SimAccount) {
        if let Some(old) = self.accounts.get(&pubkey) {
            self.lt_hash.mix_out(&account_lt_hash(&pubkey, old));
            self.capitalization -= old.lamports;
        }
        if account.lamports == 0 {
            self.accounts.remove(&pubkey);
        } else {
            self.lt_hash.mix_in(&account_lt_hash(&pubkey, &account));
            self.capitalization += account.lamports;
            self.accounts.insert(pubkey, account);
        }
    }

    /// The lattice hash of the whole state.
    pub fn lt_hash(&self) -> &LtHash {
        &self.lt_hash
    }

    /// Total lamports.
    pub fn capitalization(&self) -> u64 {
        self.capitalization
    }

    /// Number of live accounts.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether no account exists.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Every live account, sorted by pubkey.
    pub fn sorted(&self) -> Vec<(Pubkey, SimAccount)> {
        let mut all: Vec<_> = self.accounts.iter().map(|(k, v)| (*k, v.clone())).collect();
        all.sort_unstable_by_key(|a| a.0);
        all
    }

    /// The lattice hash this state would have with `changes` applied.
    pub fn lt_hash_with(&self, changes: &HashMap<Pubkey, SimAccount>) -> LtHash {
        let mut lt_hash = self.lt_hash.clone();
        for (pubkey, account) in changes {
            if let Some(old) = self.accounts.get(pubkey) {
                lt_hash.mix_out(&account_lt_hash(pubkey, old));
            }
            lt_hash.mix_in(&account_lt_hash(pubkey, account));
        }
        lt_hash
    }
}

/// One account write of a bank, as notified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The account.
    pub pubkey: Pubkey,
    /// Its state after the write.
    pub account: SimAccount,
}

/// A bank being executed on top of a base state: reads see the bank's own writes first.
#[derive(Debug)]
pub struct BankOverlay<'a> {
    base: &'a AccountsState,
    latest: HashMap<Pubkey, SimAccount>,
    writes: Vec<Write>,
}

impl<'a> BankOverlay<'a> {
    /// An empty bank on `base`.
    pub fn new(base: &'a AccountsState) -> Self {
        Self {
            base,
            latest: HashMap::new(),
            writes: Vec::new(),
        }
    }

    /// The account as this bank sees it (`None` if it does not exist).
    pub fn get(&self, pubkey: &Pubkey) -> Option<&SimAccount> {
        match self.latest.get(pubkey) {
            Some(account) if account.lamports == 0 => None,
            Some(account) => Some(account),
            None => self.base.get(pubkey),
        }
    }

    /// Writes an account (zero lamports closes it).
    pub fn set(&mut self, pubkey: Pubkey, account: SimAccount) {
        let account = if account.lamports == 0 {
            SimAccount::closed()
        } else {
            account
        };
        self.latest.insert(pubkey, account.clone());
        self.writes.push(Write { pubkey, account });
    }

    /// Writes so far, in order (an account may appear several times).
    pub fn writes(&self) -> &[Write] {
        &self.writes
    }

    /// Number of writes so far.
    pub fn write_count(&self) -> usize {
        self.writes.len()
    }

    /// The lattice hash of the base with this bank's writes applied.
    pub fn lt_hash(&self) -> LtHash {
        self.base.lt_hash_with(&self.latest)
    }

    /// Final versions and the ordered writes.
    pub fn into_parts(self) -> (HashMap<Pubkey, SimAccount>, Vec<Write>) {
        (self.latest, self.writes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_lattice_hash_matches_committed_state() {
        let mut state = AccountsState::default();
        let (a, b, c) = (
            Pubkey::new_unique(),
            Pubkey::new_unique(),
            Pubkey::new_unique(),
        );
        state.set(a, SimAccount::new(10, Pubkey::default(), vec![1]));
        state.set(b, SimAccount::new(20, Pubkey::default(), vec![2]));
        let mut bank = BankOverlay::new(&state);
        bank.set(a, SimAccount::new(11, Pubkey::default(), vec![1]));
        bank.set(b, SimAccount::new(0, Pubkey::new_unique(), vec![9])); // closed
        bank.set(c, SimAccount::new(5, Pubkey::default(), vec![]));
        bank.set(c, SimAccount::new(6, Pubkey::default(), vec![]));
        assert!(bank.get(&b).is_none());
        assert_eq!(bank.get(&c).unwrap().lamports, 6);
        assert_eq!(bank.write_count(), 4);
        let expected = bank.lt_hash();
        let (latest, _) = bank.into_parts();
        for (k, v) in latest {
            state.set(k, v);
        }
        assert_eq!(state.lt_hash(), &expected);
        assert_eq!(state.capitalization(), 17);
        assert_eq!(state.len(), 2);

        let mut rebuilt = AccountsState::default();
        for (k, v) in state.sorted() {
            rebuilt.set(k, v);
        }
        assert_eq!(rebuilt.lt_hash(), state.lt_hash());
    }
}
