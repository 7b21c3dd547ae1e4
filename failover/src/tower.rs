//! Agave's saved tower file, `tower-1_9-<identity>.bin` in the validator's tower directory
//! (`--tower`, by default the ledger).
//!
//! The file is bincode of `SavedTowerVersions` (`solana-core` `consensus/tower_storage.rs`): an
//! enum whose variant 1 (`Current`) holds a `SavedTower` `{ signature, data }` (the node pubkey
//! is `#[serde(skip)]`: the file name carries it), where `data` is bincode of the tower in the
//! 1.14.11 layout (`consensus/tower1_14_11.rs`): node pubkey, threshold depth and size, the vote
//! state (`VoteState1_14_11`, of which a tower fills only `votes` and `root_slot`), the last
//! vote (a `VoteTransaction`, `TowerSync` since Agave 2.0) and the last timestamp. The signature
//! is the node identity's Ed25519 signature over `data`. Agave's `Tower::restore` refuses a file
//! whose signature does not verify with the identity it loads for, or whose tower names another
//! node; [`decode`] applies the same checks. Variant 0 (the 1.7.14 layout, last vote a plain
//! `Vote`) is still read.

use {
    bincode::Options,
    serde::{Deserialize, Serialize},
    solana_hash::Hash,
    solana_keypair::Keypair,
    solana_pubkey::Pubkey,
    solana_signature::Signature,
    solana_signer::Signer,
    solana_vote_interface::state::{
        BlockTimestamp, Lockout, MAX_LOCKOUT_HISTORY, TowerSync, Vote, VoteState1_14_11,
        VoteStateUpdate, serde_compact_vote_state_update, serde_tower_sync,
    },
    std::{
        collections::VecDeque,
        io,
        path::{Path, PathBuf},
    },
};

/// Agave's `VOTE_THRESHOLD_DEPTH`.
const VOTE_THRESHOLD_DEPTH: u64 = 8;
/// Agave's `VOTE_THRESHOLD_SIZE`.
const VOTE_THRESHOLD_SIZE: f64 = 2f64 / 3f64;
/// A saved tower is about 1.5 KB; anything far larger is not one.
pub const MAX_TOWER_FILE_BYTES: usize = 64 * 1024;

/// Why a tower could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TowerError {
    /// The bytes are not a saved tower.
    #[error("not an Agave saved tower: {0}")]
    Format(String),
    /// The file is larger than any tower.
    #[error("a tower of {0} bytes is larger than any saved tower")]
    TooLarge(usize),
    /// The signature does not verify with the expected identity.
    #[error("the saved tower is not signed by {expected}")]
    InvalidSignature { expected: Pubkey },
    /// The tower belongs to another node.
    #[error("the tower is for node {found}, not {expected}")]
    WrongNode { expected: Pubkey, found: Pubkey },
    /// Reading or writing the file failed.
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// The file name Agave gives the tower of `identity` (`FileTowerStorage::filename`).
pub fn file_name(identity: &Pubkey) -> String {
    format!("tower-1_9-{identity}.bin")
}

/// The tower file of `identity` in `dir`.
pub fn path(dir: &Path, identity: &Pubkey) -> PathBuf {
    dir.join(file_name(identity))
}

/// A vote tower: the lockouts a validator has voted, its root, its last vote.
#[derive(Debug, Clone, PartialEq)]
pub struct Tower {
    /// The identity whose votes these are.
    pub node_pubkey: Pubkey,
    threshold_depth: u64,
    threshold_size: f64,
    /// Vote lockouts, oldest first.
    pub votes: VecDeque<Lockout>,
    /// The tower's root.
    pub root: Option<u64>,
    last_vote: LastVote,
    /// The newest timestamp voted.
    pub last_timestamp: BlockTimestamp,
}

impl Tower {
    /// An empty tower of `node_pubkey`.
    pub fn new(node_pubkey: Pubkey) -> Self {
        Self {
            node_pubkey,
            threshold_depth: VOTE_THRESHOLD_DEPTH,
            threshold_size: VOTE_THRESHOLD_SIZE,
            votes: VecDeque::new(),
            root: None,
            last_vote: LastVote::TowerSync(TowerSync::default()),
            last_timestamp: BlockTimestamp::default(),
        }
    }

