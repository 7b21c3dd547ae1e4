//! The one place where JSON-RPC failures become wire error objects, with Agave's codes and
//! messages (rpc-spec.md §7; `rpc-client-api/src/custom_error.rs` and jsonrpc-core 18).

use {
    crate::store::StoreError, jsonrpsee::types::ErrorObjectOwned, serde_json::json,
    solana_pubkey::Pubkey,
};

/// jsonrpc-core's standard codes and Agave's server-error codes that this subset raises.
pub(crate) mod code {
    pub(crate) const PARSE_ERROR: i32 = -32700;
    pub(crate) const INVALID_REQUEST: i32 = -32600;
    pub(crate) const METHOD_NOT_FOUND: i32 = -32601;
    pub(crate) const INVALID_PARAMS: i32 = -32602;
    pub(crate) const INTERNAL_ERROR: i32 = -32603;
    pub(crate) const NODE_UNHEALTHY: i32 = -32005;
    pub(crate) const KEY_EXCLUDED_FROM_SECONDARY_INDEX: i32 = -32010;
    pub(crate) const SCAN_ERROR: i32 = -32012;
    pub(crate) const MIN_CONTEXT_SLOT_NOT_REACHED: i32 = -32016;
}

/// Agave's -32012 text when the accumulated scan results exceed
/// `--accounts-index-scan-results-limit-mb`.
pub(crate) const SCAN_LIMIT_MESSAGE: &str =
    "scan aborted: The accumulated scan results exceeded the limit";

