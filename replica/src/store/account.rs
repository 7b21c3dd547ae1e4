//! The stored account record: a fixed 57-byte header followed by the raw data, so a read decodes
//! with a few loads and no allocation beyond the data itself.
//!
//! `lamports u64 | rent_epoch u64 | owner [32] | executable u8 | slot u64 | data`

use {
    snapshot_tools::archive::{LtHash, account_lt_hash},
    solana_clock::Slot,
    solana_pubkey::Pubkey,
};

const HEADER_LEN: usize = 8 + 8 + 32 + 1 + 8;

/// An owned account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub lamports: u64,
    pub rent_epoch: u64,
    pub owner: Pubkey,
    pub executable: bool,
    /// The rooted slot that last wrote this account.
    pub slot: Slot,
    pub data: Vec<u8>,
}

/// A borrowed view of an encoded account.
#[derive(Debug, Clone, Copy)]
pub struct AccountRef<'a> {
    bytes: &'a [u8],
}

impl<'a> AccountRef<'a> {
    /// Wraps an encoded record; `None` if it is too short to be one.
    pub fn decode(bytes: &'a [u8]) -> Option<Self> {
        (bytes.len() >= HEADER_LEN).then_some(Self { bytes })
    }

    fn u64_at(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.bytes[at..at + 8].try_into().expect("8 bytes"))
    }

    pub fn lamports(&self) -> u64 {
        self.u64_at(0)
    }

    pub fn rent_epoch(&self) -> u64 {
        self.u64_at(8)
    }

    pub fn owner(&self) -> Pubkey {
        Pubkey::new_from_array(self.bytes[16..48].try_into().expect("32 bytes"))
    }

    pub fn owner_bytes(&self) -> &'a [u8] {
        &self.bytes[16..48]
    }

    pub fn executable(&self) -> bool {
        self.bytes[48] == 1
    }

    pub fn slot(&self) -> Slot {
        self.u64_at(49)
    }

    pub fn data(&self) -> &'a [u8] {
        &self.bytes[HEADER_LEN..]
    }

    pub fn to_account(&self) -> Account {
        Account {
            lamports: self.lamports(),
            rent_epoch: self.rent_epoch(),
            owner: self.owner(),
            executable: self.executable(),
            slot: self.slot(),
            data: self.data().to_vec(),
        }
    }

    pub fn lt_hash(&self, pubkey: &Pubkey) -> LtHash {
        account_lt_hash(
            pubkey,
            self.lamports(),
            self.data(),
            self.executable(),
            &self.owner(),
        )
    }
}

/// Appends the encoding of an account to `out`.
pub fn encode_into(
    out: &mut Vec<u8>,
    lamports: u64,
    rent_epoch: u64,
    owner: &Pubkey,
    executable: bool,
    slot: Slot,
    data: &[u8],
) {
    out.reserve(HEADER_LEN + data.len());
    out.extend_from_slice(&lamports.to_le_bytes());
    out.extend_from_slice(&rent_epoch.to_le_bytes());
    out.extend_from_slice(owner.as_ref());
    out.push(u8::from(executable));
    out.extend_from_slice(&slot.to_le_bytes());
    out.extend_from_slice(data);
}

impl Account {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(
            &mut out,
            self.lamports,
            self.rent_epoch,
            &self.owner,
            self.executable,
            self.slot,
            &self.data,
        );
        out
    }
}

/// A write of one account in a slot; zero lamports deletes the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountUpdate<'a> {
    pub pubkey: Pubkey,
    pub lamports: u64,
    pub owner: Pubkey,
    pub executable: bool,
    pub rent_epoch: u64,
    pub data: &'a [u8],
}

impl AccountUpdate<'_> {
    pub fn is_deletion(&self) -> bool {
        self.lamports == 0
    }

    pub fn lt_hash(&self) -> LtHash {
        account_lt_hash(
            &self.pubkey,
            self.lamports,
            self.data,
            self.executable,
            &self.owner,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let account = Account {
            lamports: 42,
            rent_epoch: u64::MAX,
            owner: Pubkey::new_unique(),
            executable: true,
            slot: 9,
            data: vec![1, 2, 3],
        };
        let bytes = account.encode();
        let view = AccountRef::decode(&bytes).unwrap();
        assert_eq!(view.to_account(), account);
        assert!(AccountRef::decode(&bytes[..10]).is_none());
    }
}
