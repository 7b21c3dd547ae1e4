//! Scans as Agave routes them (rpc-spec §4.2): a secondary index when one applies and the key
//! is not excluded (else -32010), a full scan otherwise; every match re-checked against the
//! owner and the filters. Keyed-account results are buffered up to [`STREAM_THRESHOLD`]; a
//! larger result is answered in two passes over the same snapshot: the first checks every
//! error case and keeps only the matching pubkeys, the second streams the encoded accounts.

use {
    super::{
        encoding::{self, DataFormat},
        filter,
        token::MintCache,
    },
    crate::{
        bank::{AccountRead, BankView},
        rpc::server::{
            error::{RpcError, SCAN_LIMIT_MESSAGE},
            json,
            reply::{Reply, StreamSink, Streamer},
        },
        store::{IndexConfig, IndexKind},
    },
    solana_pubkey::Pubkey,
    solana_rpc_client_types::filter::RpcFilterType,
    std::ops::ControlFlow,
};

/// Encoded output kept in memory before a result is streamed instead.
pub(crate) const STREAM_THRESHOLD: usize = 4 << 20;
/// Accounts fetched and encoded per streamed chunk.
const STREAM_BATCH: usize = 256;
/// Accounts visited between checks that the client is still there.
const CANCEL_CHECK_INTERVAL: u32 = 4096;
/// Agave's per-account scan accounting: `size_of::<AccountSharedData>() + size_of::<Pubkey>()`.
const SCAN_RESULT_OVERHEAD: usize = 64 + 32;

/// Where a scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Index(IndexKind, Pubkey),
    Full,
}

/// A scan: where it reads, the program that must own matches, and the filters they pass.
#[derive(Debug, Clone)]
pub(crate) struct ScanQuery {
    pub(crate) route: Route,
    pub(crate) program: Pubkey,
    pub(crate) filters: Vec<RpcFilterType>,
}

impl ScanQuery {
    /// Agave's `get_filtered_program_accounts`: the program-id index if kept (-32010 for an
    /// excluded program), else a full scan.
    pub(crate) fn generic(
        indexes: &IndexConfig,
        program: Pubkey,
        filters: Vec<RpcFilterType>,
    ) -> Result<Self, RpcError> {
        let route = if indexes.is_enabled(IndexKind::ProgramId) {
            if !indexes.include_key(&program) {
                return Err(RpcError::KeyExcludedFromSecondaryIndex(program));
            }
            Route::Index(IndexKind::ProgramId, program)
        } else {
            Route::Full
        };
        Ok(Self {
            route,
            program,
            filters,
        })
    }

    /// Agave's by-owner and by-mint token paths: adds `tokenAccountState` and the key memcmp,
    /// then reads the `kind` index, or takes the generic path without it.
    pub(crate) fn token_key(
        indexes: &IndexConfig,
        program: Pubkey,
        kind: IndexKind,
        key: Pubkey,
        mut filters: Vec<RpcFilterType>,
    ) -> Result<Self, RpcError> {
        let offset = match kind {
            IndexKind::SplTokenOwner => filter::TOKEN_ACCOUNT_OWNER_OFFSET,
            IndexKind::SplTokenMint => filter::TOKEN_ACCOUNT_MINT_OFFSET,
            IndexKind::SplTokenDelegate => filter::TOKEN_ACCOUNT_DELEGATE_OFFSET,
            IndexKind::ProgramId => return Self::generic(indexes, program, filters),
        };
        filters.push(RpcFilterType::TokenAccountState);
        filters.push(filter::memcmp(offset, key.as_ref()));
        if indexes.is_enabled(kind) {
            if !indexes.include_key(&key) {
                return Err(RpcError::KeyExcludedFromSecondaryIndex(key));
            }
            return Ok(Self {
                route: Route::Index(kind, key),
                program,
                filters,
            });
        }
        Self::generic(indexes, program, filters)
    }

    fn matches(&self, account: &AccountRead<'_>) -> bool {
        account.lamports != 0
            && account.owner == self.program
            && self
                .filters
                .iter()
                .all(|filter| filter::allows(filter, account.data))
    }

    /// Calls `visit` with every match, in pubkey order, until it breaks; gives up with the
    /// error `should_stop` (polled every few thousand accounts) returns: the client is gone,
    /// or the scan's time is up.
    pub(crate) fn for_each(
        &self,
        bank: &BankView<'_>,
        should_stop: impl Fn() -> Option<RpcError>,
        mut visit: impl FnMut(&Pubkey, AccountRead<'_>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, RpcError> {
        let mut visited = 0u32;
        let mut stopped = None;
        let mut matching = |pubkey: &Pubkey, account: AccountRead<'_>| {
            visited = visited.wrapping_add(1);
            if visited.is_multiple_of(CANCEL_CHECK_INTERVAL)
                && let Some(error) = should_stop()
            {
                stopped = Some(error);
                return ControlFlow::Break(());
            }
            if self.matches(&account) {
                visit(pubkey, account)
            } else {
                ControlFlow::Continue(())
            }
        };
        let flow = match self.route {
            Route::Index(kind, key) => bank.index_scan(kind, &key, &mut matching)?,
            Route::Full => bank.scan(&mut matching)?,
        };
        if let Some(error) = stopped {
            return Err(error);
        }
        Ok(flow)
    }
}

/// Agave's `--accounts-index-scan-results-limit-mb` accounting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanLimit {
    limit: Option<usize>,
    used: usize,
}

