//! getFeeForMessage as Agave computes it: decode (base64, ≤ 1644 chars, ≤ 1232 bytes),
//! sanitize with address-lookup tables resolved at the view, find the blockhash's lamports
//! per signature (queue, else a valid durable nonce), then signature fees (including precompile
//! signatures) plus the compute-budget priority fee.

use {
    crate::{
        bank::BankView,
        rpc::{read::sysvars, server::RpcError},
        state::ReplicaState,
    },
    base64::{Engine, prelude::BASE64_STANDARD},
    bincode::Options,
    solana_address_lookup_table_interface::{error::AddressLookupError, state::AddressLookupTable},
    solana_hash::Hash,
    solana_message::{
        AddressLoader, SanitizedMessage, SanitizedVersionedMessage, VersionedMessage,
        compiled_instruction::CompiledInstruction,
        v0::{LoadedAddresses, MessageAddressTableLookup},
    },
    solana_nonce::versions::Versions,
    solana_pubkey::Pubkey,
    solana_sdk_ids::{
        address_lookup_table, bpf_loader, bpf_loader_deprecated, bpf_loader_upgradeable,
        compute_budget, ed25519_program, loader_v4, secp256k1_program, stake, system_program,
        sysvar, vote,
    },
    solana_slot_hashes::SlotHashes,
    solana_transaction_error::AddressLoaderError,
    std::collections::HashSet,
};

const MAX_BASE64_SIZE: usize = 1644;
const PACKET_DATA_SIZE: usize = 1232;
/// Blockhashes a bank's queue keeps (`MAX_RECENT_BLOCKHASHES` + the newest).
const BLOCKHASH_QUEUE_LEN: usize = 301;
/// `FeeStructure::default().lamports_per_signature`.
const LAMPORTS_PER_SIGNATURE: u64 = 5000;
const MAX_COMPUTE_UNIT_LIMIT: u32 = 1_400_000;
const DEFAULT_INSTRUCTION_COMPUTE_UNIT_LIMIT: u32 = 200_000;
const MAX_BUILTIN_ALLOCATION_COMPUTE_UNIT_LIMIT: u32 = 3_000;
const MIN_HEAP_FRAME_BYTES: u32 = 32 * 1024;
const MAX_HEAP_FRAME_BYTES: u32 = 256 * 1024;
const MICRO_LAMPORTS_PER_LAMPORT: u128 = 1_000_000;

mod features {
    use solana_pubkey::Pubkey;
    pub(super) const ENABLE_SECP256R1_PRECOMPILE: Pubkey =
        Pubkey::from_str_const("srremy31J5Y25FrAApwVb9kZcfXbusYMMsvTK9aWv5q");
    pub(super) const MIGRATE_STAKE_PROGRAM_TO_CORE_BPF: Pubkey =
        Pubkey::from_str_const("6M4oQ6eXneVhtLoiAr4yRYQY43eVLjrKbiDZDJc892yk");
    pub(super) const REQUIRE_STATIC_NONCE_ACCOUNT: Pubkey =
        Pubkey::from_str_const("7VVhpg5oAjAmnmz1zCcSHb2Z9ecZB2FQqpnEwReka9Zm");
}