    /// The slot of the newest vote (the last vote transaction's, as Agave reports it).
    pub fn last_vote_slot(&self) -> Option<u64> {
        let slots = match &self.last_vote {
            LastVote::Vote(vote) => vote.slots.last().copied(),
            LastVote::VoteStateUpdate(update) | LastVote::CompactVoteStateUpdate(update) => {
                update.lockouts.back().map(Lockout::slot)
            }
            LastVote::TowerSync(sync) => sync.lockouts.back().map(Lockout::slot),
        };
        slots.or_else(|| self.votes.back().map(Lockout::slot))
    }

    /// Records a vote for `slot` (whose bank hash is `bank_hash`) as a validator's tower does:
    /// votes for slots not after the last one are ignored, expired lockouts pop, a full stack
    /// roots its oldest vote, and every vote the new one confirms doubles its lockout. The last
    /// vote becomes a `TowerSync` of the new stack. Returns whether the vote was recorded.
    pub fn record_vote(&mut self, slot: u64, bank_hash: Hash, timestamp: i64) -> bool {
        if self.votes.back().is_some_and(|last| slot <= last.slot())
            || self.last_vote_slot().is_some_and(|last| slot <= last)
        {
            return false;
        }
        while self
            .votes
            .back()
            .is_some_and(|last| !last.is_locked_out_at_slot(slot))
        {
            self.votes.pop_back();
        }
        if self.votes.len() == MAX_LOCKOUT_HISTORY
            && let Some(rooted) = self.votes.pop_front()
        {
            self.root = Some(rooted.slot());
        }
        self.votes.push_back(Lockout::new(slot));
        let depth = self.votes.len();
        for (index, vote) in self.votes.iter_mut().enumerate() {
            if depth > index + vote.confirmation_count() as usize {
                vote.increase_confirmation_count(1);
            }
        }
        if timestamp > self.last_timestamp.timestamp || self.last_timestamp.slot == 0 {
            self.last_timestamp = BlockTimestamp { slot, timestamp };
        }
        self.last_vote = LastVote::TowerSync(TowerSync {
            lockouts: self.votes.clone(),
            root: self.root,
            hash: bank_hash,
            timestamp: Some(timestamp),
            block_id: Hash::default(),
        });
        true
    }

    /// The saved-tower bytes of this tower, signed by `keypair` (which must be its node).
    pub fn encode(&self, keypair: &Keypair) -> Result<Vec<u8>, TowerError> {
        let signer = keypair.pubkey();
        if signer != self.node_pubkey {
            return Err(TowerError::WrongNode {
                expected: signer,
                found: self.node_pubkey,
            });
        }
        let data = bincode::serialize(&TowerData {
            node_pubkey: self.node_pubkey,
            threshold_depth: self.threshold_depth,
            threshold_size: self.threshold_size,
            vote_state: VoteState1_14_11 {
                votes: self.votes.clone(),
                root_slot: self.root,
                ..VoteState1_14_11::default()
            },
            last_vote: self.last_vote.clone(),
            last_timestamp: self.last_timestamp.clone(),
        })
        .map_err(|error| TowerError::Format(error.to_string()))?;
        let signature = keypair.sign_message(&data);
        bincode::serialize(&SavedTowerVersions::Current(SavedTower { signature, data }))
            .map_err(|error| TowerError::Format(error.to_string()))
    }
}

/// Decodes saved-tower bytes and checks them as Agave's `Tower::restore` does for `identity`:
/// the signature verifies with `identity` and the tower is `identity`'s.
pub fn decode(bytes: &[u8], identity: &Pubkey) -> Result<Tower, TowerError> {
    if bytes.len() > MAX_TOWER_FILE_BYTES {
        return Err(TowerError::TooLarge(bytes.len()));
    }
    let saved: SavedTowerVersions = options()
        .deserialize(bytes)
        .map_err(|error| TowerError::Format(error.to_string()))?;
    let (signed, old_layout) = match &saved {
        SavedTowerVersions::V1_7_14(signed) => (signed, true),
        SavedTowerVersions::Current(signed) => (signed, false),
    };
    if !signed.signature.verify(identity.as_ref(), &signed.data) {
        return Err(TowerError::InvalidSignature {
            expected: *identity,
        });
    }
    let data = if old_layout {
        let old: TowerData1_7_14 = options()
            .deserialize(&signed.data)
            .map_err(|error| TowerError::Format(error.to_string()))?;
        TowerData {
            node_pubkey: old.node_pubkey,
            threshold_depth: old.threshold_depth,
            threshold_size: old.threshold_size,
            vote_state: old.vote_state,
            last_vote: LastVote::Vote(old.last_vote),
            last_timestamp: old.last_timestamp,
        }
    } else {
        options()
            .deserialize(&signed.data)
            .map_err(|error| TowerError::Format(error.to_string()))?
    };
    if data.node_pubkey != *identity {
        return Err(TowerError::WrongNode {
            expected: *identity,
            found: data.node_pubkey,
        });
    }
    Ok(Tower {
        node_pubkey: data.node_pubkey,
        threshold_depth: data.threshold_depth,
        threshold_size: data.threshold_size,
        votes: data.vote_state.votes,
        root: data.vote_state.root_slot,
        last_vote: data.last_vote,
        last_timestamp: data.last_timestamp,
    })
}

