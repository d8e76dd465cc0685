//! An LL-HLS viewer that behaves like a low-latency player: it loads the multivariant (or
//! media) playlist once, then loops on a blocking reload of the video playlist for the part
//! the preload hint names (`_HLS_msn`/`_HLS_part`), fetches the part(s) that answer lists
//! and it has not fetched, and does the same for the audio rendition when there is one. It
//! joins at the newest listed part.
//!
//! Per viewer it records parts fetched, stalls (a reload answered 503, or one that took
//! more than three part targets) and part latency: from the moment a playlist named a part
//! in its preload hint to the moment that part's bytes were received.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::errors::{ErrorKind, Failure};
use crate::http::{HttpConn, expect_ok};
use crate::ll_playlist::{self, LlEntry, LlPlaylist};
use crate::stats::{LlStats, add};
use crate::target::HttpTarget;

/// Pause before starting again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Pause before asking again for a stream that is not there yet.
const NOT_READY_RETRY: Duration = Duration::from_millis(250);
/// Playlists larger than this are refused.
const MAX_PLAYLIST_BYTES: usize = 1 << 20;
/// A reload that takes longer than this many part targets is a stall.
const STALL_PART_TARGETS: f64 = 3.0;

/// One rendition followed by the viewer.
struct Rendition {
    playlist: HttpTarget,
    /// `(msn, index)` of the newest part fetched.
    fetched: Option<(u64, u32)>,
    /// The next blocking reload's position.
    next: (u64, u32),
    /// The preload hint last seen, resolved, and when.
    hint: Option<(String, Instant)>,
}

/// A playlist request's outcome.
enum Loaded {
    /// 200: the text.
    Text(String),
    /// 404 before any part was fetched: not live yet.
    NotReady,
    /// 503: a blocking reload that the server gave up on.
    Unavailable,
}

/// How one session ended without a failure.
enum Ended {
    /// 404 before anything was fetched.
    NotReady,
    /// The playlist ended (`EXT-X-ENDLIST`).
    Ended,
}

/// One viewer's connection and counters.
struct Viewer<'a> {
    task: usize,
    io_timeout: Duration,
    http: Option<HttpConn>,
    stats: &'a LlStats,
    started: Instant,
    parts: u64,
    text: Vec<u8>,
}

