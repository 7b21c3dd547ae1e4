//! What the simulated validator has of a validator's identity: the identity it holds (what
//! Agave's admin RPC `contactInfo` reports and `setIdentity` changes), the staked identity it
//! votes with, and its tower: while it holds the staked identity it votes on each main-chain
//! slot and saves its tower as Agave does (`tower-1_9-<identity>.bin` in the ledger, signed by
//! the identity). The chain itself never depends on any of this: it stays determined by the
//! seed alone.

use {
    failover::tower::{self, Tower, TowerError},
    replication_proto::{Hash, Pubkey},
    solana_keypair::{Keypair, read_keypair_file},
    solana_signer::Signer,
    std::path::{Path, PathBuf},
};

/// Why an identity switch was refused (the messages are Agave's where it has one).
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// `setIdentity` with a file the validator cannot read.
    #[error("Failed to read identity keypair from {path}: {reason}")]
    Keypair { path: String, reason: String },
    /// `setIdentityFromBytes` with bytes that are not a keypair.
    #[error("Failed to read identity keypair from provided byte array: {0}")]
    Bytes(String),
    /// `require_tower` and no valid tower for the new identity.
    #[error("Unable to load tower file for identity {identity}: {reason}")]
    NoTower { identity: Pubkey, reason: String },
}

/// The identity state of the simulated validator.
#[derive(Debug)]
pub struct ValidatorIdentity {
    ledger: PathBuf,
    held: Keypair,
    voter: Pubkey,
    tower: Option<Tower>,
    votes: u64,
}

impl ValidatorIdentity {
    /// Holding `initial`, voting only while holding `voter`'s identity; towers in `ledger`.
    pub fn new(ledger: &Path, voter: Pubkey, initial: Keypair) -> Self {
        let mut identity = Self {
            ledger: ledger.to_path_buf(),
            held: initial,
            voter,
            tower: None,
            votes: 0,
        };
        if identity.held.pubkey() == voter {
            identity.tower = Some(identity.restore_or_new());
        }
        identity
    }

    /// The identity held now.
    pub fn identity(&self) -> Pubkey {
        self.held.pubkey()
    }

    /// The staked identity this validator votes with.
    pub fn voter(&self) -> Pubkey {
        self.voter
    }

    /// Whether it votes now.
    pub fn voting(&self) -> bool {
        self.tower.is_some()
    }

    /// The tower's newest vote, while voting.
    pub fn last_vote_slot(&self) -> Option<u64> {
        self.tower.as_ref().and_then(Tower::last_vote_slot)
    }

    /// Votes recorded since start.
    pub fn votes(&self) -> u64 {
        self.votes
    }

    fn tower_path(&self, identity: &Pubkey) -> PathBuf {
        tower::path(&self.ledger, identity)
    }

    fn restore(&self, identity: &Pubkey) -> Result<Tower, String> {
        match tower::read_file(&self.tower_path(identity)) {
            Ok(Some(bytes)) => tower::decode(&bytes, identity).map_err(|e| e.to_string()),
            Ok(None) => Err(format!(
                "{} does not exist",
                self.tower_path(identity).display()
            )),
            Err(error) => Err(error.to_string()),
        }
    }

    fn restore_or_new(&self) -> Tower {
        self.restore(&self.voter)
            .unwrap_or_else(|_| Tower::new(self.voter))
    }

    /// Agave's `setIdentity`: reads the keypair file.
    pub fn set_identity_file(
        &mut self,
        path: &str,
        require_tower: bool,
    ) -> Result<(), IdentityError> {
        let keypair = read_keypair_file(path).map_err(|error| IdentityError::Keypair {
            path: path.to_string(),
            reason: error.to_string(),
        })?;
        self.set_identity(keypair, require_tower)
    }

    /// Agave's `setIdentityFromBytes`.
    pub fn set_identity_bytes(
        &mut self,
        bytes: &[u8],
        require_tower: bool,
    ) -> Result<(), IdentityError> {
        let keypair =
            Keypair::try_from(bytes).map_err(|error| IdentityError::Bytes(error.to_string()))?;
        self.set_identity(keypair, require_tower)
    }

    /// Switches to `keypair`: with `require_tower`, only if a valid tower of it is stored (as
    /// Agave's `Tower::restore`). Taking the staked identity restores its tower (or starts a
    /// new one); leaving it stops voting.
    pub fn set_identity(
        &mut self,
        keypair: Keypair,
        require_tower: bool,
    ) -> Result<(), IdentityError> {
        let identity = keypair.pubkey();
        let restored = self.restore(&identity);
        if require_tower && let Err(reason) = &restored {
            return Err(IdentityError::NoTower {
                identity,
                reason: reason.clone(),
            });
        }
        self.tower = (identity == self.voter)
            .then(|| restored.ok().unwrap_or_else(|| Tower::new(self.voter)));
        tracing::warn!(%identity, voting = self.tower.is_some(), "identity set");
        self.held = keypair;
        Ok(())
    }

    /// Votes for `slot` if it holds the staked identity, and saves the tower.
    pub fn vote(&mut self, slot: u64, bank_hash: Hash, timestamp: i64) -> Result<(), TowerError> {
        let Some(tower) = self.tower.as_mut() else {
            return Ok(());
        };
        if !tower.record_vote(slot, bank_hash, timestamp) {
            return Ok(());
        }
        self.votes += 1;
        let bytes = tower.encode(&self.held)?;
        tower::write_file(&self.tower_path(&self.voter), &bytes, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn votes_only_with_the_staked_identity_and_requires_its_tower() {
        let dir = tempfile::tempdir().unwrap();
        let staked = Keypair::new();
        let unstaked = Keypair::new();
        let mut validator =
            ValidatorIdentity::new(dir.path(), staked.pubkey(), unstaked.insecure_clone());
        assert!(!validator.voting());
        validator.vote(10, Hash::default(), 1).unwrap();
        assert!(!tower::path(dir.path(), &staked.pubkey()).exists());
        // No tower yet: refused with require_tower, identity unchanged.
        let error = validator
            .set_identity(staked.insecure_clone(), true)
            .unwrap_err();
        assert!(error.to_string().starts_with("Unable to load tower file"));
        assert_eq!(validator.identity(), unstaked.pubkey());
        // Without it: a new tower, votes saved signed by the staked identity.
        validator
            .set_identity(staked.insecure_clone(), false)
            .unwrap();
        for slot in 10..20 {
            validator.vote(slot, Hash::default(), slot as i64).unwrap();
        }
        let bytes = tower::read_file(&tower::path(dir.path(), &staked.pubkey()))
            .unwrap()
            .unwrap();
        assert_eq!(
            tower::decode(&bytes, &staked.pubkey())
                .unwrap()
                .last_vote_slot(),
            Some(19)
        );
        // Leaving the identity stops voting; taking it back requires (and resumes) the tower.
        validator
            .set_identity(unstaked.insecure_clone(), false)
            .unwrap();
        validator.vote(20, Hash::default(), 20).unwrap();
        validator
            .set_identity_bytes(&staked.to_bytes(), true)
            .unwrap();
        assert_eq!(validator.last_vote_slot(), Some(19));
        validator.vote(15, Hash::default(), 15).unwrap();
        assert_eq!(
            validator.last_vote_slot(),
            Some(19),
            "never votes backwards"
        );
        assert!(validator.set_identity_bytes(&[1, 2, 3], false).is_err());
    }
}