/// Agave's `decode_and_deserialize::<VersionedMessage>(data, Base64)`.
pub(crate) fn decode(data: &str) -> Result<VersionedMessage, RpcError> {
    let type_name = std::any::type_name::<VersionedMessage>();
    if data.len() > MAX_BASE64_SIZE {
        return Err(RpcError::InvalidParams(format!(
            "base64 encoded {type_name} too large: {} bytes (max: encoded/raw {MAX_BASE64_SIZE}/{PACKET_DATA_SIZE})",
            data.len(),
        )));
    }
    let bytes = BASE64_STANDARD
        .decode(data)
        .map_err(|error| RpcError::InvalidParams(format!("invalid base64 encoding: {error:?}")))?;
    if bytes.len() > PACKET_DATA_SIZE {
        return Err(RpcError::InvalidParams(format!(
            "decoded {type_name} too large: {} bytes (max: {PACKET_DATA_SIZE} bytes)",
            bytes.len(),
        )));
    }
    bincode::options()
        .with_limit(PACKET_DATA_SIZE as u64)
        .with_fixint_encoding()
        .allow_trailing_bytes()
        .deserialize_from(&bytes[..])
        .map_err(|error| {
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

/// The fee for `message` on `bank`, or `None` when its blockhash is neither in the queue nor
/// a valid durable nonce.
pub(crate) fn fee_for_message(
    state: &ReplicaState,
    bank: &BankView<'_>,
    message: VersionedMessage,
) -> Result<Option<u64>, RpcError> {
    let invalid = |error: &dyn std::fmt::Display| {
        RpcError::InvalidParams(format!("invalid transaction message: {error}"))
    };
    let sanitized = SanitizedVersionedMessage::try_from(message).map_err(|e| invalid(&e))?;
    let message = SanitizedMessage::try_new(sanitized, ViewLoader { bank }, &HashSet::new())
        .map_err(|e| invalid(&e))?;
    let lamports_per_signature =
        match queue_lamports_per_signature(state, bank, message.recent_blockhash())? {
            Some(lamports) => lamports,
            None => match nonce_lamports_per_signature(bank, &message)? {
                Some(lamports) => lamports,
                None => return Ok(None),
            },
        };
    if lamports_per_signature == 0 {
        return Ok(Some(0));
    }
    let details = message.get_signature_details();
    let secp256r1 = if sysvars::feature_active(bank, &features::ENABLE_SECP256R1_PRECOMPILE)? {
        details.num_secp256r1_instruction_signatures()
    } else {
        0
    };
    let signatures = details
        .num_transaction_signatures()
        .saturating_add(details.num_ed25519_instruction_signatures())
        .saturating_add(details.num_secp256k1_instruction_signatures())
        .saturating_add(secp256r1);
    let stake_migrated =
        sysvars::feature_active(bank, &features::MIGRATE_STAKE_PROGRAM_TO_CORE_BPF)?;
    let priority = prioritization_fee(message.program_instructions_iter(), stake_migrated);
    Ok(Some(
        signatures
            .saturating_mul(LAMPORTS_PER_SIGNATURE)
            .saturating_add(priority),
    ))
}

/// `BlockhashQueue::get_lamports_per_signature` for the view's queue: the snapshot's entries
/// carry their own rate; later blockhashes the manifest's current one.
fn queue_lamports_per_signature(
    state: &ReplicaState,
    bank: &BankView<'_>,
    hash: &Hash,
) -> Result<Option<u64>, RpcError> {
    if !bank.recent_blockhashes(BLOCKHASH_QUEUE_LEN)?.contains(hash) {
        return Ok(None);
    }
    let info = sysvars::bank_fields(state)?;
    Ok(Some(
        info.blockhash_queue
            .entries
            .iter()
            .find(|entry| entry.hash == *hash)
            .map_or(info.lamports_per_signature, |entry| {
                entry.lamports_per_signature
            }),
    ))
}

/// Agave's `load_message_nonce_account`.
fn nonce_lamports_per_signature(
    bank: &BankView<'_>,
    message: &SanitizedMessage,
) -> Result<Option<u64>, RpcError> {
    let Some(nonce_address) = message.get_durable_nonce() else {
        return Ok(None);
    };
    if sysvars::feature_active(bank, &features::REQUIRE_STATIC_NONCE_ACCOUNT)? {
        let static_keys = message.static_account_keys().len();
        let index = message
            .account_keys()
            .iter()
            .position(|key| key == nonce_address);
        if index.is_none_or(|index| index >= static_keys) {
            return Ok(None);
        }
    }
    let Some(account) = bank.get(nonce_address)? else {
        return Ok(None);
    };
    if account.owner != system_program::ID {
        return Ok(None);
    }
    let Ok(versions) = bincode::deserialize::<Versions>(&account.data) else {
        return Ok(None);
    };
    let Some(data) = versions.verify_recent_blockhash(message.recent_blockhash()) else {
        return Ok(None);
    };
    let authorized = message
        .get_ix_signers(0)
        .any(|signer| *signer == data.authority);
    Ok(authorized.then(|| data.get_lamports_per_signature()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProgramKind {
    NotBuiltin,
    Builtin,
    MigratingBuiltin,
}

fn program_kind(program: &Pubkey) -> ProgramKind {
    const BUILTINS: [Pubkey; 9] = [
        vote::ID,
        system_program::ID,
        compute_budget::ID,
        bpf_loader_upgradeable::ID,
        bpf_loader_deprecated::ID,
        bpf_loader::ID,
        loader_v4::ID,
        secp256k1_program::ID,
        ed25519_program::ID,
    ];
    if *program == stake::ID {
        ProgramKind::MigratingBuiltin
    } else if BUILTINS.contains(program) {
        ProgramKind::Builtin
    } else {
        ProgramKind::NotBuiltin
    }
}

/// `ComputeBudgetInstructionDetails` → `ComputeBudgetLimits` → priority fee; any invalid
/// compute-budget instruction makes the limits default (no priority fee), as
/// `process_compute_budget_instructions(..).unwrap_or_default()` does.
fn prioritization_fee<'a>(
    instructions: impl Iterator<Item = (&'a Pubkey, &'a CompiledInstruction)> + Clone,
    stake_migrated: bool,
) -> u64 {
    let mut limit: Option<u32> = None;
    let mut price: Option<u64> = None;
    let mut heap: Option<u32> = None;
    let mut loaded_accounts: Option<u32> = None;
    for (program, instruction) in instructions.clone() {
        if *program != compute_budget::ID {
            continue;
        }
        let data = &instruction.data;
        let u32_at = |at: usize| {
            data.get(at..at + 4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        };
        let u64_at = |at: usize| {
            data.get(at..at + 8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        };
        let (slot, value): (&mut Option<u64>, Option<u64>) = match data.first() {
            Some(1) => {
                let Some(bytes) = u32_at(1) else { return 0 };
                if heap.replace(bytes).is_some() {
                    return 0;
                }
                continue;
            }
            Some(2) => {
                let Some(units) = u32_at(1) else { return 0 };
                if limit.replace(units).is_some() {
                    return 0;
                }
                continue;
            }
            Some(3) => (&mut price, u64_at(1)),
            Some(4) => {
                let Some(bytes) = u32_at(1) else { return 0 };
                if loaded_accounts.replace(bytes).is_some() {
                    return 0;
                }
                continue;
            }
            _ => return 0,
        };
        let Some(value) = value else { return 0 };
        if slot.replace(value).is_some() {
            return 0;
        }
    }
    if let Some(bytes) = heap
        && (!(MIN_HEAP_FRAME_BYTES..=MAX_HEAP_FRAME_BYTES).contains(&bytes) || bytes % 1024 != 0)
    {
        return 0;
    }
    if loaded_accounts == Some(0) {
        return 0;
    }
    let Some(price) = price else { return 0 };
    let limit = limit
        .unwrap_or_else(|| {
            let (mut builtin, mut not_builtin) = (0u32, 0u32);
            for (program, _) in instructions {
                match program_kind(program) {
                    ProgramKind::Builtin => builtin += 1,
                    ProgramKind::NotBuiltin => not_builtin += 1,
                    ProgramKind::MigratingBuiltin if stake_migrated => not_builtin += 1,
                    ProgramKind::MigratingBuiltin => builtin += 1,
                }
            }
            builtin
                .saturating_mul(MAX_BUILTIN_ALLOCATION_COMPUTE_UNIT_LIMIT)
                .saturating_add(not_builtin.saturating_mul(DEFAULT_INSTRUCTION_COMPUTE_UNIT_LIMIT))
        })
        .min(MAX_COMPUTE_UNIT_LIMIT);
    let micro_lamports = u128::from(price).saturating_mul(u128::from(limit));
    u64::try_from(
        micro_lamports.saturating_add(MICRO_LAMPORTS_PER_LAMPORT - 1) / MICRO_LAMPORTS_PER_LAMPORT,
    )
    .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ix(program_id_index: u8, data: Vec<u8>) -> CompiledInstruction {
        CompiledInstruction {
            program_id_index,
            accounts: vec![],
            data,
        }
    }

    #[test]
    fn priority_fee_follows_compute_budget_rules() {
        let cb = compute_budget::ID;
        let other = Pubkey::new_unique();
        let price = |p: u64| {
            let mut data = vec![3];
            data.extend_from_slice(&p.to_le_bytes());
            data
        };
        let limit = |l: u32| {
            let mut data = vec![2];
            data.extend_from_slice(&l.to_le_bytes());
            data
        };
        // Price 1 µlamport/CU with an explicit 300k limit: 0.3 lamports rounds up to 1.
        let ixs = [
            (cb, ix(0, price(1))),
            (cb, ix(0, limit(300_000))),
            (other, ix(1, vec![])),
        ];
        assert_eq!(
            prioritization_fee(ixs.iter().map(|(p, i)| (p, i)), false),
            1
        );
        // Default limit: one non-builtin (200k) + the compute budget ix (3k).
        let ixs = [(cb, ix(0, price(1_000_000))), (other, ix(1, vec![]))];
        assert_eq!(
            prioritization_fee(ixs.iter().map(|(p, i)| (p, i)), false),
            203_000
        );
        // A duplicate instruction voids the limits.
        let ixs = [(cb, ix(0, price(5))), (cb, ix(0, price(6)))];
        assert_eq!(
            prioritization_fee(ixs.iter().map(|(p, i)| (p, i)), false),
            0
        );
        assert!(
            matches!(decode("!!"), Err(RpcError::InvalidParams(m)) if m.starts_with("invalid base64 encoding: "))
        );
        assert!(
            matches!(decode("AAAA"), Err(RpcError::InvalidParams(m)) if m.starts_with("failed to deserialize solana_message::"))
        );
    }
}
