//! The recording reaper (ADR 21): on every control replica, every `recordings.reap_interval`,
//! it visits each stream's recordings, announces those that became ready, and deletes those
//! past their retention — objects first (whole sessions), then the index entries, so an
//! interrupted deletion is finished by the next pass and nothing is left unreferenced.
//!
//! Replicas work side by side: a claim key per recording (`SET NX PX`) keeps two from
//! deleting the same one at once, and if a claim lapses mid-way the work is harmless to
//! repeat (deleting a missing object succeeds; retiring and forgetting are idempotent).
//!
//! `recording.ready` waits for the broadcast's `stream.idle` (queued by the lifecycle when
//! the reconnect window closes, about when the origin ends the playlist), so a receiver
//! hears them in that order; should the idle never be queued, the ready goes out anyway
//! once the window has passed twice over since the recording ended.
//!
//! The webhooks `recording.ready` and `recording.deleted` are queued before the step that
//! would stop a later pass from queueing them again (the ready claim; forgetting the
//! entries), with deterministic ids (`recording.ready:<recording id>`) that the outbox queues
//! once: a replica dying between the two steps costs a repeat that is dropped, never a lost
//! event. The log line, the metric and [`RecordingEvents`](crate::recordings::RecordingEvents)
//! come once, from the replica that took the claim or forgot the entries.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ferrocast_base::{Epoch, StreamId};
use ferrocast_store::{IndexError, RecordingSummary, Retired, StoreError};
use tokio_util::sync::CancellationToken;

use super::repo::{Repo, RepoError};
use super::webhooks::{self, Event, EventKind, WebhookError};
use super::{Shared, keys, metrics, now_ms};
use crate::recordings::RecordingView;

/// How long a deletion claim holds: more than a deletion of a 12 h recording takes.
const REAP_CLAIM: Duration = Duration::from_secs(120);
/// How long a ready claim outlives the recording's expiry.
const READY_CLAIM_MARGIN: Duration = Duration::from_secs(86_400);

/// Why a deletion did not finish.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReapError {
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Control's own Redis keys failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The webhook could not be queued.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// No object store is configured.
    #[error("no object store configured")]
    NoStore,
}

/// What a deletion found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Reaped {
    /// Deleted now (by this call, or finished for one that was interrupted).
    Deleted,
    /// No such recording.
    Unknown,
    /// Still recording.
    Busy,
}

/// Runs passes until `shutdown`.
pub(super) async fn run(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(shared.config.recordings.reap_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(error) = pass(&shared).await {
            metrics::reap_failed();
            tracing::warn!(%error, "recording reaper pass failed; retrying next pass");
        }
    }
}

/// One visit of every stream that has, or had, recordings.
async fn pass(shared: &Shared) -> Result<(), ReapError> {
    let repo = &shared.repo;
    let mut streams: BTreeSet<StreamId> = repo.streams().await?.into_iter().map(|r| r.id).collect();
    streams.extend(repo.recorded_streams().await?);
    for stream_id in streams {
        let summaries = shared.index.recordings(&stream_id).await?;
        repo.mark_recorded(&stream_id, !summaries.is_empty())
            .await?;
        for summary in summaries {
            if let Err(error) = visit(shared, &stream_id, &summary).await {
                metrics::reap_failed();
                tracing::warn!(%stream_id, generation = summary.generation.get(), %error, "recording not reaped; retrying next pass");
            }
        }
    }
    Ok(())
}

async fn visit(
    shared: &Shared,
    stream_id: &StreamId,
    summary: &RecordingSummary,
) -> Result<(), ReapError> {
    let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
    if !summary.is_ready() && !summary.deleting {
        return end_if_abandoned(shared, stream_id, summary).await;
    }
    if summary.is_ready() && !summary.deleting {
        announce_ready(shared, stream_id, summary, now).await?;
    }
    if !summary.deleting && !summary.is_expired(now) {
        return Ok(());
    }
    let claim = keys::recording_reap(stream_id, summary.generation);
    if !shared.repo.claim(&claim, REAP_CLAIM).await? {
        return Ok(()); // another replica is on it
    }
    reap(shared, stream_id, summary.generation, "expired").await?;
    Ok(())
}

async fn announce_ready(
    shared: &Shared,
    stream_id: &StreamId,
    summary: &RecordingSummary,
    now: i64,
) -> Result<(), ReapError> {
    let until_expiry = summary
        .expires_at_ms()
        .map_or(0, |expires| expires.saturating_sub(now));
    let hold = Duration::from_millis(u64::try_from(until_expiry).unwrap_or(0)) + READY_CLAIM_MARGIN;
    let claim = keys::recording_ready(stream_id, summary.generation);
    if shared.repo.exists(&claim).await? {
        return Ok(()); // announced already
    }
    // An expiring recording is announced at once: its deletion comes next.
    if !summary.is_expired(now) && !idle_or_overdue(shared, stream_id, summary, now).await? {
        return Ok(()); // next pass
    }
    let view = view(shared, stream_id, summary).await?;
    let event = recording_event(EventKind::RecordingReady, &view);
    shared.webhooks.enqueue(event).await?;
    if shared.repo.claim(&claim, hold).await? {
        tracing::info!(%stream_id, recording_id = view.id, "recording ready");
        metrics::recording_ready();
        shared.events.ready(&view);
    }
    Ok(())
}

/// Whether the recording's broadcast has its `stream.idle` queued, or ended long enough ago
/// (twice `reconnect_window`) that no idle is coming.
async fn idle_or_overdue(
    shared: &Shared,
    stream_id: &StreamId,
    summary: &RecordingSummary,
    now: i64,
) -> Result<bool, ReapError> {
    let window = i64::try_from(shared.config.reconnect_window.as_millis()).unwrap_or(i64::MAX);
    let ended = summary.ended_at_ms.unwrap_or(now);
    if now.saturating_sub(ended) >= window.saturating_mul(2) {
        return Ok(true);
    }
    match last_session(shared, stream_id, summary).await? {
        Some(epoch) => went_idle(shared, stream_id, epoch).await,
        None => Ok(true), // gone meanwhile: nothing to wait for
    }
}

