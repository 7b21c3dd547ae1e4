//! Accounts as Agave writes them (`UiAccount`, keys sorted): every encoding, `dataSlice`, the
//! base58 size rule, and jsonParsed through solana-account-decoder's parsers.

use {
    super::token,
    crate::{
        bank::{AccountRead, BankView},
        rpc::server::{RpcError, json},
        store::is_token_program,
    },
    base64::{Engine, prelude::BASE64_STANDARD},
    solana_account_decoder::{
        MAX_BASE58_BYTES, UiAccountEncoding, UiDataSliceConfig,
        parse_account_data::{AccountAdditionalDataV3, ParsedAccount, parse_account_data_v3},
    },
    solana_pubkey::Pubkey,
    std::io::Write,
};

/// How a request wants account data: its encoding and optional slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DataFormat {
    pub(crate) encoding: UiAccountEncoding,
    pub(crate) slice: Option<UiDataSliceConfig>,
}

impl DataFormat {
    pub(crate) fn new(encoding: UiAccountEncoding, slice: Option<UiDataSliceConfig>) -> Self {
        Self { encoding, slice }
    }

    /// Agave's `encode_account` check: binary and base58 data (after slicing) may be at most
    /// 128 bytes, or the whole request fails with -32600.
    pub(crate) fn check(&self, data_len: usize) -> Result<(), RpcError> {
        if matches!(
            self.encoding,
            UiAccountEncoding::Binary | UiAccountEncoding::Base58
        ) {
            let effective = match self.slice {
                Some(slice) => slice.length.min(data_len.saturating_sub(slice.offset)),
                None => data_len,
            };
            if effective > MAX_BASE58_BYTES {
                return Err(RpcError::Base58DataTooLarge);
            }
        }
        Ok(())
    }

    pub(crate) fn is_json_parsed(&self) -> bool {
        self.encoding == UiAccountEncoding::JsonParsed
    }
}

/// `data[offset .. min(offset + length, len)]`, empty past the end.
pub(crate) fn slice_data(data: &[u8], slice: Option<UiDataSliceConfig>) -> &[u8] {
    match slice {
        Some(UiDataSliceConfig { offset, length }) => {
            if offset >= data.len() {
                &[]
            } else if length > data.len() - offset {
                &data[offset..]
            } else {
                &data[offset..offset + length]
            }
        }
        None => data,
    }
}

/// The decoder's parse of an account's data, if its owner has a parser and the data parses.
pub(crate) fn parse(
    pubkey: &Pubkey,
    account: &AccountRead<'_>,
    additional: Option<AccountAdditionalDataV3>,
) -> Option<ParsedAccount> {
    parse_account_data_v3(pubkey, &account.owner, account.data, additional).ok()
}

/// Writes a `UiAccount`. For jsonParsed, `parsed` is the parse result and `fallback_slice` the
/// slice of the base64 fallback (Agave ignores the slice for token-program accounts).
pub(crate) fn write_account(
    out: &mut Vec<u8>,
    account: &AccountRead<'_>,
    format: &DataFormat,
    parsed: Option<&ParsedAccount>,
    fallback_slice: Option<UiDataSliceConfig>,
) {
    out.extend_from_slice(b"{\"data\":");
    let data = slice_data(account.data, format.slice);
    match format.encoding {
        UiAccountEncoding::Binary => write_base58(out, data),
        UiAccountEncoding::Base58 => {
            out.push(b'[');
            write_base58(out, data);
            out.extend_from_slice(b",\"base58\"]");
        }
        UiAccountEncoding::Base64 => write_base64_pair(out, data),
        UiAccountEncoding::Base64Zstd => write_zstd_pair(out, data),
        UiAccountEncoding::JsonParsed => match parsed {
            Some(parsed) => write_parsed(out, parsed),
            None => write_base64_pair(out, slice_data(account.data, fallback_slice)),
        },
    }
    out.extend_from_slice(if account.executable {
        b",\"executable\":true,\"lamports\":"
    } else {
        b",\"executable\":false,\"lamports\":"
    });
    json::write_u64(out, account.lamports);
    out.extend_from_slice(b",\"owner\":\"");
    write_owner(out, &account.owner);
    out.extend_from_slice(b"\",\"rentEpoch\":");
    json::write_u64(out, account.rent_epoch);
    out.extend_from_slice(b",\"space\":");
    json::write_u64(out, account.data.len() as u64);
    out.push(b'}');
}

