//! Relayed versus direct: which path delivers each shred first, and by how much. `relay compare`
//! captures the TVU port twice on the validator's host, on the interface turbine reaches
//! (direct) and on the one `relay forward` sends through (relayed, usually `lo`), and feeds both
//! into a [`Comparer`]. No I/O here; `run` holds the capture threads.

mod run;

pub use run::{CompareSources, run_compare};
use {
    crate::shred::{ShredHeader, ShredType},
    std::{
        collections::HashMap,
        hash::{BuildHasher, Hash, Hasher, RandomState},
    },
};

/// Default window: 65,536 shreds.
pub const DEFAULT_WINDOW: usize = 65_536;

/// Where a shred was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Path {
    /// Straight from turbine to the validator's interface.
    Direct,
    /// Through the relay.
    Relayed,
}

impl Path {
    /// The `path` label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Relayed => "relayed",
        }
    }
}

/// What a sighting tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sighting {
    /// First time on any path.
    First,
    /// Already seen on the other path: `first` won by `lead_ns`.
    Second {
        /// The path that delivered first.
        first: Path,
        /// How much earlier, ns.
        lead_ns: u64,
    },
    /// Already seen on this path (a repeat).
    Repeat,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    first: Path,
    at_ns: u64,
    both: bool,
}

/// The last `window` shreds seen on either path (bounded memory).
#[derive(Debug)]
pub struct Comparer {
    hasher: RandomState,
    entries: HashMap<u64, Entry>,
    ring: Vec<u64>,
    next: usize,
    window: usize,
}

impl Comparer {
    /// An empty comparer over `window` shreds (at least 1).
    pub fn new(window: usize) -> Self {
        let window = window.max(1);
        Self {
            hasher: RandomState::new(),
            entries: HashMap::with_capacity(window),
            ring: Vec::with_capacity(window),
            next: 0,
            window,
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

    /// Records that `path` delivered `shred` at `now_ns`.
    pub fn record(&mut self, shred: &ShredHeader, path: Path, now_ns: u64) -> Sighting {
        let fingerprint = self.fingerprint(shred);
        if let Some(entry) = self.entries.get_mut(&fingerprint) {
            if entry.first == path || entry.both {
                return Sighting::Repeat;
            }
            entry.both = true;
            return Sighting::Second {
                first: entry.first,
                lead_ns: now_ns.saturating_sub(entry.at_ns),
            };
        }
        let entry = Entry {
            first: path,
            at_ns: now_ns,
            both: false,
        };
        self.entries.insert(fingerprint, entry);
        if self.ring.len() < self.window {
            self.ring.push(fingerprint);
        } else {
            let evicted = std::mem::replace(&mut self.ring[self.next], fingerprint);
            self.entries.remove(&evicted);
        }
        self.next = (self.next + 1) % self.window;
        Sighting::First
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

    fn shred(n: u64) -> ShredHeader {
        parse(&build_shred(&ShredSpec::nth(n, 7, 1))).unwrap()
    }

    #[test]
    fn tells_which_path_came_first_and_by_how_much() {
        let mut comparer = Comparer::new(8);
        assert_eq!(
            comparer.record(&shred(0), Path::Direct, 100),
            Sighting::First
        );
        assert_eq!(
            comparer.record(&shred(0), Path::Direct, 150),
            Sighting::Repeat
        );
        assert_eq!(
            comparer.record(&shred(0), Path::Relayed, 400),
            Sighting::Second {
                first: Path::Direct,
                lead_ns: 300
            }
        );
        assert_eq!(
            comparer.record(&shred(0), Path::Relayed, 500),
            Sighting::Repeat
        );
        assert_eq!(
            comparer.record(&shred(1), Path::Relayed, 10),
            Sighting::First
        );
        assert_eq!(
            comparer.record(&shred(1), Path::Direct, 30),
            Sighting::Second {
                first: Path::Relayed,
                lead_ns: 20
            }
        );
    }

    #[test]
    fn forgets_beyond_the_window() {
        let mut comparer = Comparer::new(2);
        comparer.record(&shred(0), Path::Direct, 0);
        comparer.record(&shred(1), Path::Direct, 0);
        comparer.record(&shred(2), Path::Direct, 0);
        assert_eq!(
            comparer.record(&shred(0), Path::Relayed, 1),
            Sighting::First
        );
        assert!(comparer.entries.len() <= 2);
    }
}