/// Watches the LL-HLS playlist at `target` until `stop`, as viewer number `task`.
pub async fn run(
    task: usize,
    target: HttpTarget,
    io_timeout: Duration,
    stats: Arc<LlStats>,
    stop: tokio_util::sync::CancellationToken,
) {
    add(&stats.started, 1);
    let mut viewer = Viewer {
        task,
        io_timeout,
        http: None,
        stats: &stats,
        started: Instant::now(),
        parts: 0,
        text: Vec::new(),
    };
    let mut waiting_for_stream = false;
    let mut attempts = 0u64;
    loop {
        if attempts > 0 && !waiting_for_stream {
            add(&stats.reconnects, 1);
        }
        attempts += 1;
        let session = tokio::select! {
            session = viewer.session(&target) => session,
            () = stop.cancelled() => break,
        };
        let pause = match session {
            Ok(Ended::NotReady) => {
                add(&stats.not_ready, 1);
                waiting_for_stream = true;
                NOT_READY_RETRY
            }
            Ok(Ended::Ended) => {
                waiting_for_stream = false;
                RETRY_AFTER
            }
            Err(failure) => {
                stats.errors.record(&failure);
                viewer.http = None;
                waiting_for_stream = false;
                RETRY_AFTER
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop.cancelled() => break,
        }
    }
    if waiting_for_stream && viewer.parts == 0 {
        let never = Failure::new(
            ErrorKind::NeverReady,
            "playlist not found (404) until the end",
        );
        stats.errors.record(&never);
    }
    stats.min_parts.fetch_min(viewer.parts, Ordering::Relaxed);
}

impl Viewer<'_> {
    /// Loads the entry playlist, joins at the live edge and follows it until it ends.
    async fn session(&mut self, entry: &HttpTarget) -> Result<Ended, Failure> {
        let text = match self.load(entry).await? {
            Loaded::Text(text) => text,
            Loaded::NotReady => return Ok(Ended::NotReady),
            Loaded::Unavailable => return Err(unavailable()),
        };
        let protocol = |detail: String| Failure::new(ErrorKind::Protocol, detail);
        let (video, audio) = match parse(&text)? {
            LlEntry::Media(_) => (entry.clone(), None),
            LlEntry::Multivariant { video, audio } => {
                let video = entry.resolve(video).map_err(|e| protocol(e.to_string()))?;
                let audio = audio
                    .map(|uri| entry.resolve(uri))
                    .transpose()
                    .map_err(|e| protocol(e.to_string()))?;
                (video, audio)
            }
        };
        let mut renditions = vec![Rendition::new(video)];
        renditions.extend(audio.map(Rendition::new));
        for rendition in &mut renditions {
            let target = rendition.playlist.clone();
            let text = match self.load(&target).await? {
                Loaded::Text(text) => text,
                Loaded::NotReady => return Ok(Ended::NotReady),
                Loaded::Unavailable => return Err(unavailable()),
            };
            let LlEntry::Media(playlist) = parse(&text)? else {
                return Err(protocol("a variant is a multivariant playlist".into()));
            };
            // Join at the newest listed part: it is fetched first.
            let newest = playlist.parts.iter().rev().find(|part| !part.gap);
            rendition.fetched = newest.and_then(|part| before(part.msn, part.index));
            self.follow(rendition, &playlist).await?;
        }
        loop {
            for rendition in &mut renditions {
                let (msn, part) = rendition.next;
                let query = format!("?_HLS_msn={msn}&_HLS_part={part}");
                let mut target = rendition.playlist.clone();
                target.path_and_query = format!("{}{query}", base(&target.path_and_query));
                let asked = Instant::now();
                let loaded = self.load(&target).await?;
                let took = asked.elapsed();
                add(&self.stats.blocking_reloads, 1);
                let text = match loaded {
                    Loaded::Text(text) => text,
                    Loaded::NotReady => return Ok(Ended::NotReady),
                    Loaded::Unavailable => {
                        // The part did not come within three target durations: ask again.
                        add(&self.stats.stalls, 1);
                        continue;
                    }
                };
                let LlEntry::Media(playlist) = parse(&text)? else {
                    return Err(protocol("a media playlist became multivariant".into()));
                };
                if took.as_secs_f64() > playlist.part_target_s * STALL_PART_TARGETS {
                    add(&self.stats.stalls, 1);
                }
                self.follow(rendition, &playlist).await?;
                if playlist.ended {
                    return Ok(Ended::Ended);
                }
            }
        }
    }

    /// Fetches the parts of `playlist` after the newest one fetched, and notes its hint.
    async fn follow(
        &mut self,
        rendition: &mut Rendition,
        playlist: &LlPlaylist<'_>,
    ) -> Result<(), Failure> {
        let protocol = |detail: String| Failure::new(ErrorKind::Protocol, detail);
        let fresh = playlist
            .parts
            .iter()
            .filter(|part| !part.gap)
            .filter(|part| rendition.fetched.is_none_or(|f| (part.msn, part.index) > f));
        let fresh: Vec<_> = fresh.collect();
        for part in fresh {
            let target = rendition
                .playlist
                .resolve(part.uri)
                .map_err(|e| protocol(e.to_string()))?;
            self.fetch(&target).await?;
            let received = Instant::now();
            if let Some((hinted, seen)) = &rendition.hint
                && *hinted == target.path_and_query
            {
                let latency = received.duration_since(*seen).as_micros();
                let latency = u64::try_from(latency).unwrap_or(u64::MAX);
                self.stats.part_latency.record(self.task, latency);
            }
            rendition.fetched = Some((part.msn, part.index));
        }
        rendition.next = playlist.next;
        let hint = playlist
            .hint
            .map(|uri| rendition.playlist.resolve(uri))
            .transpose()
            .map_err(|e| protocol(e.to_string()))?;
        if let Some(hint) = hint {
            let new = rendition
                .hint
                .as_ref()
                .is_none_or(|(seen, _)| *seen != hint.path_and_query);
            if new {
                rendition.hint = Some((hint.path_and_query, Instant::now()));
            }
        }
        Ok(())
    }

    /// `GET` a playlist; a status other than 200, 503 and a 404 before any part was
    /// fetched is a failure.
    async fn load(&mut self, target: &HttpTarget) -> Result<Loaded, Failure> {
        let (mut http, response) = self.request(target).await?;
        let status = response.status();
        let mut body = response.into_body();
        let mut text = std::mem::take(&mut self.text);
        let read = http
            .read_body(&mut body, &mut text, MAX_PLAYLIST_BYTES)
            .await;
        self.http = Some(http);
        add(&self.stats.bytes_in, read?);
        if status == StatusCode::NOT_FOUND && self.parts == 0 {
            self.text = text;
            return Ok(Loaded::NotReady);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            self.text = text;
            return Ok(Loaded::Unavailable);
        }
        expect_ok(status)?;
        add(&self.stats.playlists, 1);
        let decoded = String::from_utf8(text)
            .map_err(|_| Failure::new(ErrorKind::Protocol, "playlist is not UTF-8"))?;
        Ok(Loaded::Text(decoded))
    }

    async fn fetch(&mut self, target: &HttpTarget) -> Result<(), Failure> {
        let (mut http, response) = self.request(target).await?;
        let status = response.status();
        let mut body = response.into_body();
        let bytes = http.drain_body(&mut body).await?;
        self.http = Some(http);
        add(&self.stats.bytes_in, bytes);
        expect_ok(status)?;
        add(&self.stats.parts, 1);
        self.parts += 1;
        if self.parts == 1 {
            add(&self.stats.receiving, 1);
            let elapsed = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.stats.ttff.record(self.task, elapsed);
        }
        Ok(())
    }

    /// Sends `GET` on the kept connection if it can still take one, else on a new one.
    async fn request(
        &mut self,
        target: &HttpTarget,
    ) -> Result<(HttpConn, http::Response<hyper::body::Incoming>), Failure> {
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

impl Rendition {
    fn new(playlist: HttpTarget) -> Self {
        Self {
            playlist,
            fetched: None,
            next: (0, 0),
            hint: None,
        }
    }
}

fn parse(text: &str) -> Result<LlEntry<'_>, Failure> {
    ll_playlist::parse(text)
        .map_err(|e| Failure::new(ErrorKind::Protocol, format!("playlist: {e}")))
}

fn unavailable() -> Failure {
    Failure::new(ErrorKind::HttpStatus, "HTTP 503")
}

/// The position just before `(msn, index)`, so that part counts as not fetched yet; `None`
/// before the very first part.
fn before(msn: u64, index: u32) -> Option<(u64, u32)> {
    match index.checked_sub(1) {
        Some(previous) => Some((msn, previous)),
        // Any position of the segment before sorts lower than part 0 of this one.
        None => Some((msn.checked_sub(1)?, u32::MAX)),
    }
}

/// A path without its query.
fn base(path_and_query: &str) -> &str {
    path_and_query.split('?').next().unwrap_or(path_and_query)
}
