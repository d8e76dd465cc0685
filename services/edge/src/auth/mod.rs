//! Signed playback at the edge (ADR 22, `docs/signed-playback.md`): a stream whose policy is
//! `signed` plays only with an ES256 token for its playback id, from the `token` query
//! parameter or `Authorization: Bearer`. Verification is local: the keys come from
//! [`KeyRing`], which a background task refreshes from control; no request calls control
//! for a token.
//!
//! - [`verify`]: one token against a key set, pure;
//! - [`keys`]: the current key set, its refresh loop, and the tokens already verified;
//! - [`uris`]: `?token=` written into every URI of a playlist or MPD answered to a request
//!   that came with one, so segments, parts and inits stay covered.
//!
//! A public stream ignores tokens, and its answers are byte-identical to what they were
//! before signed playback existed. A token is never logged.

pub mod keys;
pub mod uris;
pub mod verify;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrocast_base::{PlaybackId, PlaybackPolicy, StreamId};

pub use keys::KeyRing;

use crate::reply::{not_found, unavailable};
use crate::state::Edge;

/// What a route serves, as a token's optional `aud` claim names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Live HLS, LL-HLS, DASH and HTTP-FLV.
    Live,
    /// Recordings.
    Recording,
    /// Thumbnails.
    Thumbnail,
}

impl Audience {
    /// The `aud` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Live => "live",
            Audience::Recording => "recording",
            Audience::Thumbnail => "thumbnail",
        }
    }
}

/// Why a signed stream's request was refused: the short plain reason of the 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No token in the query or the `Authorization` header.
    Missing,
    /// Past its `exp` (and the leeway).
    Expired,
    /// Before its `nbf` (less the leeway).
    NotYetValid,
    /// `sub` names another playback id.
    OtherStream,
    /// `aud` does not include this route's audience.
    OtherUse,
    /// No `kid`, or a `kid` not in the current key set (never made, or deleted).
    UnknownKey,
    /// Malformed, too long, not ES256, a bad signature or unreadable claims.
    Bad,
}

impl Refusal {
    /// Every refusal, for metrics registered at zero.
    pub const ALL: [Refusal; 7] = [
        Refusal::Missing,
        Refusal::Expired,
        Refusal::NotYetValid,
        Refusal::OtherStream,
        Refusal::OtherUse,
        Refusal::UnknownKey,
        Refusal::Bad,
    ];

    /// The reason as the 403 body says it.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Missing => "token missing",
            Refusal::Expired => "token expired",
            Refusal::NotYetValid => "token not yet valid",
            Refusal::OtherStream => "token for another stream",
            Refusal::OtherUse => "token not for this use",
            Refusal::UnknownKey => "unknown signing key",
            Refusal::Bad => "bad token",
        }
    }

    /// The `reason` label of `ferrocast_edge_playback_refusals_total`.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::OtherStream => "other_stream",
            Refusal::OtherUse => "other_use",
            Refusal::UnknownKey => "unknown_key",
            Refusal::Bad => "bad",
        }
    }

    /// The 403: plain text, never stored by a cache (a later request may carry a token).
    pub fn response(self) -> Response {
        let headers = [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
        ];
        (
            StatusCode::FORBIDDEN,
            headers,
            format!("{}\n", self.message()),
        )
            .into_response()
    }
}

/// A verified token of a signed stream's request: written into the URIs its answer names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The token's text (base64url segments and dots only: [`verify::well_formed`]).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A request let through: its stream, and its token when the stream is signed.
#[derive(Debug, Clone)]
pub struct Access {
    /// The stream the playback id names.
    pub stream_id: StreamId,
    /// `Some` for a signed stream: what [`uris`] writes into the answer's URIs.
    pub token: Option<Token>,
    /// How far back the stream's live playlist reaches (DVR); zero is off.
    pub dvr_window: std::time::Duration,
}

/// Resolves `playback_id` and, when its stream is signed, checks the request's token for
/// `audience`. `Err` is the answer to send instead: 404 for no such stream, 503 when the
/// directory cannot tell, 403 with the reason for a refused token.
pub async fn admit(
    edge: &Edge,
    playback_id: &PlaybackId,
    query: Option<&str>,
    headers: &HeaderMap,
    audience: Audience,
) -> Result<Access, Response> {
    let stream = match edge.deps.directory.resolve_stream(playback_id).await {
        Ok(Some(stream)) => stream,
        Ok(None) => return Err(not_found()),
        Err(failure) => {
            tracing::warn!(playback_id = playback_id.as_str(), error = %failure, "stream directory unavailable");
            return Err(unavailable("stream directory unavailable\n"));
        }
    };
    if stream.policy == PlaybackPolicy::Public {
        return Ok(Access {
            stream_id: stream.stream_id,
            token: None,
            dvr_window: stream.dvr_window,
        });
    }
    let presented = token_of(query, headers);
    match check(edge, playback_id, presented, audience) {
        Ok(token) => Ok(Access {
            stream_id: stream.stream_id,
            token: Some(token),
            dvr_window: stream.dvr_window,
        }),
        Err(refusal) => {
            crate::metrics::playback_refused(refusal);
            tracing::debug!(
                playback_id = playback_id.as_str(),
                reason = refusal.label(),
                "playback token refused"
            );
            Err(refusal.response())
        }
    }
}

/// Checks `token` for a request of a **signed** stream's `playback_id` on a route of
/// `audience`, with the edge's current keys and leeway: [`admit`]'s second half.
fn check(
    edge: &Edge,
    playback_id: &PlaybackId,
    token: Option<&str>,
    audience: Audience,
) -> Result<Token, Refusal> {
    let token = token.ok_or(Refusal::Missing)?;
    let leeway = edge.config.signed_playback.leeway;
    edge.keys
        .verify(token, playback_id.as_str(), audience, leeway)?;
    Ok(Token(token.to_owned()))
}

/// The request's token: the first `token` query parameter, else an `Authorization: Bearer`
/// value. Taken as it is (a JWT needs no percent-encoding); the verifier refuses anything
/// else.
pub fn token_of<'a>(query: Option<&'a str>, headers: &'a HeaderMap) -> Option<&'a str> {
    let from_query = query.and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
    });
    from_query.or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
    })
}

#[cfg(test)]
mod tests;
