//! `GET /thumbnail/{playback_id}.jpg`: a JPEG of a live stream's newest keyframe, or with
//! `?time=` of a recording's keyframe at that time (`&recording=` names which; the newest by
//! default), at the stream's size or scaled down to `?width=`. See docs/thumbnails.md and
//! ADR 23.
//!
//! Decoding is the one CPU-heavy thing an edge does, so it is fenced in: a cache per
//! keyframe with single flight ([`cache`]), one worker thread at lowered priority behind a
//! short queue and a rate cap ([`worker`]). The async runtime only looks things up.

mod cache;
mod config;
mod lru;
mod metrics;
mod source;
mod worker;

use std::sync::Arc;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrocast_base::PlaybackId;
use ferrocast_thumbnail::WIDTH_RANGE;
use serde::Deserialize;

pub use config::ThumbnailConfig;
pub(crate) use metrics::describe;

pub(crate) use cache::Thumbnails;
use cache::{Failure, Key, Rendered};
use worker::Refusal;

use crate::auth::{self, Audience};
use crate::reply::{error, not_found, unavailable};
use crate::state::Edge;

/// Longest recording time accepted in `?time=`, seconds (a year): larger is a typo.
const MAX_TIME_S: f64 = 366.0 * 24.0 * 3600.0;

/// The query of a thumbnail request, as sent; [`Wanted::parse`] checks it. A playback token
/// (`token=`) is read by [`auth::admit`] from the raw query.
#[derive(Debug, Default, Deserialize)]
pub struct ThumbnailQuery {
    /// Seconds into a recording (decimal); absent for the live stream.
    pub time: Option<String>,
    /// The recording `time` is in (its id); absent for the stream's newest recording.
    pub recording: Option<String>,
    /// Width in pixels to scale down to, within [`WIDTH_RANGE`].
    pub width: Option<String>,
}

/// What a valid query asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Wanted {
    time_s: Option<f64>,
    width: Option<u32>,
}

impl Wanted {
    /// The query checked, or why not (the body of a 400).
    fn parse(query: &ThumbnailQuery) -> Result<Self, &'static str> {
        let time_s = match query.time.as_deref() {
            None => None,
            Some(text) => match text.parse::<f64>() {
                Ok(time) if time.is_finite() && (0.0..=MAX_TIME_S).contains(&time) => Some(time),
                _ => return Err("time must be seconds, 0 or more\n"),
            },
        };
        let width = match query.width.as_deref() {
            None => None,
            Some(text) => match text.parse::<u32>() {
                Ok(width) if WIDTH_RANGE.contains(&width) => Some(width),
                _ => return Err("width must be 16 to 1920\n"),
            },
        };
        Ok(Self { time_s, width })
    }
}

/// `GET /thumbnail/{playback_id}.jpg[?width=W][&time=T][&token=JWT]`.
pub async fn serve(
    State(edge): State<Arc<Edge>>,
    Path(file): Path<String>,
    Query(query): Query<ThumbnailQuery>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(playback_id) = file.strip_suffix(".jpg").map(PlaybackId::new) else {
        return not_found();
    };
    let wanted = match Wanted::parse(&query) {
        Ok(wanted) => wanted,
        Err(reason) => return error(StatusCode::BAD_REQUEST, reason),
    };
    let audience = Audience::Thumbnail;
    let admitted = auth::admit(
        &edge,
        &playback_id,
        raw_query.as_deref(),
        &headers,
        audience,
    );
    let stream_id = match admitted.await {
        Ok(access) => access.stream_id,
        Err(response) => return response,
    };
    let Some(thumbnails) = &edge.thumbnails else {
        return unavailable("thumbnails unavailable\n");
    };
    let config = &edge.config.thumbnails;
    let outcome = if let Some(time_s) = wanted.time_s {
        let recording = query.recording.as_deref();
        let found = source::recording_keyframe(&edge, &stream_id, recording, time_s).await;
        let (frame, keyframe) = match found {
            Ok(found) => found,
            Err(response) => return response,
        };
        let key = Key {
            stream: stream_id,
            frame,
            width: wanted.width,
        };
        thumbnails.get(key, || Ok(keyframe)).await
    } else {
        let live = match source::newest_keyframe(&edge, &stream_id, config.max_wait).await {
            Ok(live) => live,
            Err(response) => return response,
        };
        let key = Key {
            stream: stream_id,
            frame: live.frame(),
            width: wanted.width,
        };
        thumbnails.get(key, || live.prepare()).await
    };
    match outcome {
        Ok(rendered) => answer(&rendered, &headers, config.max_age.as_secs()),
        Err(failure) => refuse(failure),
    }
}

/// The JPEG, or 304 when the client holds it already.
fn answer(rendered: &Rendered, request: &HeaderMap, max_age_s: u64) -> Response {
    let cache_control = HeaderValue::from_str(&format!("public, max-age={max_age_s}"))
        .expect("digits are a valid header value");
    let etag = HeaderValue::from_str(&rendered.etag).expect("a quoted hex hash is a header value");
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == &*rendered.etag));
    let headers = [(header::CACHE_CONTROL, cache_control), (header::ETAG, etag)];
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let content_type = (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    (headers, [content_type], rendered.jpeg.clone()).into_response()
}

fn refuse(failure: Failure) -> Response {
    match failure {
        Failure::Unsupported(reason) => {
            let no_cache = [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
            let body = format!("{reason}\n");
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, no_cache, body).into_response()
        }
        Failure::TooLarge => error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "picture larger than edge.thumbnails.max_pixels\n",
        ),
        Failure::Busy(Refusal::QueueFull) => busy("thumbnail decoder busy\n"),
        Failure::Busy(Refusal::Rate) => busy("thumbnail decode rate reached\n"),
        Failure::TimedOut => busy("thumbnail not ready in time\n"),
        Failure::Failed => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "thumbnail could not be made\n",
        ),
    }
}

/// 503 with `Retry-After: 1`: a busy decoder frees up within a second.
fn busy(message: &'static str) -> Response {
    let mut response = unavailable(message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(time: Option<&str>, width: Option<&str>) -> ThumbnailQuery {
        ThumbnailQuery {
            time: time.map(str::to_owned),
            width: width.map(str::to_owned),
            recording: None,
        }
    }

    #[test]
    fn width_and_time_are_checked() {
        let none = Wanted::parse(&query(None, None)).unwrap();
        assert_eq!((none.time_s, none.width), (None, None));
        let both = Wanted::parse(&query(Some("12.5"), Some("320"))).unwrap();
        assert_eq!((both.time_s, both.width), (Some(12.5), Some(320)));
        for (time, width) in [
            (Some("-1"), None),
            (Some("NaN"), None),
            (Some("inf"), None),
            (Some("1e12"), None),
            (Some("soon"), None),
            (None, Some("15")),
            (None, Some("1921")),
            (None, Some("wide")),
        ] {
            let refused = Wanted::parse(&query(time, width));
            assert!(refused.is_err(), "{time:?} {width:?}");
        }
    }
}
