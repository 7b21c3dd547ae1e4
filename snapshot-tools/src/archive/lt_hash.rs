//! The accounts lattice hash, as Agave computes it (accounts-db `lt_hash_account`).

pub use solana_lattice_hash::lt_hash::LtHash;
use {solana_hash::Hash, solana_pubkey::Pubkey};

/// The lattice hash contribution of one account: identity for zero lamports, otherwise blake3 XOF
/// of `lamports ‖ data ‖ executable ‖ owner ‖ pubkey`, read as 1024 little-endian u16.
pub fn account_lt_hash(
    pubkey: &Pubkey,
    lamports: u64,
    data: &[u8],
    executable: bool,
    owner: &Pubkey,
) -> LtHash {
    if lamports == 0 {
        return LtHash::identity();
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(&lamports.to_le_bytes());
    hasher.update(data);
    hasher.update(&[u8::from(executable)]);
    hasher.update(owner.as_ref());
    hasher.update(pubkey.as_ref());
    LtHash::with(&hasher)
}

/// The sum of every item's contribution, `mix` mixing one item's versions out of and into the
/// running sum. From `parallel_from` items on, parts are summed on every core (each thread into
/// its own sum; the sum is order-free), without collecting a 2 KiB hash per version.
pub fn lt_hash_sum<T: Sync>(
    items: &[T],
    parallel_from: usize,
    mix: impl Fn(&mut LtHash, &T) + Sync,
) -> LtHash {
    let part = |chunk: &[T]| {
        let mut sum = LtHash::identity();
        for item in chunk {
            mix(&mut sum, item);
        }
        sum
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if items.len() < parallel_from.max(2) || threads < 2 {
        return part(items);
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|chunk| scope.spawn(|| part(chunk)))
            .collect();
        let mut sum = LtHash::identity();
        for worker in workers {
            sum.mix_in(&worker.join().expect("hashing does not panic"));
        }
        sum
    })
}

/// blake3 of the lattice hash: the value in archive names and `getReplicaStatus.accountsLtHash`.
pub fn lt_hash_checksum(lt_hash: &LtHash) -> Hash {
    Hash::new_from_array(lt_hash.checksum().0)
}

/// The raw little-endian bytes of a lattice hash (2048 bytes).
pub fn lt_hash_bytes(lt_hash: &LtHash) -> &[u8] {
    bytemuck::must_cast_slice(lt_hash.0.as_slice())
}

/// A lattice hash from its 2048 little-endian bytes.
pub fn lt_hash_from_bytes(bytes: &[u8]) -> Option<LtHash> {
    if bytes.len() != LtHash::NUM_ELEMENTS * 2 {
        return None;
    }
    let mut lt_hash = LtHash::identity();
    for (element, pair) in lt_hash.0.iter_mut().zip(bytes.chunks_exact(2)) {
        *element = u16::from_le_bytes([pair[0], pair[1]]);
    }
    Some(lt_hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_lamports_is_identity_and_mixing_is_reversible() {
        let pubkey = Pubkey::new_unique();
        let owner = Pubkey::new_unique();
        assert_eq!(
            account_lt_hash(&pubkey, 0, b"x", false, &owner),
            LtHash::identity()
        );
        let a = account_lt_hash(&pubkey, 5, b"abc", false, &owner);
        let b = account_lt_hash(&pubkey, 6, b"abc", false, &owner);
        assert_ne!(a, b);
        let mut sum = LtHash::identity();
        sum.mix_in(&a);
        sum.mix_in(&b);
        sum.mix_out(&a);
        assert_eq!(sum, b);
        assert_eq!(lt_hash_from_bytes(lt_hash_bytes(&sum)), Some(sum));
    }
}
