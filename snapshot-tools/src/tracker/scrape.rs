//! One task per target group: every `scrape_interval`, discover the targets, then scrape each
//! one's `/v1/snapshots` concurrently (bounded by a semaphore shared by all groups) and
//! record the results in the table.

use {
    super::{
        config::{ConfigError, TargetGroup, TrackerConfig},
        discovery::parse_target_list,
        state::{FailureOutcome, TargetKey, TargetTable},
    },
    crate::{catalog::SnapshotInfo, metrics::TrackerMetrics, net::target_base_url},
    futures::StreamExt,
    std::{
        sync::{Arc, RwLock},
        time::{Duration, Instant, SystemTime},
    },
    tokio::sync::Semaphore,
    tokio_util::sync::CancellationToken,
};

#[derive(Debug, Clone)]
enum Auth {
    Basic { username: String, password: String },
    Bearer(String),
}

/// A group ready to scrape: its HTTP client carries the group's TLS settings.
#[derive(Debug)]
pub(super) struct GroupScraper {
    group: TargetGroup,
    client: reqwest::Client,
    auth: Option<Auth>,
    scrape_interval: Duration,
    max_failed_scrapes: u32,
    max_response_bytes: usize,
    /// Last good lists of the file and HTTP sources, kept when a discovery fails.
    last_file: Vec<String>,
    last_http: Vec<String>,
}

fn read_pem(path: &std::path::Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })
}

impl GroupScraper {
    pub(super) fn new(group: &TargetGroup, config: &TrackerConfig) -> Result<Self, ConfigError> {
        let invalid =
            |what: String| ConfigError::Invalid(format!("group `{}`: {what}", group.group));
        let mut builder = reqwest::Client::builder()
            .timeout(config.scrape_timeout)
            .connect_timeout(config.scrape_timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::limited(1))
            .pool_max_idle_per_host(3);
        if let Some(tls) = &group.tls_config {
            if let Some(ca_file) = &tls.ca_file {
                let certificates = reqwest::Certificate::from_pem_bundle(&read_pem(ca_file)?)
                    .map_err(|error| invalid(format!("ca_file: {error}")))?;
                for certificate in certificates {
                    builder = builder.add_root_certificate(certificate);
                }
            }
            if let (Some(cert_file), Some(key_file)) = (&tls.cert_file, &tls.key_file) {
                let mut pem = read_pem(cert_file)?;
                pem.push(b'\n');
                pem.extend(read_pem(key_file)?);
                let identity = reqwest::Identity::from_pem(&pem)
                    .map_err(|error| invalid(format!("cert_file/key_file: {error}")))?;
                builder = builder.identity(identity);
            }
            builder = builder.danger_accept_invalid_certs(tls.insecure_skip_verify);
        }
        let client = builder
            .build()
            .map_err(|error| invalid(format!("HTTP client: {error}")))?;
        let auth = match (&group.basic_auth, &group.bearer_auth) {
            (Some(basic), _) => Some(Auth::Basic {
                username: basic.username.clone(),
                password: basic.password.clone(),
            }),
            (None, Some(bearer)) => Some(Auth::Bearer(bearer.token.clone())),
            (None, None) => None,
        };
        if let Some(http) = &group.http_targets {
            reqwest::Url::parse(&http.url)
                .map_err(|error| invalid(format!("http_targets url: {error}")))?;
        }
        Ok(Self {
            group: group.clone(),
            client,
            auth,
            scrape_interval: config.scrape_interval,
            max_failed_scrapes: config.max_failed_scrapes,
            max_response_bytes: super::config::DEFAULT_MAX_RESPONSE_BYTES,
            last_file: Vec::new(),
            last_http: Vec::new(),
        })
    }

    pub(super) fn name(&self) -> &str {
        &self.group.group
    }

