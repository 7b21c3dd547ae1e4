//! SPL Token helpers as Agave's `parsed_token_accounts.rs` and token methods have them: mint
//! lookups (the native mint hard-wired in lists), token parsing of single accounts, balances
//! and supplies.

use {
    crate::{
        bank::{AccountRead, BankView},
        rpc::{
            read::{encoding, sysvars},
            server::RpcError,
        },
        store::is_token_program,
    },
    solana_account_decoder::{
        parse_account_data::{AccountAdditionalDataV3, ParsedAccount, SplTokenAdditionalDataV2},
        parse_token::{UiTokenAmount, get_token_account_mint, token_amount_to_ui_amount_v3},
    },
    solana_pubkey::Pubkey,
    spl_token_2022_interface::{
        extension::{
            BaseStateWithExtensions, StateWithExtensions,
            interest_bearing_mint::InterestBearingConfig, scaled_ui_amount::ScaledUiAmountConfig,
        },
        state::{Account as TokenAccount, Mint},
    },
    std::collections::HashMap,
};

/// Wrapped SOL: Token v1 with 9 decimals, whether or not its account exists.
pub(crate) const NATIVE_MINT: Pubkey =
    Pubkey::from_str_const("So11111111111111111111111111111111111111112");
const NATIVE_MINT_DECIMALS: u8 = 9;

/// Agave's `get_additional_mint_data`: decimals and the interest/scaled extensions, stamped
/// with the view's Clock.
pub(crate) fn mint_data(
    bank: &BankView<'_>,
    data: &[u8],
) -> Result<SplTokenAdditionalDataV2, RpcError> {
    let mint = StateWithExtensions::<Mint>::unpack(data)
        .map_err(|_| RpcError::invalid_param("Token mint could not be unpacked"))?;
    mint_data_of(bank, &mint)
}

fn mint_data_of(
    bank: &BankView<'_>,
    mint: &StateWithExtensions<'_, Mint>,
) -> Result<SplTokenAdditionalDataV2, RpcError> {
    let interest = mint.get_extension::<InterestBearingConfig>().ok().copied();
    let scaled = mint.get_extension::<ScaledUiAmountConfig>().ok().copied();
    let unix_timestamp = if interest.is_some() || scaled.is_some() {
        sysvars::clock(bank)?.unix_timestamp
    } else {
        0
    };
    Ok(SplTokenAdditionalDataV2 {
        decimals: mint.base.decimals,
        interest_bearing_config: interest.map(|config| (config, unix_timestamp)),
        scaled_ui_amount_config: scaled.map(|config| (config, unix_timestamp)),
    })
}

/// Agave's `get_mint_owner_and_additional_data`: the mint's token program and data.
pub(crate) fn mint_owner_and_data(
    bank: &BankView<'_>,
    mint: &Pubkey,
) -> Result<(Pubkey, SplTokenAdditionalDataV2), RpcError> {
    if *mint == NATIVE_MINT {
        return Ok((
            spl_generic_token::token::id(),
            SplTokenAdditionalDataV2::with_decimals(NATIVE_MINT_DECIMALS),
        ));
    }
    let account = bank
        .get(mint)?
        .ok_or_else(|| RpcError::invalid_param("could not find mint"))?;
    let data = mint_data(bank, &account.data)?;
    Ok((account.owner, data))
}

/// Mint data looked up once per request for token-list parsing.
#[derive(Default)]
pub(crate) struct MintCache {
    mints: HashMap<Pubkey, Option<AccountAdditionalDataV3>>,
}

impl std::fmt::Debug for MintCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintCache")
            .field("mints", &self.mints.len())
            .finish()
    }
}

impl MintCache {
    /// The additional data for a token account's mint, if the account is one and its mint
    /// resolves (Agave's `get_parsed_token_accounts`).
    pub(crate) fn additional_for_account(
        &mut self,
        bank: &BankView<'_>,
        data: &[u8],
    ) -> Option<AccountAdditionalDataV3> {
        let mint = get_token_account_mint(data)?;
        *self.mints.entry(mint).or_insert_with(|| {
            mint_owner_and_data(bank, &mint)
                .ok()
                .map(|(_, data)| AccountAdditionalDataV3 {
                    spl_token_additional_data: Some(data),
                })
        })
    }
}

/// Agave's `get_parsed_token_account` for getAccountInfo/getMultipleAccounts: the mint is
/// read from the view (no native-mint shortcut); `None` means fall back to full base64.
pub(crate) fn parse_single(
    bank: &BankView<'_>,
    pubkey: &Pubkey,
    account: &AccountRead<'_>,
) -> Result<Option<ParsedAccount>, RpcError> {
    let additional = match get_token_account_mint(account.data) {
        Some(mint) => match bank.get(&mint)? {
            Some(mint_account) => {
                mint_data(bank, &mint_account.data)
                    .ok()
                    .map(|data| AccountAdditionalDataV3 {
                        spl_token_additional_data: Some(data),
                    })
            }
            None => None,
        },
        None => None,
    };
    Ok(encoding::parse(pubkey, account, additional))
}

/// getTokenAccountBalance.
pub(crate) fn account_balance(
    bank: &BankView<'_>,
    pubkey: &Pubkey,
) -> Result<UiTokenAmount, RpcError> {
    let account = bank
        .get(pubkey)?
        .ok_or_else(|| RpcError::invalid_param("could not find account"))?;
    if !is_token_program(&account.owner) {
        return Err(RpcError::invalid_param("not a Token account"));
    }
    let token_account = StateWithExtensions::<TokenAccount>::unpack(&account.data)
        .map_err(|_| RpcError::invalid_param("not a Token account"))?;
    let mint = Pubkey::new_from_array(token_account.base.mint.to_bytes());
    let (_, data) = mint_owner_and_data(bank, &mint)?;
    Ok(token_amount_to_ui_amount_v3(
        token_account.base.amount,
        &data,
    ))
}

/// getTokenSupply.
pub(crate) fn supply(bank: &BankView<'_>, mint: &Pubkey) -> Result<UiTokenAmount, RpcError> {
    let account = bank
        .get(mint)?
        .ok_or_else(|| RpcError::invalid_param("could not find account"))?;
    if !is_token_program(&account.owner) {
        return Err(RpcError::invalid_param("not a Token mint"));
    }
    let mint = StateWithExtensions::<Mint>::unpack(&account.data)
        .map_err(|_| RpcError::invalid_param("mint could not be unpacked"))?;
    let data = mint_data_of(bank, &mint)?;
    Ok(token_amount_to_ui_amount_v3(mint.base.supply, &data))
}

/// The amount of a token account as getTokenLargestAccounts reads it (0 if not unpackable).
pub(crate) fn account_amount(data: &[u8]) -> u64 {
    StateWithExtensions::<TokenAccount>::unpack(data)
        .map(|account| account.base.amount)
        .unwrap_or(0)
}
