//! Parameter binding as jsonrpc-derive 18 generates it for Agave's methods: trailing `Option`
//! parameters may be left out or `null`, counts are checked before types, and serde's own
//! messages become `Invalid params: <message>.`. Also Agave's pubkey and hash checks.

use {
    super::{envelope::Params, error::RpcError},
    serde::de::DeserializeOwned,
    serde_json::Value,
    solana_hash::Hash,
    solana_pubkey::Pubkey,
    std::str::FromStr,
};

/// A method without parameters: absent, `null` or `[]`.
pub(crate) fn none(params: Params) -> Result<(), RpcError> {
    match params {
        Params::None => Ok(()),
        Params::Array(ref values) if values.is_empty() => Ok(()),
        other => Err(RpcError::InvalidParamsWithDetails {
            message: "No parameters were expected".to_string(),
            details: format!("{other:?}"),
        }),
    }
}

/// The values of a call with `required` leading and `total - required` trailing optional
/// parameters, padded with `null` up to `total`.
pub(crate) fn positional(
    params: Params,
    required: usize,
    total: usize,
) -> Result<Vec<Value>, RpcError> {
    let passed = match &params {
        Params::Array(values) => values.len(),
        Params::None => 0,
        Params::Map(_) => {
            return Err(RpcError::InvalidParams(
                "`params` should be an array".to_string(),
            ));
        }
    };
    if passed < required {
        return Err(RpcError::InvalidParams(format!(
            "`params` should have at least {required} argument(s)"
        )));
    }
    if passed > total {
        return Err(RpcError::InvalidParamsWithDetails {
            message: format!("Expected from {required} to {total} parameters."),
            details: format!("{:?}", format!("Got: {passed}")),
        });
    }
    let mut values = match params {
        Params::Array(values) => values,
        _ => Vec::new(),
    };
    values.resize(total, Value::Null);
    Ok(values)
}

/// Deserializes one positional value (`Option<T>` turns `null` into `None`).
pub(crate) fn arg<T: DeserializeOwned>(value: Value) -> Result<T, RpcError> {
    serde_json::from_value(value).map_err(|error| RpcError::invalid_params_serde(&error))
}

/// Methods whose parameters are all required: jsonrpc-core parses the whole `params` value
/// as a tuple, whatever its shape.
pub(crate) fn tuple<T: DeserializeOwned>(params: Params) -> Result<T, RpcError> {
    arg(Value::from(params))
}

/// `[a?]`: no required and one optional parameter.
pub(crate) fn optional<A: DeserializeOwned>(params: Params) -> Result<Option<A>, RpcError> {
    let mut values = positional(params, 0, 1)?.into_iter();
    arg(values.next().unwrap_or_default())
}

/// `[a, b?]`.
pub(crate) fn one_and_optional<A: DeserializeOwned, B: DeserializeOwned>(
    params: Params,
) -> Result<(A, Option<B>), RpcError> {
    let mut values = positional(params, 1, 2)?.into_iter();
    let a = arg(values.next().unwrap_or_default())?;
    let b = arg(values.next().unwrap_or_default())?;
    Ok((a, b))
}

/// `[a, b, c?]`.
pub(crate) fn two_and_optional<A, B, C>(params: Params) -> Result<(A, B, Option<C>), RpcError>
where
    A: DeserializeOwned,
    B: DeserializeOwned,
    C: DeserializeOwned,
{
    let mut values = positional(params, 2, 3)?.into_iter();
    let a = arg(values.next().unwrap_or_default())?;
    let b = arg(values.next().unwrap_or_default())?;
    let c = arg(values.next().unwrap_or_default())?;
    Ok((a, b, c))
}

/// Agave's `verify_pubkey`: `Invalid param: WrongSize` / `Invalid param: Invalid`.
pub(crate) fn pubkey(text: &str) -> Result<Pubkey, RpcError> {
    Pubkey::from_str(text).map_err(|error| RpcError::invalid_param(format!("{error:?}")))
}

/// Agave's blockhash parse for isBlockhashValid: the bare Debug text of the error.
pub(crate) fn hash(text: &str) -> Result<Hash, RpcError> {
    Hash::from_str(text).map_err(|error| RpcError::InvalidParams(format!("{error:?}")))
}

#[cfg(test)]
mod tests {
    use {super::*, serde_json::json};

    fn params(value: Value) -> Params {
        serde_json::from_value(value).unwrap()
    }

