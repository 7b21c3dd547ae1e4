//! getProgramAccounts filters with Agave's validation (`verify_filters`), matching
//! (`filter_allows`) and SPL-token analysis (`get_spl_token_{owner,mint}_filter`, agave ≥ 3.1).

use {
    crate::rpc::server::RpcError,
    solana_pubkey::Pubkey,
    solana_rpc_client_types::{
        filter::{Memcmp, RpcFilterType},
        request::MAX_GET_PROGRAM_ACCOUNT_FILTERS,
    },
    spl_generic_token::token::GenericTokenAccount,
};

/// SPL Token account layout offsets and lengths.
pub(crate) const TOKEN_ACCOUNT_MINT_OFFSET: usize = 0;
pub(crate) const TOKEN_ACCOUNT_OWNER_OFFSET: usize = 32;
pub(crate) const TOKEN_ACCOUNT_DELEGATE_TAG_OFFSET: usize = 72;
pub(crate) const TOKEN_ACCOUNT_DELEGATE_OFFSET: usize = 76;
pub(crate) const TOKEN_ACCOUNT_LEN: usize = 165;
/// Token-2022's `AccountType::Account` discriminator at offset 165.
const ACCOUNT_TYPE_ACCOUNT: u8 = 2;

/// Agave's `verify_filters`: at most 4, each memcmp decodable and at most 128 bytes.
pub(crate) fn verify(filters: &[RpcFilterType]) -> Result<(), RpcError> {
    if filters.len() > MAX_GET_PROGRAM_ACCOUNT_FILTERS {
        return Err(RpcError::InvalidParams(format!(
            "Too many filters provided; max {MAX_GET_PROGRAM_ACCOUNT_FILTERS}"
        )));
    }
    for filter in filters {
        filter
            .verify()
            .map_err(|error| RpcError::invalid_param(format!("{error:?}")))?;
    }
    Ok(())
}

/// Agave's `optimize_filters`: decodes memcmp bytes once (verified filters always decode).
pub(crate) fn optimize(filters: &mut [RpcFilterType]) {
    for filter in filters {
        if let RpcFilterType::Memcmp(memcmp) = filter {
            let _ = memcmp.convert_to_raw_bytes();
        }
    }
}

/// Agave's `filter_allows`.
pub(crate) fn allows(filter: &RpcFilterType, data: &[u8]) -> bool {
    match filter {
        RpcFilterType::DataSize(size) => data.len() as u64 == *size,
        RpcFilterType::Memcmp(memcmp) => memcmp.bytes_match(data),
        RpcFilterType::TokenAccountState => {
            spl_generic_token::token_2022::Account::valid_account_data(data)
        }
    }
}

pub(crate) fn memcmp(offset: usize, bytes: &[u8]) -> RpcFilterType {
    RpcFilterType::Memcmp(Memcmp::new_raw_bytes(offset, bytes.to_vec()))
}

/// The key of a 32-byte memcmp at `key_offset` when the filters prove the results are token
/// accounts of `program` (dataSize 165, tokenAccountState, or Token-2022's account-type
/// byte); a memcmp at `key_offset` of another length is an error (agave ≥ 3.1).
fn token_key_filter(
    program: &Pubkey,
    filters: &[RpcFilterType],
    key_offset: usize,
    what: &str,
) -> Result<Option<Pubkey>, RpcError> {
    if !crate::store::is_token_program(program) {
        return Ok(None);
    }
    let is_token_2022 = *program == spl_generic_token::token_2022::id();
    let mut data_size = None;
    let mut account_type: Option<&[u8]> = None;
    let mut key = None;
    let mut token_account_state = false;
    for filter in filters {
        match filter {
            RpcFilterType::DataSize(size) => data_size = Some(*size),
            RpcFilterType::Memcmp(memcmp) => {
                let offset = memcmp.offset();
                if let Some(bytes) = memcmp.raw_bytes_as_ref() {
                    if offset == TOKEN_ACCOUNT_LEN && is_token_2022 {
                        account_type = Some(bytes);
                    } else if offset == key_offset {
                        if bytes.len() == 32 {
                            key = Pubkey::try_from(bytes).ok();
                        } else {
                            return Err(RpcError::InvalidParams(format!(
                                "Incorrect byte length {} for SPL token {what} filter, expected 32",
                                bytes.len()
                            )));
                        }
                    }
                }
            }
            RpcFilterType::TokenAccountState => token_account_state = true,
        }
    }
    let proven = data_size == Some(TOKEN_ACCOUNT_LEN as u64)
        || account_type == Some(&[ACCOUNT_TYPE_ACCOUNT][..])
        || token_account_state;
    Ok(if proven { key } else { None })
}

