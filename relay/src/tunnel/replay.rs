//! The receiver's per-session sequence window: loss (gaps), reordering and replay.
//!
//! Rules (applied to datagrams whose MAC checked out):
//! 1. With `max_age`, a datagram whose capture time is more than `max_age` before or after the
//!    receiver's clock is rejected (`Stale`/`Future`). This is what rejects a replayed datagram
//!    of a session the receiver no longer tracks (or never saw, e.g. after a restart): both ends
//!    must keep their clocks within `max_age` of each other (NTP).
//! 2. A datagram of a tracked session is accepted once: a sequence number already seen, or
//!    older than the window, is rejected (`Duplicate`/`BelowWindow`).
//! 3. An unknown session id starts a new session (capture restarted, or a second capture site)
//!    if fewer than `max_sessions` are tracked, or by replacing the least recently active one
//!    when that one has been quiet for longer than `max_age` (so its old datagrams are all
//!    stale by rule 1 before it can be forgotten). Otherwise it is rejected (`NoSessionSlot`).

use thiserror::Error;

/// Sizing and the clock bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayConfig {
    /// Sequence numbers remembered below the highest, per session (rounded up to 64).
    pub window: u64,
    /// Sessions tracked at once.
    pub max_sessions: usize,
    /// Largest accepted distance between capture time and the receiver's clock, in ns; `None`
    /// turns the clock rules off (then a replay after a forward restart is not detected).
    pub max_age_ns: Option<u64>,
}

/// Default window: 4,096 sequence numbers (≈ 0.1 s at 40 k packets/s).
pub const DEFAULT_WINDOW: u64 = 4096;
/// Default number of sessions: a few capture sites plus restarts.
pub const DEFAULT_MAX_SESSIONS: usize = 8;
/// Default clock bound: 30 s.
pub const DEFAULT_MAX_AGE_NS: u64 = 30_000_000_000;

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            window: DEFAULT_WINDOW,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_age_ns: Some(DEFAULT_MAX_AGE_NS),
        }
    }
}

/// What an accepted datagram tells about the tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeqEvent {
    /// First datagram of a session this receiver had not seen.
    pub new_session: bool,
    /// Sequence numbers skipped by this datagram (not yet seen; some may still arrive late).
    pub gap: u64,
    /// Arrived after a higher sequence number (fills an earlier gap).
    pub reordered: bool,
}

/// Why an authentic-looking datagram is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReplayError {
    /// This sequence number of this session was already accepted.
    #[error("sequence number already seen")]
    Duplicate,
    /// Older than the window: cannot tell whether it was seen.
    #[error("sequence number below the window")]
    BelowWindow,
    /// Capture time too far in the past.
    #[error("capture time older than the clock bound")]
    Stale,
    /// Capture time too far in the future.
    #[error("capture time ahead of the clock bound")]
    Future,
    /// A new session while all tracked sessions are recently active.
    #[error("no room for a new session")]
    NoSessionSlot,
}

#[derive(Debug)]
struct Session {
    id: u64,
    highest: u64,
    last_timestamp_ns: u64,
    seen: Vec<u64>,
}

impl Session {
    fn new(id: u64, seq: u64, timestamp_ns: u64, words: usize) -> Self {
        let mut session = Self {
            id,
            highest: seq,
            last_timestamp_ns: timestamp_ns,
            seen: vec![0; words],
        };
        session.set(seq);
        session
    }

    fn window(&self) -> u64 {
        self.seen.len() as u64 * 64
    }

    fn slot(&self, seq: u64) -> (usize, u64) {
        let bit = seq % self.window();
        ((bit / 64) as usize, 1u64 << (bit % 64))
    }

    fn set(&mut self, seq: u64) {
        let (word, mask) = self.slot(seq);
        self.seen[word] |= mask;
    }

    fn clear(&mut self, seq: u64) {
        let (word, mask) = self.slot(seq);
        self.seen[word] &= !mask;
    }

