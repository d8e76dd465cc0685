//! Leases in process memory, for `ferrocast dev` and tests: the same atomic steps as the
//! Redis store, each under one mutex.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use ferrocast_base::{Epoch, StreamId, lock};

use super::{Attempt, Claim, Lease, LeaseStore, LeaseStoreError, Release, Renewal, Renewed};
use crate::server::config::millis;

/// Leases and epoch counters of every stream, held in memory. One entry per stream ever
/// published, which `dev`'s own stream list bounds.
pub struct MemoryLeaseStore {
    ttl_ms: u64,
    streams: Mutex<HashMap<StreamId, Slot>>,
}

#[derive(Default)]
struct Slot {
    /// The last epoch handed out; never goes down.
    newest_epoch: Epoch,
    /// The origin granted `newest_epoch`: only it may restore that lease once lapsed.
    newest_holder: String,
    lease: Option<Held>,
}

struct Held {
    lease: Lease,
    expires_at_ms: u64,
}

impl Slot {
    /// The lease unless its time to live ran out at `now_ms`.
    fn live(&self, now_ms: u64) -> Option<&Lease> {
        let held = self.lease.as_ref()?;
        (held.expires_at_ms > now_ms).then_some(&held.lease)
    }

    fn hold(&mut self, lease: Lease, now_ms: u64, ttl_ms: u64) {
        self.lease = Some(Held {
            lease,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
        });
    }
}

impl MemoryLeaseStore {
    /// A store whose leases lapse `ttl` after their last grant or renewal.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl_ms: millis(ttl),
            streams: Mutex::default(),
        }
    }

    /// Makes the next epoch of `stream_id` greater than `epoch`, so epochs keep growing
    /// across restarts of a process that persisted the last one it used.
    pub fn raise_epoch_floor(&self, stream_id: &StreamId, epoch: Epoch) {
        let mut streams = lock(&self.streams);
        let slot = streams.entry(stream_id.clone()).or_default();
        slot.newest_epoch = slot.newest_epoch.max(epoch);
    }
}

#[async_trait]
impl LeaseStore for MemoryLeaseStore {
    async fn try_acquire(
        &self,
        stream_id: &StreamId,
        claim: Claim<'_>,
        now_ms: u64,
        takeover_after_ms: u64,
    ) -> Result<Attempt, LeaseStoreError> {
        let mut streams = lock(&self.streams);
        let slot = streams.entry(stream_id.clone()).or_default();
        let replaced = match slot.live(now_ms) {
            None => None,
            Some(lease) if now_ms.saturating_sub(lease.media_at_ms) > takeover_after_ms => {
                Some(lease.epoch)
            }
            Some(lease) => {
                return Ok(Attempt::Held {
                    epoch: lease.epoch,
                    media_at_ms: lease.media_at_ms,
                });
            }
        };
        slot.newest_epoch = slot.newest_epoch.next();
        let epoch = slot.newest_epoch;
        claim.origin_id.clone_into(&mut slot.newest_holder);
        let lease = Lease {
            origin_id: claim.origin_id.to_owned(),
            epoch,
            started_at_ms: now_ms,
            relay_url: claim.relay_url.to_owned(),
            media_at_ms: now_ms,
        };
        slot.hold(lease, now_ms, self.ttl_ms);
        Ok(Attempt::Granted { epoch, replaced })
    }

    async fn release(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
        origin_id: &str,
    ) -> Result<Release, LeaseStoreError> {
        let mut streams = lock(&self.streams);
        let Some(slot) = streams.get_mut(stream_id) else {
            return Ok(Release::Stale);
        };
        // An expired lease is as good as gone; the epoch check alone decides.
        let Some(held) = slot.lease.as_ref().filter(|h| h.lease.epoch == epoch) else {
            return Ok(Release::Stale);
        };
        if held.lease.origin_id != origin_id {
            return Ok(Release::HeldByAnother);
        }
        slot.lease = None;
        // Burns an epoch so a late renewal of the ended lease cannot restore it.
        slot.newest_epoch = slot.newest_epoch.next();
        Ok(Release::Released)
    }

    async fn renew(
        &self,
        claim: Claim<'_>,
        renewals: &[Renewal],
        now_ms: u64,
    ) -> Result<Vec<Renewed>, LeaseStoreError> {
        let mut streams = lock(&self.streams);
        let mut answers = Vec::with_capacity(renewals.len());
        for renewal in renewals {
            let Some(slot) = streams.get_mut(&renewal.stream_id) else {
                answers.push(Renewed::Lost);
                continue;
            };
            let answer = match slot.live(now_ms) {
                Some(lease)
                    if lease.epoch == renewal.epoch && lease.origin_id == claim.origin_id =>
                {
                    let mut lease = lease.clone();
                    lease.media_at_ms = lease.media_at_ms.max(renewal.media_at_ms);
                    slot.hold(lease, now_ms, self.ttl_ms);
                    Renewed::Extended
                }
                Some(_) => Renewed::Lost,
                None if slot.newest_epoch == renewal.epoch
                    && slot.newest_holder == claim.origin_id =>
                {
                    let lease = Lease {
                        origin_id: claim.origin_id.to_owned(),
                        epoch: renewal.epoch,
                        started_at_ms: now_ms,
                        relay_url: claim.relay_url.to_owned(),
                        media_at_ms: renewal.media_at_ms,
                    };
                    slot.hold(lease, now_ms, self.ttl_ms);
                    Renewed::Restored
                }
                None => Renewed::Lost,
            };
            answers.push(answer);
        }
        Ok(answers)
    }

    async fn lease(
        &self,
        stream_id: &StreamId,
        now_ms: u64,
    ) -> Result<Option<Lease>, LeaseStoreError> {
        let streams = lock(&self.streams);
        Ok(streams
            .get(stream_id)
            .and_then(|slot| slot.live(now_ms))
            .cloned())
    }
}
