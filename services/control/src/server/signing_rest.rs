//! `/v1/signing-keys`: make a playback signing key (its private half shown once), list the
//! held ones (public halves only), delete one to rotate it out (ADR 22).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;

use super::rest::ApiError;
use super::signing::{MAX_SIGNING_KEYS, StoredKey, make_key};
use super::{Shared, now_ms};

/// Longest kid looked up; a made one has 16 characters.
const MAX_KID_LEN: usize = 64;

/// A held key as listed: never a private part.
#[derive(Debug, Serialize)]
struct KeyView {
    kid: String,
    created_at_ms: u64,
    /// The public key as a JWK object.
    jwk: serde_json::Value,
}

impl KeyView {
    fn of(key: StoredKey) -> Result<Self, ApiError> {
        let jwk = serde_json::from_str(&key.jwk)
            .map_err(|_| ApiError::Internal("a stored signing key is not JSON"))?;
        Ok(Self {
            kid: key.kid,
            created_at_ms: key.created_at_ms,
            jwk,
        })
    }
}

/// The answer to a create: the only time the private key is shown.
#[derive(Debug, Serialize)]
struct CreatedKey {
    #[serde(flatten)]
    key: KeyView,
    /// PKCS#8 PEM.
    private_key: String,
}

/// `POST /v1/signing-keys`.
pub(super) async fn create(
    State(shared): State<Arc<Shared>>,
) -> Result<impl IntoResponse, ApiError> {
    let made = make_key(now_ms()).map_err(|error| {
        tracing::error!(%error, "signing key not made");
        ApiError::Internal("signing key not made")
    })?;
    if !shared.repo.put_signing_key(&made.public).await? {
        return Err(ApiError::Conflict(format!(
            "at most {MAX_SIGNING_KEYS} signing keys: delete one first"
        )));
    }
    tracing::info!(kid = made.public.kid, "signing key created");
    let view = CreatedKey {
        key: KeyView::of(made.public)?,
        private_key: made.private_pem,
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /v1/signing-keys`: oldest first.
pub(super) async fn list(State(shared): State<Arc<Shared>>) -> Result<impl IntoResponse, ApiError> {
    let held = shared.repo.signing_keys().await?;
    let views = held
        .into_iter()
        .map(KeyView::of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(views))
}

/// `DELETE /v1/signing-keys/{kid}`: tokens it signed stop playing once the edges poll
/// (within their `signing_keys_refresh` and the poll's deadline).
pub(super) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(kid): Path<String>,
) -> Result<StatusCode, ApiError> {
    if kid.is_empty() || kid.len() > MAX_KID_LEN {
        return Err(ApiError::NotFound("unknown signing key"));
    }
    if !shared.repo.delete_signing_key(&kid).await? {
        return Err(ApiError::NotFound("unknown signing key"));
    }
    tracing::info!(kid, "signing key deleted");
    Ok(StatusCode::NO_CONTENT)
}
