//! Notifications from the slot feed, as Agave's `RpcSubscriptions` shapes them: for each slot
//! that enters the confirmed view, `slotNotification` and the confirmed account and program
//! subscriptions; for each rooted slot, `rootNotification` and the finalized ones. Each
//! written account is notified once per slot (a deletion as Agave's closed account: zero
//! lamports, System-owned, no data); a result is encoded once per encoding and shared.

use {
    super::{
        outbox::Notification,
        params::{Level, Subscription},
        subscriptions::{Subscriptions, Target},
    },
    crate::{
        bank::{AccountRead, BankView},
        feed::{SlotEvent, SlotEventKind},
        rpc::{
            read::{
                encoding::{self, DataFormat},
                filter,
                token::{self, MintCache},
            },
            server::json,
        },
        state::{Commitment, ReplicaState},
        store::{Account, is_token_program},
    },
    solana_account_decoder::UiAccountEncoding,
    solana_pubkey::Pubkey,
    std::{collections::HashMap, sync::Arc, time::Instant},
};

/// Agave's `AccountSharedData::default()`, what a closed account is notified as.
const CLOSED: AccountRead<'static> = AccountRead {
    lamports: 0,
    owner: Pubkey::new_from_array([0; 32]),
    executable: false,
    rent_epoch: 0,
    slot: 0,
    data: &[],
};

/// Queues every notification `event` causes.
pub(crate) fn notify(subscriptions: &Subscriptions, state: &ReplicaState, event: &SlotEvent) {
    let slot = event.slot();
    let (level, commitment) = match event.kind {
        SlotEventKind::Confirmed => (Level::Confirmed, Commitment::Confirmed),
        SlotEventKind::Rooted => (Level::Finalized, Commitment::Finalized),
    };
    match event.kind {
        SlotEventKind::Confirmed => {
            let watchers = subscriptions.slot_watchers();
            if !watchers.is_empty() {
                let mut out = Vec::with_capacity(64);
                out.extend_from_slice(b"{\"parent\":");
                json::write_u64(&mut out, event.slot.meta.parent);
                out.extend_from_slice(b",\"root\":");
                json::write_u64(&mut out, event.root);
                out.extend_from_slice(b",\"slot\":");
                json::write_u64(&mut out, slot);
                out.push(b'}');
                send(&watchers, &shared(out, event.at, "slotNotification"));
            }
        }
        SlotEventKind::Rooted => {
            let watchers = subscriptions.root_watchers();
            if !watchers.is_empty() {
                let mut out = Vec::with_capacity(20);
                json::write_u64(&mut out, slot);
                send(&watchers, &shared(out, event.at, "rootNotification"));
            }
        }
    }
    let accounts = &event.slot.accounts;
    let account_targets = subscriptions.accounts(accounts.keys(), level);
    let program_targets = subscriptions.programs(
        accounts.values().flatten().map(|account| &account.owner),
        level,
    );
    if account_targets.is_empty() && program_targets.is_empty() {
        return;
    }
    let bank = LazyBank::new(state, commitment);
    for (pubkey, targets) in account_targets {
        let written = accounts.get(&pubkey).and_then(Option::as_ref);
        let mut by_encoding: HashMap<UiAccountEncoding, Arc<Notification>> = HashMap::new();
        for target in &targets {
            let Subscription::Account { encoding, .. } = target.subscription.as_ref() else {
                continue;
            };
            let notification = by_encoding.entry(*encoding).or_insert_with(|| {
                let mut out = context(slot);
                write_account(&mut out, &bank, &pubkey, written, *encoding);
                out.push(b'}');
                shared(out, event.at, "accountNotification")
            });
            target.outbox.push(target.id, notification);
        }
    }
    if program_targets.is_empty() {
        return;
    }
    let mut mints = MintCache::default();
    for (pubkey, account) in accounts {
        let Some(account) = account.as_ref().filter(|account| account.lamports != 0) else {
            continue;
        };
        let Some(targets) = program_targets.get(&account.owner) else {
            continue;
        };
        let mut by_encoding: HashMap<UiAccountEncoding, Option<Arc<Notification>>> = HashMap::new();
        for target in targets {
            let Subscription::Program {
                filters, encoding, ..
            } = target.subscription.as_ref()
            else {
                continue;
            };
            if !filters
                .iter()
                .all(|filter| filter::allows(filter, &account.data))
            {
                continue;
            }
            let notification = by_encoding.entry(*encoding).or_insert_with(|| {
                let mut out = context(slot);
                write_program_account(&mut out, &bank, &mut mints, pubkey, account, *encoding).then(
                    || {
                        out.push(b'}');
                        shared(out, event.at, "programNotification")
                    },
                )
            });
            if let Some(notification) = notification {
                target.outbox.push(target.id, notification);
            }
        }
    }
}

