//! The simulator's account state, its accounts lattice hash (as Agave computes it), and the
//! per-bank overlay a bank's transactions read and write.

use {
    replication_proto::{Hash, Pubkey},
    snapshot_tools::archive::lt_hash_sum,
    solana_lattice_hash::lt_hash::LtHash,
    std::{
        collections::HashMap,
        hash::{BuildHasherDefault, Hasher},
    },
};

/// Hashes pubkeys for the state's maps by folding their 8-byte words (as FxHash does): they
/// are hash outputs or curve points, spread well without SipHash's cost, which dominates
/// lookups in a state of millions of accounts.
#[derive(Clone, Copy, Debug, Default)]
pub struct PubkeyHasher(u64);

impl Hasher for PubkeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by pubkeys.
pub type PubkeyMap<V> = HashMap<Pubkey, V, BuildHasherDefault<PubkeyHasher>>;

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
    let data = &account.data;
    if data.len() <= CONTIGUOUS_HASH_MAX_DATA {
        let mut input = [0u8; 8 + CONTIGUOUS_HASH_MAX_DATA + 1 + 64];
        let end = 8 + data.len();
        input[..8].copy_from_slice(&account.lamports.to_le_bytes());
        input[8..end].copy_from_slice(data);
        input[end] = u8::from(account.executable);
        input[end + 1..end + 33].copy_from_slice(account.owner.as_ref());
        input[end + 33..end + 65].copy_from_slice(pubkey.as_ref());
        hasher.update(&input[..end + 65]);
    } else {
        hasher.update(&account.lamports.to_le_bytes());
        hasher.update(data);
        hasher.update(&[u8::from(account.executable)]);
        hasher.update(account.owner.as_ref());
        hasher.update(pubkey.as_ref());
    }
    LtHash::with(&hasher)
}

/// Accounts with at most this much data are hashed as one contiguous input: blake3 copies each
/// small input of a sequence into its block buffer, which costs more than hashing a few hundred
/// bytes (what most accounts hold).
const CONTIGUOUS_HASH_MAX_DATA: usize = 512;

/// blake3 of a lattice hash: the checksum printed, served in trailers and put in archive names.
pub fn lt_hash_checksum(lt_hash: &LtHash) -> Hash {
    Hash::new_from_array(lt_hash.checksum().0)
}

/// Change sets at least this large hash their accounts on every core (one thread each costs
/// tens of microseconds, a 2 KiB blake3 XOF about one).
const PARALLEL_HASHING_MIN: usize = 4_096;

/// The sum of `new` minus `old` lattice hashes over `items` (absent `old`: a new account), on
/// every core when there are many.
fn lt_hash_delta(items: &[(&Pubkey, &SimAccount, Option<&SimAccount>)]) -> LtHash {
    lt_hash_sum(items, PARALLEL_HASHING_MIN, |sum, (pubkey, new, old)| {
        if let Some(old) = old {
            sum.mix_out(&account_lt_hash(pubkey, old));
        }
        sum.mix_in(&account_lt_hash(pubkey, new));
    })
}

/// The full account state with its running lattice hash and capitalization.
#[derive(Clone, Debug)]
pub struct AccountsState {
    accounts: PubkeyMap<SimAccount>,
    lt_hash: LtHash,
    capitalization: u64,
}

