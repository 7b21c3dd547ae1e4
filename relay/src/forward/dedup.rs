//! Duplicate suppression over the last `capacity` shreds forwarded (a mirror and direct turbine,
//! or two capture sites, can deliver the same shred). A shred is identified by slot, index, type
//! and the leader's signature, so two different shreds claiming the same slot and index (a
//! duplicate-block proof the validator needs) both pass. Memory is bounded: a ring of
//! fingerprints and a set of the same size.

use {
    crate::shred::{ShredHeader, ShredType},
    std::{
        collections::HashSet,
        hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState},
    },
};

/// The set's keys are already outputs of a randomly keyed SipHash: hashing them again would only
/// cost time, and nobody can aim collisions at them.
#[derive(Debug, Default)]
struct Fingerprint(u64);

impl Hasher for Fingerprint {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Default window: 65,536 shreds (several slots of a busy leader).
pub const DEFAULT_CAPACITY: usize = 65_536;

/// The last `capacity` shred fingerprints.
#[derive(Debug)]
pub struct DedupWindow {
    hasher: RandomState,
    seen: HashSet<u64, BuildHasherDefault<Fingerprint>>,
    ring: Vec<u64>,
    next: usize,
    capacity: usize,
}

impl DedupWindow {
    /// An empty window of `capacity` shreds (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            hasher: RandomState::new(),
            seen: HashSet::with_capacity_and_hasher(capacity, BuildHasherDefault::default()),
            ring: Vec::with_capacity(capacity),
            next: 0,
            capacity,
        }
    }

    fn fingerprint(&self, shred: &ShredHeader) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        shred.slot.hash(&mut hasher);
        shred.index.hash(&mut hasher);
        (shred.shred_type() == ShredType::Data).hash(&mut hasher);
        shred.signature.hash(&mut hasher);
        hasher.finish()
    }

    /// Records `shred`; `false` if it is already in the window.
    pub fn insert(&mut self, shred: &ShredHeader) -> bool {
        let fingerprint = self.fingerprint(shred);
        if !self.seen.insert(fingerprint) {
            return false;
        }
        if self.ring.len() < self.capacity {
            self.ring.push(fingerprint);
        } else {
            let evicted = std::mem::replace(&mut self.ring[self.next], fingerprint);
            self.seen.remove(&evicted);
        }
        self.next = (self.next + 1) % self.capacity;
        true
    }

    /// Shreds in the window.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::{
            shred::parse,
            testkit::{ShredSpec, build_shred},
        },
    };

    fn header(n: u64) -> ShredHeader {
        parse(&build_shred(&ShredSpec::nth(n, 100, 1))).unwrap()
    }

    #[test]
    fn suppresses_within_window_and_forgets_after() {
        let mut window = DedupWindow::new(4);
        assert!(window.insert(&header(0)));
        assert!(!window.insert(&header(0)));
        for n in 1..=4 {
            assert!(window.insert(&header(n)));
        }
        assert_eq!(window.len(), 4);
        // 0 fell out of the window.
        assert!(window.insert(&header(0)));
        assert!(!window.insert(&header(4)));
    }

    #[test]
    fn same_id_other_signature_is_not_a_duplicate() {
        let mut window = DedupWindow::new(16);
        let first = header(5);
        let mut other = first;
        other.signature[0] ^= 1;
        assert!(window.insert(&first));
        assert!(window.insert(&other));
        // Data and coding shreds share index numbers.
        let code = header(32);
        assert_eq!(code.index, header(0).index);
        assert!(window.insert(&header(0)));
        assert!(window.insert(&code));
    }
}
