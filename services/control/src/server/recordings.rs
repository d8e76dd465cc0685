//! The recordings routes of the admin API (ADR 21):
//! - `GET /v1/streams/{id}/recordings` — the stream's recordings, oldest first (one being
//!   deleted stays listed, as `deleting`, until its objects are gone);
//! - `GET /v1/recordings/{id}` — one recording;
//! - `DELETE /v1/recordings/{id}` — deletes an ended recording now (objects, then entries).
//!
//! A stream's `recording_retention` is set when it is created or with `PATCH
//! /v1/streams/{id}` ([`super::rest`]).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferrocast_base::{Epoch, StreamId};
use ferrocast_store::{IndexError, RecordingSummary, parse_recording_id};

use super::reaper::{self, ReapError, Reaped};
use super::rest::{ApiError, check_path_id};
use super::{Shared, now_ms};
use crate::recordings::RecordingView;

type AppState = Arc<Shared>;

impl From<IndexError> for ApiError {
    fn from(error: IndexError) -> Self {
        tracing::warn!(%error, "admin API index error");
        ApiError::Unavailable("segment index unavailable")
    }
}

impl From<ReapError> for ApiError {
    fn from(error: ReapError) -> Self {
        match error {
            ReapError::NoStore => ApiError::Unavailable("no object store configured"),
            ReapError::Repo(error) => error.into(),
            ReapError::Index(error) => error.into(),
            ReapError::Store(error) => {
                tracing::warn!(%error, "admin API object store error");
                ApiError::Unavailable("object store unavailable")
            }
            ReapError::Webhook(error) => {
                tracing::warn!(%error, "recording.deleted not queued; the deletion is retried");
                ApiError::Unavailable("webhook outbox unavailable")
            }
        }
    }
}

fn now() -> i64 {
    i64::try_from(now_ms()).unwrap_or(i64::MAX)
}

/// `GET /v1/streams/{id}/recordings`.
pub(super) async fn list(
    State(shared): State<AppState>,
    Path(id): Path<StreamId>,
) -> Result<Json<Vec<RecordingView>>, ApiError> {
    check_path_id(id.as_str())?;
    let record = shared
        .repo
        .stream(&id)
        .await?
        .ok_or(ApiError::NotFound("unknown stream"))?;
    let summaries = shared.index.recordings(&id).await?;
    let play = &shared.config.public_play_url;
    let views = summaries
        .iter()
        .map(|summary| RecordingView::new(&id, Some(&record.playback_id), summary, play, now()))
        .collect();
    Ok(Json(views))
}

/// The stream and generation of a recording id in a path, and its summary.
async fn find(shared: &Shared, id: &str) -> Result<(StreamId, Epoch, RecordingSummary), ApiError> {
    let unknown = ApiError::NotFound("unknown recording");
    let (stream_id, generation) = parse_recording_id(id).ok_or(unknown)?;
    let summaries = shared.index.recordings(&stream_id).await?;
    let summary = summaries
        .into_iter()
        .find(|summary| summary.generation == generation)
        .ok_or(ApiError::NotFound("unknown recording"))?;
    Ok((stream_id, generation, summary))
}

/// `GET /v1/recordings/{id}`.
pub(super) async fn get(
    State(shared): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RecordingView>, ApiError> {
    let (stream_id, _, summary) = find(&shared, &id).await?;
    let record = shared.repo.stream(&stream_id).await?;
    let playback_id = record.as_ref().map(|record| &record.playback_id);
    let play = &shared.config.public_play_url;
    Ok(Json(RecordingView::new(
        &stream_id,
        playback_id,
        &summary,
        play,
        now(),
    )))
}

/// `DELETE /v1/recordings/{id}`: 204 once its objects and entries are gone; 404 unknown; 409
/// while it still records.
pub(super) async fn delete(
    State(shared): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (stream_id, generation, _) = find(&shared, &id).await?;
    match reaper::reap(&shared, &stream_id, generation, "requested").await? {
        Reaped::Deleted => Ok(StatusCode::NO_CONTENT),
        Reaped::Unknown => Err(ApiError::NotFound("unknown recording")),
        Reaped::Busy => Err(ApiError::Conflict(
            "the recording is still recording: it can be deleted once its broadcast ended".into(),
        )),
    }
}
