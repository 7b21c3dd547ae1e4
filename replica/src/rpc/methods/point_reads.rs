//! Point reads (getAccountInfo, getMultipleAccounts, getBalance) on dedicated reader threads.
//! Concurrent requests are taken off a bounded queue in batches: each batch opens one view per
//! commitment (one RocksDB snapshot) and answers every request of the batch from it, so under
//! load the thread hand-off and the snapshot are paid once per batch, not once per request, and
//! the async runtime never touches the store.

use {
    crate::{
        bank::BankView,
        rpc::{
            read::{
                commitment,
                encoding::{self, DataFormat},
            },
            server::{RpcError, json},
        },
        state::{Commitment, ReplicaState, ServedState},
    },
    solana_commitment_config::CommitmentConfig,
    solana_pubkey::Pubkey,
    std::{ops::ControlFlow, sync::Arc, thread::JoinHandle},
    tokio::sync::{mpsc, oneshot},
};

/// Requests answered from one view at most.
const MAX_BATCH: usize = 128;

/// What a point read answers.
#[derive(Debug)]
pub(crate) enum PointRead {
    /// getAccountInfo.
    Account(Pubkey, DataFormat),
    /// getMultipleAccounts.
    Accounts(Vec<Pubkey>, DataFormat),
    /// getBalance.
    Balance(Pubkey),
}

#[derive(Debug)]
struct Job {
    read: PointRead,
    commitment: Option<CommitmentConfig>,
    min_context_slot: Option<u64>,
    reply: oneshot::Sender<Result<Vec<u8>, RpcError>>,
}

/// The queue in front of the reader threads.
#[derive(Debug)]
pub(crate) struct PointReads {
    sender: mpsc::Sender<Job>,
    queue_len: prometheus::IntGauge,
}

impl PointReads {
    /// Starts `threads` readers over the served state, fed by a queue of `queue` requests. They
    /// stop when
    /// the last [`PointReads`] is dropped.
    pub(crate) fn start(
        served: Arc<ServedState>,
        api_version: String,
        threads: usize,
        queue: usize,
        queue_len: prometheus::IntGauge,
    ) -> std::io::Result<(Self, Vec<JoinHandle<()>>)> {
        let (sender, receiver) = mpsc::channel(queue.max(1));
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        let mut handles = Vec::with_capacity(threads);
        for index in 0..threads.max(1) {
            let served = served.clone();
            let receiver = receiver.clone();
            let api_version = api_version.clone();
            let queue_len = queue_len.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("rpc-read-{index}"))
                    .spawn(move || reader(&served, &api_version, &receiver, &queue_len))?,
            );
        }
        Ok((Self { sender, queue_len }, handles))
    }

    /// Queues a read (waiting while the queue is full) and awaits its answer.
    pub(crate) async fn read(
        &self,
        read: PointRead,
        commitment: Option<CommitmentConfig>,
        min_context_slot: Option<u64>,
    ) -> Result<Vec<u8>, RpcError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            read,
            commitment,
            min_context_slot,
            reply,
        };
        self.queue_len.inc();
        if self.sender.send(job).await.is_err() {
            self.queue_len.dec();
            return Err(RpcError::Internal("point readers stopped".to_string()));
        }
        answer
            .await
            .map_err(|_| RpcError::Internal("point reader dropped a request".to_string()))?
    }
}

fn reader(
    served: &ServedState,
    api_version: &str,
    receiver: &std::sync::Mutex<mpsc::Receiver<Job>>,
    queue_len: &prometheus::IntGauge,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            let mut receiver = receiver.lock().expect("point read queue lock");
            match receiver.blocking_recv() {
                Some(job) => batch.push(job),
                None => return,
            }
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        queue_len.sub(batch.len() as i64);
        answer_batch(&served.load(), api_version, &mut batch);
    }
}

