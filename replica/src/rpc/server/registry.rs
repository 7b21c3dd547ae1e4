//! What the server answers: JSON-RPC methods by name, plain GET paths (Agave's request
//! middleware: `/health`, the supply paths), and the names never forwarded to the fallback.
//! The method layer fills it; the server only looks things up.

use {
    super::{envelope::Params, error::RpcError, reply::Reply},
    axum::http::StatusCode,
    futures::future::BoxFuture,
    std::{
        collections::{HashMap, HashSet},
        sync::Arc,
    },
};

pub(crate) type MethodFuture = BoxFuture<'static, Result<Reply, RpcError>>;

/// A method: takes the call's params, answers with a serialized result or an error.
pub(crate) type Method<C> = fn(Arc<C>, Params) -> MethodFuture;

/// A path's answer: status and text body (no content type, as Agave's middleware writes it).
pub(crate) type PathFuture = BoxFuture<'static, (StatusCode, String)>;

/// A plain path, answered whatever the HTTP method.
pub(crate) type PathHandler<C> = fn(Arc<C>) -> PathFuture;

#[derive(Debug)]
pub(crate) struct Registry<C> {
    methods: HashMap<&'static str, Method<C>>,
    paths: HashMap<&'static str, PathHandler<C>>,
    not_forwarded: HashSet<&'static str>,
}

impl<C> Default for Registry<C> {
    fn default() -> Self {
        Self {
            methods: HashMap::new(),
            paths: HashMap::new(),
            not_forwarded: HashSet::new(),
        }
    }
}

impl<C> Registry<C> {
    /// Registers `method` under `name`; names are unique by construction.
    pub(crate) fn add(&mut self, name: &'static str, method: Method<C>) {
        let previous = self.methods.insert(name, method);
        assert!(
            previous.is_none(),
            "JSON-RPC method {name} registered twice"
        );
    }

    /// Registers a plain path such as `/health`.
    pub(crate) fn add_path(&mut self, path: &'static str, handler: PathHandler<C>) {
        let previous = self.paths.insert(path, handler);
        assert!(previous.is_none(), "path {path} registered twice");
    }

    /// Keeps `name` from the fallback node: when not served here it is method-not-found.
    pub(crate) fn never_forward(&mut self, name: &'static str) {
        self.not_forwarded.insert(name);
    }

    pub(crate) fn method(&self, name: &str) -> Option<(&'static str, Method<C>)> {
        self.methods
            .get_key_value(name)
            .map(|(name, method)| (*name, *method))
    }

    pub(crate) fn path(&self, path: &str) -> Option<PathHandler<C>> {
        self.paths.get(path).copied()
    }

    pub(crate) fn forwards(&self, name: &str) -> bool {
        !self.not_forwarded.contains(name)
    }

    #[cfg(test)]
    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.methods.keys().copied()
    }
}
