//! The publish-lease rules, written once for `dev` and the cluster: grant a free stream at
//! once, take over a stream whose holder has had no media for `takeover_after`, otherwise
//! wait a little for that to happen before refusing; fenced release and renewal.

use std::time::Duration;

use ferrocast_base::{Epoch, StreamId};
use ferrocast_control_client::MAX_DECISION_SLACK;

use super::{Attempt, Claim, Lease, LeaseStore, LeaseStoreError, Release, Renewal, Renewed};
use crate::server::config::millis;
use crate::server::{metrics, now_ms};

/// Longest pause between two checks while waiting: a released lease is noticed this fast.
const RECHECK_EVERY: Duration = Duration::from_millis(100);

/// What an authorization decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// The caller holds the stream under `epoch`; `replaced` is the stale holder's epoch if
    /// this was a takeover.
    Granted {
        /// The new epoch.
        epoch: Epoch,
        /// The epoch taken over.
        replaced: Option<Epoch>,
    },
    /// A holder kept having media for the whole wait: the stream is live elsewhere.
    Refused {
        /// The healthy holder's epoch.
        holder_epoch: Epoch,
    },
}

/// A stream an origin reports holding, as its heartbeat says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldStream {
    /// The stream.
    pub stream_id: StreamId,
    /// The epoch it publishes under.
    pub epoch: Epoch,
    /// How long ago it last received media for the stream.
    pub media_age: Duration,
}

/// The lease rules over a [`LeaseStore`].
pub struct LeasePolicy<S> {
    store: S,
    takeover_after: Duration,
}

impl<S: LeaseStore> LeasePolicy<S> {
    /// Rules over `store`: a holder without media for longer than `takeover_after` loses
    /// its stream to the next authorized publisher.
    pub fn new(store: S, takeover_after: Duration) -> Self {
        Self {
            store,
            takeover_after,
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The longest an [`acquire`](Self::acquire) waits for a decision (store calls aside):
    /// `takeover_after` plus [`MAX_DECISION_SLACK`].
    pub fn decision_wait(&self) -> Duration {
        self.takeover_after.saturating_add(MAX_DECISION_SLACK)
    }

    /// Places `stream_id` on `claim`'s origin: at once if free or if its holder went quiet,
    /// else after waiting, re-checking, until the holder goes quiet or releases, for at most
    /// [`decision_wait`](Self::decision_wait); refused if the holder stayed healthy.
    pub async fn acquire(
        &self,
        stream_id: &StreamId,
        claim: Claim<'_>,
    ) -> Result<Acquired, LeaseStoreError> {
        let takeover_after_ms = millis(self.takeover_after);
        let deadline = tokio::time::Instant::now() + self.decision_wait();
        loop {
            let now = now_ms();
            let attempt = self
                .store
                .try_acquire(stream_id, claim, now, takeover_after_ms)
                .await?;
            let (holder_epoch, media_at_ms) = match attempt {
                Attempt::Granted { epoch, replaced } => {
                    if let Some(replaced) = replaced {
                        metrics::publish_taken_over();
                        tracing::info!(
                            stream_id = stream_id.as_str(),
                            origin_id = claim.origin_id,
                            epoch = epoch.get(),
                            replaced = replaced.get(),
                            "stale publisher taken over"
                        );
                    }
                    return Ok(Acquired::Granted { epoch, replaced });
                }
                Attempt::Held { epoch, media_at_ms } => (epoch, media_at_ms),
            };
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(Acquired::Refused { holder_epoch });
            }
            // The holder goes stale 1 ms after `takeover_after` without media, unless a
            // heartbeat moves that on; re-check then, or sooner to notice a release.
            let stale_at_ms = media_at_ms.saturating_add(takeover_after_ms + 1);
            let until_stale = Duration::from_millis(stale_at_ms.saturating_sub(now));
            let pause = until_stale.min(RECHECK_EVERY).min(left);
            tokio::time::sleep(pause.max(Duration::from_millis(1))).await;
        }
    }

    /// Ends `origin_id`'s lease of `stream_id` if it still has `epoch`.
    pub async fn release(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
        origin_id: &str,
    ) -> Result<Release, LeaseStoreError> {
        self.store.release(stream_id, epoch, origin_id).await
    }

    /// Renews the leases `claim`'s origin reports, with how long ago each had media;
    /// restores a lapsed lease whose epoch is still the newest. Answers in order.
    pub async fn renew(
        &self,
        claim: Claim<'_>,
        held: &[HeldStream],
    ) -> Result<Vec<Renewed>, LeaseStoreError> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let renewals: Vec<Renewal> = held
            .iter()
            .map(|stream| Renewal {
                stream_id: stream.stream_id.clone(),
                epoch: stream.epoch,
                media_at_ms: now.saturating_sub(millis_or_zero(stream.media_age)),
            })
            .collect();
        let answers = self.store.renew(claim, &renewals, now).await?;
        for (stream, answer) in held.iter().zip(&answers) {
            match answer {
                Renewed::Extended => {}
                Renewed::Restored => {
                    metrics::lease_restored();
                    tracing::info!(
                        stream_id = stream.stream_id.as_str(),
                        origin_id = claim.origin_id,
                        epoch = stream.epoch.get(),
                        "lapsed lease restored"
                    );
                }
                Renewed::Lost => tracing::warn!(
                    stream_id = stream.stream_id.as_str(),
                    origin_id = claim.origin_id,
                    epoch = stream.epoch.get(),
                    "renewal of a lease this origin no longer holds"
                ),
            }
        }
        Ok(answers)
    }

    /// The current lease of a stream, if any.
    pub async fn lease(&self, stream_id: &StreamId) -> Result<Option<Lease>, LeaseStoreError> {
        self.store.lease(stream_id, now_ms()).await
    }
}

/// Whole milliseconds, where a zero age stays zero (unlike [`millis`], which floors at 1).
fn millis_or_zero(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
