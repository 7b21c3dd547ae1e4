//! getAccountInfo and getMultipleAccounts: Agave's `get_encoded_account` per key (the reads are
//! batched in `rpc::reads`).

use {
    super::token,
    crate::{
        bank::{AccountRead, BankView},
        rpc::{
            encoding::{self, DataFormat},
            error::RpcError,
        },
        store::is_token_program,
    },
    solana_pubkey::Pubkey,
};

/// Writes one account as Agave's `get_encoded_account` would, or `null`.
pub(crate) fn write_encoded(
    out: &mut Vec<u8>,
    bank: &BankView<'_>,
    pubkey: &Pubkey,
    account: Option<AccountRead<'_>>,
    format: &DataFormat,
) -> Result<(), RpcError> {
    let Some(account) = account.filter(|account| account.lamports != 0) else {
        out.extend_from_slice(b"null");
        return Ok(());
    };
    if format.is_json_parsed() && is_token_program(&account.owner) {
        // Token accounts parse with their mint; the fallback is the full data.
        let parsed = token::parse_single(bank, pubkey, &account)?;
        encoding::write_account(out, &account, format, parsed.as_ref(), None);
        return Ok(());
    }
    format.check(account.data.len())?;
    let parsed = if format.is_json_parsed() {
        encoding::parse(pubkey, &account, None)
    } else {
        None
    };
    encoding::write_account(out, &account, format, parsed.as_ref(), format.slice);
    Ok(())
}