/// Writes `{"account":…,"pubkey":"…"}`.
pub(crate) fn write_keyed_account(
    out: &mut Vec<u8>,
    pubkey: &Pubkey,
    account: &AccountRead<'_>,
    format: &DataFormat,
    parsed: Option<&ParsedAccount>,
    fallback_slice: Option<UiDataSliceConfig>,
) {
    out.extend_from_slice(b"{\"account\":");
    write_account(out, account, format, parsed, fallback_slice);
    out.extend_from_slice(b",\"pubkey\":\"");
    write_pubkey(out, pubkey);
    out.extend_from_slice(b"\"}");
}

/// A pubkey's base58 form, as bs58 writes it (a scan writes thousands).
pub(crate) fn write_pubkey(out: &mut Vec<u8>, pubkey: &Pubkey) {
    let mut encoded = [0u8; five8::BASE58_ENCODED_32_MAX_LEN];
    let len = five8::encode_32(&pubkey.to_bytes(), &mut encoded) as usize;
    out.extend_from_slice(&encoded[..len]);
}

/// Owners repeat (System, the token programs, a few programs per query): their base58 form is
/// kept per thread in a small direct-mapped cache.
fn write_owner(out: &mut Vec<u8>, owner: &Pubkey) {
    const SLOTS: usize = 64;
    thread_local! {
        static OWNERS: std::cell::RefCell<Vec<(Pubkey, String)>> =
            std::cell::RefCell::new(vec![(Pubkey::default(), String::new()); SLOTS]);
    }
    OWNERS.with(|owners| {
        let mut owners = owners.borrow_mut();
        let slot = &mut owners[owner.as_ref()[31] as usize % SLOTS];
        if slot.1.is_empty() || slot.0 != *owner {
            *slot = (*owner, bs58::encode(owner.as_ref()).into_string());
        }
        out.extend_from_slice(slot.1.as_bytes());
    });
}

fn write_base58(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(bs58::encode(data).into_string().as_bytes());
    out.push(b'"');
}

fn write_base64_pair(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(b"[\"");
    let start = out.len();
    out.resize(
        start + base64::encoded_len(data.len(), true).unwrap_or(0),
        0,
    );
    let written = BASE64_STANDARD
        .encode_slice(data, &mut out[start..])
        .expect("buffer sized by encoded_len");
    out.truncate(start + written);
    out.extend_from_slice(b"\",\"base64\"]");
}

/// Agave's streaming zstd at level 0; falls back to plain base64 as Agave does.
fn write_zstd_pair(out: &mut Vec<u8>, data: &[u8]) {
    match zstd_frame(data) {
        Ok(compressed) => {
            out.extend_from_slice(b"[\"");
            out.extend_from_slice(BASE64_STANDARD.encode(compressed).as_bytes());
            out.extend_from_slice(b"\",\"base64+zstd\"]");
        }
        Err(_) => write_base64_pair(out, data),
    }
}

