//! getFeeForMessage through Agave 4.2.2's own code: decode with its size rules and wincode
//! (solana-message 4.2.3), sanitize with address-lookup tables resolved at the view and the
//! reserved keys of the view's features, require the blockhash in the queue or a valid durable
//! nonce, then `solana_fee::calculate_fee` with the compute-budget configuration of
//! `solana-runtime-transaction` (`null` when that configuration is invalid).

use {
    crate::{bank::BankView, rpc::server::RpcError},
    agave_feature_set::{FEATURE_NAMES, FeatureSet},
    agave_reserved_account_keys::ReservedAccountKeys,
    base64::{Engine, prelude::BASE64_STANDARD},
    solana_address_lookup_table_interface::{error::AddressLookupError, state::AddressLookupTable},
    solana_hash::Hash,
    solana_message::{
        AddressLoader, SanitizedMessage, SanitizedVersionedMessage, VersionedMessage,
        v0::{LoadedAddresses, MessageAddressTableLookup},
    },
    solana_nonce::versions::Versions,
    solana_pubkey::Pubkey,
    solana_runtime_transaction::transaction_meta::TransactionConfiguration,
    solana_sdk_ids::{address_lookup_table, feature, system_program, sysvar},
    solana_slot_hashes::SlotHashes,
    solana_svm_transaction::svm_message::SVMMessage,
    solana_transaction_error::AddressLoaderError,
    std::ops::ControlFlow,
};

/// Base64 of a legacy or v0 message: `ceil(1232 / 3) * 4` characters, 1232 bytes.
const MAX_BASE64_LEGACY_SIZE: usize = 1644;
const PACKET_DATA_SIZE: usize = 1232;
/// Base64 of a v1 message: `ceil(4096 / 3) * 4` characters, 4096 bytes.
const MAX_BASE64_SIZE: usize = 5464;
const MAX_V1_TRANSACTION_SIZE: usize = 4096;
/// Agave's test for a v1 message (first byte ≥ 0x81) on the base64 text: its first two
/// characters compared as bytes.
const V1_BASE64_PREFIX_LOWER_BOUND: &[u8] = b"gQ";
/// Blockhashes a bank's queue keeps (`MAX_RECENT_BLOCKHASHES` + the newest).
const BLOCKHASH_QUEUE_LEN: usize = 301;
/// `FeeStructure::default().lamports_per_signature`: Agave 4.2 prices signatures with it
/// whatever the blockhash's own rate.
const LAMPORTS_PER_SIGNATURE: u64 = 5000;

/// Agave 4.2.2's `decode_and_deserialize::<VersionedMessage>(data, Base64)`.
pub(crate) fn decode(data: &str) -> Result<VersionedMessage, RpcError> {
    let type_name = std::any::type_name::<VersionedMessage>();
    let (max_encoded, max_raw) = if data
        .as_bytes()
        .get(..2)
        .is_some_and(|prefix| prefix >= V1_BASE64_PREFIX_LOWER_BOUND)
    {
        (MAX_BASE64_SIZE, MAX_V1_TRANSACTION_SIZE)
    } else {
        (MAX_BASE64_LEGACY_SIZE, PACKET_DATA_SIZE)
    };
    if data.len() > max_encoded {
        return Err(RpcError::InvalidParams(format!(
            "base64 encoded {type_name} too large: {} bytes (max: encoded/raw {max_encoded}/{max_raw})",
            data.len(),
        )));
    }
    let bytes = BASE64_STANDARD
        .decode(data)
        .map_err(|error| RpcError::InvalidParams(format!("invalid base64 encoding: {error:?}")))?;
    if bytes.len() > max_raw {
        return Err(RpcError::InvalidParams(format!(
            "decoded {type_name} too large: {} bytes (max: {max_raw} bytes)",
            bytes.len(),
        )));
    }
    wincode::deserialize(&bytes[..]).map_err(|error| {
        RpcError::InvalidParams(format!("failed to deserialize {type_name}: {error}"))
    })
}