/// Why a JSON-RPC call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RpcError {
    /// -32700: the body is not a JSON-RPC request.
    #[error("Parse error")]
    Parse,
    /// -32600 `Invalid request`: a malformed call, or a data length over 10 MiB for
    /// getMinimumBalanceForRentExemption.
    #[error("Invalid request")]
    InvalidRequest,
    /// -32600 `Unsupported JSON-RPC protocol version`: `jsonrpc` missing or null.
    #[error("Unsupported JSON-RPC protocol version")]
    UnsupportedVersion,
    /// -32600: account data too long for base58 (more than 128 bytes).
    #[error(
        "Encoded binary (base 58) data should be less than 128 bytes, please use Base64 encoding."
    )]
    Base58DataTooLarge,
    /// -32601: unknown, removed or disabled method.
    #[error("Method not found")]
    MethodNotFound,
    /// -32602 with the message as is (`Invalid params: …`, `Invalid param: …`, …).
    #[error("{0}")]
    InvalidParams(String),
    /// -32602 `Invalid parameters: {message}` with `data` the Debug form of `details`, as
    /// jsonrpc-core's `invalid_params_with_details`.
    #[error("Invalid parameters: {message}")]
    InvalidParamsWithDetails { message: String, details: String },
    /// -32005: the node is behind its upstream (`Some`) or its health is unknown (`None`).
    #[error("Node is unhealthy")]
    NodeUnhealthy { num_slots_behind: Option<u64> },
    /// -32010: the key is excluded from the secondary index a scan needs.
    #[error("{0} excluded from account secondary indexes; this RPC method unavailable for key")]
    KeyExcludedFromSecondaryIndex(Pubkey),
    /// -32012: the scan was aborted (result limit, or the view went away).
    #[error("{0}")]
    Scan(String),
    /// -32016: the view's slot is below the request's `minContextSlot`.
    #[error("Minimum context slot has not been reached")]
    MinContextSlotNotReached { context_slot: u64 },
    /// -32603 `Internal error`: a store read failed.
    #[error("store read failed: {0}")]
    Store(#[from] StoreError),
    /// -32603 with an explanation: a value this replica cannot know, a missing sysvar, or a
    /// failed fallback forward.
    #[error("{0}")]
    Unavailable(String),
    /// -32603 `Internal error`: a bug (a panicked blocking task) or shutdown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RpcError {
    /// `Invalid params: {serde message}.` as jsonrpc-core's `Params::parse` words it.
    pub(crate) fn invalid_params_serde(error: &serde_json::Error) -> Self {
        Self::InvalidParams(format!("Invalid params: {error}."))
    }

    /// `Invalid param: {…}` as Agave's `verify_pubkey` and token helpers word it.
    pub(crate) fn invalid_param(what: impl std::fmt::Display) -> Self {
        Self::InvalidParams(format!("Invalid param: {what}"))
    }

    pub(crate) fn code(&self) -> i32 {
        match self {
            Self::Parse => code::PARSE_ERROR,
            Self::InvalidRequest | Self::UnsupportedVersion | Self::Base58DataTooLarge => {
                code::INVALID_REQUEST
            }
            Self::MethodNotFound => code::METHOD_NOT_FOUND,
            Self::InvalidParams(_) | Self::InvalidParamsWithDetails { .. } => code::INVALID_PARAMS,
            Self::NodeUnhealthy { .. } => code::NODE_UNHEALTHY,
            Self::KeyExcludedFromSecondaryIndex(_) => code::KEY_EXCLUDED_FROM_SECONDARY_INDEX,
            Self::Scan(_) => code::SCAN_ERROR,
            Self::MinContextSlotNotReached { .. } => code::MIN_CONTEXT_SLOT_NOT_REACHED,
            Self::Store(_) | Self::Unavailable(_) | Self::Internal(_) => code::INTERNAL_ERROR,
        }
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(error: RpcError) -> Self {
        let code = error.code();
        match error {
            RpcError::InvalidParamsWithDetails { message, details } => ErrorObjectOwned::owned(
                code,
                format!("Invalid parameters: {message}"),
                Some(details),
            ),
            RpcError::NodeUnhealthy { num_slots_behind } => {
                let message = match num_slots_behind {
                    Some(slots) => format!("Node is behind by {slots} slots"),
                    None => "Node is unhealthy".to_string(),
                };
                ErrorObjectOwned::owned(
                    code,
                    message,
                    Some(json!({ "numSlotsBehind": num_slots_behind })),
                )
            }
            RpcError::MinContextSlotNotReached { context_slot } => ErrorObjectOwned::owned(
                code,
                error.to_string(),
                Some(json!({ "contextSlot": context_slot })),
            ),
            RpcError::Store(ref store) => {
                tracing::error!(error = %store, "JSON-RPC store read failed");
                ErrorObjectOwned::owned(code, "Internal error", None::<()>)
            }
            RpcError::Internal(ref what) => {
                tracing::error!(error = %what, "JSON-RPC internal error");
                ErrorObjectOwned::owned(code, "Internal error", None::<()>)
            }
            other => ErrorObjectOwned::owned(code, other.to_string(), None::<()>),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(error: RpcError) -> String {
        serde_json::to_string(&ErrorObjectOwned::from(error)).unwrap()
    }

    #[test]
    fn messages_and_data_are_agaves() {
        assert_eq!(
            wire(RpcError::MinContextSlotNotReached { context_slot: 7 }),
            r#"{"code":-32016,"message":"Minimum context slot has not been reached","data":{"contextSlot":7}}"#
        );
        assert_eq!(
            wire(RpcError::NodeUnhealthy {
                num_slots_behind: Some(42)
            }),
            r#"{"code":-32005,"message":"Node is behind by 42 slots","data":{"numSlotsBehind":42}}"#
        );
        assert_eq!(
            wire(RpcError::NodeUnhealthy {
                num_slots_behind: None
            }),
            r#"{"code":-32005,"message":"Node is unhealthy","data":{"numSlotsBehind":null}}"#
        );
        assert_eq!(
            wire(RpcError::InvalidParamsWithDetails {
                message: "Expected from 1 to 2 parameters.".into(),
                details: format!("{:?}", "Got: 3"),
            }),
            r#"{"code":-32602,"message":"Invalid parameters: Expected from 1 to 2 parameters.","data":"\"Got: 3\""}"#
        );
        assert_eq!(
            wire(RpcError::Base58DataTooLarge),
            r#"{"code":-32600,"message":"Encoded binary (base 58) data should be less than 128 bytes, please use Base64 encoding."}"#
        );
        let token = Pubkey::from_str_const("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
        assert_eq!(
            wire(RpcError::KeyExcludedFromSecondaryIndex(token)),
            r#"{"code":-32010,"message":"TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA excluded from account secondary indexes; this RPC method unavailable for key"}"#
        );
    }
}
