//! An HLS viewer that behaves like a player: starts at the live edge (last three segments),
//! reloads the playlist every target duration after a change and every half target duration
//! while unchanged, downloads every new segment once over a keep-alive connection, and tracks
//! media sequence continuity, stalls and PDT latency.
//!
//! Given a multivariant playlist it follows the first variant, and goes back to the
//! multivariant playlist when that media playlist ends or disappears: a server that starts a
//! new playlist after an ended one (a new generation) names it there.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http::{Response, StatusCode};
use hyper::body::Incoming;
use tokio_util::sync::CancellationToken;

use crate::errors::{ErrorKind, Failure};
use crate::http::{HttpConn, expect_ok};
use crate::playlist::{self, Playlist};
use crate::stats::{HlsStats, add, unix_micros};
use crate::target::HttpTarget;

/// Segments fetched when joining: a player starts this far from the live edge.
const LIVE_EDGE_SEGMENTS: usize = 3;
/// Pause before trying again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Pause before asking again for a playlist that is not there yet.
const NOT_READY_RETRY: Duration = Duration::from_millis(250);
/// Playlists larger than this are refused.
const MAX_PLAYLIST_BYTES: usize = 1 << 20;

/// One HLS viewer's state.
struct Viewer {
    task: usize,
    /// The playlist URL the viewer was given (multivariant or media).
    entry: HttpTarget,
    /// The playlist loaded now: `entry`, or the media playlist it named.
    playlist: HttpTarget,
    io_timeout: Duration,
    /// When the first playlist request that was answered 200 started (TTFF counts from here).
    started_at: Option<Instant>,
    http: Option<HttpConn>,
    text: Vec<u8>,
    last_msn: Option<u64>,
    newest_seen: Option<u64>,
    last_advance: Option<Instant>,
    stalled: bool,
    segments: u64,
    waiting_for_stream: bool,
}