    fn is_set(&self, seq: u64) -> bool {
        let (word, mask) = self.slot(seq);
        self.seen[word] & mask != 0
    }

    fn accept(&mut self, seq: u64, timestamp_ns: u64) -> Result<SeqEvent, ReplayError> {
        let mut event = SeqEvent::default();
        if seq > self.highest {
            let advance = seq - self.highest;
            if advance >= self.window() {
                self.seen.iter_mut().for_each(|word| *word = 0);
            } else {
                for skipped in self.highest + 1..seq {
                    self.clear(skipped);
                }
            }
            self.clear(seq);
            event.gap = advance - 1;
            self.highest = seq;
        } else if self.highest - seq >= self.window() {
            return Err(ReplayError::BelowWindow);
        } else if self.is_set(seq) {
            return Err(ReplayError::Duplicate);
        } else {
            event.reordered = true;
        }
        self.set(seq);
        self.last_timestamp_ns = self.last_timestamp_ns.max(timestamp_ns);
        Ok(event)
    }
}

/// The receiver's sessions.
#[derive(Debug)]
pub struct ReplayGuard {
    config: ReplayConfig,
    sessions: Vec<Session>,
}

impl ReplayGuard {
    /// An empty guard.
    pub fn new(config: ReplayConfig) -> Self {
        Self {
            config: ReplayConfig {
                window: config.window.max(64).div_ceil(64) * 64,
                max_sessions: config.max_sessions.max(1),
                ..config
            },
            sessions: Vec::new(),
        }
    }