/// Answers every job, one view per commitment level.
fn answer_batch(state: &ReplicaState, api_version: &str, batch: &mut Vec<Job>) {
    for level in [
        Commitment::Finalized,
        Commitment::Confirmed,
        Commitment::Processed,
    ] {
        let jobs: Vec<Job> = {
            let (selected, rest): (Vec<Job>, Vec<Job>) = batch
                .drain(..)
                .partition(|job| commitment::commitment(job.commitment) == level);
            *batch = rest;
            selected
        };
        if jobs.is_empty() {
            continue;
        }
        match commitment::level_bank(state, level) {
            Ok(bank) => answer_jobs(&bank, api_version, jobs),
            Err(RpcError::Store(error)) => {
                for job in jobs {
                    let _ = job
                        .reply
                        .send(Err(RpcError::Internal(format!("opening a view: {error}"))));
                }
            }
            Err(RpcError::MinContextSlotNotReached { context_slot }) => {
                for job in jobs {
                    let _ = job
                        .reply
                        .send(Err(RpcError::MinContextSlotNotReached { context_slot }));
                }
            }
            Err(error) => {
                for job in jobs {
                    let _ = job.reply.send(Err(RpcError::Internal(error.to_string())));
                }
            }
        }
    }
}

/// A job being answered: its output so far, or its error.
struct Pending {
    job: Job,
    out: Result<Vec<u8>, RpcError>,
    first: bool,
}

/// Answers `jobs` from `bank` with one multi-get over all their keys.
fn answer_jobs(bank: &BankView<'_>, api_version: &str, jobs: Vec<Job>) {
    let slot = bank.slot();
    let mut pending = Vec::with_capacity(jobs.len());
    let mut keys = Vec::new();
    let mut owner_of_key = Vec::new();
    for job in jobs {
        if let Some(min_context_slot) = job.min_context_slot
            && slot < min_context_slot
        {
            let _ = job.reply.send(Err(RpcError::MinContextSlotNotReached {
                context_slot: slot,
            }));
            continue;
        }
        let mut out = Vec::with_capacity(256);
        json::open_context(&mut out, api_version, slot);
        let job_keys: &[Pubkey] = match &job.read {
            PointRead::Account(pubkey, _) | PointRead::Balance(pubkey) => {
                std::slice::from_ref(pubkey)
            }
            PointRead::Accounts(pubkeys, _) => {
                out.push(b'[');
                pubkeys
            }
        };
        keys.extend_from_slice(job_keys);
        owner_of_key.extend(std::iter::repeat_n(pending.len(), job_keys.len()));
        pending.push(Pending {
            job,
            out: Ok(out),
            first: true,
        });
    }
    let mut next = 0;
    let read = bank.for_each_of(&keys, |pubkey, account| {
        let entry = &mut pending[owner_of_key[next]];
        next += 1;
        let Ok(out) = &mut entry.out else {
            return ControlFlow::Continue(());
        };
        let written = match &entry.job.read {
            PointRead::Balance(_) => {
                json::write_u64(out, account.map_or(0, |account| account.lamports));
                Ok(())
            }
            PointRead::Account(_, format) => {
                encoding::write_encoded(out, bank, pubkey, account, format)
            }
            PointRead::Accounts(_, format) => {
                if !entry.first {
                    out.push(b',');
                }
                entry.first = false;
                encoding::write_encoded(out, bank, pubkey, account, format)
            }
        };
        if let Err(error) = written {
            entry.out = Err(error);
        }
        ControlFlow::Continue(())
    });
    for Pending { job, out, .. } in pending {
        let answer = match (&read, out) {
            (Err(error), _) => Err(RpcError::Internal(format!("reading accounts: {error}"))),
            (Ok(_), Ok(mut out)) => {
                if matches!(job.read, PointRead::Accounts(..)) {
                    out.push(b']');
                }
                out.push(b'}');
                Ok(out)
            }
            (Ok(_), Err(error)) => Err(error),
        };
        let _ = job.reply.send(answer);
    }
}