/// Watches the playlist at `target` until `stop`, as viewer number `task`.
pub async fn run(
    task: usize,
    target: HttpTarget,
    io_timeout: Duration,
    stats: Arc<HlsStats>,
    stop: CancellationToken,
) {
    add(&stats.started, 1);
    let mut viewer = Viewer {
        task,
        entry: target.clone(),
        playlist: target,
        io_timeout,
        started_at: None,
        http: None,
        text: Vec::new(),
        last_msn: None,
        newest_seen: None,
        last_advance: None,
        stalled: false,
        segments: 0,
        waiting_for_stream: false,
    };
    let mut failed = false;
    loop {
        if failed {
            add(&stats.reconnects, 1);
        }
        let step = tokio::select! {
            step = viewer.step(&stats) => step,
            () = stop.cancelled() => break,
        };
        failed = step.is_err();
        let pause = match step {
            Ok(pause) => pause,
            Err(failure) => {
                stats.errors.record(&failure);
                viewer.http = None;
                RETRY_AFTER
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop.cancelled() => break,
        }
    }
    if viewer.waiting_for_stream && viewer.segments == 0 {
        let never = Failure::new(
            ErrorKind::NeverReady,
            "playlist not found (404) until the end",
        );
        stats.errors.record(&never);
    }
    stats
        .min_segments
        .fetch_min(viewer.segments, Ordering::Relaxed);
}

impl Viewer {
    /// Loads the playlist once and downloads what is new; returns the pause until the next
    /// load.
    async fn step(&mut self, stats: &HlsStats) -> Result<Duration, Failure> {
        let loaded_at = Instant::now();
        let playlist_target = self.playlist.clone();
        let (mut http, response) = self.request(&playlist_target).await?;
        let status = response.status();
        let mut body = response.into_body();
        if status == StatusCode::NOT_FOUND && self.playlist != self.entry {
            // The variant is gone (its playlist was replaced): ask the entry playlist again.
            let bytes = http.drain_body(&mut body).await?;
            self.http = Some(http);
            add(&stats.bytes_in, bytes);
            self.playlist = self.entry.clone();
            return Ok(Duration::ZERO);
        }
        if status == StatusCode::NOT_FOUND && self.segments == 0 {
            let bytes = http.drain_body(&mut body).await?;
            self.http = Some(http);
            add(&stats.bytes_in, bytes);
            add(&stats.not_ready, 1);
            self.waiting_for_stream = true;
            return Ok(NOT_READY_RETRY);
        }
        expect_ok(status)?;
        let mut text = std::mem::take(&mut self.text);
        let read = http
            .read_body(&mut body, &mut text, MAX_PLAYLIST_BYTES)
            .await;
        self.http = Some(http);
        let pause = match read {
            Ok(bytes) => {
                add(&stats.bytes_in, bytes);
                add(&stats.playlists, 1);
                self.waiting_for_stream = false;
                self.started_at.get_or_insert(loaded_at);
                self.on_playlist(&text, loaded_at, stats).await
            }
            Err(failure) => Err(failure),
        };
        self.text = text;
        pause
    }

    async fn on_playlist(
        &mut self,
        text: &[u8],
        loaded_at: Instant,
        stats: &HlsStats,
    ) -> Result<Duration, Failure> {
        let protocol = |detail: String| Failure::new(ErrorKind::Protocol, detail);
        let text =
            std::str::from_utf8(text).map_err(|_| protocol("playlist is not UTF-8".into()))?;
        let playlist =
            playlist::parse(text).map_err(|error| protocol(format!("playlist: {error}")))?;
        let media = match playlist {
            Playlist::Media(media) => media,
            Playlist::Multivariant(variants) => {
                let first = variants.first().copied().unwrap_or_default();
                self.playlist = self
                    .playlist
                    .resolve(first)
                    .map_err(|e| protocol(e.to_string()))?;
                return Ok(Duration::ZERO);
            }
        };
        let target = Duration::from_secs_f64(media.target_duration_s.clamp(0.1, 60.0));
        let Some(newest) = media.segments.last() else {
            return Ok(target / 2);
        };
        if self.last_msn.is_some_and(|last| newest.msn < last) {
            self.last_msn = None; // the sequence restarted: join the live edge again
            self.newest_seen = None;
        }
        if self.newest_seen.is_none_or(|seen| newest.msn > seen) {
            self.newest_seen = Some(newest.msn);
            if let Some(pdt_us) = newest.program_date_time_us {
                let end_us = pdt_us + (newest.duration_s * 1e6).round() as i64;
                let now_us = i64::try_from(unix_micros()).unwrap_or(i64::MAX);
                match u64::try_from(now_us - end_us) {
                    Ok(latency_us) => stats.latency.record(self.task, latency_us),
                    Err(_) => add(&stats.latency_clamped, 1),
                }
            }
        }
        let skip = match self.last_msn {
            None => media.segments.len().saturating_sub(LIVE_EDGE_SEGMENTS),
            Some(last) => media.segments.iter().take_while(|s| s.msn <= last).count(),
        };
        let fresh = &media.segments[skip..];
        if let (Some(last), Some(first)) = (self.last_msn, fresh.first()) {
            add(&stats.skipped_segments, first.msn.saturating_sub(last + 1));
        }
        for segment in fresh {
            let uri = self
                .playlist
                .resolve(segment.uri)
                .map_err(|e| protocol(e.to_string()))?;
            self.download(&uri, stats).await?;
            self.last_msn = Some(segment.msn);
        }
        if media.ended && self.playlist != self.entry {
            // An ended variant never continues; a new publish is named by the entry playlist.
            self.playlist = self.entry.clone();
        }
        let now = Instant::now();
        let changed = !fresh.is_empty();
        let last_advance = *self.last_advance.get_or_insert(now);
        if changed {
            self.last_advance = Some(now);
            self.stalled = false;
        } else if !self.stalled && now - last_advance > target.mul_f64(1.5) {
            add(&stats.stalls, 1);
            self.stalled = true;
        }
        let interval = if changed { target } else { target / 2 };
        Ok((loaded_at + interval).saturating_duration_since(now))
    }

    async fn download(&mut self, segment: &HttpTarget, stats: &HlsStats) -> Result<(), Failure> {
        let (mut http, response) = self.request(segment).await?;
        let status = response.status();
        let mut body = response.into_body();
        let bytes = http.drain_body(&mut body).await?;
        self.http = Some(http);
        add(&stats.bytes_in, bytes);
        expect_ok(status)?;
        add(&stats.segments, 1);
        self.segments += 1;
        if self.segments == 1 {
            add(&stats.receiving, 1);
            let started_at = self.started_at.unwrap_or(Instant::now());
            let elapsed = started_at.elapsed().as_micros();
            stats
                .ttff
                .record(self.task, u64::try_from(elapsed).unwrap_or(u64::MAX));
        }
        Ok(())
    }

    /// Sends `GET` for `target` on the kept connection if it can still take one, else on a new
    /// one. A kept connection that turns out closed (the server ended keep-alive while the
    /// viewer waited) is replaced once, without counting an error.
    async fn request(
        &mut self,
        target: &HttpTarget,
    ) -> Result<(HttpConn, Response<Incoming>), Failure> {
        if let Some(mut http) = self.http.take()
            && http.is_open()
            && http.addr() == target.addr
        {
            match http.get(target).await {
                Ok(response) => return Ok((http, response)),
                Err(failure) if failure.kind == ErrorKind::Eof => {}
                Err(failure) => return Err(failure),
            }
        }
        let mut http = HttpConn::connect(target, self.io_timeout).await?;
        let response = http.get(target).await?;
        Ok((http, response))
    }
}