    fn message(error: RpcError) -> String {
        match error {
            RpcError::InvalidParams(message) => message,
            RpcError::InvalidParamsWithDetails { message, details } => {
                format!("{message} | {details}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn binding_errors_read_like_agaves() {
        assert_eq!(
            message(none(params(json!([{}]))).unwrap_err()),
            "No parameters were expected | Array([Object {}])"
        );
        assert!(none(params(json!(null))).is_ok());
        assert!(none(params(json!([]))).is_ok());
        assert_eq!(
            message(one_and_optional::<String, Value>(params(json!({"a": 1}))).unwrap_err()),
            "`params` should be an array"
        );
        assert_eq!(
            message(one_and_optional::<String, Value>(params(json!([]))).unwrap_err()),
            "`params` should have at least 1 argument(s)"
        );
        assert_eq!(
            message(one_and_optional::<String, Value>(params(json!(["a", 1, 2]))).unwrap_err()),
            "Expected from 1 to 2 parameters. | \"Got: 3\""
        );
        assert_eq!(
            message(one_and_optional::<usize, Value>(params(json!(["50"]))).unwrap_err()),
            "Invalid params: invalid type: string \"50\", expected usize."
        );
        let (a, b) = one_and_optional::<String, u64>(params(json!(["a", null]))).unwrap();
        assert_eq!((a.as_str(), b), ("a", None));
        assert_eq!(
            message(tuple::<(u64,)>(params(json!(null))).unwrap_err()),
            "Invalid params: invalid type: null, expected a tuple of size 1."
        );
        assert_eq!(
            message(pubkey("a1b2c3d4").unwrap_err()),
            "Invalid param: WrongSize"
        );
        assert_eq!(
            message(pubkey("0000000000000000000000000000000000000000000").unwrap_err()),
            "Invalid param: Invalid"
        );
    }
}

/// A standing adversarial harness: arbitrary JSON (and arbitrary text) through the envelope,
/// every binding shape and the method config types the replica parses, the filter checks
/// and the message decoder. Nothing may panic; every input ends in a value or an error.
/// `PROPTEST_CASES=100000 cargo test -p replica params::adversarial` runs it long.
#[cfg(test)]
mod adversarial {
    use {
        super::*,
        crate::rpc::{methods::fee, read::filter, server::envelope::Request},
        proptest::prelude::*,
        solana_commitment_config::CommitmentConfig,
        solana_rpc_client_types::config::{
            RpcAccountInfoConfig, RpcContextConfig, RpcLargestAccountsConfig,
            RpcProgramAccountsConfig, RpcSupplyConfig, RpcTokenAccountsFilter,
        },
    };

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,48}".prop_map(Value::from),
            prop_oneof![
                Just("base64"),
                Just("jsonParsed"),
                Just("confirmed"),
                Just("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"),
                Just("11111111111111111111111111111111"),
                Just("encoding"),
                Just("commitment"),
                Just("filters"),
                Just("memcmp"),
                Just("dataSize"),
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let key = prop_oneof![
                Just("encoding".to_string()),
                Just("commitment".to_string()),
                Just("filters".to_string()),
                Just("memcmp".to_string()),
                Just("offset".to_string()),
                Just("bytes".to_string()),
                Just("dataSize".to_string()),
                Just("dataSlice".to_string()),
                Just("length".to_string()),
                Just("mint".to_string()),
                Just("programId".to_string()),
                Just("minContextSlot".to_string()),
                Just("withContext".to_string()),
                ".{0,12}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(key, inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    fn exercise(params: Params) {
        let _ = none(params.clone());
        let _ = optional::<RpcContextConfig>(params.clone());
        let _ = optional::<RpcSupplyConfig>(params.clone());
        let _ = optional::<RpcLargestAccountsConfig>(params.clone());
        let _ = one_and_optional::<String, RpcAccountInfoConfig>(params.clone())
            .map(|(key, _)| pubkey(&key));
        let _ = one_and_optional::<Vec<String>, RpcAccountInfoConfig>(params.clone());
        let _ = one_and_optional::<usize, CommitmentConfig>(params.clone());
        let _ = one_and_optional::<String, RpcContextConfig>(params.clone())
            .map(|(text, _)| (hash(&text), fee::decode(&text)));
        if let Ok((_, Some(config))) =
            one_and_optional::<String, RpcProgramAccountsConfig>(params.clone())
            && let Some(filters) = config.filters
        {
            let _ = filter::verify(&filters);
        }
        let _ = two_and_optional::<String, RpcTokenAccountsFilter, RpcAccountInfoConfig>(
            params.clone(),
        );
        let _ = tuple::<(u64,)>(params);
    }

    proptest! {
        #[test]
        fn parameters_never_panic(value in json_value()) {
            if let Ok(params) = serde_json::from_value::<Params>(value.clone()) {
                exercise(params);
            }
            let call = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "m", "params": value});
            let _ = serde_json::from_value::<Request>(call);
        }

        #[test]
        fn envelopes_never_panic(text in ".{0,256}") {
            let _ = serde_json::from_str::<Request>(&text);
            let _ = fee::decode(&text);
        }
    }
}
