//! The REST admin API (JSON): streams, their keys, playback policy and live state, where to
//! publish, and playback signing keys ([`super::signing_rest`]). Every request needs
//! `Authorization: Bearer <admin token>`.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ferrocast_base::{PlaybackPolicy, StreamId};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::nodes::least_loaded_origin;
use super::repo::RepoError;
use super::views::{CreatedStream, PublicUrls, StreamView};
use super::{Shared, now_ms};
use crate::credentials::key_hash;
use crate::{DvrWindow, Retention};

/// Requests are tiny; a bound keeps a client from making the server buffer much.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Longest stream name accepted, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Longest path id looked up; anything longer cannot exist.
const MAX_ID_LEN: usize = 128;

type AppState = Arc<Shared>;

/// The admin API's routes, all behind the bearer token.
pub fn router(shared: AppState) -> Router {
    let routes = Router::new()
        .route("/v1/streams", post(create_stream).get(list_streams))
        .route(
            "/v1/streams/{id}",
            get(get_stream).patch(update_stream).delete(delete_stream),
        )
        .route("/v1/streams/{id}/rotate-key", post(rotate_key))
        .route("/v1/streams/{id}/recordings", get(super::recordings::list))
        .route(
            "/v1/recordings/{id}",
            get(super::recordings::get).delete(super::recordings::delete),
        )
        .route("/v1/ingest", get(ingest))
        .route(
            "/v1/signing-keys",
            post(super::signing_rest::create).get(super::signing_rest::list),
        )
        .route(
            "/v1/signing-keys/{kid}",
            axum::routing::delete(super::signing_rest::delete),
        )
        .merge(super::webhooks::rest::routes())
        .fallback(|| async { ApiError::NotFound("no such route") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Outermost, so even unknown routes say nothing to a caller without the token.
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            require_token,
        ));
    super::metrics::HTTP.wrap(routes).with_state(shared)
}

/// A refusal, as `{"error": "..."}` with its status.
#[derive(Debug)]
pub(super) enum ApiError {
    Unauthorized,
    NotFound(&'static str),
    BadRequest(String),
    /// 409: the request conflicts with what is held (too many signing keys, a recording
    /// still recording).
    Conflict(String),
    /// 503: a dependency this request needs is not configured.
    Unavailable(&'static str),
    NoOrigin,
    /// 500 that is no store's fault (the OS random source failed).
    Internal(&'static str),
    Store(RepoError),
}

impl From<RepoError> for ApiError {
    fn from(error: RepoError) -> Self {
        super::metrics::redis_failed();
        ApiError::Store(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "missing or wrong admin token".to_owned(),
            ),
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, what.to_owned()),
            ApiError::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            ApiError::Conflict(why) => (StatusCode::CONFLICT, why),
            ApiError::Unavailable(why) => (StatusCode::SERVICE_UNAVAILABLE, why.to_owned()),
            ApiError::Internal(what) => (StatusCode::INTERNAL_SERVER_ERROR, what.to_owned()),
            ApiError::NoOrigin => (
                StatusCode::SERVICE_UNAVAILABLE,
                "no healthy origin available".to_owned(),
            ),
            ApiError::Store(error) => {
                tracing::warn!(%error, "admin API store error");
                match error {
                    RepoError::Corrupt { .. } => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "control store holds a corrupt value".to_owned(),
                    ),
                    _ => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "control store unavailable".to_owned(),
                    ),
                }
            }
        };
        let mut response = (status, Json(json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Lets the request through only with the right bearer token. Both sides are hashed first,
/// so the comparison is constant-time and does not leak the token's length.
async fn require_token(State(shared): State<AppState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let allowed =
        presented.is_some_and(|token| bool::from(key_hash(token).ct_eq(&shared.admin_token_hash)));
    if allowed {
        next.run(request).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

fn urls(shared: &Shared) -> PublicUrls<'_> {
    PublicUrls {
        rtmp: &shared.config.public_rtmp_url,
        play: &shared.config.public_play_url,
    }
}

pub(super) fn check_path_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(ApiError::NotFound("unknown stream"));
    }
    Ok(())
}

/// Body of `POST /v1/streams`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateStream {
    #[serde(default)]
    name: String,
    /// `public` (the default) or `signed`.
    #[serde(default)]
    playback_policy: PlaybackPolicy,
    /// How long its recordings are kept (ADR 21); the control's default when absent.
    #[serde(default)]
    recording_retention: Retention,
    /// How far back its live playlist reaches (docs/dvr.md); off when absent.
    #[serde(default)]
    dvr_window: DvrWindow,
}

/// Body of `PATCH /v1/streams/{id}`: the fields to change, each optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateStream {
    name: Option<String>,
    playback_policy: Option<PlaybackPolicy>,
    /// Applies to the stream's next publishes; a recording under way keeps its own.
    recording_retention: Option<Retention>,
    /// Applies at once to the live playlist, within the edges' lookup cache time.
    dvr_window: Option<DvrWindow>,
}

/// A trimmed, bounded, printable name.
fn checked_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "name must be at most {MAX_NAME_CHARS} printable characters"
        )));
    }
    Ok(name)
}

