//! Fleet consistency without I/O or the clock (`now_ms`, Unix milliseconds, is passed in):
//! the root's membership and schedule of servable slots, and a member's view of the schedule
//! it heard.

use {
    replication_proto::{
        Exclusion, FleetAnnouncement, FleetMember, MAX_FLEET_MEMBERS, MAX_FLEET_SCHEDULE,
        MemberProgress, Pubkey, ScheduledSlots, ServableSlots,
    },
    std::collections::HashMap,
};

/// The timing every member of a fleet shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How far ahead of its announcement a switch is scheduled.
    pub switch_delay_ms: u64,
    /// How long an announcement may be acted on after the root issued it.
    pub lease_ms: u64,
    /// A member whose report is older than this leaves the minimum.
    pub member_timeout_ms: u64,
    /// A member trailing the freshest member's confirmed slot by more leaves the minimum.
    pub max_lag_slots: u64,
}

/// A report as the root holds it: the progress and when (root time) it was true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub confirmed_slot: u64,
    pub rooted_slot: u64,
    pub at_ms: u64,
}

/// Which members count towards the minimum, and the candidate servable slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub members: Vec<FleetMember>,
    /// The minimum over the members that count; `None` when none counts.
    pub candidate: Option<ServableSlots>,
    /// The freshest member's confirmed and rooted slots.
    pub freshest: ServableSlots,
}

/// Judges every member's report at `now_ms`. `own` (the root itself) always counts.
pub fn membership(
    own: (Pubkey, Report),
    reports: &HashMap<Pubkey, Report>,
    timing: &Timing,
    now_ms: u64,
) -> Membership {
    let fresh = |report: &Report| now_ms.saturating_sub(report.at_ms) <= timing.member_timeout_ms;
    let mut all: Vec<(Pubkey, Report)> = vec![own];
    all.extend(
        reports
            .iter()
            .filter(|(identity, _)| **identity != own.0)
            .map(|(identity, report)| (*identity, *report)),
    );
    all.truncate(MAX_FLEET_MEMBERS);
    let freshest = ServableSlots {
        confirmed: all
            .iter()
            .filter(|(_, r)| fresh(r))
            .map(|(_, r)| r.confirmed_slot)
            .max()
            .unwrap_or_default(),
        finalized: all
            .iter()
            .filter(|(_, r)| fresh(r))
            .map(|(_, r)| r.rooted_slot)
            .max()
            .unwrap_or_default(),
    };
    let mut candidate: Option<ServableSlots> = None;
    let members = all
        .iter()
        .enumerate()
        .map(|(i, (identity, report))| {
            let excluded = if i == 0 {
                None
            } else if !fresh(report) {
                Some(Exclusion::Stale)
            } else if report.confirmed_slot + timing.max_lag_slots < freshest.confirmed {
                Some(Exclusion::Lagging)
            } else {
                None
            };
            if excluded.is_none() {
                let slots = candidate.get_or_insert(ServableSlots {
                    confirmed: u64::MAX,
                    finalized: u64::MAX,
                });
                slots.confirmed = slots.confirmed.min(report.confirmed_slot);
                slots.finalized = slots.finalized.min(report.rooted_slot);
            }
            FleetMember {
                identity: *identity,
                confirmed_slot: report.confirmed_slot,
                rooted_slot: report.rooted_slot,
                excluded,
            }
        })
        .collect();
    Membership {
        members,
        candidate: candidate.map(|slots| ServableSlots {
            confirmed: slots.confirmed,
            finalized: slots.finalized.min(slots.confirmed),
        }),
        freshest,
    }
}

/// Servable slots in force over time: ascending by switch instant, never decreasing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    entries: Vec<ScheduledSlots>,
}

impl Schedule {
    pub fn entries(&self) -> &[ScheduledSlots] {
        &self.entries
    }

    /// The newest slots scheduled (in force or not yet).
    pub fn latest(&self) -> Option<ServableSlots> {
        self.entries.last().map(|entry| entry.slots)
    }

    /// The slots in force at `now_ms`.
    pub fn active(&self, now_ms: u64) -> Option<ServableSlots> {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.switch_at_ms <= now_ms)
            .map(|entry| entry.slots)
    }

    /// The root schedules `candidate` (raised to what is already scheduled, so servable slots
    /// never go back) to switch at `now_ms + switch_delay_ms`. Returns whether it is new.
    pub fn propose(&mut self, candidate: ServableSlots, now_ms: u64, switch_delay_ms: u64) -> bool {
        let next = match self.latest() {
            Some(latest) => ServableSlots {
                confirmed: candidate.confirmed.max(latest.confirmed),
                finalized: candidate.finalized.max(latest.finalized),
            },
            None => candidate,
        };
        if self.latest() == Some(next) {
            return false;
        }
        let switch_at_ms = (now_ms + switch_delay_ms)
            .max(self.entries.last().map_or(0, |entry| entry.switch_at_ms));
        self.entries.push(ScheduledSlots {
            slots: next,
            switch_at_ms,
        });
        true
    }

    /// Adds what an announcement lists (entries are immutable once scheduled, so a stale or
    /// repeated announcement adds nothing). Returns whether anything was new.
    pub fn merge(&mut self, entries: &[ScheduledSlots]) -> bool {
        let mut changed = false;
        for entry in entries {
            if self.entries.contains(entry) {
                continue;
            }
            // Only an entry that keeps the schedule ascending in both time and slots.
            let position = self
                .entries
                .partition_point(|known| known.switch_at_ms <= entry.switch_at_ms);
            let before_ok = position == 0 || {
                let before = self.entries[position - 1].slots;
                before.confirmed <= entry.slots.confirmed
                    && before.finalized <= entry.slots.finalized
            };
            let after_ok = self.entries.get(position).is_none_or(|after| {
                entry.slots.confirmed <= after.slots.confirmed
                    && entry.slots.finalized <= after.slots.finalized
            });
            if before_ok && after_ok {
                self.entries.insert(position, *entry);
                changed = true;
            }
        }
        changed
    }

    /// Drops entries superseded before `now_ms` (keeping the one in force) and caps the length.
    pub fn prune(&mut self, now_ms: u64) {
        let in_force = self
            .entries
            .iter()
            .rposition(|entry| entry.switch_at_ms <= now_ms);
        if let Some(index) = in_force {
            self.entries.drain(..index);
        }
        if self.entries.len() > MAX_FLEET_SCHEDULE {
            let excess = self.entries.len() - MAX_FLEET_SCHEDULE;
            self.entries.drain(..excess);
        }
    }
}