    /// Sessions tracked now.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Accepts or refuses datagram `seq` of `session`, captured at `timestamp_ns`, received at
    /// `now_ns` (both ns since the Unix epoch). State changes only on acceptance.
    pub fn check(
        &mut self,
        session: u64,
        seq: u64,
        timestamp_ns: u64,
        now_ns: u64,
    ) -> Result<SeqEvent, ReplayError> {
        if let Some(max_age) = self.config.max_age_ns {
            if timestamp_ns.saturating_add(max_age) < now_ns {
                return Err(ReplayError::Stale);
            }
            if timestamp_ns > now_ns.saturating_add(max_age) {
                return Err(ReplayError::Future);
            }
        }
        if let Some(known) = self.sessions.iter_mut().find(|s| s.id == session) {
            return known.accept(seq, timestamp_ns);
        }
        let words = (self.config.window / 64) as usize;
        let fresh = Session::new(session, seq, timestamp_ns, words);
        if self.sessions.len() < self.config.max_sessions {
            self.sessions.push(fresh);
        } else {
            let (oldest, quiet_since) = self
                .sessions
                .iter()
                .enumerate()
                .map(|(i, s)| (i, s.last_timestamp_ns))
                .min_by_key(|(_, ts)| *ts)
                .expect("max_sessions >= 1, so the table is not empty");
            let expired = match self.config.max_age_ns {
                Some(max_age) => quiet_since.saturating_add(max_age) < now_ns,
                None => true,
            };
            if !expired {
                return Err(ReplayError::NoSessionSlot);
            }
            self.sessions[oldest] = fresh;
        }
        Ok(SeqEvent {
            new_session: true,
            ..SeqEvent::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use {super::*, proptest::prelude::*};

    const SEC: u64 = 1_000_000_000;
    const T0: u64 = 1_700_000_000 * SEC;

    fn guard() -> ReplayGuard {
        ReplayGuard::new(ReplayConfig {
            window: 128,
            max_sessions: 2,
            max_age_ns: Some(30 * SEC),
        })
    }

    #[test]
    fn in_order_then_gap_then_late() {
        let mut g = guard();
        assert!(g.check(1, 0, T0, T0).unwrap().new_session);
        assert_eq!(g.check(1, 1, T0, T0).unwrap(), SeqEvent::default());
        let gap = g.check(1, 5, T0, T0).unwrap();
        assert_eq!(gap.gap, 3);
        let late = g.check(1, 3, T0, T0).unwrap();
        assert!(late.reordered);
        assert_eq!(g.check(1, 3, T0, T0), Err(ReplayError::Duplicate));
        assert_eq!(g.check(1, 5, T0, T0), Err(ReplayError::Duplicate));
        assert_eq!(g.check(1, 1, T0, T0), Err(ReplayError::Duplicate));
        g.check(1, 1000, T0, T0).unwrap();
        assert_eq!(g.check(1, 2, T0, T0), Err(ReplayError::BelowWindow));
        // A big jump clears the window: numbers inside it are fresh, not duplicates.
        assert!(g.check(1, 999, T0, T0).unwrap().reordered);
    }

    #[test]
    fn clock_bound_rejects_old_and_future() {
        let mut g = guard();
        assert_eq!(g.check(1, 0, T0, T0 + 31 * SEC), Err(ReplayError::Stale));
        assert_eq!(g.check(1, 0, T0 + 31 * SEC, T0), Err(ReplayError::Future));
        assert_eq!(g.sessions(), 0);
    }

    #[test]
    fn restart_starts_a_new_session_and_old_replays_stay_out() {
        let mut g = guard();
        for seq in 0..10 {
            g.check(1, seq, T0 + seq, T0 + seq).unwrap();
        }
        // Capture restarts: new session id, sequence from 0.
        assert!(g.check(2, 0, T0 + SEC, T0 + SEC).unwrap().new_session);
        g.check(2, 1, T0 + SEC, T0 + SEC).unwrap();
        // Replays of the old session while it is tracked: duplicates.
        assert_eq!(
            g.check(1, 3, T0 + 3, T0 + 2 * SEC),
            Err(ReplayError::Duplicate)
        );
        // A third session while both are recent: refused.
        assert_eq!(
            g.check(3, 0, T0 + 2 * SEC, T0 + 2 * SEC),
            Err(ReplayError::NoSessionSlot)
        );
        // Much later session 1 is quiet past the bound: a new session replaces it...
        let later = T0 + 40 * SEC;
        g.check(2, 2, later, later).unwrap();
        assert!(g.check(3, 0, later, later).unwrap().new_session);
        // ...and a replay of session 1 is stale by the clock, not a new session.
        assert_eq!(g.check(1, 4, T0 + 4, later), Err(ReplayError::Stale));
    }

    #[test]
    fn receiver_restart_rejects_replays_by_clock() {
        // A fresh guard (forward restarted) never saw session 1: a replay of its old datagram
        // is stale.
        let mut g = guard();
        assert_eq!(g.check(1, 7, T0, T0 + 60 * SEC), Err(ReplayError::Stale));
    }

    proptest! {
        /// Every sequence number is accepted at most once, whatever the order, and gaps minus
        /// late arrivals equal the numbers never delivered (inside the window).
        #[test]
        fn each_seq_once(order in proptest::collection::vec(0u64..100, 0..400)) {
            let mut g = guard();
            let mut accepted = std::collections::HashSet::new();
            let (mut gaps, mut late) = (0u64, 0u64);
            for seq in &order {
                match g.check(9, *seq, T0, T0) {
                    Ok(event) => {
                        prop_assert!(accepted.insert(*seq));
                        gaps += event.gap;
                        late += u64::from(event.reordered);
                    }
                    Err(ReplayError::Duplicate) => prop_assert!(accepted.contains(seq)),
                    Err(other) => prop_assert!(false, "unexpected {other:?}"),
                }
            }
            if let (Some(first), Some(max)) = (order.first(), accepted.iter().max()) {
                let span = max - first + 1;
                let below_first = accepted.iter().filter(|s| *s < first).count() as u64;
                let missing = span - (accepted.len() as u64 - below_first);
                prop_assert_eq!(gaps - (late - below_first), missing);
            }
        }
    }
}
