//! `POST/GET /v1/webhooks`, `DELETE /v1/webhooks/{id}`: the targets an operator adds at run
//! time (behind the admin token, like the rest of the admin API). No answer shows a secret.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::super::repo::RepoError;
use super::super::{Shared, now_ms};
use super::config::{MAX_TARGETS, check_target};
use super::targets::{Source, Target, TargetView, new_api_target_id};

/// The webhook routes, to be merged under the admin API's token check.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/webhooks", post(add).get(list))
        .route("/v1/webhooks/{id}", delete(remove))
}

/// Body of `POST /v1/webhooks`. `Debug` is not derived: it holds a secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTarget {
    url: String,
    secret: String,
}

enum Refusal {
    BadRequest(String),
    NotFound,
    Conflict(&'static str),
    Store(RepoError),
}

impl From<RepoError> for Refusal {
    fn from(error: RepoError) -> Self {
        super::super::metrics::redis_failed();
        Refusal::Store(error)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Refusal::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            Refusal::NotFound => (StatusCode::NOT_FOUND, "unknown webhook".to_owned()),
            Refusal::Conflict(why) => (StatusCode::CONFLICT, why.to_owned()),
            Refusal::Store(error) => {
                tracing::warn!(%error, "admin API store error");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "control store unavailable".to_owned(),
                )
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

async fn add(
    State(shared): State<Arc<Shared>>,
    body: Result<Json<NewTarget>, JsonRejection>,
) -> Result<impl IntoResponse, Refusal> {
    // The rejection text may quote the body (and so the secret): say only what is expected.
    let Json(body) = body.map_err(|_| {
        Refusal::BadRequest(r#"expected a JSON object {"url": ..., "secret": ...}"#.into())
    })?;
    check_target(&body.url, &body.secret).map_err(Refusal::BadRequest)?;
    let configured = shared.webhooks.configured_targets();
    if configured.iter().any(|t| t.url == body.url) {
        return Err(Refusal::Conflict("this url is a configured target"));
    }
    let target = Target {
        id: new_api_target_id(),
        url: body.url,
        secret: body.secret,
        source: Source::Api,
        created_at_ms: now_ms(),
    };
    let room = MAX_TARGETS.saturating_sub(configured.len());
    if !shared.repo.add_webhook_target(&target, room).await? {
        return Err(Refusal::Conflict("too many webhook targets"));
    }
    tracing::info!(target_id = target.id, "webhook target added");
    Ok((StatusCode::CREATED, Json(TargetView::from(&target))))
}

async fn list(State(shared): State<Arc<Shared>>) -> Result<Json<Vec<TargetView>>, Refusal> {
    let stored = shared.repo.webhook_targets().await?;
    let views = shared
        .webhooks
        .configured_targets()
        .iter()
        .chain(&stored)
        .map(TargetView::from)
        .collect();
    Ok(Json(views))
}

async fn remove(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<StatusCode, Refusal> {
    if shared
        .webhooks
        .configured_targets()
        .iter()
        .any(|t| t.id == id)
    {
        return Err(Refusal::Conflict(
            "a configured target: remove it from control.webhooks.targets",
        ));
    }
    if !id.starts_with("wh_") || id.len() > 64 {
        return Err(Refusal::NotFound);
    }
    if !shared.repo.remove_webhook_target(&id).await? {
        return Err(Refusal::NotFound);
    }
    tracing::info!(target_id = id, "webhook target removed");
    Ok(StatusCode::NO_CONTENT)
}
