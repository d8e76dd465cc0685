//! The recording reaper (ADR 21): on every control replica, every `recordings.reap_interval`,
//! it visits each stream's recordings, announces those that became ready, and deletes those
//! past their retention — objects first (whole sessions), then the index entries, so an
//! interrupted deletion is finished by the next pass and nothing is left unreferenced.
//!
//! Replicas work side by side: a claim key per recording (`SET NX PX`) keeps two from
//! deleting the same one at once, and if a claim lapses mid-way the work is harmless to
//! repeat (deleting a missing object succeeds; retiring and forgetting are idempotent). Only
//! the replica whose forget removed the entries emits `recording.deleted`; only the one that
//! set the ready claim emits `recording.ready`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ferrocast_base::{Epoch, StreamId};
use ferrocast_store::{IndexError, RecordingSummary, Retired, StoreError};
use tokio_util::sync::CancellationToken;

use super::repo::{Repo, RepoError};
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
    if shared.repo.claim(&claim, hold).await? {
        let view = view(shared, stream_id, summary).await?;
        tracing::info!(%stream_id, recording_id = view.id, "recording ready");
        metrics::recording_ready();
        shared.events.ready(&view);
    }
    Ok(())
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
    if shared.index.forget_recording(stream_id, generation).await? {
        let view = view(shared, stream_id, &recording.summary).await?;
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

impl Repo {
    /// Takes `key` for `hold` if nobody holds it (`SET NX PX`); whether this call took it.
    pub(super) async fn claim(&self, key: &str, hold: Duration) -> Result<bool, RepoError> {
        let millis = super::config::millis(hold);
        let mut con = self.con();
        let set: Option<String> = self
            .deadline(
                "claim",
                redis::cmd("SET")
                    .arg(key)
                    .arg("1")
                    .arg("NX")
                    .arg("PX")
                    .arg(millis)
                    .query_async(&mut con),
            )
            .await?;
        Ok(set.is_some())
    }

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