impl ScanLimit {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self { limit, used: 0 }
    }

    /// Counts a match; true once the total exceeds the limit.
    pub(crate) fn exceeded_by(&mut self, data_len: usize) -> bool {
        let Some(limit) = self.limit else {
            return false;
        };
        self.used = self
            .used
            .saturating_add(data_len.saturating_add(SCAN_RESULT_OVERHEAD));
        self.used > limit
    }

    pub(crate) fn error() -> RpcError {
        RpcError::Scan(SCAN_LIMIT_MESSAGE.to_string())
    }
}

/// How list entries are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseMode {
    /// Each account by its owner's parser, falling back to sliced base64.
    Generic,
    /// Token-program lists with jsonParsed: token parsing with mint lookups; unparseable
    /// entries are dropped.
    TokenList,
}

/// A keyed-account list response.
#[derive(Debug, Clone)]
pub(crate) struct ListResponse<'a> {
    pub(crate) format: DataFormat,
    pub(crate) mode: ParseMode,
    /// `Some(api_version)`: wrap in `{"context":…,"value":[…]}`.
    pub(crate) context: Option<&'a str>,
}

struct EntryWriter<'b, 'a> {
    bank: &'b BankView<'a>,
    format: DataFormat,
    mode: ParseMode,
    mints: MintCache,
    wrote_any: bool,
}

impl EntryWriter<'_, '_> {
    /// Writes one `{"account":…,"pubkey":…}` (comma-separated); false if dropped.
    fn write(&mut self, out: &mut Vec<u8>, pubkey: &Pubkey, account: &AccountRead<'_>) -> bool {
        let parsed = match (self.format.is_json_parsed(), self.mode) {
            (false, _) => None,
            (true, ParseMode::Generic) => encoding::parse(pubkey, account, None),
            (true, ParseMode::TokenList) => {
                let additional = self.mints.additional_for_account(self.bank, account.data);
                match encoding::parse(pubkey, account, additional) {
                    Some(parsed) => Some(parsed),
                    None => return false,
                }
            }
        };
        if self.wrote_any {
            out.push(b',');
        }
        self.wrote_any = true;
        encoding::write_keyed_account(
            out,
            pubkey,
            account,
            &self.format,
            parsed.as_ref(),
            self.format.slice,
        );
        true
    }
}

/// Scans `query` on `bank` into a keyed-account list, streaming it when large.
pub(crate) fn keyed_accounts(
    bank: &BankView<'_>,
    query: &ScanQuery,
    response: &ListResponse<'_>,
    mut limit: ScanLimit,
    streamer: &mut Streamer,
) -> Result<Reply, RpcError> {
    let mut out = Vec::with_capacity(4096);
    if let Some(api_version) = response.context {
        json::open_context(&mut out, api_version, bank.slot());
    }
    out.push(b'[');
    let mut writer = EntryWriter {
        bank,
        format: response.format,
        mode: response.mode,
        mints: MintCache::default(),
        wrote_any: false,
    };
    let mut overflow: Option<Vec<Pubkey>> = None;
    let mut base58_too_large = false;
    let mut limit_exceeded = false;
    let _: ControlFlow<()> = query.for_each(
        bank,
        || streamer.should_stop(),
        |pubkey, account| {
            if limit.exceeded_by(account.data.len()) {
                limit_exceeded = true;
                return ControlFlow::Break(());
            }
            // Agave encodes after the scan, so a base58 failure never hides a limit error.
            if base58_too_large || response.format.check(account.data.len()).is_err() {
                base58_too_large = true;
                return ControlFlow::Continue(());
            }
            match &mut overflow {
                Some(pubkeys) => pubkeys.push(*pubkey),
                None => {
                    writer.write(&mut out, pubkey, &account);
                    if out.len() > STREAM_THRESHOLD {
                        overflow = Some(Vec::new());
                    }
                }
            }
            ControlFlow::Continue(())
        },
    )?;
    if limit_exceeded {
        return Err(ScanLimit::error());
    }
    if base58_too_large {
        return Err(RpcError::Base58DataTooLarge);
    }
    let tail: &[u8] = if response.context.is_some() {
        b"]}"
    } else {
        b"]"
    };
    let Some(pubkeys) = overflow else {
        out.extend_from_slice(tail);
        return Ok(Reply::Json(out));
    };
    let mut sink = streamer.start(out);
    stream_rest(&mut writer, &pubkeys, tail, &mut sink);
    // The head is sent; what the caller returns now is ignored.
    Ok(Reply::Json(Vec::new()))
}

/// The second pass: encodes `pubkeys` (all present in `writer`'s view) into the sink.
fn stream_rest(
    writer: &mut EntryWriter<'_, '_>,
    pubkeys: &[Pubkey],
    tail: &[u8],
    sink: &mut StreamSink,
) {
    for batch in pubkeys.chunks(STREAM_BATCH) {
        let mut out = Vec::with_capacity(batch.len() * 512);
        let bank = writer.bank;
        let read = bank.for_each_of(batch, |pubkey, account| {
            if let Some(account) = account {
                writer.write(&mut out, pubkey, &account);
            }
            ControlFlow::Continue(())
        });
        if let Err(error) = read {
            sink.abort(error.to_string());
            return;
        }
        if !sink.send(out) {
            return;
        }
    }
    sink.send(tail.to_vec());
}
