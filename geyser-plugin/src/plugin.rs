//! The `GeyserPlugin` implementation: the FFI edge. Every callback copies what it is given into
//! an owned event and hands it off without waiting; nothing here blocks the validator, and no
//! panic crosses back into it (each callback catches panics and returns a `GeyserPluginError`).
//!
//! Build the plugin against the interface version of the validator that loads it: this crate
//! uses `agave-geyser-plugin-interface` 4.2.2 (agave-validator 4.2.2). Rust has no stable ABI, so
//! the plugin must also be built with the same rustc as the validator.

use {
    crate::{
        config::PluginConfig,
        handoff::{Event, StatusKind},
        serve::AccountsLtHashSource,
        service::{ReplicationService, ServiceOptions},
    },
    agave_geyser_plugin_interface::geyser_plugin_interface::{
        GeyserPlugin, GeyserPluginError, ReplicaAccountInfoVersions, ReplicaBlockInfoVersions,
        Result as PluginResult, SlotStatus,
    },
    replication_proto::{AccountRecord, Hash, Pubkey, Slot},
    std::{
        panic::{AssertUnwindSafe, catch_unwind},
        sync::Arc,
        time::Duration,
    },
};

/// How long `on_unload` waits for the plugin's threads.
pub const UNLOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The replication plugin. Idle until `on_load`.
#[derive(Debug, Default)]
pub struct ReplicationPlugin {
    options: ServiceOptions,
    inner: Option<ReplicationService>,
}

fn custom(msg: impl Into<String>) -> GeyserPluginError {
    GeyserPluginError::Custom(msg.into().into())
}

/// Runs a callback, turning a panic into an error instead of unwinding into the validator.
fn guarded<T>(what: &str, f: impl FnOnce() -> PluginResult<T>) -> PluginResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(what, panic = %msg, "plugin callback panicked");
            Err(custom(format!("{what} panicked: {msg}")))
        }
    }
}

fn pubkey(bytes: &[u8]) -> Option<Pubkey> {
    <[u8; 32]>::try_from(bytes).ok().map(Pubkey::new_from_array)
}

impl ReplicationPlugin {
    /// A plugin as the validator creates it.
    pub fn new() -> Self {
        Self::default()
    }

    /// A plugin whose slot trailers carry the full-state lattice hash from `lt_hashes` (for
    /// simulators, which know the whole state).
    pub fn with_lt_hashes(lt_hashes: Arc<dyn AccountsLtHashSource>) -> Self {
        Self {
            options: ServiceOptions {
                lt_hashes: Some(lt_hashes),
            },
            inner: None,
        }
    }

    /// The running service, after `on_load`.
    pub fn service(&self) -> Option<&ReplicationService> {
        self.inner.as_ref()
    }

    fn push(&self, event: Event) -> PluginResult<()> {
        let Some(inner) = &self.inner else {
            return Err(custom("plugin is not loaded"));
        };
        // A full queue is not an error for the validator: the slot is shed and counted.
        let _ = inner.handoff().try_push(event);
        Ok(())
    }
}