async fn create_stream(
    State(shared): State<AppState>,
    body: Result<Json<CreateStream>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(body) = body.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let name = checked_name(&body.name)?;
    let retention = body.recording_retention;
    shared
        .config
        .recordings
        .check(retention)
        .map_err(ApiError::BadRequest)?;
    let created_at_ms = i64::try_from(now_ms()).unwrap_or(i64::MAX);
    let (record, key) = shared
        .repo
        .create_stream(
            name,
            body.playback_policy,
            retention,
            body.dvr_window,
            created_at_ms,
        )
        .await?;
    tracing::info!(
        stream_id = record.id.as_str(),
        playback_policy = record.playback_policy.as_str(),
        "stream created"
    );
    let view = CreatedStream::new(record, key, &urls(&shared));
    Ok((StatusCode::CREATED, Json(view)))
}

async fn list_streams(State(shared): State<AppState>) -> Result<Json<Vec<StreamView>>, ApiError> {
    let records = shared.repo.streams().await?;
    let ids: Vec<&StreamId> = records.iter().map(|r| &r.id).collect();
    let leases = shared.repo.leases(&ids).await?;
    let nodes = if leases.iter().any(Option::is_some) {
        shared.repo.nodes().await?
    } else {
        Vec::new()
    };
    let now = now_ms();
    let urls = urls(&shared);
    let views = records
        .into_iter()
        .zip(leases)
        .map(|(record, lease)| {
            StreamView::new(record, lease, &nodes, now, shared.config.node_ttl, &urls)
        })
        .collect();
    Ok(Json(views))
}

async fn get_stream(
    State(shared): State<AppState>,
    Path(id): Path<StreamId>,
) -> Result<Json<StreamView>, ApiError> {
    check_path_id(id.as_str())?;
    let record = shared
        .repo
        .stream(&id)
        .await?
        .ok_or(ApiError::NotFound("unknown stream"))?;
    let lease = shared.repo.lease(&id).await?;
    let nodes = match lease {
        Some(_) => shared.repo.nodes().await?,
        None => Vec::new(),
    };
    let urls = urls(&shared);
    let view = StreamView::new(
        record,
        lease,
        &nodes,
        now_ms(),
        shared.config.node_ttl,
        &urls,
    );
    Ok(Json(view))
}

/// Changes a stream's name, playback policy or recording retention (its next publishes
/// record by it). Edges apply a policy change within the control client's playback cache
/// time (`playback_hit_ttl`, 10 s by default; ADR 22).
async fn update_stream(
    State(shared): State<AppState>,
    Path(id): Path<StreamId>,
    body: Result<Json<UpdateStream>, JsonRejection>,
) -> Result<Json<StreamView>, ApiError> {
    check_path_id(id.as_str())?;
    let Json(body) = body.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let name = body.name.as_deref().map(checked_name).transpose()?;
    let policy = body.playback_policy;
    let retention = body.recording_retention;
    if let Some(retention) = retention {
        shared
            .config
            .recordings
            .check(retention)
            .map_err(ApiError::BadRequest)?;
    }
    let updated = shared
        .repo
        .update_stream(&id, |record| {
            if let Some(name) = name {
                name.clone_into(&mut record.name);
            }
            if let Some(policy) = policy {
                record.playback_policy = policy;
            }
            if let Some(retention) = retention {
                record.recording_retention = retention;
            }
            if let Some(window) = body.dvr_window {
                record.dvr_window = window;
            }
        })
        .await?;
    if updated.is_none() {
        return Err(ApiError::NotFound("unknown stream"));
    }
    tracing::info!(
        stream_id = id.as_str(),
        playback_policy = policy.map(PlaybackPolicy::as_str),
        recording_retention = retention.map(|r| r.to_string()),
        dvr_window = body.dvr_window.map(|w| w.to_string()),
        "stream updated"
    );
    get_stream(State(shared), Path(id)).await
}

async fn rotate_key(
    State(shared): State<AppState>,
    Path(id): Path<StreamId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_path_id(id.as_str())?;
    let key = shared
        .repo
        .rotate_key(&id)
        .await?
        .ok_or(ApiError::NotFound("unknown stream"))?;
    tracing::info!(stream_id = id.as_str(), "stream key rotated");
    Ok(Json(json!({ "stream_key": key })))
}

async fn delete_stream(
    State(shared): State<AppState>,
    Path(id): Path<StreamId>,
) -> Result<StatusCode, ApiError> {
    check_path_id(id.as_str())?;
    if !shared.repo.delete_stream(&id).await? {
        return Err(ApiError::NotFound("unknown stream"));
    }
    tracing::info!(stream_id = id.as_str(), "stream deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Where a publisher should push now: the least-loaded healthy origin, with the app.
async fn ingest(State(shared): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let nodes = shared.repo.nodes().await?;
    let origin =
        least_loaded_origin(&nodes, now_ms(), shared.config.node_ttl).ok_or(ApiError::NoOrigin)?;
    let rtmp_url = format!(
        "{}/{}",
        origin.rtmp_url.trim_end_matches('/'),
        shared.config.publish_app
    );
    Ok(Json(
        json!({ "rtmp_url": rtmp_url, "origin_id": origin.node_id }),
    ))
}
