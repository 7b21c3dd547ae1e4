//! Health as Agave defines it (`ok`, `behind`, `unknown`), with the upstream and an optional
//! cluster reference as "the cluster", and with staleness seen: a replica whose upstream
//! stopped answering, or whose confirmed slot stopped advancing, is not healthy, so a load
//! balancer takes it out of rotation within seconds and puts it back once slots flow again.

use {
    crate::state::{BootstrapStatus, ReplicaState},
    std::time::{Duration, Instant},
};

/// How health is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthLimits {
    /// `behind` beyond this many slots behind the upstream or the reference.
    pub slot_distance: u64,
    /// Not healthy when no new confirmed slot arrived (or the upstream did not answer) for
    /// this long.
    pub max_slot_age: Duration,
}

/// A reference slot older than this is not used.
const REFERENCE_MAX_AGE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    Behind {
        num_slots: u64,
    },
    /// Not known to be current: no upstream answer or no new slot for too long, an upstream
    /// that reported nothing yet, or a state that a validator snapshot contradicts.
    Unknown,
}

impl Health {
    /// The `/health` body.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Behind { .. } => "behind",
            Health::Unknown => "unknown",
        }
    }

    /// The `replica_health` gauge: 0 ok, 1 behind, 2 unknown.
    pub fn gauge(self) -> i64 {
        match self {
            Health::Ok => 0,
            Health::Behind { .. } => 1,
            Health::Unknown => 2,
        }
    }
}

/// The health of `state`. Without an upstream the replica serves its snapshot and is healthy
/// (unless a reference says it is behind).
pub fn check(state: &ReplicaState, limits: HealthLimits) -> Health {
    check_at(state, limits, Instant::now())
}

/// [`check`] as of `now`.
pub fn check_at(state: &ReplicaState, limits: HealthLimits, now: Instant) -> Health {
    let age = |at: Instant| now.saturating_duration_since(at);
    let node = state.node();
    if node.verification().mismatch.is_some() {
        return Health::Unknown;
    }
    let Some(mine) = state.confirmed_slot() else {
        return Health::Unknown;
    };
    // Under fleet consistency a member that cannot answer at the servable slot (no fresh
    // lease, or it does not hold the slot) leaves the load balancer's rotation.
    if node.fleet().is_enabled() && !crate::fleet::serving(state) {
        return Health::Unknown;
    }
    let upstream = node.upstream();
    if !matches!(node.bootstrap(), BootstrapStatus::Idle) {
        // Loading a new store beside this one: it serves, but it is behind.
        return match upstream {
            Some(upstream) if upstream.confirmed_slot > mine => Health::Behind {
                num_slots: upstream.confirmed_slot - mine,
            },
            _ => Health::Unknown,
        };
    }
    if let Some(upstream) = &upstream {
        let answered_recently = node
            .upstream_contact()
            .is_some_and(|at| age(at) <= limits.max_slot_age);
        if upstream.confirmed_slot == 0 || !answered_recently {
            return Health::Unknown;
        }
        let advancing = node
            .confirmed_since()
            .is_some_and(|(_, since)| age(since) <= limits.max_slot_age);
        if !advancing {
            return Health::Unknown;
        }
        if mine < upstream.confirmed_slot.saturating_sub(limits.slot_distance) {
            return Health::Behind {
                num_slots: upstream.confirmed_slot - mine,
            };
        }
    }
    if let Some((reference, at)) = node.reference()
        && age(at) <= REFERENCE_MAX_AGE
        && mine < reference.saturating_sub(limits.slot_distance)
    {
        return Health::Behind {
            num_slots: reference - mine,
        };
    }
    Health::Ok
}