/// Ends a recording whose origin vanished (SIGKILL, a lost node) without ending its
/// session: once the lifecycle has queued `stream.idle` for its last session, no origin
/// will, so control closes that session as the origin would have (the playlist gets its
/// `EXT-X-ENDLIST` and the recording becomes ready). The epoch fences it: a newer session
/// opened meanwhile makes this a no-op.
async fn end_if_abandoned(
    shared: &Shared,
    stream_id: &StreamId,
    summary: &RecordingSummary,
) -> Result<(), ReapError> {
    let Some(epoch) = last_session(shared, stream_id, summary).await? else {
        return Ok(());
    };
    if !went_idle(shared, stream_id, epoch).await? {
        return Ok(());
    }
    match shared.index.close_session(stream_id, epoch).await {
        Ok(()) => {
            tracing::warn!(%stream_id, epoch = epoch.get(), "session ended by control: its origin vanished");
            Ok(())
        }
        Err(IndexError::StaleEpoch { .. }) => Ok(()), // a newer session took over
        Err(error) => Err(error.into()),
    }
}

/// The epoch of the recording's newest segment: its last publish session.
async fn last_session(
    shared: &Shared,
    stream_id: &StreamId,
    summary: &RecordingSummary,
) -> Result<Option<Epoch>, ReapError> {
    let Some(last) = summary.last_msn else {
        return Ok(None);
    };
    let found = shared
        .index
        .recording_segment(stream_id, summary.generation, last)
        .await?;
    Ok(found.map(|(_, record)| record.epoch))
}

/// Whether the lifecycle queued `stream.idle` for the session `epoch`.
async fn went_idle(shared: &Shared, stream_id: &StreamId, epoch: Epoch) -> Result<bool, ReapError> {
    let idle = webhooks::idle_id(stream_id, epoch);
    Ok(shared.webhooks.was_queued(&idle).await?)
}

/// Deletes an ended recording: retire it (no longer served), delete every object of each of
/// its sessions, then forget it; emits `recording.deleted` if this call forgot it.
pub(super) async fn reap(
    shared: &Shared,
    stream_id: &StreamId,
    generation: Epoch,
    reason: &'static str,
) -> Result<Reaped, ReapError> {
    let store = shared.store.as_ref().ok_or(ReapError::NoStore)?;
    let (recording, cleared) = match shared.index.retire_recording(stream_id, generation).await? {
        Retired::Unknown => return Ok(Reaped::Unknown),
        Retired::Busy => return Ok(Reaped::Busy),
        Retired::Retired { recording, cleared } => (recording, cleared),
    };
    // A session belongs to one generation, so its whole folder goes: the recorded segments,
    // any past the cap, dropped ones, and its init segments.
    let sessions: BTreeSet<Epoch> = recording
        .segments
        .iter()
        .chain(&cleared)
        .map(|record| record.epoch)
        .collect();
    let mut objects = 0;
    for epoch in sessions {
        objects += store.delete_session(stream_id, epoch).await?;
    }
    let view = view(shared, stream_id, &recording.summary).await?;
    let event = recording_event(EventKind::RecordingDeleted, &view);
    shared.webhooks.enqueue(event).await?;
    if shared.index.forget_recording(stream_id, generation).await? {
        tracing::info!(%stream_id, recording_id = view.id, objects, reason, "recording deleted");
        metrics::recording_deleted(reason, objects);
        shared.events.deleted(&view);
    }
    Ok(Reaped::Deleted)
}

/// The view of a recording for an event: with its stream's playback URLs while the stream
/// exists.
async fn view(
    shared: &Shared,
    stream_id: &StreamId,
    summary: &RecordingSummary,
) -> Result<RecordingView, ReapError> {
    let record = shared.repo.stream(stream_id).await?;
    let playback_id = record.as_ref().map(|record| &record.playback_id);
    let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
    let play = &shared.config.public_play_url;
    Ok(RecordingView::new(
        stream_id,
        playback_id,
        summary,
        play,
        now,
    ))
}

/// The webhook of `kind` about `recording`: its id is `<type>:<recording id>`, its data the
/// recording as `GET /v1/recordings/{id}` shows it.
fn recording_event(kind: EventKind, recording: &RecordingView) -> Event {
    Event {
        id: format!("{}:{}", kind.as_str(), recording.id),
        kind,
        data: serde_json::to_value(recording).unwrap_or_default(),
    }
}

impl Repo {
    /// Streams seen with recordings.
    async fn recorded_streams(&self) -> Result<Vec<StreamId>, RepoError> {
        let mut con = self.con();
        let ids: Vec<String> = self
            .deadline(
                "recorded streams",
                redis::cmd("SMEMBERS")
                    .arg(keys::RECORDED)
                    .query_async(&mut con),
            )
            .await?;
        Ok(ids.into_iter().map(StreamId::new).collect())
    }

    /// Adds the stream to, or removes it from, the streams seen with recordings.
    async fn mark_recorded(&self, stream_id: &StreamId, recorded: bool) -> Result<(), RepoError> {
        let command = if recorded { "SADD" } else { "SREM" };
        let mut con = self.con();
        let _: i64 = self
            .deadline(
                "mark recorded",
                redis::cmd(command)
                    .arg(keys::RECORDED)
                    .arg(stream_id.as_str())
                    .query_async(&mut con),
            )
            .await?;
        Ok(())
    }
}
