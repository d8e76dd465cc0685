//! Answers for stored objects, whatever their kind (TS segments now; CMAF init segments, parts
//! and segments alike): the whole object, or one byte range of it (RFC 9110 §14), always with
//! `Accept-Ranges: bytes`.
//!
//! Parsing is the `http-range-header` crate (RFC 9110 syntax, bounded); this module maps it to
//! answers. Objects are immutable, so a range of one is always the same bytes and a CDN may cache the
//! `206`. A request for several ranges gets the whole object (`200`), which RFC 9110 §14.2
//! allows: no player needs `multipart/byteranges` from a media server, and it would need a
//! boundary per answer. `If-Range` also gets the whole object: the edge sends no validator a
//! client could have kept, so none can match (§13.1.5).

use std::ops::RangeInclusive;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_range_header::RangeUnsatisfiableError;

/// What a request's `Range` header asks of an object of a known length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// The whole object: no `Range`, one the edge ignores, or several ranges.
    Whole,
    /// One range of it, inclusive, within the object.
    Part(RangeInclusive<u64>),
    /// A range no byte of the object is in.
    Unsatisfiable,
}

/// What `headers` ask of an object of `len` bytes.
pub fn requested(headers: &HeaderMap, len: u64) -> Requested {
    let Some(value) = headers.get(header::RANGE) else {
        return Requested::Whole;
    };
    if headers.contains_key(header::IF_RANGE) {
        return Requested::Whole;
    }
    let Ok(value) = value.to_str() else {
        return Requested::Whole;
    };
    // Another unit is ignored (RFC 9110 §14.2), and so are several ranges (see the module).
    if !value.starts_with("bytes=") || value.contains(',') {
        return Requested::Whole;
    }
    // A malformed or reversed range is ignored, as §14.2 allows.
    let Ok(parsed) = http_range_header::parse_range_header(value) else {
        return Requested::Whole;
    };
    // The crate applies §14.1.2: a last position past the end means the end, and a suffix
    // longer than the object means all of it.
    match parsed.validate(len) {
        Ok(ranges) => match ranges.as_slice() {
            [range] => Requested::Part(range.clone()),
            _ => Requested::Whole,
        },
        // A start at or past the end, or `-0` (§14.1.3).
        Err(RangeUnsatisfiableError::Unsatisfiable) => Requested::Unsatisfiable,
        Err(_) => Requested::Whole,
    }
}

/// The answer to a `GET` (or `HEAD`) of `data`, as [`requested`] by `request`: `200` with the
/// whole object, `206` with `Content-Range` and the range, or `416` with
/// `Content-Range: bytes */len`. `content_type` and `cache_control` go on `200` and `206`.
/// Also returns how many body bytes the answer carries.
pub fn respond(
    request: &HeaderMap,
    data: Bytes,
    content_type: &'static str,
    cache_control: &'static str,
) -> (Response, usize) {
    let len = data.len() as u64;
    let (status, content_range, body) = match requested(request, len) {
        Requested::Whole => (StatusCode::OK, None, data),
        Requested::Part(range) => {
            let (start, end) = (*range.start(), *range.end());
            let content_range = format!("bytes {start}-{end}/{len}");
            // Both ends are within `data`: `requested` checked them against its length.
            let body = data.slice(start as usize..=end as usize);
            (StatusCode::PARTIAL_CONTENT, Some(content_range), body)
        }
        Requested::Unsatisfiable => {
            let content_range = format!("bytes */{len}");
            (
                StatusCode::RANGE_NOT_SATISFIABLE,
                Some(content_range),
                Bytes::new(),
            )
        }
    };
    let satisfied = status != StatusCode::RANGE_NOT_SATISFIABLE;
    let body_len = body.len();
    let mut response = (status, Body::from(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(range) = content_range.and_then(|value| HeaderValue::from_str(&value).ok()) {
        headers.insert(header::CONTENT_RANGE, range);
    }
    if satisfied {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
    } else {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    (response, body_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(range: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(range).unwrap());
        headers
    }

    #[test]
    fn single_ranges_follow_rfc_9110() {
        let cases = [
            ("bytes=0-99", Requested::Part(0..=99)),
            ("bytes=100-199", Requested::Part(100..=199)),
            // A last position past the end means "to the end".
            ("bytes=900-5000", Requested::Part(900..=999)),
            ("bytes=990-", Requested::Part(990..=999)),
            ("bytes=-10", Requested::Part(990..=999)),
            ("bytes=-5000", Requested::Part(0..=999)),
            ("bytes=999-999", Requested::Part(999..=999)),
            ("bytes=1000-", Requested::Unsatisfiable),
            ("bytes=1000-1200", Requested::Unsatisfiable),
            ("bytes=-0", Requested::Unsatisfiable),
            ("bytes=0-1,5-9", Requested::Whole),
            ("bytes=0-1, 5-9", Requested::Whole),
            ("items=0-9", Requested::Whole),
            ("bytes=abc", Requested::Whole),
            ("bytes=9-5", Requested::Whole),
            ("bytes=", Requested::Whole),
        ];
        for (range, expected) in cases {
            assert_eq!(requested(&asking(range), 1000), expected, "{range}");
        }
        assert_eq!(requested(&HeaderMap::new(), 1000), Requested::Whole);
        assert_eq!(requested(&asking("bytes=0-0"), 0), Requested::Unsatisfiable);
        let mut conditional = asking("bytes=0-9");
        conditional.insert(header::IF_RANGE, HeaderValue::from_static("\"x\""));
        assert_eq!(requested(&conditional, 1000), Requested::Whole);
    }

    #[test]
    fn answers_carry_the_range_and_its_bytes() {
        let data = Bytes::from((0..=255u8).collect::<Vec<u8>>());
        let (part, sent) = respond(&asking("bytes=10-19"), data.clone(), "video/mp2t", "x");
        assert_eq!(sent, 10);
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(part.headers()[header::CONTENT_RANGE], "bytes 10-19/256");
        assert_eq!(part.headers()[header::ACCEPT_RANGES], "bytes");
        assert_eq!(part.headers()[header::CONTENT_TYPE], "video/mp2t");
        let (whole, sent) = respond(&HeaderMap::new(), data.clone(), "video/mp2t", "x");
        assert_eq!(sent, 256);
        assert_eq!(whole.status(), StatusCode::OK);
        assert_eq!(whole.headers()[header::ACCEPT_RANGES], "bytes");
        assert!(whole.headers().get(header::CONTENT_RANGE).is_none());
        let (refused, sent) = respond(&asking("bytes=256-"), data, "video/mp2t", "x");
        assert_eq!(sent, 0);
        assert_eq!(refused.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(refused.headers()[header::CONTENT_RANGE], "bytes */256");
    }
}
