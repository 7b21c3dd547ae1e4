//! `snapshot-tools fetch`: download the best snapshot chain into a ledger.

use {
    super::{Fatal, mirror::S3Args, output},
    crate::{
        fetch::{self, FetchConfig, FetchOutcome, MirrorSource},
        s3::S3Client,
    },
    anyhow::Context,
    clap::ArgGroup,
    std::{path::PathBuf, process::ExitCode, time::Duration},
};

/// Exit code: a newer chain was fetched.
pub const EXIT_FETCHED: u8 = 0;
/// Exit code: a run that failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the local chain is up to date; nothing was downloaded.
pub const EXIT_UP_TO_DATE: u8 = 10;

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("source").required(true).multiple(true).args(["tracker", "s3_url"])))]
#[command(after_help = "\
At least one source: --tracker (repeatable) and/or the mirror (--s3-url with --s3-bucket).

Exit codes: 0 a newer chain was fetched; 10 the ledger was already up to date; 1 failed; \
2 bad arguments (e.g. no source). Under systemd, run it as `ExecStartPre=-snapshot-tools fetch ...` \
(never blocks the validator) or set `SuccessExitStatus=10`.

On success one JSON line is printed: {\"outcome\": \"fetched\"|\"up_to_date\", \"slot\", \
\"hash\", \"full\", \"incremental\"}.")]
pub struct FetchArgs {
    /// Ledger directory: archives are looked for in it (and `remote/`) and put into it.
    #[arg(long)]
    pub ledger: PathBuf,
    /// Tracker URL (repeatable; answers are merged). Default: none; a tracker or the mirror
    /// is required.
    #[arg(long)]
    pub tracker: Vec<String>,
    /// The S3 mirror as a source too (credentials from AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY if set, else unsigned requests).
    #[command(flatten)]
    pub s3: S3Args,
    /// Fetch only when the best remote chain is at least this many slots newer.
    #[arg(long, default_value_t = fetch::DEFAULT_MIN_SLOTS)]
    pub min_slots: u64,
    /// Ignore chains more than this many slots behind the best remote chain.
    #[arg(long, default_value_t = fetch::DEFAULT_MAX_SLOTS)]
    pub max_slots: u64,
    /// Time limit for answers (tracker, response headers) and for a stalled transfer.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Time limit for all downloading (verification not included).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub download_timeout: Duration,
    /// Retries of a source without progress before trying the next one.
    #[arg(long, default_value_t = fetch::DEFAULT_RESUME_ATTEMPTS)]
    pub resume_attempts: u32,
    /// Do not read the downloaded chain before it enters the ledger: neither the lattice hash
    /// nor Agave's manifest checks run (sizes are still checked).
    #[arg(long)]
    pub skip_hash_verify: bool,
    /// No progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

fn print_outcome(outcome: &FetchOutcome) -> std::io::Result<()> {
    let (label, snapshot) = match outcome {
        FetchOutcome::Fetched(snapshot) => ("fetched", snapshot),
        FetchOutcome::UpToDate(snapshot) => ("up_to_date", snapshot),
    };
    output::line(serde_json::json!({
        "outcome": label,
        "slot": snapshot.slot,
        "hash": snapshot.hash.to_string(),
        "full": snapshot.full,
        "incremental": snapshot.incremental,
    }))
}

pub fn run(args: FetchArgs) -> anyhow::Result<ExitCode> {
    let mut config = FetchConfig::new(args.ledger.clone());
    config.trackers = args.tracker.clone();
    config.mirror = args.s3.location()?.map(|location| MirrorSource {
        location,
        credentials: S3Client::credentials_from_env(),
    });
    config.min_slots = args.min_slots;
    config.max_slots = args.max_slots;
    config.request_timeout = args.request_timeout;
    config.download_timeout = args.download_timeout;
    config.resume_attempts = args.resume_attempts;
    config.verify_hash = !args.skip_hash_verify;
    config.progress = !args.no_progress;

    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let result = runtime.block_on(async {
        let shutdown = common::shutdown::token_on_signal();
        tokio::select! {
            result = fetch::fetch_best(&config) => Some(result),
            _ = shutdown.cancelled() => None,
        }
    });
    match result {
        None => Err(Fatal::wrap(EXIT_FAILED, anyhow::anyhow!("interrupted"))),
        Some(Ok(outcome)) => {
            print_outcome(&outcome).context("printing the outcome")?;
            Ok(ExitCode::from(match outcome {
                FetchOutcome::Fetched(_) => EXIT_FETCHED,
                FetchOutcome::UpToDate(_) => EXIT_UP_TO_DATE,
            }))
        }
        // One line (`error: ...`), which says whether the local snapshot stays.
        Some(Err(error)) => Err(Fatal::wrap(EXIT_FAILED, error)),
    }
}
