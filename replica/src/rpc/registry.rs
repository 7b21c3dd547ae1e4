//! The method table: each namespace in `api/` adds its methods, `mod.rs` merges them (as reth
//! merges one `RpcModule` per namespace).

use {
    super::{context::RpcContext, error::RpcError, jsonrpc::Params, reply::Reply},
    futures::future::BoxFuture,
    std::{collections::HashMap, sync::Arc},
};

pub(crate) type MethodFuture = BoxFuture<'static, Result<Reply, RpcError>>;

/// A method: takes the call's params, answers with a serialized result or an error.
pub(crate) type Method = fn(Arc<RpcContext>, Params) -> MethodFuture;

#[derive(Debug, Default)]
pub(crate) struct Methods {
    table: HashMap<&'static str, Method>,
}

impl Methods {
    /// Registers `method` under `name`; names are unique by construction.
    pub(crate) fn add(&mut self, name: &'static str, method: Method) {
        let previous = self.table.insert(name, method);
        assert!(
            previous.is_none(),
            "JSON-RPC method {name} registered twice"
        );
    }

    pub(crate) fn get(&self, name: &str) -> Option<(&'static str, Method)> {
        self.table
            .get_key_value(name)
            .map(|(name, method)| (*name, *method))
    }

    #[cfg(test)]
    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.table.keys().copied()
    }
}