impl Default for AccountsState {
    fn default() -> Self {
        Self {
            accounts: PubkeyMap::default(),
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

    /// Writes many accounts at once, each key at most once (an existing account is replaced),
    /// hashing them on every core: what building a large initial state needs.
    pub fn extend(&mut self, accounts: Vec<(Pubkey, SimAccount)>) {
        let items: Vec<_> = accounts
            .iter()
            .map(|(pubkey, account)| (pubkey, account, self.accounts.get(pubkey)))
            .collect();
        let delta = lt_hash_delta(&items);
        drop(items);
        self.lt_hash.mix_in(&delta);
        self.accounts.reserve(accounts.len());
        self.replace_versions(accounts);
    }

    /// Stores each version (zero lamports removes the account) and keeps the capitalization.
    fn replace_versions(&mut self, accounts: impl IntoIterator<Item = (Pubkey, SimAccount)>) {
        for (pubkey, account) in accounts {
            self.capitalization += account.lamports;
            let old = if account.lamports == 0 {
                self.accounts.remove(&pubkey)
            } else {
                self.accounts.insert(pubkey, account)
            };
            if let Some(old) = old {
                self.capitalization -= old.lamports;
            }
        }
    }

    /// Applies a bank's final versions whose resulting lattice hash the caller computed with
    /// [`lt_hash_with`](Self::lt_hash_with), sparing hashing every account again.
    pub fn commit(
        &mut self,
        changes: impl IntoIterator<Item = (Pubkey, SimAccount)>,
        lt_hash: LtHash,
    ) {
        self.replace_versions(changes);
        self.lt_hash = lt_hash;
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

    /// The lattice hash this state would have with `changes` (final versions) applied.
    pub fn lt_hash_with<'c>(
        &self,
        changes: impl IntoIterator<Item = (&'c Pubkey, &'c SimAccount)>,
    ) -> LtHash {
        let items: Vec<_> = changes
            .into_iter()
            .map(|(pubkey, account)| (pubkey, account, self.accounts.get(pubkey)))
            .collect();
        let mut lt_hash = self.lt_hash.clone();
        lt_hash.mix_in(&lt_hash_delta(&items));
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
    /// The bank's last write of the account: the version its state keeps.
    pub last: bool,
}

/// A bank being executed on top of a base state: reads see the bank's own writes first.
#[derive(Debug)]
pub struct BankOverlay<'a> {
    base: &'a AccountsState,
    /// Per account written, the index in `writes` of its newest version.
    latest: PubkeyMap<usize>,
    writes: Vec<Write>,
}

impl<'a> BankOverlay<'a> {
    /// An empty bank on `base`.
    pub fn new(base: &'a AccountsState) -> Self {
        Self {
            base,
            latest: PubkeyMap::default(),
            writes: Vec::new(),
        }
    }

    /// The account as this bank sees it (`None` if it does not exist).
    pub fn get(&self, pubkey: &Pubkey) -> Option<&SimAccount> {
        match self.latest.get(pubkey) {
            Some(&index) => Some(&self.writes[index].account).filter(|a| a.lamports != 0),
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
        self.latest.insert(pubkey, self.writes.len());
        self.writes.push(Write {
            pubkey,
            account,
            last: false,
        });
    }

    /// Writes so far, in order (an account may appear several times).
    pub fn writes(&self) -> &[Write] {
        &self.writes
    }

    /// Number of writes so far.
    pub fn write_count(&self) -> usize {
        self.writes.len()
    }

    /// Number of accounts written (each counted once).
    pub fn accounts_written(&self) -> usize {
        self.latest.len()
    }

    /// The lattice hash of the base with this bank's writes applied.
    pub fn lt_hash(&self) -> LtHash {
        self.base.lt_hash_with(
            self.latest
                .iter()
                .map(|(pubkey, &index)| (pubkey, &self.writes[index].account)),
        )
    }

    /// The ordered writes, each account's last one marked.
    pub fn into_writes(mut self) -> Vec<Write> {
        for index in self.latest.into_values() {
            self.writes[index].last = true;
        }
        self.writes
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
        assert_eq!(bank.accounts_written(), 3);
        let expected = bank.lt_hash();
        let writes = bank.into_writes();
        assert_eq!(
            writes.iter().map(|w| w.last).collect::<Vec<_>>(),
            [true, true, false, true]
        );
        let mut committed = state.clone();
        for w in writes.iter().filter(|w| w.last) {
            state.set(w.pubkey, w.account.clone());
        }
        assert_eq!(state.lt_hash(), &expected);
        committed.commit(
            writes
                .into_iter()
                .filter(|w| w.last)
                .map(|w| (w.pubkey, w.account)),
            expected.clone(),
        );
        assert_eq!(committed.sorted(), state.sorted());
        assert_eq!(committed.capitalization(), state.capitalization());
        assert_eq!(state.capitalization(), 17);
        assert_eq!(state.len(), 2);

        let mut rebuilt = AccountsState::default();
        for (k, v) in state.sorted() {
            rebuilt.set(k, v);
        }
        assert_eq!(rebuilt.lt_hash(), state.lt_hash());
    }

    #[test]
    fn extend_hashes_as_one_write_at_a_time() {
        let owner = Pubkey::new_unique();
        let existing = Pubkey::new_unique();
        let mut state = AccountsState::default();
        state.set(existing, SimAccount::new(3, owner, vec![1]));
        let mut extended = state.clone();
        // Enough accounts to hash on every core.
        let accounts: Vec<_> = (0..PARALLEL_HASHING_MIN as u64 + 10)
            .map(|i| {
                (
                    Pubkey::new_unique(),
                    SimAccount::new(i % 7, owner, vec![i as u8; 9]),
                )
            })
            .chain([(existing, SimAccount::new(8, owner, vec![2]))])
            .collect();
        for (k, a) in accounts.clone() {
            state.set(k, a);
        }
        extended.extend(accounts);
        assert_eq!(extended.lt_hash(), state.lt_hash());
        assert_eq!(extended.capitalization(), state.capitalization());
        assert_eq!(extended.sorted(), state.sorted());
    }

    #[test]
    fn account_lt_hash_is_agaves_at_every_data_length() {
        let (pubkey, owner) = (Pubkey::new_unique(), Pubkey::new_unique());
        for len in [0, 1, 55, 56, 63, 64, 65, 511, 512, 513, 2_000] {
            let account = SimAccount {
                executable: len % 2 == 0,
                ..SimAccount::new(len as u64 + 1, owner, (0..len).map(|i| i as u8).collect())
            };
            let expected = snapshot_tools::archive::lt_hash::account_lt_hash(
                &pubkey,
                account.lamports,
                &account.data,
                account.executable,
                &owner,
            );
            assert_eq!(account_lt_hash(&pubkey, &account), expected, "{len} bytes");
        }
    }
}
