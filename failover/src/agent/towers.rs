//! The agent's tower work: adopting the newest tower on activation, pushing the validator's
//! tower file under the fencing token while active, and the final tower of a hand-off.

use {
    super::Agent,
    crate::{etcd::TowerRecord, tower},
    base64::Engine,
    std::time::Instant,
};

/// Why an adoption did not complete.
pub(super) enum Adopt {
    /// Try again (etcd did not answer).
    Retry,
    /// The towers cannot be used: step down.
    Failed,
}

impl Agent {
    /// Fetches the newest tower from etcd, compares it with the local file, and writes the
    /// newer one as the validator's tower file (pushing it under `token` when the local one
    /// was newer).
    pub(super) async fn adopt_tower(&mut self, token: i64) -> Result<(), Adopt> {
        let staked = self.identities.staked_pubkey();
        let record = match self.etcd.tower(self.remaining()).await {
            Ok(record) => record,
            Err(error) => {
                self.etcd_error("tower", &error);
                return Err(Adopt::Retry);
            }
        };
        let from_etcd = match &record {
            None => None,
            Some(record) => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(&record.tower)
                    .map_err(|error| error.to_string())
                    .and_then(|bytes| {
                        tower::decode(&bytes, &staked)
                            .map(|tower| (bytes, tower))
                            .map_err(|error| error.to_string())
                    });
                match decoded {
                    Ok(pair) => Some(pair),
                    Err(error) => {
                        tracing::error!(
                            %error,
                            writer = %record.node,
                            identity = %staked,
                            "the tower in etcd is not a valid tower of the staked identity; refusing to activate"
                        );
                        return Err(Adopt::Failed);
                    }
                }
            }
        };
        let local = match tower::read_file(&self.tower_path) {
            Ok(Some(bytes)) => match tower::decode(&bytes, &staked) {
                Ok(tower) => Some((bytes, tower)),
                Err(error) => {
                    tracing::warn!(%error, path = %self.tower_path.display(), "ignoring the local tower file");
                    None
                }
            },
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(%error, "cannot read the local tower file");
                None
            }
        };
        let slot = |pair: &Option<(Vec<u8>, tower::Tower)>| {
            pair.as_ref().and_then(|(_, tower)| tower.last_vote_slot())
        };
        let (chosen, local_newer) = match (from_etcd, local) {
            (Some(remote), Some(local))
                if slot(&Some(local.clone())) > slot(&Some(remote.clone())) =>
            {
                (local, true)
            }
            (Some(remote), _) => (remote, false),
            (None, Some(local)) => (local, true),
            (None, None) => {
                if self.config.config.allow_new_tower {
                    tracing::warn!(
                        "no tower in etcd nor locally: allow_new_tower lets the validator start a new one"
                    );
                    self.new_tower = true;
                    self.last_tower = None;
                    self.tower_slot = None;
                    return Ok(());
                }
                tracing::error!(
                    identity = %staked,
                    "no tower in etcd nor locally; refusing to activate (set allow_new_tower only for a brand-new vote account)"
                );
                return Err(Adopt::Failed);
            }
        };
        let (bytes, adopted) = chosen;
        if !local_newer && let Err(error) = tower::write_file(&self.tower_path, &bytes, true) {
            tracing::error!(%error, "cannot write the tower file");
            return Err(Adopt::Failed);
        }
        if local_newer {
            let pushed = self
                .etcd
                .push_tower(
                    token,
                    &self.tower_record(token, &bytes, &adopted),
                    self.remaining(),
                )
                .await;
            match pushed {
                Ok(true) => self.metrics.tower_pushes.inc(),
                Ok(false) => {
                    self.metrics.tower_pushes_refused.inc();
                    self.decider.push_refused(Instant::now());
                    return Err(Adopt::Retry);
                }
                Err(error) => {
                    self.etcd_error("tower", &error);
                    return Err(Adopt::Retry);
                }
            }
        }
        tracing::warn!(
            token,
            slot = adopted.last_vote_slot(),
            root = adopted.root,
            source = if local_newer { "local" } else { "etcd" },
            "tower adopted"
        );
        self.new_tower = false;
        self.tower_slot = adopted.last_vote_slot();
        self.last_tower = Some(bytes);
        self.tower_stamp = None;
        Ok(())
    }

    fn tower_record(&self, token: i64, bytes: &[u8], tower: &tower::Tower) -> TowerRecord {
        TowerRecord {
            node: self.decider.node().to_string(),
            fencing_token: token,
            identity: self.identities.staked_pubkey().to_string(),
            last_vote_slot: tower.last_vote_slot(),
            root: tower.root,
            tower: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// Pushes the tower file if it changed since the last push.
    pub(super) async fn push_tower(&mut self, token: i64) {
        let stamp = std::fs::metadata(&self.tower_path)
            .ok()
            .and_then(|meta| Some((meta.modified().ok()?, meta.len())));
        if stamp.is_none() || stamp == self.tower_stamp {
            return;
        }
        let bytes = match tower::read_file(&self.tower_path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot read the tower file");
                return;
            }
        };
        if self.last_tower.as_ref() == Some(&bytes) {
            self.tower_stamp = stamp;
            return;
        }
        let staked = self.identities.staked_pubkey();
        let tower = match tower::decode(&bytes, &staked) {
            Ok(tower) => tower,
            Err(error) => {
                tracing::warn!(%error, "the validator's tower file does not verify; not pushing it");
                self.tower_stamp = stamp;
                return;
            }
        };
        if tower.last_vote_slot() < self.tower_slot {
            tracing::warn!(
                slot = tower.last_vote_slot(),
                newest = self.tower_slot,
                "the tower file went back; not pushing it"
            );
            self.tower_stamp = stamp;
            return;
        }
        let record = self.tower_record(token, &bytes, &tower);
        match self.etcd.push_tower(token, &record, self.remaining()).await {
            Ok(true) => {
                self.metrics.tower_pushes.inc();
                tracing::debug!(slot = tower.last_vote_slot(), "tower pushed");
                self.tower_slot = tower.last_vote_slot();
                self.last_tower = Some(bytes);
                self.tower_stamp = stamp;
            }
            Ok(false) => {
                self.metrics.tower_pushes_refused.inc();
                tracing::error!(
                    token,
                    "etcd refused the tower push: this node no longer holds the election"
                );
                self.decider.push_refused(Instant::now());
            }
            Err(error) => self.etcd_error("tower", &error),
        }
    }

    pub(super) async fn hand_off(&mut self, token: i64, to: &str) {
        let staked = self.identities.staked_pubkey();
        let record = match tower::read_file(&self.tower_path) {
            Ok(Some(bytes)) => match tower::decode(&bytes, &staked) {
                Ok(tower) => {
                    self.tower_slot = tower.last_vote_slot().max(self.tower_slot);
                    Some(self.tower_record(token, &bytes, &tower))
                }
                Err(error) => {
                    tracing::warn!(%error, "the final tower does not verify; handing off etcd's");
                    None
                }
            },
            _ => None,
        };
        let ttl = i64::try_from(self.config.lease_ttl.as_secs().saturating_mul(3)).unwrap_or(15);
        let lease = match self.etcd.grant(ttl).await {
            Ok(lease) => lease,
            Err(error) => return self.etcd_error("hand-off", &error),
        };
        match self
            .etcd
            .hand_off(token, to, record.as_ref(), lease, None)
            .await
        {
            Ok(done) => {
                tracing::warn!(to, done, slot = self.tower_slot, "handed off");
                self.decider.stepped_down(Instant::now(), true);
            }
            Err(error) => self.etcd_error("hand-off", &error),
        }
    }
}
