//! Secondary indexes: which index entries an account has, decided as Agave's accounts index
//! decides them (`update_secondary_indexes`, `spl-generic-token` account detection), plus a
//! delegate index Agave lacks.

use {
    super::cf,
    serde::{Deserialize, Serialize},
    solana_pubkey::Pubkey,
    spl_generic_token::token::GenericTokenAccount,
    std::collections::BTreeSet,
};

/// The SPL Token account's `delegate: COption<Pubkey>`: a u32 tag at 72, the key at 76.
const DELEGATE_TAG_OFFSET: usize = 72;
const DELEGATE_OFFSET: usize = 76;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum IndexKind {
    /// Accounts by owner program (`--account-index program-id`).
    ProgramId,
    /// Token accounts by token owner (`spl-token-owner`).
    SplTokenOwner,
    /// Token accounts by mint (`spl-token-mint`).
    SplTokenMint,
    /// Token accounts by delegate (`spl-token-delegate`; not an Agave index).
    SplTokenDelegate,
}

impl IndexKind {
    pub const ALL: [IndexKind; 4] = [
        IndexKind::ProgramId,
        IndexKind::SplTokenOwner,
        IndexKind::SplTokenMint,
        IndexKind::SplTokenDelegate,
    ];

    /// The column family holding this index (`key ‖ pubkey` entries).
    pub fn cf_name(self) -> &'static str {
        match self {
            IndexKind::ProgramId => cf::INDEX_PROGRAM,
            IndexKind::SplTokenOwner => cf::INDEX_TOKEN_OWNER,
            IndexKind::SplTokenMint => cf::INDEX_TOKEN_MINT,
            IndexKind::SplTokenDelegate => cf::INDEX_TOKEN_DELEGATE,
        }
    }

    pub fn tag(self) -> u8 {
        self as u8
    }

    pub fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.get(tag as usize).copied()
    }
}

/// Which indexes are kept and for which keys, like Agave's `--account-index`,
/// `--account-index-include-key` and `--account-index-exclude-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexConfig {
    pub enabled: BTreeSet<IndexKind>,
    /// Keys excluded from every index (ignored when `include_keys` is not empty).
    pub exclude_keys: BTreeSet<Pubkey>,
    /// If not empty, only these keys are indexed.
    pub include_keys: BTreeSet<Pubkey>,
}

impl Default for IndexConfig {
    /// Every index, every key: a replica exists to serve scans.
    fn default() -> Self {
        Self {
            enabled: IndexKind::ALL.into_iter().collect(),
            exclude_keys: BTreeSet::new(),
            include_keys: BTreeSet::new(),
        }
    }
}

/// Up to one entry per index kind.
pub type IndexEntries = [Option<Pubkey>; 4];

pub fn is_token_program(owner: &Pubkey) -> bool {
    *owner == spl_generic_token::token::id() || *owner == spl_generic_token::token_2022::id()
}

/// Token owner and mint of token-account data under `program`, if it is a valid account.
fn token_account_keys(program: &Pubkey, data: &[u8]) -> Option<(Pubkey, Pubkey)> {
    let (owner, mint) = if *program == spl_generic_token::token::id() {
        (
            spl_generic_token::token::Account::unpack_account_owner(data)?,
            spl_generic_token::token::Account::unpack_account_mint(data)?,
        )
    } else if *program == spl_generic_token::token_2022::id() {
        (
            spl_generic_token::token_2022::Account::unpack_account_owner(data)?,
            spl_generic_token::token_2022::Account::unpack_account_mint(data)?,
        )
    } else {
        return None;
    };
    Some((*owner, *mint))
}

/// The delegate of valid token-account data, if set.
pub fn token_delegate(data: &[u8]) -> Option<Pubkey> {
    let tag = data.get(DELEGATE_TAG_OFFSET..DELEGATE_OFFSET)?;
    if tag != [1, 0, 0, 0] {
        return None;
    }
    Some(Pubkey::new_from_array(
        data.get(DELEGATE_OFFSET..DELEGATE_OFFSET + 32)?
            .try_into()
            .ok()?,
    ))
}

impl IndexConfig {
    pub fn is_enabled(&self, kind: IndexKind) -> bool {
        self.enabled.contains(&kind)
    }

