//! Fetching one chain: download what the ledger lacks from the offers in order, verify, and
//! move into the ledger. A file that fails to download, or that verification blames, costs
//! its offer; the next offer of that file is tried until none is left.

use {
    super::{
        Context, FetchError, LocalSnapshot,
        download::{DownloadError, DownloadOptions, download},
        source::{FileOffer, RemoteChain, Source, sidecar_url},
        verify::verify_chain,
    },
    crate::catalog::Catalog,
    reqwest::Url,
    std::{
        collections::VecDeque,
        path::{Path, PathBuf},
        time::{Duration, Instant},
    },
};

#[derive(Debug)]
pub(super) enum AttemptError {
    /// The ledger itself failed (disk): stop everything.
    Ledger(FetchError),
    /// This chain could not be had from any of its sources.
    Failed(String),
}

/// A file of the chain, either already in the ledger or downloaded into staging.
#[derive(Debug)]
struct Have {
    path: PathBuf,
    downloaded: bool,
    source: Option<usize>,
}

fn ledger_error(path: &Path, error: std::io::Error) -> AttemptError {
    AttemptError::Ledger(FetchError::Ledger {
        path: path.to_path_buf(),
        error,
    })
}

impl Context<'_> {
    fn url_for(
        &self,
        offer: &FileOffer,
    ) -> Box<dyn Fn() -> Result<Url, String> + Send + Sync + '_> {
        let name = offer.name;
        match &self.sources[offer.source] {
            Source::Sidecar { base_url } => {
                let url = sidecar_url(base_url, &name);
                Box::new(move || url.clone())
            }
            Source::Mirror => {
                let s3 = self
                    .s3
                    .as_ref()
                    .expect("a mirror source comes with a client");
                let valid_for = self.config.download_timeout + Duration::from_secs(300);
                Box::new(move || Ok(s3.get_url(&s3.key(&name.to_string()), valid_for)))
            }
        }
    }

    /// Downloads the file of the first offer that works, consuming failed offers.
    async fn download_next(
        &self,
        offers: &mut VecDeque<FileOffer>,
        staging: &Path,
        errors: &mut Vec<String>,
    ) -> Result<Have, AttemptError> {
        while let Some(offer) = offers.pop_front() {
            let path = staging.join(offer.name.to_string());
            let label = self.sources[offer.source].label().to_string();
            let bar = self.progress.bar(&offer.name.to_string(), offer.size);
            let options = DownloadOptions {
                request_timeout: self.config.request_timeout,
                resume_attempts: self.config.resume_attempts,
                deadline: self.deadline,
            };
            let started = Instant::now();
            let url = self.url_for(&offer);
            let result = download(&self.client, &*url, &path, offer.size, &options, &bar).await;
            bar.finish_and_clear();
            match result {
                Ok(done) => {
                    let seconds = started.elapsed().as_secs_f64();
                    tracing::info!(
                        file = %offer.name,
                        source = %label,
                        bytes = done.bytes,
                        resumed = done.resumed,
                        mib_per_second = done.bytes as f64 / (1 << 20) as f64 / seconds.max(1e-6),
                        "downloaded"
                    );
                    return Ok(Have {
                        path,
                        downloaded: true,
                        source: Some(offer.source),
                    });
                }
                Err(DownloadError::Disk { path, error }) => {
                    return Err(ledger_error(&path, error));
                }
                Err(error) => {
                    let last = offers.is_empty() || matches!(error, DownloadError::Deadline);
                    // The last failure is part of the fatal error; only a retried one is logged.
                    if !last {
                        tracing::warn!(file = %offer.name, source = %label, %error, "download failed; trying the next source");
                    }
                    errors.push(format!("{} from {label}: {error}", offer.name));
                    let _ = tokio::fs::remove_file(&path).await;
                    if last {
                        break;
                    }
                }
            }
        }
        Err(AttemptError::Failed(if errors.is_empty() {
            "no source offers this chain".into()
        } else {
            errors.join("; ")
        }))
    }

    async fn verify(
        &self,
        full: &Path,
        incremental: Option<&Path>,
        staging: &Path,
    ) -> Result<(), String> {
        if !self.config.verify_hash {
            return Ok(());
        }
        verify_chain(full, incremental, staging, self.config.sort_memory).await
    }
}

async fn discard(have: Option<Have>) {
    if let Some(have) = have
        && have.downloaded
    {
        let _ = tokio::fs::remove_file(&have.path).await;
    }
}

