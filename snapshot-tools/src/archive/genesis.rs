//! `genesis.bin`: Agave's `GenesisConfig` in its bincode layout, with the values a snapshot
//! load compares with the archive's bank (creation time, ticks per slot, epoch schedule) and the
//! cluster's economics, and no accounts (a validator booting from a snapshot reads none).

use {
    super::manifest::{EpochSchedule, FeeRateGovernor, Inflation, Rent},
    serde::Serialize,
    solana_hash::Hash,
    std::{collections::BTreeMap, path::Path, time::Duration},
};

/// The file name Agave reads from a ledger directory.
pub const GENESIS_FILE: &str = "genesis.bin";

/// The values of a genesis for a chain whose state starts from a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Genesis {
    pub creation_time: i64,
    pub ticks_per_slot: u64,
    pub ns_per_slot: u128,
    pub hashes_per_tick: Option<u64>,
    pub fee_rate_governor: FeeRateGovernor,
    pub rent: Rent,
    pub inflation: Inflation,
    pub epoch_schedule: EpochSchedule,
}

/// `GenesisConfig` field by field.
#[derive(Serialize)]
struct GenesisConfigLayout {
    creation_time: i64,
    accounts: BTreeMap<[u8; 32], ()>,
    native_instruction_processors: Vec<(String, [u8; 32])>,
    rewards_pools: BTreeMap<[u8; 32], ()>,
    ticks_per_slot: u64,
    unused: u64,
    poh_config: PohConfig,
    backwards_compat_with_v0_23: u64,
    fee_rate_governor: FeeRateGovernor,
    rent: Rent,
    inflation: Inflation,
    epoch_schedule: EpochSchedule,
    cluster_type: ClusterType,
}

#[derive(Serialize)]
struct PohConfig {
    target_tick_duration: Duration,
    target_tick_count: Option<u64>,
    hashes_per_tick: Option<u64>,
}

#[derive(Serialize)]
#[allow(dead_code)]
enum ClusterType {
    Testnet,
    MainnetBeta,
    Devnet,
    Development,
}

impl Genesis {
    /// The `genesis.bin` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let tick_ns = self.ns_per_slot / u128::from(self.ticks_per_slot.max(1));
        let layout = GenesisConfigLayout {
            creation_time: self.creation_time,
            accounts: BTreeMap::new(),
            native_instruction_processors: Vec::new(),
            rewards_pools: BTreeMap::new(),
            ticks_per_slot: self.ticks_per_slot,
            // Agave's default (the former `slots_per_segment`).
            unused: 1024,
            poh_config: PohConfig {
                target_tick_duration: Duration::from_nanos(
                    u64::try_from(tick_ns).unwrap_or(u64::MAX),
                ),
                target_tick_count: None,
                hashes_per_tick: self.hashes_per_tick,
            },
            backwards_compat_with_v0_23: 0,
            fee_rate_governor: self.fee_rate_governor,
            rent: self.rent,
            inflation: self.inflation,
            epoch_schedule: self.epoch_schedule,
            cluster_type: ClusterType::Development,
        };
        bincode::serialize(&layout).expect("serializing into a Vec cannot fail")
    }

    /// The genesis hash Agave derives (sha256 of the bytes).
    pub fn hash(&self) -> Hash {
        Hash::new_from_array(solana_sha256_hasher::hashv(&[&self.to_bytes()]).to_bytes())
    }

    /// Writes `dir/genesis.bin` (through a temporary file, renamed into place).
    pub fn write(&self, dir: &Path) -> std::io::Result<std::path::PathBuf> {
        let path = dir.join(GENESIS_FILE);
        let temporary = dir.join(format!(".{GENESIS_FILE}.tmp"));
        std::fs::write(&temporary, self.to_bytes())?;
        std::fs::rename(&temporary, &path)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_agaves() {
        let genesis = Genesis {
            creation_time: 1_700_000_000,
            ticks_per_slot: 64,
            ns_per_slot: 400_000_000,
            hashes_per_tick: Some(12_500),
            fee_rate_governor: FeeRateGovernor::default(),
            rent: Rent {
                lamports_per_byte_year: 3480,
                exemption_threshold: 2.0,
                burn_percent: 50,
            },
            inflation: Inflation::default(),
            epoch_schedule: EpochSchedule::without_warmup(64),
        };
        let bytes = genesis.to_bytes();
        // creation time, three empty collections, ticks per slot, unused.
        assert_eq!(&bytes[..8], &1_700_000_000i64.to_le_bytes());
        assert_eq!(&bytes[8..32], &[0; 24]);
        assert_eq!(&bytes[32..40], &64u64.to_le_bytes());
        assert_eq!(&bytes[40..48], &1024u64.to_le_bytes());
        // The tick duration: 6.25 ms as (seconds, nanoseconds).
        assert_eq!(&bytes[48..56], &0u64.to_le_bytes());
        assert_eq!(&bytes[56..60], &6_250_000u32.to_le_bytes());
        // Ends with the epoch schedule and `Development` (variant 3).
        assert_eq!(&bytes[bytes.len() - 4..], &3u32.to_le_bytes());
        assert_eq!(
            bytes.len(),
            8 + 24 + 16 + 12 + 1 + 9 + 8 + 33 + 17 + 48 + 33 + 4
        );
        assert_eq!(genesis.hash(), genesis.clone().hash());
    }
}