/// Agave's `get_spl_token_owner_filter`.
pub(crate) fn token_owner(
    program: &Pubkey,
    filters: &[RpcFilterType],
) -> Result<Option<Pubkey>, RpcError> {
    token_key_filter(program, filters, TOKEN_ACCOUNT_OWNER_OFFSET, "owner")
}

/// Agave's `get_spl_token_mint_filter`.
pub(crate) fn token_mint(
    program: &Pubkey,
    filters: &[RpcFilterType],
) -> Result<Option<Pubkey>, RpcError> {
    token_key_filter(program, filters, TOKEN_ACCOUNT_MINT_OFFSET, "mint")
}

#[cfg(test)]
mod tests {
    use {super::*, serde_json::json};

    fn filters(value: serde_json::Value) -> Vec<RpcFilterType> {
        let mut filters: Vec<RpcFilterType> = serde_json::from_value(value).unwrap();
        verify(&filters).unwrap();
        optimize(&mut filters);
        filters
    }

    #[test]
    fn validation_messages_are_agaves() {
        let five: Vec<RpcFilterType> = serde_json::from_value(
            json!([{"dataSize":1},{"dataSize":1},{"dataSize":1},{"dataSize":1},{"dataSize":1}]),
        )
        .unwrap();
        assert!(
            matches!(verify(&five), Err(RpcError::InvalidParams(m)) if m == "Too many filters provided; max 4")
        );
        let bad: Vec<RpcFilterType> =
            serde_json::from_value(json!([{"memcmp":{"offset":0,"bytes":"III"}}])).unwrap();
        assert!(
            matches!(verify(&bad), Err(RpcError::InvalidParams(m)) if m.starts_with("Invalid param: Base58DecodeError("))
        );
        let long: Vec<RpcFilterType> =
            serde_json::from_value(json!([{"memcmp":{"offset":0,"bytes":vec![1u8; 129]}}]))
                .unwrap();
        assert!(
            matches!(verify(&long), Err(RpcError::InvalidParams(m)) if m == "Invalid param: DataTooLarge")
        );
    }

    #[test]
    fn token_routing_follows_agave() {
        let token = spl_generic_token::token::id();
        let owner = Pubkey::new_unique();
        let owner58 = owner.to_string();
        // Owner memcmp with a dataSize proof selects the owner path.
        let f = filters(json!([{"dataSize":165},{"memcmp":{"offset":32,"bytes":owner58}}]));
        assert_eq!(token_owner(&token, &f).unwrap(), Some(owner));
        // Without a proof: generic path.
        let f = filters(json!([{"memcmp":{"offset":32,"bytes":owner58}}]));
        assert_eq!(token_owner(&token, &f).unwrap(), None);
        // A 16-byte memcmp at 32 is an error on the token programs, whatever the rest.
        let f = filters(
            json!([{"memcmp":{"offset":32,"bytes":bs58::encode([7u8; 16]).into_string()}}]),
        );
        assert!(
            matches!(token_owner(&token, &f), Err(RpcError::InvalidParams(m)) if m == "Incorrect byte length 16 for SPL token owner filter, expected 32")
        );
        assert!(token_owner(&Pubkey::new_unique(), &f).unwrap().is_none());
        // Token-2022's account-type byte is a proof.
        let token_2022 = spl_generic_token::token_2022::id();
        let f = filters(
            json!([{"memcmp":{"offset":165,"bytes":[2]}},{"memcmp":{"offset":0,"bytes":owner58}}]),
        );
        assert_eq!(token_mint(&token_2022, &f).unwrap(), Some(owner));
        assert_eq!(token_mint(&token, &f).unwrap(), None);
    }
}