    fn request(&self, url: &str) -> reqwest::RequestBuilder {
        let request = self.client.get(url);
        match &self.auth {
            Some(Auth::Basic { username, password }) => {
                request.basic_auth(username, Some(password))
            }
            Some(Auth::Bearer(token)) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A body of at most `max_response_bytes`.
    async fn get_bounded(&self, url: &str) -> Result<Vec<u8>, String> {
        let response = self
            .request(url)
            .send()
            .await
            .map_err(|error| crate::net::error_text(&error))?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| crate::net::error_text(&error))?;
            if body.len() + chunk.len() > self.max_response_bytes {
                return Err(format!("answer over {} bytes", self.max_response_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The group's targets, merged from every source; a failing source keeps its last list.
    async fn discover(&mut self, metrics: &TrackerMetrics) -> Vec<String> {
        let mut targets: Vec<String> = self
            .group
            .static_targets
            .as_ref()
            .map(|s| s.targets.clone())
            .unwrap_or_default();
        if let Some(file) = &self.group.file_targets {
            match tokio::fs::read_to_string(&file.path)
                .await
                .map_err(|error| error.to_string())
                .and_then(|text| parse_target_list(&text))
            {
                Ok(list) => self.last_file = list,
                Err(error) => {
                    metrics.discovery_errors.inc();
                    tracing::warn!(group = self.name(), path = %file.path.display(), %error, "file discovery failed");
                }
            }
            targets.extend(self.last_file.iter().cloned());
        }
        if let Some(http) = &self.group.http_targets {
            match self
                .get_bounded(&http.url)
                .await
                .and_then(|body| parse_target_list(&String::from_utf8_lossy(&body)))
            {
                Ok(list) => self.last_http = list,
                Err(error) => {
                    metrics.discovery_errors.inc();
                    tracing::warn!(group = self.name(), url = %http.url, %error, "HTTP discovery failed");
                }
            }
            targets.extend(self.last_http.iter().cloned());
        }
        targets.sort();
        targets.dedup();
        targets
    }

    fn base_url(&self, target: &str) -> String {
        target_base_url(target, self.group.scheme.as_str(), &self.group.api_path)
    }

    async fn scrape(&self, base_url: &str) -> Result<Vec<SnapshotInfo>, String> {
        let body = self
            .get_bounded(&format!("{base_url}/v1/snapshots"))
            .await?;
        let infos: Vec<SnapshotInfo> =
            serde_json::from_slice(&body).map_err(|error| format!("invalid JSON: {error}"))?;
        // Entries whose names do not check out are dropped, the rest kept.
        Ok(infos
            .into_iter()
            .filter(|info| info.chain_names().is_ok())
            .collect())
    }

    /// Scrapes every `scrape_interval` until `stop` is cancelled.
    pub(super) async fn run(
        mut self,
        table: Arc<RwLock<TargetTable>>,
        metrics: TrackerMetrics,
        permits: Arc<Semaphore>,
        stop: CancellationToken,
    ) {
        let mut interval = tokio::time::interval(self.scrape_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = interval.tick() => {}
            }
            let targets = self.discover(&metrics).await;
            let with_urls: Vec<(String, String)> = targets
                .iter()
                .map(|target| (target.clone(), self.base_url(target)))
                .collect();
            table
                .write()
                .expect("target table lock")
                .set_group_targets(self.name(), &with_urls);
            let this = &self;
            let results: Vec<_> = futures::stream::iter(with_urls)
                .map(|(target, base_url)| {
                    let permits = permits.clone();
                    async move {
                        let _permit = permits.acquire_owned().await;
                        let started = Instant::now();
                        let result = this.scrape(&base_url).await;
                        (target, result, started.elapsed())
                    }
                })
                .buffer_unordered(64)
                .collect()
                .await;
            if stop.is_cancelled() {
                return;
            }
            let now = SystemTime::now();
            let mut table = table.write().expect("target table lock");
            for (target, result, elapsed) in results {
                metrics.scrape_duration.observe(elapsed.as_secs_f64());
                let key = TargetKey {
                    group: self.name().to_string(),
                    target,
                };
                match result {
                    Ok(infos) => {
                        metrics.scrapes.with_label_values(&["ok"]).inc();
                        table.record_success(&key, infos, now);
                    }
                    Err(error) => {
                        metrics.scrapes.with_label_values(&["error"]).inc();
                        match table.record_failure(&key, self.max_failed_scrapes) {
                            FailureOutcome::Expired => {
                                metrics.expired_targets.inc();
                                tracing::warn!(group = %key.group, target = %key.target, %error, "target expired");
                            }
                            outcome => {
                                tracing::debug!(group = %key.group, target = %key.target, %error, ?outcome, "scrape failed");
                            }
                        }
                    }
                }
            }
            metrics.targets.set(table.target_count() as i64);
            metrics.live_targets.set(table.live_count() as i64);
        }
    }
}