fn send(targets: &[Target], notification: &Arc<Notification>) {
    for target in targets {
        target.outbox.push(target.id, notification);
    }
}

fn shared(out: Vec<u8>, at: Instant, method: &'static str) -> Arc<Notification> {
    let result = String::from_utf8(out).expect("notifications are UTF-8 JSON");
    Arc::new(Notification {
        result: result.into_boxed_str(),
        at,
        method,
    })
}

/// `{"context":{"slot":…},"value":` (Agave's notification context has no apiVersion).
fn context(slot: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"context\":{\"slot\":");
    json::write_u64(&mut out, slot);
    out.extend_from_slice(b"},\"value\":");
    out
}

/// The view token accounts' mints are read from, opened on first use.
struct LazyBank<'a> {
    state: &'a ReplicaState,
    commitment: Commitment,
    bank: std::cell::OnceCell<Option<BankView<'a>>>,
}

impl<'a> LazyBank<'a> {
    fn new(state: &'a ReplicaState, commitment: Commitment) -> Self {
        Self {
            state,
            commitment,
            bank: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> Option<&BankView<'a>> {
        self.bank
            .get_or_init(|| self.state.bank(self.commitment).ok())
            .as_ref()
    }
}

/// Agave's `filter_account_result`: token accounts under jsonParsed with their mint, other
/// accounts through the decoder without extra data; never sliced.
fn write_account(
    out: &mut Vec<u8>,
    bank: &LazyBank<'_>,
    pubkey: &Pubkey,
    written: Option<&Account>,
    encoding: UiAccountEncoding,
) {
    let account = match written.filter(|account| account.lamports != 0) {
        Some(account) => AccountRead::from(account),
        None => CLOSED,
    };
    let format = DataFormat::new(encoding, None);
    let parsed = if encoding != UiAccountEncoding::JsonParsed {
        None
    } else if is_token_program(&account.owner) {
        bank.get()
            .and_then(|bank| token::parse_single(bank, pubkey, &account).ok().flatten())
    } else {
        encoding::parse(pubkey, &account, None)
    };
    encoding::write_account(out, &account, &format, parsed.as_ref(), None);
}

/// Agave's `filter_program_results`: under jsonParsed, token accounts parse with their mints
/// and one that does not parse is left out (`false`).
fn write_program_account(
    out: &mut Vec<u8>,
    bank: &LazyBank<'_>,
    mints: &mut MintCache,
    pubkey: &Pubkey,
    account: &Account,
    encoding: UiAccountEncoding,
) -> bool {
    let account = AccountRead::from(account);
    let format = DataFormat::new(encoding, None);
    let parsed = if encoding != UiAccountEncoding::JsonParsed {
        None
    } else if is_token_program(&account.owner) {
        let additional = bank
            .get()
            .and_then(|bank| mints.additional_for_account(bank, account.data));
        let parsed = encoding::parse(pubkey, &account, additional);
        if parsed.is_none() {
            return false;
        }
        parsed
    } else {
        encoding::parse(pubkey, &account, None)
    };
    encoding::write_keyed_account(out, pubkey, &account, &format, parsed.as_ref(), None);
    true
}
