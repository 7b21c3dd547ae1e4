//! Rate-limited logging: at most one line per key per interval, with the number of lines held
//! back in between. The server uses it for refused clients, so that a replica retrying with an
//! identity the allowlist lacks costs one WARN line a minute, not one per attempt.
//!
//! Pure bookkeeping: the caller passes `now`, so tests run on a fake clock. The set of keys is
//! bounded: a peer can mint identities at will, so once [`LogLimiter::max_keys`] keys are
//! tracked, new keys share one overflow entry (one line per interval for all of them).

use std::{
    collections::HashMap,
    hash::Hash,
    time::{Duration, Instant},
};

/// What to do with one occurrence of a logged event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogDecision {
    /// Log it; `suppressed` occurrences of this key were held back since its previous line.
    Log {
        /// Occurrences not logged since the previous line for this key.
        suppressed: u64,
    },
    /// Log it as one of many keys beyond the tracked set; `suppressed` occurrences of such keys
    /// were held back since the previous overflow line.
    LogOverflow {
        /// Occurrences of untracked keys not logged since the previous overflow line.
        suppressed: u64,
    },
    /// Do not log it (it is counted and reported with the key's next line).
    Suppress,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    last_logged: Instant,
    suppressed: u64,
}

impl Entry {
    fn occur(&mut self, now: Instant, interval: Duration) -> Option<u64> {
        if now.saturating_duration_since(self.last_logged) >= interval {
            let suppressed = self.suppressed;
            *self = Entry {
                last_logged: now,
                suppressed: 0,
            };
            Some(suppressed)
        } else {
            self.suppressed = self.suppressed.saturating_add(1);
            None
        }
    }
}

/// At most one log line per key per `interval`; see the module documentation.
#[derive(Debug)]
pub struct LogLimiter<K> {
    interval: Duration,
    max_keys: usize,
    entries: HashMap<K, Entry>,
    overflow: Option<Entry>,
}

impl<K: Hash + Eq> LogLimiter<K> {
    /// A limiter allowing one line per key per `interval`, tracking at most `max_keys` keys
    /// (at least one).
    pub fn new(interval: Duration, max_keys: usize) -> Self {
        Self {
            interval,
            max_keys: max_keys.max(1),
            entries: HashMap::new(),
            overflow: None,
        }
    }

    /// The most keys tracked one by one.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Keys currently tracked.
    pub fn tracked_keys(&self) -> usize {
        self.entries.len()
    }

    /// Records one occurrence of `key` at `now` and says whether to log it.
    pub fn check(&mut self, key: K, now: Instant) -> LogDecision {
        if let Some(entry) = self.entries.get_mut(&key) {
            return match entry.occur(now, self.interval) {
                Some(suppressed) => LogDecision::Log { suppressed },
                None => LogDecision::Suppress,
            };
        }
        if self.entries.len() >= self.max_keys {
            // Forget keys that have been quiet for a whole interval and have nothing pending;
            // a key with a pending count keeps its entry so that the count is reported.
            let interval = self.interval;
            self.entries.retain(|_, entry| {
                entry.suppressed > 0 || now.saturating_duration_since(entry.last_logged) < interval
            });
        }
        if self.entries.len() < self.max_keys {
            self.entries.insert(
                key,
                Entry {
                    last_logged: now,
                    suppressed: 0,
                },
            );
            return LogDecision::Log { suppressed: 0 };
        }
        match &mut self.overflow {
            None => {
                self.overflow = Some(Entry {
                    last_logged: now,
                    suppressed: 0,
                });
                LogDecision::LogOverflow { suppressed: 0 }
            }
            Some(entry) => match entry.occur(now, self.interval) {
                Some(suppressed) => LogDecision::LogOverflow { suppressed },
                None => LogDecision::Suppress,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn one_line_per_key_per_interval_with_the_suppressed_count() {
        let start = Instant::now();
        let mut limiter = LogLimiter::new(MINUTE, 16);
        assert_eq!(
            limiter.check("a", start),
            LogDecision::Log { suppressed: 0 }
        );
        for second in 1..=59 {
            assert_eq!(
                limiter.check("a", start + Duration::from_secs(second)),
                LogDecision::Suppress
            );
        }
        // Another key is independent.
        assert_eq!(
            limiter.check("b", start + Duration::from_secs(30)),
            LogDecision::Log { suppressed: 0 }
        );
        assert_eq!(
            limiter.check("a", start + MINUTE),
            LogDecision::Log { suppressed: 59 }
        );
        assert_eq!(
            limiter.check("a", start + MINUTE + Duration::from_secs(1)),
            LogDecision::Suppress
        );
        assert_eq!(
            limiter.check("a", start + 3 * MINUTE),
            LogDecision::Log { suppressed: 1 }
        );
    }

    #[test]
    fn keys_are_bounded_and_the_rest_share_one_line() {
        let start = Instant::now();
        let mut limiter = LogLimiter::new(MINUTE, 4);
        for key in 0..4 {
            assert_eq!(
                limiter.check(key, start),
                LogDecision::Log { suppressed: 0 }
            );
        }
        // Thousands of new identities within the interval: one overflow line, no growth.
        assert_eq!(
            limiter.check(100, start),
            LogDecision::LogOverflow { suppressed: 0 }
        );
        for key in 101..5_000 {
            assert_eq!(limiter.check(key, start), LogDecision::Suppress);
        }
        assert_eq!(limiter.tracked_keys(), 4);
        // A tracked key that repeats keeps its pending count across the pruning below.
        assert_eq!(
            limiter.check(0, start + Duration::from_secs(1)),
            LogDecision::Suppress
        );
        // After the interval, quiet keys are forgotten to make room; key 0 has a count pending.
        assert_eq!(
            limiter.check(7_000, start + MINUTE),
            LogDecision::Log { suppressed: 0 }
        );
        assert_eq!(limiter.tracked_keys(), 2);
        assert_eq!(
            limiter.check(0, start + MINUTE),
            LogDecision::Log { suppressed: 1 }
        );
        assert_eq!(
            limiter.check(9_000, start + 2 * MINUTE),
            LogDecision::Log { suppressed: 0 }
        );
    }

    #[test]
    fn overflow_reports_what_it_held_back() {
        let start = Instant::now();
        let mut limiter = LogLimiter::new(MINUTE, 1);
        assert_eq!(limiter.check(1, start), LogDecision::Log { suppressed: 0 });
        // Key 1 keeps repeating, so it is never pruned and new keys overflow.
        assert_eq!(
            limiter.check(1, start + Duration::from_secs(1)),
            LogDecision::Suppress
        );
        assert_eq!(
            limiter.check(2, start),
            LogDecision::LogOverflow { suppressed: 0 }
        );
        assert_eq!(limiter.check(3, start), LogDecision::Suppress);
        assert_eq!(limiter.check(4, start), LogDecision::Suppress);
        assert_eq!(
            limiter.check(5, start + MINUTE),
            LogDecision::LogOverflow { suppressed: 2 }
        );
    }
}
