//! Players of a continuous stream: HTTP-FLV viewers and RTMP players. Each is one task that
//! connects, reads until the run ends, and connects again after a failure; a 404 before the
//! stream ever played means "not live yet" and is retried sooner without counting an error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use rml_rtmp::sessions::ClientSessionEvent;
use tokio_util::sync::CancellationToken;

use crate::errors::{ErrorKind, Failure};
use crate::flv::{self, TAG_AUDIO, TAG_VIDEO};
use crate::http::{HttpConn, expect_ok};
use crate::rtmp::RtmpClient;
use crate::stats::{PlayStats, add, unix_micros};
use crate::target::{HttpTarget, RtmpTarget};
use crate::video;
use crate::watch::Tracker;

/// Pause before connecting again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Pause before asking again for a stream that is not live yet.
const NOT_READY_RETRY: Duration = Duration::from_millis(250);

/// What to play.
#[derive(Debug, Clone)]
pub enum Source {
    /// An HTTP-FLV URL.
    Flv(HttpTarget),
    /// An RTMP play URL.
    Rtmp(RtmpTarget),
}

/// How one connection ended without a failure.
enum Attempt {
    /// 404 before the stream ever played.
    NotReady,
    /// The server ended the stream.
    Ended,
}

/// Plays `source` until `stop`, as viewer number `task`.
pub async fn run(
    task: usize,
    source: Source,
    io_timeout: Duration,
    stats: Arc<PlayStats>,
    stop: CancellationToken,
) {
    add(&stats.started, 1);
    let mut tracker = Tracker::new(task);
    let mut waiting_for_stream = false;
    let mut attempts = 0u64;
    loop {
        if attempts > 0 && !waiting_for_stream {
            add(&stats.reconnects, 1);
        }
        attempts += 1;
        tracker.connecting();
        let attempt = async {
            match &source {
                Source::Flv(target) => flv_session(target, io_timeout, &stats, &mut tracker).await,
                Source::Rtmp(target) => {
                    rtmp_session(target, io_timeout, &stats, &mut tracker).await
                }
            }
        };
        let attempt = tokio::select! {
            attempt = attempt => attempt,
            () = stop.cancelled() => break,
        };
        let pause = match attempt {
            Ok(Attempt::NotReady) => {
                add(&stats.not_ready, 1);
                waiting_for_stream = true;
                NOT_READY_RETRY
            }
            Ok(Attempt::Ended) => {
                let ended = Failure::new(ErrorKind::Eof, "server ended the stream");
                stats.errors.record(&ended);
                waiting_for_stream = false;
                RETRY_AFTER
            }
            Err(failure) => {
                stats.errors.record(&failure);
                waiting_for_stream = false;
                RETRY_AFTER
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop.cancelled() => break,
        }
    }
    if waiting_for_stream && !tracker.ever_received() {
        let never = Failure::new(
            ErrorKind::NeverReady,
            "stream not found (404) until the end",
        );
        stats.errors.record(&never);
    }
    tracker.finish(Instant::now(), &stats);
}

async fn flv_session(
    target: &HttpTarget,
    io_timeout: Duration,
    stats: &PlayStats,
    tracker: &mut Tracker,
) -> Result<Attempt, Failure> {
    let mut http = HttpConn::connect(target, io_timeout).await?;
    let response = http.get(target).await?;
    if response.status() == StatusCode::NOT_FOUND && !tracker.ever_received() {
        return Ok(Attempt::NotReady);
    }
    expect_ok(response.status())?;
    let mut body = response.into_body();
    let mut reader = flv::Reader::default();
    while let Some(chunk) = http.next_chunk(&mut body).await? {
        add(&stats.bytes_in, chunk.len() as u64);
        // Every tag completed by one read arrived at the same moment.
        let now = Instant::now();
        let now_us = unix_micros();
        let read = reader.feed(&chunk, |tag| match tag.tag_type {
            TAG_VIDEO => {
                let info = tag.video.unwrap_or_default();
                tracker.on_video(&info, tag.timestamp_ms, now, now_us, stats);
            }
            TAG_AUDIO => add(&stats.audio_frames, 1),
            _ => {}
        });
        read.map_err(|error| Failure::new(ErrorKind::Protocol, format!("flv: {error}")))?;
    }
    Ok(Attempt::Ended)
}

async fn rtmp_session(
    target: &RtmpTarget,
    io_timeout: Duration,
    stats: &PlayStats,
    tracker: &mut Tracker,
) -> Result<Attempt, Failure> {
    let client = RtmpClient::connect(target, io_timeout).await?;
    let mut client = client.play(&target.stream).await?;
    let mut scanner = video::Scanner::default();
    loop {
        let event = client.next_event().await;
        add(&stats.bytes_in, client.take_counts().0);
        match event? {
            ClientSessionEvent::VideoDataReceived { timestamp, data } => {
                let info = scanner.scan(&data);
                tracker.on_video(&info, timestamp.value, Instant::now(), unix_micros(), stats);
            }
            ClientSessionEvent::AudioDataReceived { .. } => add(&stats.audio_frames, 1),
            _ => {}
        }
    }
}
