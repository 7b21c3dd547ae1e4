//! PubSub call parameters as Agave's `RpcSolPubSubInternal` binds them (jsonrpc-derive 18):
//! defaults (binary encoding, finalized), its own pubkey and filter error texts, and the
//! subscription id of the unsubscribe methods.

use {
    crate::rpc::{
        read::filter,
        server::{Params, RpcError, params},
    },
    solana_account_decoder::UiAccountEncoding,
    solana_commitment_config::{CommitmentConfig, CommitmentLevel},
    solana_pubkey::Pubkey,
    solana_rpc_client_types::{
        config::{RpcAccountInfoConfig, RpcProgramAccountsConfig},
        filter::RpcFilterType,
    },
    std::str::FromStr,
};

/// When a subscription is notified: as a slot enters the confirmed view, or as it is rooted.
/// `processed` is `Confirmed` (the replica has no unconfirmed banks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Level {
    Confirmed,
    Finalized,
}

impl Level {
    fn of(config: Option<CommitmentConfig>) -> Self {
        match config.map(|config| config.commitment) {
            None | Some(CommitmentLevel::Finalized) => Self::Finalized,
            Some(CommitmentLevel::Confirmed | CommitmentLevel::Processed) => Self::Confirmed,
        }
    }
}

/// What a subscription asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Subscription {
    Account {
        pubkey: Pubkey,
        encoding: UiAccountEncoding,
        level: Level,
    },
    Program {
        program: Pubkey,
        filters: Vec<RpcFilterType>,
        encoding: UiAccountEncoding,
        level: Level,
    },
    Slot,
    Root,
}

impl Subscription {
    /// The subscribe method's name (a metric label).
    pub(crate) fn method(&self) -> &'static str {
        match self {
            Self::Account { .. } => "accountSubscribe",
            Self::Program { .. } => "programSubscribe",
            Self::Slot => "slotSubscribe",
            Self::Root => "rootSubscribe",
        }
    }
}

/// Agave's `param::<Pubkey>(…, "pubkey")`.
fn pubkey(text: &str) -> Result<Pubkey, RpcError> {
    Pubkey::from_str(text)
        .map_err(|_| RpcError::InvalidParams("Invalid Request: Invalid pubkey provided".into()))
}

/// `accountSubscribe [pubkey, config?]`; `dataSlice` and `minContextSlot` are accepted and,
/// as in Agave, ignored.
pub(crate) fn account(params: Params) -> Result<Subscription, RpcError> {
    let (text, config) = params::one_and_optional::<String, RpcAccountInfoConfig>(params)?;
    let config = config.unwrap_or_default();
    Ok(Subscription::Account {
        pubkey: pubkey(&text)?,
        encoding: config.encoding.unwrap_or(UiAccountEncoding::Binary),
        level: Level::of(config.commitment),
    })
}

/// `programSubscribe [program, config?]`: filters are checked before the pubkey, and their
/// errors carry jsonrpc-core's `Invalid params: ` prefix as Agave's `error.to_string()` does.
pub(crate) fn program(params: Params) -> Result<Subscription, RpcError> {
    let (text, config) = params::one_and_optional::<String, RpcProgramAccountsConfig>(params)?;
    let config = config.unwrap_or_default();
    let mut filters = config.filters.unwrap_or_default();
    filter::verify(&filters)
        .map_err(|error| RpcError::InvalidParams(format!("Invalid params: {error}")))?;
    filter::optimize(&mut filters);
    Ok(Subscription::Program {
        program: pubkey(&text)?,
        filters,
        encoding: config
            .account_config
            .encoding
            .unwrap_or(UiAccountEncoding::Binary),
        level: Level::of(config.account_config.commitment),
    })
}

/// `slotSubscribe` and `rootSubscribe` take no parameters.
pub(crate) fn none(params: Params) -> Result<(), RpcError> {
    params::none(params)
}

/// The id of an unsubscribe call (`[id]`).
pub(crate) fn subscription_id(params: Params) -> Result<u64, RpcError> {
    params::tuple::<(u64,)>(params).map(|(id,)| id)
}

/// jsonrpsee's raw parameters in the envelope's form (absent, array or object).
pub(crate) fn from_raw(raw: Option<&str>) -> Result<Params, RpcError> {
    match raw {
        None => Ok(Params::None),
        Some(text) => serde_json::from_str(text).map_err(|_| RpcError::InvalidRequest),
    }
}

#[cfg(test)]
mod tests {
    use {super::*, serde_json::json};

    fn array(value: serde_json::Value) -> Params {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn account_defaults_are_binary_and_finalized() {
        let pubkey = Pubkey::new_unique();
        assert_eq!(
            account(array(json!([pubkey.to_string()]))).unwrap(),
            Subscription::Account {
                pubkey,
                encoding: UiAccountEncoding::Binary,
                level: Level::Finalized
            }
        );
        let processed = account(array(json!([
            pubkey.to_string(),
            {"commitment": "processed", "encoding": "base64+zstd"}
        ])))
        .unwrap();
        assert_eq!(
            processed,
            Subscription::Account {
                pubkey,
                encoding: UiAccountEncoding::Base64Zstd,
                level: Level::Confirmed
            }
        );
    }

    #[test]
    fn errors_are_agaves() {
        let bad = account(array(json!(["not a key"]))).unwrap_err();
        assert_eq!(bad.to_string(), "Invalid Request: Invalid pubkey provided");
        assert_eq!(bad.code(), -32602);
        let missing = account(Params::None).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "`params` should have at least 1 argument(s)"
        );
        let filters = program(array(json!([
            "not a key",
            {"filters": [{"dataSize": 1}, {"dataSize": 2}, {"dataSize": 3}, {"dataSize": 4}, {"dataSize": 5}]}
        ])))
        .unwrap_err();
        assert_eq!(
            filters.to_string(),
            "Invalid params: Too many filters provided; max 4"
        );
        assert_eq!(
            subscription_id(array(json!(["x"]))).unwrap_err().code(),
            -32602
        );
        assert_eq!(subscription_id(array(json!([7]))).unwrap(), 7);
        assert!(none(array(json!([1]))).is_err());
        assert!(none(Params::None).is_ok());
    }
}
