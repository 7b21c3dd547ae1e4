//! A simulator with its own in-process replication plugin and a paced run loop: what
//! `replica sim` and `replica dev` start.

use {
    super::{Genesis, RootedReport, SimConfig, Simulator, StepReport},
    crate::snapshot::write_state_archive,
    agave_geyser_plugin_interface::geyser_plugin_interface::{GeyserPlugin, GeyserPluginError},
    geyser_plugin::{ReplicationPlugin, config::PluginConfig},
    replication_proto::{Pubkey, Slot},
    std::{
        collections::VecDeque,
        net::SocketAddr,
        path::PathBuf,
        time::{Duration, Instant},
    },
    tokio_util::sync::CancellationToken,
};

/// Why the simulation failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The plugin refused a notification (or failed to load).
    #[error("plugin error: {0}")]
    Plugin(String),
    /// Writing the plugin's config file failed.
    #[error("failed to write {}: {source}", .path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl SimError {
    pub(super) fn plugin(error: GeyserPluginError) -> Self {
        SimError::Plugin(error.to_string())
    }
}

/// The longest single sleep of the run loop, so cancellation is noticed promptly.
const SLEEP_STEP: Duration = Duration::from_millis(50);

/// How a [`SimNode`] behaves beside its content.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// Slot trailers carry the simulator's lattice hashes; without them the plugin behaves as
    /// inside a real validator, which cannot compute one.
    pub lattice_hashes: bool,
    /// Full snapshot archives of the state, as a validator writes them.
    pub snapshots: Option<SnapshotSchedule>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            lattice_hashes: true,
            snapshots: None,
        }
    }
}

/// Full snapshot archives every `interval_slots`, the newest `keep` of them kept in `dir`.
#[derive(Clone, Debug)]
pub struct SnapshotSchedule {
    pub dir: PathBuf,
    pub interval_slots: u64,
    pub keep: usize,
}

/// The periodic archives: a state captured at an interval's first main-chain slot, written
/// once that slot is rooted (a validator snapshots only rooted banks).
#[derive(Debug)]
struct Snapshots {
    schedule: SnapshotSchedule,
    last_captured: Slot,
    pending: Option<Genesis>,
    written: VecDeque<PathBuf>,
}

impl Snapshots {
    fn after_step(&mut self, sim: &Simulator, report: &StepReport) {
        let interval = self.schedule.interval_slots.max(1);
        if self.pending.is_none() && report.slot / interval > self.last_captured / interval {
            self.last_captured = report.slot;
            self.pending = Some(sim.tip_snapshot());
        }
        let rooted = report.rooted.last().map(|rooted| rooted.slot);
        let Some(pending) = self
            .pending
            .take_if(|pending| rooted.is_some_and(|rooted| rooted >= pending.slot))
        else {
            return;
        };
        match write_state_archive(&pending, &self.schedule.dir) {
            Ok(path) => {
                tracing::info!(slot = pending.slot, archive = %path.display(), "wrote a full snapshot archive");
                self.written.push_back(path);
                while self.written.len() > self.schedule.keep.max(1) {
                    let old = self.written.pop_front().expect("not empty");
                    if let Err(error) = std::fs::remove_file(&old) {
                        tracing::warn!(archive = %old.display(), %error, "cannot remove an old snapshot archive");
                    }
                }
            }
            Err(error) => {
                tracing::warn!(slot = pending.slot, %error, "cannot write a snapshot archive")
            }
        }
    }
}

/// A simulator driving an in-process [`ReplicationPlugin`] that serves replicas, with trailers
/// carrying the simulator's lattice hashes (unless told otherwise).
#[derive(Debug)]
pub struct SimNode {
    sim: Simulator,
    plugin: ReplicationPlugin,
    snapshots: Option<Snapshots>,
}

impl SimNode {
    /// Builds the simulator, loads the plugin the way the validator does (`on_load` with a JSON
    /// config file written as `sim-plugin.json` in `plugin_config.data_dir`), and sends the
    /// startup notifications. The replication server is listening when this returns.
    pub fn start(config: SimConfig, plugin_config: &PluginConfig) -> Result<Self, SimError> {
        Self::start_with(config, plugin_config, NodeOptions::default())
    }