impl GeyserPlugin for ReplicationPlugin {
    fn name(&self) -> &'static str {
        "replica-replication"
    }

    fn on_load(&mut self, config_file: &str, is_reload: bool) -> PluginResult<()> {
        guarded("on_load", || {
            common::tracing::init(false);
            if self.inner.is_some() {
                return Err(custom("plugin is already loaded"));
            }
            let config = PluginConfig::load(config_file)
                .map_err(|e| GeyserPluginError::ConfigFileReadError { msg: e.to_string() })?;
            let service = ReplicationService::start(&config, self.options.clone())
                .map_err(|e| custom(e.to_string()))?;
            tracing::info!(
                addr = %service.local_addr(),
                identity = %service.identity(),
                is_reload,
                "replication plugin loaded"
            );
            self.inner = Some(service);
            Ok(())
        })
    }

    fn on_unload(&mut self) {
        let _ = guarded("on_unload", || {
            if let Some(inner) = self.inner.take() {
                inner.shutdown(UNLOAD_TIMEOUT);
            }
            Ok(())
        });
    }

    fn update_account(
        &self,
        account: ReplicaAccountInfoVersions,
        slot: Slot,
        is_startup: bool,
    ) -> PluginResult<()> {
        guarded("update_account", || {
            let Some(inner) = &self.inner else {
                return Err(custom("plugin is not loaded"));
            };
            if is_startup {
                inner.metrics().startup_skipped.inc();
                return Ok(());
            }
            // The interface versions are distinct types with the same fields.
            macro_rules! fields {
                ($info:expr) => {
                    (
                        $info.pubkey,
                        $info.lamports,
                        $info.owner,
                        $info.executable,
                        $info.rent_epoch,
                        $info.data,
                        $info.write_version,
                    )
                };
            }
            let (key, lamports, owner, executable, rent_epoch, data, write_version) = match account
            {
                ReplicaAccountInfoVersions::V0_0_1(info) => fields!(info),
                ReplicaAccountInfoVersions::V0_0_2(info) => fields!(info),
                ReplicaAccountInfoVersions::V0_0_3(info) => fields!(info),
            };
            let (Some(key), Some(owner)) = (pubkey(key), pubkey(owner)) else {
                // Unusable write: the slot must not be served without it.
                inner.handoff().mark_shed(slot);
                return Err(GeyserPluginError::AccountsUpdateError {
                    msg: "pubkey or owner is not 32 bytes".into(),
                });
            };
            let record = AccountRecord {
                pubkey: key,
                lamports,
                owner,
                executable,
                rent_epoch,
                data: if lamports == 0 {
                    Vec::new()
                } else {
                    data.to_vec()
                },
            };
            self.push(Event::Account {
                slot,
                write_version,
                record,
            })
        })
    }

    fn notify_end_of_startup(&self) -> PluginResult<()> {
        guarded("notify_end_of_startup", || {
            tracing::info!("validator finished loading its snapshot");
            self.push(Event::EndOfStartup)
        })
    }

    fn update_slot_status(
        &self,
        slot: Slot,
        parent: Option<u64>,
        status: &SlotStatus,
    ) -> PluginResult<()> {
        guarded("update_slot_status", || {
            let status = match status {
                SlotStatus::Processed => StatusKind::Processed,
                SlotStatus::Confirmed => StatusKind::Confirmed,
                SlotStatus::Rooted => StatusKind::Rooted,
                SlotStatus::FirstShredReceived => StatusKind::FirstShredReceived,
                SlotStatus::Completed => StatusKind::Completed,
                SlotStatus::CreatedBank => StatusKind::CreatedBank,
                SlotStatus::Dead(_) => StatusKind::Dead,
            };
            self.push(Event::Status {
                slot,
                parent,
                status,
            })
        })
    }

    fn notify_block_metadata(&self, block: ReplicaBlockInfoVersions) -> PluginResult<()> {
        guarded("notify_block_metadata", || {
            let (slot, parent, blockhash, block_height, block_time, executed) = match block {
                ReplicaBlockInfoVersions::V0_0_1(b) => (
                    b.slot,
                    None,
                    b.blockhash,
                    b.block_height,
                    b.block_time,
                    None,
                ),
                ReplicaBlockInfoVersions::V0_0_2(b) => (
                    b.slot,
                    Some(b.parent_slot),
                    b.blockhash,
                    b.block_height,
                    b.block_time,
                    Some(b.executed_transaction_count),
                ),
                ReplicaBlockInfoVersions::V0_0_3(b) => (
                    b.slot,
                    Some(b.parent_slot),
                    b.blockhash,
                    b.block_height,
                    b.block_time,
                    Some(b.executed_transaction_count),
                ),
                ReplicaBlockInfoVersions::V0_0_4(b) => (
                    b.slot,
                    Some(b.parent_slot),
                    b.blockhash,
                    b.block_height,
                    b.block_time,
                    Some(b.executed_transaction_count),
                ),
            };
            let blockhash = blockhash.parse::<Hash>().ok();
            if blockhash.is_none() {
                tracing::warn!(slot, "unparsable blockhash in block metadata");
            }
            self.push(Event::BlockMeta {
                slot,
                parent,
                blockhash,
                block_height,
                block_time,
                executed_transaction_count: executed,
            })
        })
    }

    fn account_data_notifications_enabled(&self) -> bool {
        true
    }

    /// Replicas bootstrap from snapshots: the validator need not replay its snapshot to us
    /// (it still calls `notify_end_of_startup`).
    fn account_data_snapshot_notifications_enabled(&self) -> bool {
        false
    }

    fn transaction_notifications_enabled(&self) -> bool {
        false
    }

    fn entry_notifications_enabled(&self) -> bool {
        false
    }
}

/// The constructor agave-validator looks up after `dlopen`ing the library. Its type is exactly
/// the plugin manager's `type PluginConstructor = unsafe fn() -> *mut dyn GeyserPlugin` (Rust
/// ABI, like the trait object it returns; hence the same rustc as the validator).
///
/// # Safety
///
/// The caller (the validator's plugin manager) takes ownership of the returned pointer with
/// `Box::from_raw`, exactly once.
#[cfg(feature = "plugin")]
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
pub unsafe fn _create_plugin() -> *mut dyn GeyserPlugin {
    let plugin: Box<dyn GeyserPlugin> = Box::new(ReplicationPlugin::new());
    Box::into_raw(plugin)
}