/// The frame `zstd::stream::write::Encoder::new(Vec::new(), 0)` writes (Agave's call), from a
/// per-thread compression context: creating a context per account costs more than
/// compressing a small account.
fn zstd_frame(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use zstd::zstd_safe::{CCtx, CParameter, ResetDirective};
    thread_local! {
        static CONTEXT: std::cell::RefCell<Option<CCtx<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    CONTEXT.with(|context| {
        let mut context = context.borrow_mut();
        let context = match &mut *context {
            Some(context) => context,
            empty => {
                let mut fresh = CCtx::try_create()
                    .ok_or_else(|| std::io::Error::other("zstd context allocation failed"))?;
                fresh
                    .set_parameter(CParameter::CompressionLevel(0))
                    .map_err(|code| std::io::Error::other(zstd::zstd_safe::get_error_name(code)))?;
                empty.insert(fresh)
            }
        };
        context
            .reset(ResetDirective::SessionOnly)
            .map_err(|code| std::io::Error::other(zstd::zstd_safe::get_error_name(code)))?;
        let mut encoder = zstd::stream::write::Encoder::with_context(Vec::new(), context);
        encoder.write_all(data)?;
        encoder.finish()
    })
}

fn write_parsed(out: &mut Vec<u8>, parsed: &ParsedAccount) {
    out.extend_from_slice(b"{\"parsed\":");
    json::write_sorted(out, &parsed.parsed);
    out.extend_from_slice(b",\"program\":");
    json::write_str(out, &parsed.program);
    out.extend_from_slice(b",\"space\":");
    json::write_u64(out, parsed.space);
    out.push(b'}');
}

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
        write_account(out, &account, format, parsed.as_ref(), None);
        return Ok(());
    }
    format.check(account.data.len())?;
    let parsed = if format.is_json_parsed() {
        parse(pubkey, &account, None)
    } else {
        None
    };
    write_account(out, &account, format, parsed.as_ref(), format.slice);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pubkeys_are_written_as_bs58_writes_them() {
        let mut keys = vec![[0u8; 32], [0xff; 32]];
        for zeros in [1, 2, 5, 31] {
            let mut key = [0x5a; 32];
            key[..zeros].fill(0);
            keys.push(key);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut key = [0u8; 32];
            for byte in &mut key {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = state as u8;
            }
            keys.push(key);
        }
        for key in keys {
            let mut out = Vec::new();
            write_pubkey(&mut out, &Pubkey::new_from_array(key));
            assert_eq!(out, bs58::encode(key).into_string().into_bytes(), "{key:?}");
        }
    }

    fn account(data: &[u8]) -> AccountRead<'_> {
        AccountRead {
            lamports: 42,
            owner: Pubkey::default(),
            executable: false,
            rent_epoch: 0,
            slot: 0,
            data,
        }
    }

    fn encode(data: &[u8], encoding: UiAccountEncoding, slice: Option<(usize, usize)>) -> String {
        let format = DataFormat::new(
            encoding,
            slice.map(|(offset, length)| UiDataSliceConfig { offset, length }),
        );
        let mut out = Vec::new();
        write_account(&mut out, &account(data), &format, None, format.slice);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn encodings_match_the_golden_examples() {
        let data = [1, 2, 3, 4, 5];
        assert_eq!(
            encode(&data, UiAccountEncoding::Base64, Some((1, 2))),
            r#"{"data":["AgM=","base64"],"executable":false,"lamports":42,"owner":"11111111111111111111111111111111","rentEpoch":0,"space":5}"#
        );
        assert!(
            encode(&data, UiAccountEncoding::Binary, Some((1, 2))).starts_with(r#"{"data":"9t","#)
        );
        assert!(
            encode(&data, UiAccountEncoding::Base58, None)
                .starts_with(r#"{"data":["7bWpTW","base58"],"#)
        );
        assert!(
            encode(&data, UiAccountEncoding::JsonParsed, Some((1, 2)))
                .starts_with(r#"{"data":["AgM=","base64"],"#)
        );
        assert!(encode(&[], UiAccountEncoding::Binary, None).starts_with(r#"{"data":"","#));
        // Slices past the end are empty; zstd always writes a frame.
        assert!(
            encode(&data, UiAccountEncoding::Base64, Some((9, 2)))
                .starts_with(r#"{"data":["","base64"],"#)
        );
        let zstd = encode(&[], UiAccountEncoding::Base64Zstd, None);
        assert!(zstd.contains("\"base64+zstd\"]") && !zstd.starts_with(r#"{"data":["","#));
    }

    #[test]
    fn reused_zstd_context_writes_agaves_frames() {
        let mut random = 7u64;
        let mut noise = vec![0u8; 300_000];
        for byte in &mut noise {
            random = random
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *byte = (random >> 56) as u8;
        }
        let inputs: [&[u8]; 5] = [&[], &[1, 2, 3], &[0; 4096], &noise[..10_000], &noise];
        for _ in 0..2 {
            for input in inputs {
                let mut agave = zstd::stream::write::Encoder::new(Vec::new(), 0).unwrap();
                agave.write_all(input).unwrap();
                assert_eq!(zstd_frame(input).unwrap(), agave.finish().unwrap());
            }
        }
    }

    #[test]
    fn base58_limit_counts_the_slice() {
        let format = |encoding, slice: Option<(usize, usize)>| {
            DataFormat::new(
                encoding,
                slice.map(|(offset, length)| UiDataSliceConfig { offset, length }),
            )
        };
        assert!(format(UiAccountEncoding::Binary, None).check(128).is_ok());
        assert!(matches!(
            format(UiAccountEncoding::Base58, None).check(129),
            Err(RpcError::Base58DataTooLarge)
        ));
        assert!(
            format(UiAccountEncoding::Base58, Some((2, 200)))
                .check(130)
                .is_ok()
        );
        assert!(
            format(UiAccountEncoding::Base58, Some((0, 129)))
                .check(1000)
                .is_err()
        );
        assert!(
            format(UiAccountEncoding::Base64, None)
                .check(10_000)
                .is_ok()
        );
        assert!(
            format(UiAccountEncoding::JsonParsed, None)
                .check(10_000)
                .is_ok()
        );
    }
}
