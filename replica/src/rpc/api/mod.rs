//! One file per namespace; [`register`] merges them into the method table.

pub(crate) mod accounts;
pub(crate) mod bank;
pub(crate) mod legacy;
pub(crate) mod replica;
pub(crate) mod scan;
pub(crate) mod slot;

use super::registry::Methods;

/// Every served method; the removed ones only with `legacy_rpc`.
pub(crate) fn register(methods: &mut Methods, legacy_rpc: bool) {
    accounts::register(methods);
    bank::register(methods);
    scan::register(methods);
    slot::register(methods);
    replica::register(methods);
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
        served.sort_unstable();
        let mut expected = listed.to_vec();
        expected.sort_unstable();
        assert_eq!(served, expected);
        let mut with_legacy = Methods::default();
        register(&mut with_legacy, true);
        for removed in legacy::REMOVED_METHODS {
            assert!(methods.get(removed).is_none());
            assert!(with_legacy.get(removed).is_some());
        }
    }
}