/// What a member heard from its upstream: the schedule and the lease.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heard {
    pub schedule: Schedule,
    /// The newest announcement heard (forwarded unchanged downstream).
    pub last: Option<FleetAnnouncement>,
}

impl Heard {
    /// Takes in an announcement; returns whether the schedule changed.
    pub fn hear(&mut self, announcement: FleetAnnouncement, now_ms: u64) -> bool {
        let changed = self.schedule.merge(&announcement.schedule);
        self.schedule.prune(now_ms);
        if self
            .last
            .as_ref()
            .is_none_or(|last| announcement.issued_at_ms >= last.issued_at_ms)
        {
            self.last = Some(announcement);
        }
        changed
    }

    /// When the lease runs out (Unix ms), if one was ever heard.
    pub fn lease_until_ms(&self) -> Option<u64> {
        self.last
            .as_ref()
            .map(|last| last.issued_at_ms.saturating_add(u64::from(last.lease_ms)))
    }
}

/// The root's own progress as the report it would send.
pub fn own_report(progress: &MemberProgress, now_ms: u64) -> Report {
    Report {
        confirmed_slot: progress.confirmed_slot,
        rooted_slot: progress.rooted_slot,
        at_ms: now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing {
        switch_delay_ms: 1_000,
        lease_ms: 800,
        member_timeout_ms: 2_000,
        max_lag_slots: 10,
    };

    fn report(confirmed: u64, rooted: u64, at_ms: u64) -> Report {
        Report {
            confirmed_slot: confirmed,
            rooted_slot: rooted,
            at_ms,
        }
    }

    fn slots(confirmed: u64, finalized: u64) -> ServableSlots {
        ServableSlots {
            confirmed,
            finalized,
        }
    }

    #[test]
    fn minimum_leaves_out_stale_and_lagging_members() {
        let root = Pubkey::new_unique();
        let (b, c, d) = (
            Pubkey::new_unique(),
            Pubkey::new_unique(),
            Pubkey::new_unique(),
        );
        let reports = HashMap::from([
            (b, report(98, 90, 9_500)),
            (c, report(50, 40, 9_900)),
            (d, report(30, 20, 7_000)),
        ]);
        let m = membership((root, report(100, 92, 10_000)), &reports, &TIMING, 10_000);
        assert_eq!(m.candidate, Some(slots(98, 90)));
        assert_eq!(m.freshest, slots(100, 92));
        let why = |id| {
            m.members
                .iter()
                .find(|m| m.identity == id)
                .unwrap()
                .excluded
        };
        assert_eq!(why(b), None);
        assert_eq!(why(c), Some(Exclusion::Lagging));
        assert_eq!(why(d), Some(Exclusion::Stale));
        assert_eq!(why(root), None);
    }

    #[test]
    fn schedule_never_goes_back_and_switches_at_its_instant() {
        let mut schedule = Schedule::default();
        assert!(schedule.propose(slots(10, 5), 1_000, 1_000));
        assert!(!schedule.propose(slots(10, 5), 1_100, 1_000));
        // A member joining lower does not pull the slots back.
        assert!(schedule.propose(slots(8, 6), 1_200, 1_000));
        assert_eq!(schedule.latest(), Some(slots(10, 6)));
        assert_eq!(schedule.active(1_999), None);
        assert_eq!(schedule.active(2_000), Some(slots(10, 5)));
        assert_eq!(schedule.active(2_200), Some(slots(10, 6)));
        schedule.prune(2_300);
        assert_eq!(schedule.entries().len(), 1);
    }

    #[test]
    fn members_merge_announcements_in_any_order() {
        let mut root = Schedule::default();
        root.propose(slots(10, 5), 0, 1_000);
        let first = root.entries().to_vec();
        root.propose(slots(12, 6), 400, 1_000);
        let both = root.entries().to_vec();
        let mut member = Heard::default();
        let announce = |schedule: Vec<ScheduledSlots>, issued_at_ms| FleetAnnouncement {
            issued_at_ms,
            lease_ms: 800,
            schedule,
            members: Vec::new(),
        };
        assert!(member.hear(announce(both.clone(), 400), 400));
        // A late copy of an older announcement changes nothing and keeps the newer lease.
        assert!(!member.hear(announce(first, 0), 450));
        assert_eq!(member.lease_until_ms(), Some(1_200));
        assert_eq!(member.schedule.entries(), both.as_slice());
        // An entry that would make the schedule go back is refused.
        assert!(!member.schedule.merge(&[ScheduledSlots {
            slots: slots(9, 5),
            switch_at_ms: 1_500,
        }]));
    }
}
