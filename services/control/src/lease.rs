//! Placement leases: which origin publishes a stream, under which fencing epoch, and when
//! another publisher may take the stream over.
//!
//! The rules live once, in [`LeasePolicy`]; where leases are kept is a [`LeaseStore`]:
//! [`MemoryLeaseStore`] for `ferrocast dev`, the Redis store for the cluster. Both keep a
//! per-stream epoch counter that only grows, and a lease with a time to live that renewals
//! extend, so a dead holder's lease disappears by itself.

mod memory;
mod policy;

use async_trait::async_trait;
use ferrocast_base::{Epoch, StreamId};
use serde::{Deserialize, Serialize};

pub use memory::MemoryLeaseStore;
pub use policy::{Acquired, HeldStream, LeasePolicy};

/// A live stream's placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The origin publishing the stream.
    pub origin_id: String,
    /// Fencing epoch of this publish session.
    pub epoch: Epoch,
    /// When the lease was granted (or restored), Unix milliseconds.
    pub started_at_ms: u64,
    /// The origin's relay URL when the lease was granted (may be empty if it had not
    /// registered yet; readers then fall back to its current registration).
    pub relay_url: String,
    /// When the holder last had media, Unix milliseconds: the grant, then what heartbeats
    /// report. Leases written before this field existed read as 0, that is, stale.
    #[serde(default)]
    pub media_at_ms: u64,
}

/// Who asks for a lease.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The asking origin.
    pub origin_id: &'a str,
    /// Where edges reach its relay (may be empty).
    pub relay_url: &'a str,
}

/// What one atomic acquisition attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The caller holds the stream under `epoch`; `replaced` is the epoch of the stale lease
    /// it took over, if there was one.
    Granted {
        /// The new epoch.
        epoch: Epoch,
        /// The epoch taken over.
        replaced: Option<Epoch>,
    },
    /// A holder with recent media keeps the stream.
    Held {
        /// The holder's epoch.
        epoch: Epoch,
        /// When the holder last had media, Unix milliseconds.
        media_at_ms: u64,
    },
}

/// What asking to end a lease did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// The caller held the lease; it is gone.
    Released,
    /// No lease with that epoch exists any more (expired, or taken over): nothing to do.
    Stale,
    /// That epoch's lease belongs to another origin; it stays.
    HeldByAnother,
}

/// One stream a renewing origin says it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    /// The stream.
    pub stream_id: StreamId,
    /// The epoch the origin publishes under.
    pub epoch: Epoch,
    /// When it last had media, Unix milliseconds.
    pub media_at_ms: u64,
}

/// What a renewal did to one lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewed {
    /// The lease was the caller's; its time to live and media time were refreshed.
    Extended,
    /// The lease had lapsed (an outage outlived its time to live) and its epoch was still the
    /// stream's newest: it exists again, held by the caller.
    Restored,
    /// The lease belongs to another epoch or origin: the caller was taken over (fenced).
    Lost,
}

/// Why a lease store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LeaseStoreError {
    /// The store is unreachable or did not answer in time; callers fail closed.
    #[error("lease store unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored lease does not decode.
    #[error("lease store holds a corrupt value: {0}")]
    Corrupt(String),
}

/// Where leases and epoch counters live. Every method is one atomic step; the policy
/// decides when to call which. Times are the caller's clock, in Unix milliseconds, so both
/// sides judge staleness and expiry the same way.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Grants `stream_id` to `claim` under the next epoch if no lease exists, or if the
    /// lease's holder has had no media for more than `takeover_after_ms` (then the old lease
    /// is replaced in the same step, a compare-and-set on its epoch).
    async fn try_acquire(
        &self,
        stream_id: &StreamId,
        claim: Claim<'_>,
        now_ms: u64,
        takeover_after_ms: u64,
    ) -> Result<Attempt, LeaseStoreError>;

    /// Ends the lease if it still carries `epoch` and `origin_id` holds it; then that epoch
    /// is no longer the newest, so a late renewal cannot restore it.
    async fn release(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
        origin_id: &str,
    ) -> Result<Release, LeaseStoreError>;

    /// Extends each lease `claim` holds under the given epoch, refreshing its media time, and
    /// restores each lapsed one whose epoch is still the stream's newest and was granted to
    /// `claim`'s origin. One answer per renewal, in order.
    async fn renew(
        &self,
        claim: Claim<'_>,
        renewals: &[Renewal],
        now_ms: u64,
    ) -> Result<Vec<Renewed>, LeaseStoreError>;

    /// The current lease of a stream, if any.
    async fn lease(
        &self,
        stream_id: &StreamId,
        now_ms: u64,
    ) -> Result<Option<Lease>, LeaseStoreError>;
}