/// Resolves v0 lookups against the view, as `impl AddressLoader for &Bank`.
#[derive(Clone, Copy)]
struct ViewLoader<'b, 'a> {
    bank: &'b BankView<'a>,
}

impl AddressLoader for ViewLoader<'_, '_> {
    fn load_addresses(
        self,
        lookups: &[MessageAddressTableLookup],
    ) -> Result<LoadedAddresses, AddressLoaderError> {
        if lookups.is_empty() {
            return Ok(LoadedAddresses::default());
        }
        let slot_hashes: SlotHashes = self
            .bank
            .get(&sysvar::slot_hashes::ID)
            .ok()
            .flatten()
            .and_then(|account| bincode::deserialize(&account.data).ok())
            .ok_or(AddressLoaderError::SlotHashesSysvarNotFound)?;
        let mut loaded = LoadedAddresses::default();
        for lookup in lookups {
            let table = self
                .bank
                .get(&lookup.account_key)
                .ok()
                .flatten()
                .ok_or(AddressLoaderError::LookupTableAccountNotFound)?;
            if table.owner != address_lookup_table::ID {
                return Err(AddressLoaderError::InvalidAccountOwner);
            }
            let table = AddressLookupTable::deserialize(&table.data)
                .map_err(|_| AddressLoaderError::InvalidAccountData)?;
            let slot = self.bank.slot();
            let convert = |error: AddressLookupError| match error {
                AddressLookupError::LookupTableAccountNotFound => {
                    AddressLoaderError::LookupTableAccountNotFound
                }
                AddressLookupError::InvalidAccountOwner => AddressLoaderError::InvalidAccountOwner,
                AddressLookupError::InvalidAccountData => AddressLoaderError::InvalidAccountData,
                AddressLookupError::InvalidLookupIndex => AddressLoaderError::InvalidLookupIndex,
            };
            loaded.writable.extend(
                table
                    .lookup(slot, &lookup.writable_indexes, &slot_hashes)
                    .map_err(convert)?,
            );
            loaded.readonly.extend(
                table
                    .lookup(slot, &lookup.readonly_indexes, &slot_hashes)
                    .map_err(convert)?,
            );
        }
        Ok(loaded)
    }
}

/// The feature set a bank would hold: every feature Agave 4.2.2 knows, active at the slot its
/// feature account records.
fn feature_set(bank: &BankView<'_>) -> Result<FeatureSet, RpcError> {
    let ids: Vec<Pubkey> = FEATURE_NAMES.keys().copied().collect();
    let mut features = FeatureSet::default();
    let _: ControlFlow<()> = bank.for_each_of(&ids, |id, account| {
        let activated = account
            .filter(|account| account.owner == feature::ID)
            .and_then(|account| bincode::deserialize::<Option<u64>>(account.data).ok())
            .flatten();
        if let Some(slot) = activated {
            features.activate(id, slot);
        }
        ControlFlow::Continue(())
    })?;
    Ok(features)
}

/// The fee for `message` on `bank`, or `None` when its blockhash is neither in the queue nor
/// a valid durable nonce, or its compute-budget configuration is invalid (Agave 4.2.2's
/// `Bank::get_fee_for_message`).
pub(crate) fn fee_for_message(
    bank: &BankView<'_>,
    message: VersionedMessage,
) -> Result<Option<u64>, RpcError> {
    let invalid = |error: &dyn std::fmt::Display| {
        RpcError::InvalidParams(format!("invalid transaction message: {error}"))
    };
    let features = feature_set(bank)?;
    let mut reserved = ReservedAccountKeys::default();
    reserved.update_active_set(&features);
    let sanitized = SanitizedVersionedMessage::try_from(message).map_err(|e| invalid(&e))?;
    let message = SanitizedMessage::try_new(sanitized, ViewLoader { bank }, &reserved.active)
        .map_err(|e| invalid(&e))?;
    if !blockhash_in_queue(bank, message.recent_blockhash())?
        && !valid_durable_nonce(bank, &message)?
    {
        return Ok(None);
    }
    let Ok(configuration) =
        TransactionConfiguration::try_from_sanitized_message(&message, &features)
    else {
        return Ok(None);
    };
    Ok(Some(solana_fee::calculate_fee(
        &message,
        LAMPORTS_PER_SIGNATURE,
        configuration.priority_fee_lamports,
        solana_fee::FeeFeatures::from(&features),
    )))
}