/// Fetches `chain` into the ledger.
pub(super) async fn fetch_chain(
    context: &Context<'_>,
    chain: &RemoteChain,
    local: &Catalog,
) -> Result<LocalSnapshot, AttemptError> {
    let ledger = &context.config.ledger;
    let staging = tempfile::Builder::new()
        .prefix(super::STAGING_PREFIX)
        .tempdir_in(ledger)
        .map_err(|source| ledger_error(ledger, source))?;

    let local_full = local
        .full_with(chain.full.0, &chain.full.1)
        .map(|archive| Have {
            path: archive.path.clone(),
            downloaded: false,
            source: None,
        });
    let local_incremental = chain.incremental.and_then(|(slot, hash)| {
        local
            .archives()
            .iter()
            .find(|archive| {
                archive.name.base_slot() == Some(chain.full.0)
                    && archive.name.slot == slot
                    && archive.name.hash == hash
            })
            .map(|archive| Have {
                path: archive.path.clone(),
                downloaded: false,
                source: None,
            })
    });
    if local_full.is_some() {
        tracing::info!(
            full_slot = chain.full.0,
            "the local full archive is the chain's base"
        );
    }
    let mut full_offers: VecDeque<FileOffer> = chain.full_offers.iter().cloned().collect();
    let mut incremental_offers: Vec<FileOffer> = chain.incremental_offers.clone();
    let mut full = local_full;
    let mut incremental = local_incremental;
    let mut errors = Vec::new();

    loop {
        if full.is_none() {
            full = Some(
                context
                    .download_next(&mut full_offers, staging.path(), &mut errors)
                    .await?,
            );
        }
        let full_have = full.as_ref().expect("just set");
        if chain.incremental.is_some() && incremental.is_none() {
            // The full's source first: Agave takes both from one node when it can.
            incremental_offers.sort_by_key(|offer| Some(offer.source) != full_have.source);
            let mut offers: VecDeque<FileOffer> = incremental_offers.drain(..).collect();
            let result = context
                .download_next(&mut offers, staging.path(), &mut errors)
                .await;
            incremental_offers = offers.into_iter().collect();
            incremental = Some(result?);
        }
        let full_path = full_have.path.clone();
        let incremental_path = incremental.as_ref().map(|have| have.path.clone());
        match context
            .verify(&full_path, incremental_path.as_deref(), staging.path())
            .await
        {
            Ok(()) => break,
            Err(error) => errors.push(format!("verification: {error}")),
        }
        // Blame: with no incremental, the full; else the full if it fails alone, else the
        // incremental.
        let full_is_bad = match &incremental {
            None => true,
            Some(_) if full_have.downloaded => context
                .verify(&full_path, None, staging.path())
                .await
                .is_err(),
            Some(_) => false,
        };
        let retried = if full_is_bad {
            !full_offers.is_empty()
        } else {
            !incremental_offers.is_empty()
        };
        if full_is_bad && !full_have.downloaded {
            return Err(AttemptError::Failed(errors.join("; ")));
        }
        // The last failure is part of the fatal error; only a retried one is logged.
        if retried && let Some(error) = errors.last() {
            tracing::warn!(slot = chain.slot, %error, "discarding an archive that does not verify; trying the next source");
        }
        if full_is_bad {
            discard(full.take()).await;
        } else {
            discard(incremental.take()).await;
        }
    }

    // Into the ledger: the full first, so that a crash in between leaves a usable chain.
    let mut placed = Vec::new();
    for have in [full.as_ref(), incremental.as_ref()].into_iter().flatten() {
        if !have.downloaded {
            placed.push(have.path.clone());
            continue;
        }
        let name = have.path.file_name().expect("a staged file has a name");
        let destination = ledger.join(name);
        tokio::fs::rename(&have.path, &destination)
            .await
            .map_err(|source| ledger_error(&destination, source))?;
        placed.push(destination);
    }
    let ledger_dir = ledger.clone();
    tokio::task::spawn_blocking(move || std::fs::File::open(&ledger_dir)?.sync_all())
        .await
        .map_err(|error| ledger_error(ledger, std::io::Error::other(error)))?
        .map_err(|source| ledger_error(ledger, source))?;
    let mut placed = placed.into_iter();
    Ok(LocalSnapshot {
        full: placed.next().expect("a full archive"),
        incremental: placed.next(),
        slot: chain.slot,
        hash: chain.hash,
    })
}