/// Reads `path` (at most [`MAX_TOWER_FILE_BYTES`]); `None` if it does not exist.
pub fn read_file(path: &Path) -> Result<Option<Vec<u8>>, TowerError> {
    let io_error = |source| TowerError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > MAX_TOWER_FILE_BYTES as u64 => {
            return Err(TowerError::TooLarge(
                usize::try_from(meta.len()).unwrap_or(usize::MAX),
            ));
        }
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(error)),
    }
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error(error)),
    }
}

/// Writes tower bytes to `path` as Agave does: a `.bin.new` file renamed into place, so a
/// reader never sees half a tower. With `sync`, the file and its directory are fsynced.
pub fn write_file(path: &Path, bytes: &[u8], sync: bool) -> Result<(), TowerError> {
    let io_error = |source| TowerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let temp = path.with_extension("bin.new");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&temp).map_err(io_error)?;
        file.write_all(bytes).map_err(io_error)?;
        if sync {
            file.sync_all().map_err(io_error)?;
        }
    }
    std::fs::rename(&temp, path).map_err(io_error)?;
    if sync && let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error)?;
    }
    Ok(())
}

/// bincode as `bincode::deserialize` (fixed-width integers, trailing bytes allowed), with a
/// size limit.
fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .allow_trailing_bytes()
        .with_limit(MAX_TOWER_FILE_BYTES as u64)
}

/// `SavedTowerVersions`: variant order is the wire tag.
#[derive(Serialize, Deserialize)]
enum SavedTowerVersions {
    V1_7_14(SavedTower),
    Current(SavedTower),
}

/// `SavedTower` (and `SavedTower1_7_14`): the node pubkey is not serialized.
#[derive(Serialize, Deserialize)]
struct SavedTower {
    signature: Signature,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

/// `Tower1_14_11` as serialized (`usize` is 8 bytes in bincode).
#[derive(Serialize, Deserialize)]
struct TowerData {
    node_pubkey: Pubkey,
    threshold_depth: u64,
    threshold_size: f64,
    vote_state: VoteState1_14_11,
    last_vote: LastVote,
    last_timestamp: BlockTimestamp,
}

/// `Tower1_7_14` as serialized.
#[derive(Serialize, Deserialize)]
struct TowerData1_7_14 {
    node_pubkey: Pubkey,
    threshold_depth: u64,
    threshold_size: f64,
    vote_state: VoteState1_14_11,
    last_vote: Vote,
    last_timestamp: BlockTimestamp,
}

/// `VoteTransaction`: variant order is the wire tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum LastVote {
    Vote(Vote),
    VoteStateUpdate(VoteStateUpdate),
    #[serde(with = "serde_compact_vote_state_update")]
    CompactVoteStateUpdate(VoteStateUpdate),
    #[serde(with = "serde_tower_sync")]
    TowerSync(TowerSync),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voted(keypair: &Keypair, slots: impl IntoIterator<Item = u64>) -> Tower {
        let mut tower = Tower::new(keypair.pubkey());
        for slot in slots {
            tower.record_vote(slot, Hash::new_from_array([slot as u8; 32]), slot as i64);
        }
        tower
    }

