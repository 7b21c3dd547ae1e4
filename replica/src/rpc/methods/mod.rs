//! The JSON-RPC methods, grouped by what they read, each registered through the server's
//! [`Registry`]: point reads of accounts, token values, scans of program and token accounts,
//! supply and the largest accounts, bank values, slots and blockhashes, the node itself, and
//! the methods Agave removed (served only with `--legacy-rpc`). A handler parses its params,
//! picks the bank its commitment reads, reads off the async runtime, and encodes.

pub(crate) mod accounts;
pub(crate) mod bank;
pub(crate) mod fee;
pub(crate) mod health;
pub(crate) mod inflation;
pub(crate) mod largest_accounts;
pub(crate) mod legacy;
pub(crate) mod node;
pub(crate) mod non_circulating;
pub(crate) mod point_reads;
pub(crate) mod program_accounts;
pub(crate) mod slots;
pub(crate) mod stake;
pub(crate) mod supply;
pub(crate) mod tokens;

use {
    super::server::{
        Registry, RpcConfig, RpcError,
        pool::Pools,
        reply::{Reply, Streamer},
    },
    crate::{
        health::Health,
        state::{ReplicaState, ServedState},
    },
    largest_accounts::LargestAccountsCache,
    point_reads::PointReads,
    solana_hash::Hash,
    std::sync::Arc,
};

/// The method table over the methods' context.
pub(crate) type Methods = Registry<MethodContext>;

/// The version this node reports (getVersion, `context.apiVersion`).
#[derive(Debug, Clone)]
pub(crate) struct NodeVersion {
    /// `major.minor.patch` of the Agave line whose RPC this replica reproduces.
    pub(crate) solana_core: String,
    /// First 4 bytes of that line's feature-set identifier.
    pub(crate) feature_set: u32,
}

impl NodeVersion {
    pub(crate) fn current() -> Self {
        let version = solana_version::Version::default();
        Self {
            solana_core: version.to_string(),
            feature_set: version.feature_set(),
        }
    }
}

/// What every method sees: the replica state, the RPC settings, the pools that run blocking
/// reads, and the methods' own caches.
#[derive(Debug)]
pub(crate) struct MethodContext {
    /// The store served now (a new bootstrap replaces it).
    served: Arc<ServedState>,
    pub(crate) config: RpcConfig,
    pub(crate) version: NodeVersion,
    /// From `--genesis-hash`; a snapshot does not carry it.
    pub(crate) genesis_hash: Option<Hash>,
    pub(crate) largest_accounts: LargestAccountsCache,
    /// Reader threads for getAccountInfo, getMultipleAccounts and getBalance.
    pub(crate) reads: PointReads,
    pools: Pools,
}

impl MethodContext {
    pub(crate) fn new(
        served: Arc<ServedState>,
        config: RpcConfig,
        genesis_hash: Option<Hash>,
        reads: PointReads,
        pools: Pools,
    ) -> Self {
        Self {
            served,
            config,
            version: NodeVersion::current(),
            genesis_hash,
            largest_accounts: LargestAccountsCache::default(),
            reads,
            pools,
        }
    }

    pub(crate) fn api_version(&self) -> &str {
        &self.version.solana_core
    }

    /// The state to answer from now.
    pub(crate) fn state(&self) -> Arc<ReplicaState> {
        self.served.load()
    }

    /// The node's health now.
    pub(crate) fn health(&self) -> Health {
        crate::health::check(&self.state(), self.config.health_limits())
    }

    /// Runs `read` on a blocking thread, at most `blocking_threads` at once.
    pub(crate) async fn blocking<T, F>(&self, read: F) -> Result<T, RpcError>
    where
        T: Send + 'static,
        F: FnOnce(&ReplicaState) -> Result<T, RpcError> + Send + 'static,
    {
        self.pools.blocking(&self.state(), read).await
    }

    /// Runs a scan on a blocking thread, at most `max_concurrent_scans` at once; it may
    /// stream its result through the [`Streamer`].
    pub(crate) async fn scan<F>(&self, scan: F) -> Result<Reply, RpcError>
    where
        F: FnOnce(&ReplicaState, &mut Streamer) -> Result<Reply, RpcError> + Send + 'static,
    {
        self.pools.scan(&self.state(), scan).await
    }
}

/// Every served method and path; the removed methods only with `legacy_rpc` (and never
/// forwarded to the fallback either way).
pub(crate) fn register(methods: &mut Methods, legacy_rpc: bool) {
    accounts::register(methods);
    tokens::register(methods);
    program_accounts::register(methods);
    supply::register(methods);
    largest_accounts::register(methods);
    bank::register(methods);
    slots::register(methods);
    node::register(methods);
    health::register(methods);
    for removed in legacy::REMOVED_METHODS {
        methods.never_forward(removed);
    }
    if legacy_rpc {
        legacy::register(methods);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The methods of the issue, plus the extension; the removed ones only on request.
    #[test]
    fn every_listed_method_is_served() {
        let listed = [
            "getAccountInfo",
            "getBalance",
            "getMultipleAccounts",
            "getProgramAccounts",
            "getTokenAccountsByOwner",
            "getTokenAccountsByDelegate",
            "getTokenAccountBalance",
            "getTokenSupply",
            "getTokenLargestAccounts",
            "getLargestAccounts",
            "getSupply",
            "getMinimumBalanceForRentExemption",
            "getEpochSchedule",
            "getEpochInfo",
            "getTransactionCount",
            "getInflationGovernor",
            "getInflationRate",
            "getLatestBlockhash",
            "isBlockhashValid",
            "getFeeForMessage",
            "getBlockCommitment",
            "getStakeMinimumDelegation",
            "getSlot",
            "getBlockHeight",
            "getHealth",
            "getVersion",
            "getIdentity",
            "getGenesisHash",
            "getReplicaStatus",
        ];
        let mut methods = Methods::default();
        register(&mut methods, false);
        let mut served: Vec<_> = methods.names().collect();
        for path in ["/health", "/v0/circulating-supply", "/v0/total-supply"] {
            assert!(methods.path(path).is_some(), "{path}");
        }
        served.sort_unstable();
        let mut expected = listed.to_vec();
        expected.sort_unstable();
        assert_eq!(served, expected);
        let mut with_legacy = Methods::default();
        register(&mut with_legacy, true);
        for removed in legacy::REMOVED_METHODS {
            assert!(methods.method(removed).is_none());
            assert!(!methods.forwards(removed));
            assert!(with_legacy.method(removed).is_some());
        }
    }
}
