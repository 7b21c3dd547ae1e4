//! `snapshot-tools mirror`: keep an S3-compatible bucket in step with the tracker's best
//! archives.

use {
    crate::{
        mirror::{self, Mirror, MirrorConfig, upload::UploadOptions},
        net::{ByteSize, parse_listen},
        s3::{DEFAULT_REGION, S3Client, S3Location},
    },
    anyhow::Context,
    reqwest::Url,
    std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration},
};

/// Where the bucket is (shared by `mirror` and `fetch`).
#[derive(Debug, Clone, clap::Args)]
pub struct S3Args {
    /// S3 endpoint URL (`http://` means plain HTTP, `https://` TLS), e.g.
    /// `https://s3.us-east-1.amazonaws.com`; goes with --s3-bucket. Required by `mirror`;
    /// for `fetch`, default: no mirror source.
    #[arg(long, requires = "s3_bucket")]
    pub s3_url: Option<Url>,
    /// Bucket name; goes with --s3-url. Required by `mirror`; for `fetch`, default: no mirror
    /// source.
    #[arg(long, requires = "s3_url")]
    pub s3_bucket: Option<String>,
    /// Key prefix; a `/` is added unless it ends with one (`mainnet` → `mainnet/<file>`).
    /// Default: none (keys are the file names).
    #[arg(long, default_value = "", hide_default_value = true)]
    pub s3_prefix: String,
    /// Signing region (must match the server's).
    #[arg(long, default_value = DEFAULT_REGION)]
    pub s3_region: String,
    /// Virtual-hosted-style URLs (`<bucket>.<host>`) instead of path-style.
    #[arg(long)]
    pub s3_virtual_host: bool,
}

impl S3Args {
    /// The location, if a bucket was given.
    pub fn location(&self) -> anyhow::Result<Option<S3Location>> {
        match (&self.s3_url, &self.s3_bucket) {
            (None, None) => Ok(None),
            (Some(url), Some(bucket)) => {
                let mut prefix = self.s3_prefix.trim_start_matches('/').to_string();
                if !prefix.is_empty() && !prefix.ends_with('/') {
                    prefix.push('/');
                }
                Ok(Some(S3Location {
                    endpoint: url.clone(),
                    bucket: bucket.clone(),
                    prefix,
                    region: self.s3_region.clone(),
                    virtual_host: self.s3_virtual_host,
                }))
            }
            _ => anyhow::bail!("--s3-url and --s3-bucket go together"),
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("bucket").required(true).args(["s3_url"])))]
#[command(after_help = "\
Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Exit codes: 0 stopped \
(or --once without errors); 1 failed (or --once with errors); 2 bad arguments.")]
pub struct MirrorArgs {
    /// Tracker URL (repeatable; answers are merged).
    #[arg(long, required = true)]
    pub tracker: Vec<String>,
    #[command(flatten)]
    pub s3: S3Args,
    /// Time between rounds.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub refresh: Duration,
    /// Full snapshots kept in the bucket (their incrementals go with them); 0 keeps all.
    #[arg(long, default_value_t = mirror::DEFAULT_RETAIN_FULLS)]
    pub retain: usize,
    /// Incrementals kept per kept full snapshot.
    #[arg(long, default_value_t = mirror::DEFAULT_RETAIN_INCREMENTALS)]
    pub retain_incrementals: usize,
    /// Archives from this size up are uploaded in parts.
    #[arg(long, default_value = "64MiB")]
    pub multipart_threshold: ByteSize,
    /// Part size (at least 5 MiB; raised to fit 10,000 parts).
    #[arg(long, default_value = "32MiB")]
    pub part_size: ByteSize,
    /// Parts uploaded at once.
    #[arg(long, default_value_t = mirror::DEFAULT_PART_CONCURRENCY)]
    pub part_concurrency: usize,
    /// Time limit of tracker requests, connects and stalls.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Run one round, print its report as JSON, and exit (1 if it had errors).
    #[arg(long)]
    pub once: bool,
    /// Serve `/metrics` here (e.g. `:9102`). Default: not served.
    #[arg(long, value_parser = parse_listen)]
    pub metrics_listen: Option<SocketAddr>,
    /// Write `{"metrics_listen": "ip:port"}` once listening. Default: no file.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
}

pub fn run(args: MirrorArgs) -> anyhow::Result<ExitCode> {
    let location = args
        .s3
        .location()?
        .context("--s3-url and --s3-bucket are required")?;
    let credentials = S3Client::credentials_from_env()
        .context("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the bucket")?;
    let mut config = MirrorConfig::new(args.tracker.clone(), location);
    config.credentials = Some(credentials);
    config.refresh = args.refresh;
    config.retain_fulls = args.retain;
    config.retain_incrementals = args.retain_incrementals;
    config.upload = UploadOptions {
        multipart_threshold: args.multipart_threshold.0,
        part_size: args.part_size.0,
        part_concurrency: args.part_concurrency,
    };
    config.request_timeout = args.request_timeout;

    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let registry = prometheus::Registry::new();
        let mirror = Mirror::new(config, &registry)?;
        if args.once {
            let report = mirror.round().await?;
            super::output::line(serde_json::to_string(&report)?).context("printing the report")?;
            return Ok(if report.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        let shutdown = common::shutdown::token_on_signal();
        let mut server = None;
        if let Some(addr) = args.metrics_listen {
            let metrics =
                common::metrics::MetricsServer::spawn(addr, registry.clone(), shutdown.clone())
                    .with_context(|| format!("binding {addr}"))?;
            let bound = metrics.local_addr();
            if let Some(path) = &args.ready_file {
                common::ready::write(path, &serde_json::json!({ "metrics_listen": bound }))
                    .with_context(|| format!("writing the ready file {}", path.display()))?;
            }
            server = Some(metrics);
        }
        mirror.run(shutdown).await;
        if let Some(server) = server {
            server.join().await;
        }
        Ok(ExitCode::SUCCESS)
    })
}