    /// [`SimNode::start`] with `options`.
    pub fn start_with(
        config: SimConfig,
        plugin_config: &PluginConfig,
        options: NodeOptions,
    ) -> Result<Self, SimError> {
        let mut sim = Simulator::new(config);
        let dir = &plugin_config.data_dir;
        std::fs::create_dir_all(dir).map_err(|source| SimError::Io {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join("sim-plugin.json");
        plugin_config.write(&path).map_err(|source| SimError::Io {
            path: path.clone(),
            source,
        })?;
        let mut plugin = if options.lattice_hashes {
            ReplicationPlugin::with_lt_hashes(sim.lt_hash_source())
        } else {
            ReplicationPlugin::new()
        };
        plugin
            .on_load(&path.to_string_lossy(), false)
            .map_err(SimError::plugin)?;
        sim.notify_startup(&plugin)?;
        let snapshots = options.snapshots.map(|schedule| Snapshots {
            schedule,
            last_captured: sim.tip_slot(),
            pending: None,
            written: VecDeque::new(),
        });
        Ok(Self {
            sim,
            plugin,
            snapshots,
        })
    }

    /// The simulator.
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }

    /// The initial state (for the snapshot archive).
    pub fn genesis(&self) -> &Genesis {
        self.sim.genesis()
    }

    /// The replication server's address.
    pub fn replication_addr(&self) -> SocketAddr {
        self.service().local_addr()
    }

    /// The replication server's identity.
    pub fn identity(&self) -> Pubkey {
        self.service().identity()
    }

    /// The plugin's metrics endpoint, if configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.service().metrics_addr()
    }

    /// The plugin's metrics.
    pub fn metrics(&self) -> &geyser_plugin::metrics::Metrics {
        self.service().metrics()
    }

    fn service(&self) -> &geyser_plugin::ReplicationService {
        self.plugin
            .service()
            .expect("the plugin is loaded for the node's lifetime")
    }

    /// Waits until the plugin has applied everything notified so far (see
    /// [`ReplicationService::wait_idle`](geyser_plugin::ReplicationService::wait_idle)).
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        self.service().wait_idle(timeout)
    }

    /// One slot.
    pub fn step(&mut self) -> Result<StepReport, SimError> {
        let report = self.sim.step(&self.plugin)?;
        if let Some(snapshots) = &mut self.snapshots {
            snapshots.after_step(&self.sim, &report);
        }
        Ok(report)
    }

    /// Produces `slots` slots (forever when `None`), one every `slot_ms` milliseconds (as fast
    /// as possible for 0), until `cancel`; calls `on_root` for each rooted slot in order.
    /// Returns the number of slots produced.
    pub fn run(
        &mut self,
        slots: Option<u64>,
        slot_ms: u64,
        cancel: &CancellationToken,
        mut on_root: impl FnMut(&RootedReport),
    ) -> Result<u64, SimError> {
        self.run_steps(slots, slot_ms, Instant::now(), cancel, |report| {
            for rooted in &report.rooted {
                on_root(rooted);
            }
        })
    }

    /// As [`run`](Self::run), calling `on_step` with each step's report, with step `n` due at
    /// `start + n × slot_ms` (steps already due are produced at once: a late start catches up).
    pub fn run_steps(
        &mut self,
        slots: Option<u64>,
        slot_ms: u64,
        start: Instant,
        cancel: &CancellationToken,
        mut on_step: impl FnMut(&StepReport),
    ) -> Result<u64, SimError> {
        let interval = Duration::from_millis(slot_ms);
        let mut produced = 0u64;
        while slots.is_none_or(|n| produced < n) && !cancel.is_cancelled() {
            let report = self.step()?;
            produced += 1;
            on_step(&report);
            let deadline = start + interval * u32::try_from(produced).unwrap_or(u32::MAX);
            loop {
                let now = Instant::now();
                if now >= deadline || cancel.is_cancelled() {
                    break;
                }
                std::thread::sleep((deadline - now).min(SLEEP_STEP));
            }
        }
        Ok(produced)
    }

    /// Unloads the plugin (`on_unload`), stopping its server and threads.
    pub fn shutdown(mut self) {
        self.plugin.on_unload();
    }
}