    #[test]
    fn round_trips_signed_and_checks_the_identity() {
        let keypair = Keypair::new();
        let tower = voted(&keypair, 100..140);
        let bytes = tower.encode(&keypair).unwrap();
        let decoded = decode(&bytes, &keypair.pubkey()).unwrap();
        assert_eq!(decoded, tower);
        assert_eq!(decoded.last_vote_slot(), Some(139));
        assert_eq!(
            decoded.root,
            Some(108),
            "31 votes stay, the oldest became the root"
        );

        let other = Keypair::new();
        assert!(matches!(
            decode(&bytes, &other.pubkey()),
            Err(TowerError::InvalidSignature { .. })
        ));
        // Signed by the right key but for another node: Agave's WrongTower.
        let mut wrong = Tower::new(other.pubkey());
        wrong.record_vote(5, Hash::default(), 5);
        assert!(
            wrong.encode(&keypair).is_err(),
            "only the node signs its tower"
        );
        let data = bincode::serialize(&TowerData {
            node_pubkey: other.pubkey(),
            threshold_depth: 8,
            threshold_size: 0.5,
            vote_state: VoteState1_14_11::default(),
            last_vote: wrong.last_vote.clone(),
            last_timestamp: BlockTimestamp::default(),
        })
        .unwrap();
        let signature = keypair.sign_message(&data);
        let bytes =
            bincode::serialize(&SavedTowerVersions::Current(SavedTower { signature, data }))
                .unwrap();
        assert!(matches!(
            decode(&bytes, &keypair.pubkey()),
            Err(TowerError::WrongNode { .. })
        ));
    }

    #[test]
    fn the_layout_is_agaves() {
        let keypair = Keypair::new();
        let tower = voted(&keypair, [7]);
        let bytes = tower.encode(&keypair).unwrap();
        // enum tag 1 (Current), 64-byte signature, u64 length, then the data.
        assert_eq!(&bytes[..4], &[1, 0, 0, 0]);
        let len = u64::from_le_bytes(bytes[68..76].try_into().unwrap()) as usize;
        assert_eq!(bytes.len(), 76 + len);
        let data = &bytes[76..];
        assert_eq!(&data[..32], keypair.pubkey().as_ref());
        assert_eq!(u64::from_le_bytes(data[32..40].try_into().unwrap()), 8);
        assert_eq!(
            f64::from_le_bytes(data[40..48].try_into().unwrap()),
            2f64 / 3f64
        );
        // The vote state starts with a zero node pubkey and withdrawer, commission 0, then
        // the lockouts (u64 count, slot u64 + confirmation u32 each).
        assert!(data[48..112].iter().all(|&b| b == 0));
        assert_eq!(data[112], 0);
        assert_eq!(u64::from_le_bytes(data[113..121].try_into().unwrap()), 1);
        assert_eq!(u64::from_le_bytes(data[121..129].try_into().unwrap()), 7);
        assert_eq!(u32::from_le_bytes(data[129..133].try_into().unwrap()), 1);
    }

    #[test]
    fn lockouts_follow_the_tower_rules() {
        let keypair = Keypair::new();
        let mut tower = voted(&keypair, [1, 2, 3]);
        let counts: Vec<_> = tower.votes.iter().map(|v| v.confirmation_count()).collect();
        assert_eq!(counts, [3, 2, 1]);
        assert!(
            !tower.record_vote(3, Hash::default(), 3),
            "not after the last vote"
        );
        // Slot 3's lockout (2 slots) has expired at 10, slot 2's (4) too, slot 1's (8) too.
        tower.record_vote(10, Hash::default(), 10);
        assert_eq!(
            tower.votes.iter().map(|v| v.slot()).collect::<Vec<_>>(),
            [10]
        );
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let keypair = Keypair::new();
        for bytes in [
            &[][..],
            &[1, 0, 0, 0][..],
            &[9, 0, 0, 0, 1, 2, 3][..],
            &[1u8; 200][..],
        ] {
            assert!(decode(bytes, &keypair.pubkey()).is_err());
        }
        let bytes = voted(&keypair, [1, 2]).encode(&keypair).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], &keypair.pubkey()).is_err());
        }
        assert!(matches!(
            decode(&vec![0; MAX_TOWER_FILE_BYTES + 1], &keypair.pubkey()),
            Err(TowerError::TooLarge(_))
        ));
    }

    #[test]
    fn files_are_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let keypair = Keypair::new();
        let path = path(dir.path(), &keypair.pubkey());
        assert!(
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("tower-1_9-")
        );
        assert_eq!(read_file(&path).unwrap(), None);
        let bytes = voted(&keypair, [4]).encode(&keypair).unwrap();
        write_file(&path, &bytes, true).unwrap();
        assert_eq!(read_file(&path).unwrap(), Some(bytes));
        assert!(!path.with_extension("bin.new").exists());
    }
}