    /// Agave's `AccountSecondaryIndexes::include_key`.
    pub fn include_key(&self, key: &Pubkey) -> bool {
        if self.include_keys.is_empty() {
            !self.exclude_keys.contains(key)
        } else {
            self.include_keys.contains(key)
        }
    }

    /// The index keys of a live account with this owner and data, by `IndexKind` position.
    pub fn entries(&self, owner: &Pubkey, data: &[u8]) -> IndexEntries {
        let mut entries = [None; 4];
        let mut set = |kind: IndexKind, key: Pubkey| {
            if self.is_enabled(kind) && self.include_key(&key) {
                entries[kind as usize] = Some(key);
            }
        };
        set(IndexKind::ProgramId, *owner);
        if let Some((token_owner, mint)) = token_account_keys(owner, data) {
            set(IndexKind::SplTokenOwner, token_owner);
            set(IndexKind::SplTokenMint, mint);
            if let Some(delegate) = token_delegate(data) {
                set(IndexKind::SplTokenDelegate, delegate);
            }
        }
        entries
    }
}

/// The key of an index entry: `index key ‖ account pubkey`.
pub fn entry_key(index_key: &Pubkey, pubkey: &Pubkey) -> [u8; 64] {
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(index_key.as_ref());
    key[32..].copy_from_slice(pubkey.as_ref());
    key
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 165-byte SPL token account.
    pub(crate) fn token_account(
        mint: &Pubkey,
        owner: &Pubkey,
        amount: u64,
        delegate: Option<&Pubkey>,
    ) -> Vec<u8> {
        let mut data = vec![0u8; 165];
        data[..32].copy_from_slice(mint.as_ref());
        data[32..64].copy_from_slice(owner.as_ref());
        data[64..72].copy_from_slice(&amount.to_le_bytes());
        if let Some(delegate) = delegate {
            data[72..76].copy_from_slice(&1u32.to_le_bytes());
            data[76..108].copy_from_slice(delegate.as_ref());
        }
        data[108] = 1; // initialized
        data
    }

    #[test]
    fn token_accounts_are_detected_like_agave() {
        let config = IndexConfig::default();
        let (mint, owner, delegate) = (
            Pubkey::new_unique(),
            Pubkey::new_unique(),
            Pubkey::new_unique(),
        );
        let token = spl_generic_token::token::id();
        let token_2022 = spl_generic_token::token_2022::id();
        let data = token_account(&mint, &owner, 5, Some(&delegate));
        assert_eq!(
            config.entries(&token, &data),
            [Some(token), Some(owner), Some(mint), Some(delegate)]
        );
        // Uninitialized: only the program index.
        let mut uninitialized = data.clone();
        uninitialized[108] = 0;
        assert_eq!(
            config.entries(&token, &uninitialized),
            [Some(token), None, None, None]
        );
        // Token-2022 with extensions: AccountType::Account at 165.
        let mut extended = data.clone();
        extended.resize(200, 0);
        extended[165] = 2;
        assert_eq!(config.entries(&token_2022, &extended)[1], Some(owner));
        // Extended data under Token v1 is not a token account; a mint-typed one neither.
        assert_eq!(config.entries(&token, &extended)[1], None);
        extended[165] = 1;
        assert_eq!(config.entries(&token_2022, &extended)[1], None);
        // Multisig length is never an account.
        let mut multisig = extended.clone();
        multisig.resize(355, 0);
        multisig[165] = 2;
        assert_eq!(config.entries(&token_2022, &multisig)[1], None);
        // Other programs: program index only.
        let other = Pubkey::new_unique();
        assert_eq!(
            config.entries(&other, &data),
            [Some(other), None, None, None]
        );
    }

    #[test]
    fn include_and_exclude_keys() {
        let token = spl_generic_token::token::id();
        let (mint, owner) = (Pubkey::new_unique(), Pubkey::new_unique());
        let data = token_account(&mint, &owner, 5, None);
        let mut config = IndexConfig::default();
        config.exclude_keys.insert(token);
        assert_eq!(
            config.entries(&token, &data),
            [None, Some(owner), Some(mint), None]
        );
        config.include_keys.insert(mint);
        assert_eq!(
            config.entries(&token, &data),
            [None, None, Some(mint), None]
        );
        config.enabled.remove(&IndexKind::SplTokenMint);
        assert_eq!(config.entries(&token, &data), [None, None, None, None]);
    }
}
