//! `[fleet]`: read consistency across the replicas behind one load balancer.

use {
    super::schedule::Timing,
    serde::{Deserialize, Serialize},
};

const DEFAULT_SWITCH_DELAY_MS: u64 = 1_000;
const DEFAULT_CLOCK_BOUND_MS: u64 = 50;
const DEFAULT_MEMBER_TIMEOUT_MS: u64 = 1_500;
const DEFAULT_MAX_LAG_SLOTS: u64 = 32;
/// ~7 minutes of 400 ms slots.
const DEFAULT_MAX_OVERLAY_SLOTS: usize = 1_024;

/// Which slot `confirmed` and `finalized` reads answer at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// This replica's own newest slots.
    #[default]
    Local,
    /// The slots every healthy member of the fleet can serve, switched at a common instant.
    Fleet,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    pub consistency: Consistency,
    /// How far ahead the root schedules a switch to new servable slots; the lease is this
    /// minus twice the clock bound. Every member must use the same value.
    pub switch_delay_ms: u64,
    /// How far apart the members' clocks may be (NTP keeps hosts within a few ms).
    pub clock_bound_ms: u64,
    /// A member that has not reported for this long leaves the fleet minimum.
    pub member_timeout_ms: u64,
    /// A member trailing the freshest by more slots leaves the fleet minimum.
    pub max_lag_slots: u64,
    /// Overlay slots held at most; beyond, rooted slots are committed past the servable slot
    /// (this replica then refuses finalized reads until the fleet catches up).
    pub max_overlay_slots: usize,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            consistency: Consistency::Local,
            switch_delay_ms: DEFAULT_SWITCH_DELAY_MS,
            clock_bound_ms: DEFAULT_CLOCK_BOUND_MS,
            member_timeout_ms: DEFAULT_MEMBER_TIMEOUT_MS,
            max_lag_slots: DEFAULT_MAX_LAG_SLOTS,
            max_overlay_slots: DEFAULT_MAX_OVERLAY_SLOTS,
        }
    }
}

impl FleetConfig {
    /// How long an announcement may be acted on: no member can still serve an older entry
    /// once another switched to a newer one, whatever the members' clocks within the bound.
    pub fn lease_ms(&self) -> u64 {
        self.switch_delay_ms
            .saturating_sub(self.clock_bound_ms.saturating_mul(2))
    }

    /// How long a member's long-poll waits at most, so that leases are renewed in time down
    /// a tree a few hops deep.
    pub fn long_poll(&self) -> std::time::Duration {
        std::time::Duration::from_millis((self.lease_ms() / 6).max(10))
    }

    pub fn timing(&self) -> Timing {
        Timing {
            switch_delay_ms: self.switch_delay_ms,
            lease_ms: self.lease_ms(),
            member_timeout_ms: self.member_timeout_ms,
            max_lag_slots: self.max_lag_slots,
        }
    }

    /// Why the settings cannot work, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.consistency == Consistency::Fleet && self.lease_ms() < 60 {
            return Err(format!(
                "fleet switch delay {} ms leaves a lease of {} ms with a clock bound of {} ms: \
                 make the delay larger than twice the bound plus 60 ms",
                self.switch_delay_ms,
                self.lease_ms(),
                self.clock_bound_ms
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Default, clap::Args)]
pub struct FleetArgs {
    /// `local`: answer at this replica's newest slots; `fleet`: answer `confirmed` and
    /// `finalized` reads at the slot every healthy member of the tree can serve [default:
    /// local].
    #[arg(long, value_enum)]
    pub consistency: Option<Consistency>,
    /// How far ahead the tree's root schedules a switch of the servable slot (same on every
    /// member) [default: 1000].
    #[arg(long, value_name = "MS")]
    pub fleet_switch_delay_ms: Option<u64>,
    /// How far apart the members' clocks may be [default: 50].
    #[arg(long, value_name = "MS")]
    pub fleet_clock_bound_ms: Option<u64>,
    /// A member silent this long leaves the fleet minimum [default: 1500].
    #[arg(long, value_name = "MS")]
    pub fleet_member_timeout_ms: Option<u64>,
    /// A member trailing the freshest by more slots leaves the fleet minimum [default: 32].
    #[arg(long, value_name = "SLOTS")]
    pub fleet_max_lag_slots: Option<u64>,
    /// Overlay slots kept at most while waiting for the fleet [default: 1024].
    #[arg(long, value_name = "N")]
    pub fleet_max_overlay_slots: Option<usize>,
}

impl FleetArgs {
    pub fn apply(&self, config: &mut FleetConfig) {
        if let Some(consistency) = self.consistency {
            config.consistency = consistency;
        }
        let set = |slot: &mut u64, value: Option<u64>| {
            if let Some(value) = value {
                *slot = value;
            }
        };
        set(&mut config.switch_delay_ms, self.fleet_switch_delay_ms);
        set(&mut config.clock_bound_ms, self.fleet_clock_bound_ms);
        set(&mut config.member_timeout_ms, self.fleet_member_timeout_ms);
        set(&mut config.max_lag_slots, self.fleet_max_lag_slots);
        if let Some(max) = self.fleet_max_overlay_slots {
            config.max_overlay_slots = max;
        }
    }
}