/// Whether `hash` is in the view's blockhash queue.
fn blockhash_in_queue(bank: &BankView<'_>, hash: &Hash) -> Result<bool, RpcError> {
    Ok(bank.recent_blockhashes(BLOCKHASH_QUEUE_LEN)?.contains(hash))
}

/// Agave 4.2's `load_message_nonce_data(message, false)`: the advance-nonce account (a static,
/// writable key) is a system account whose stored durable nonce is the message's blockhash.
fn valid_durable_nonce(bank: &BankView<'_>, message: &SanitizedMessage) -> Result<bool, RpcError> {
    let Some(nonce_address) = SVMMessage::get_durable_nonce(message) else {
        return Ok(false);
    };
    let Some(account) = bank.get(nonce_address)? else {
        return Ok(false);
    };
    if account.owner != system_program::ID {
        return Ok(false);
    }
    let Ok(versions) = bincode::deserialize::<Versions>(&account.data) else {
        return Ok(false);
    };
    Ok(versions
        .verify_recent_blockhash(message.recent_blockhash())
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(data: &str) -> String {
        match decode(data) {
            Err(RpcError::InvalidParams(message)) => message,
            other => panic!("{data}: {other:?}"),
        }
    }

    /// The texts Agave 4.2.2's `decode_and_deserialize` gives for the same inputs (its wincode
    /// 0.5.5 errors, the v1 size rule on the base64 prefix).
    #[test]
    fn decode_errors_are_agave_4_2_2s() {
        let t = "solana_message::versions::VersionedMessage";
        let cases = [
            (
                "!!!".to_string(),
                "invalid base64 encoding: InvalidByte(0, 33)".to_string(),
            ),
            (
                "AAA".to_string(),
                "invalid base64 encoding: InvalidPadding".to_string(),
            ),
            (
                "AAAA".to_string(),
                format!("failed to deserialize {t}: Attempting to read 1 bytes"),
            ),
            (
                "AQ==".to_string(),
                format!("failed to deserialize {t}: Attempting to read 2 bytes"),
            ),
            (
                "gQ==".to_string(),
                format!("failed to deserialize {t}: Attempting to read 41 bytes"),
            ),
            (
                "ggAA".to_string(),
                format!("failed to deserialize {t}: Invalid tag encoding: 2"),
            ),
            (
                "/////w==".to_string(),
                format!("failed to deserialize {t}: Invalid tag encoding: 127"),
            ),
            (
                "A".repeat(1645),
                format!("base64 encoded {t} too large: 1645 bytes (max: encoded/raw 1644/1232)"),
            ),
            (
                "A".repeat(1644),
                format!("decoded {t} too large: 1233 bytes (max: 1232 bytes)"),
            ),
            (
                "g".repeat(5465),
                format!("base64 encoded {t} too large: 5465 bytes (max: encoded/raw 5464/4096)"),
            ),
            (
                format!("gQ{}", "A".repeat(5462)),
                format!("decoded {t} too large: 4098 bytes (max: 4096 bytes)"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                error_of(&input),
                expected,
                "{}",
                &input[..input.len().min(12)]
            );
        }
    }

    #[test]
    fn a_legacy_message_decodes() {
        let payer = Pubkey::new_unique();
        let message = solana_message::Message::new_with_blockhash(
            &[],
            Some(&payer),
            &Hash::new_from_array([9; 32]),
        );
        let bytes = wincode::serialize(&VersionedMessage::Legacy(message.clone())).unwrap();
        match decode(&BASE64_STANDARD.encode(bytes)).unwrap() {
            VersionedMessage::Legacy(decoded) => assert_eq!(decoded, message),
            other => panic!("{other:?}"),
        }
    }
}
