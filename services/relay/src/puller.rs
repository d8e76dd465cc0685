//! One pulled stream: starts its upstream, feeds the local hub, survives the loss of its
//! origin — or the end of its publish session — by resubscribing at the stream's owner for
//! `resubscribe_for`, and stops when nobody watches.
//!
//! Viewers stay on the local hub throughout: a new upstream's timestamps are rebased onto the
//! hub's timeline ([`Rebaser`]) and its media waits for a keyframe ([`ResumeGate`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrocast_base::StreamId;
use ferrocast_live::{Frame, FrameKind, GateVerdict, Hub, ResumeGate};
use ferrocast_proto::relay::MediaFrame;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use crate::rebase::Rebaser;
use crate::shared::{FlightResult, Inner};
use crate::upstream::{self, Upstream};
use crate::{RelayError, frame_from_proto};

/// First pause between resubscribe attempts; doubled per failure up to [`BACKOFF_MAX`].
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest pause between resubscribe attempts, so a new owner is found within about a second.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Why a pump stopped.
enum PumpEnd {
    /// The origin ended the stream; within the reconnect window a new session may follow.
    Finished,
    /// Nobody watched for `idle_stop`; the hub is already stopped.
    Unwatched,
    /// The edge is shutting down.
    Shutdown,
    /// The upstream failed; the stream may live on elsewhere.
    Broken(Broke),
}

/// How an upstream failed after it started.
#[derive(Debug, thiserror::Error)]
enum Broke {
    /// No frame arrived for this long.
    #[error("no frame for {0:?}")]
    Silent(Duration),
    /// The upstream's stream ended with an error.
    #[error(transparent)]
    Failed(#[from] tonic::Status),
}

/// Starts the pull of `stream_id`, reports the outcome to `flight`, then feeds the hub until
/// the stream ends, nobody watches, or its upstream cannot be found again in time.
pub(crate) async fn run(
    inner: Arc<Inner>,
    stream_id: StreamId,
    flight: watch::Sender<Option<FlightResult>>,
) {
    let upstream = tokio::select! {
        opened = upstream::open(&inner, &stream_id) => opened,
        () = inner.shutdown.cancelled() => Err(RelayError::ShuttingDown),
    };
    let upstream = match upstream {
        Ok(upstream) => upstream,
        Err(error) => {
            crate::metrics::upstream_failed(&error);
            debug!(stream_id = %stream_id, %error, "upstream pull did not start");
            inner.retire_flight(&stream_id);
            flight.send_replace(Some(Err(Arc::new(error))));
            return;
        }
    };
    info!(stream_id = %stream_id, url = %upstream.url, "pulling stream from origin");
    let hub = inner.hubs.start(&stream_id);
    // Registered before the flight retires, so later viewers find the hub instead.
    inner.retire_flight(&stream_id);
    flight.send_replace(Some(Ok(hub.clone())));
    drop(flight);
    let pull = Pull {
        _counted: crate::metrics::PULLS.enter(),
        lag: crate::metrics::relay_lag(),
        inner,
        stream_id,
        hub,
        // Closed at first too: viewers of this edge must never start on a non-keyframe.
        gate: ResumeGate::closed(),
        rebaser: Rebaser::new(),
        headers: Headers::default(),
        invalid: 0,
    };
    pull.run(upstream).await;
}

struct Pull {
    _counted: ferrocast_ops::LiveGuard,
    lag: metrics::Histogram,
    inner: Arc<Inner>,
    stream_id: StreamId,
    hub: Arc<Hub>,
    gate: ResumeGate,
    rebaser: Rebaser,
    headers: Headers,
    /// Malformed frames dropped so far.
    invalid: u64,
}

impl Pull {
    async fn run(mut self, first: Upstream) {
        let mut upstream = first;
        loop {
            let end = self.pump(&mut upstream).await;
            // Close the old upstream before anything else, so the count is exact and the origin
            // frees its subscriber at once.
            drop(upstream);
            let reason = match end {
                // The publisher may come back (same origin or another) within the reconnect
                // window, so viewers are kept and the stream is looked for like a lost one.
                PumpEnd::Finished => "origin ended the stream".to_owned(),
                PumpEnd::Unwatched => {
                    info!(stream_id = %self.stream_id, idle = ?self.inner.config.idle_stop, "no viewers; stopped pulling");
                    return;
                }
                PumpEnd::Shutdown => break,
                PumpEnd::Broken(broke) => {
                    crate::metrics::stream_broke();
                    broke.to_string()
                }
            };
            warn!(stream_id = %self.stream_id, %reason, "upstream lost; resubscribing");
            match self.resubscribe().await {
                Resubscribed::Upstream(next) => {
                    // The new upstream replays configs and its GOP: hold media back until a
                    // keyframe so viewers never see frames that reference a missing picture,
                    // and place its timeline after what viewers already have.
                    self.gate.close(0);
                    self.rebaser.switch_upstream();
                    upstream = *next;
                }
                Resubscribed::Unwatched => return,
                Resubscribed::GaveUp => break,
            }
        }
        self.inner.hubs.finish(&self.stream_id, &self.hub);
    }

    async fn pump(&mut self, upstream: &mut Upstream) -> PumpEnd {
        if let Some(first) = upstream.first.take() {
            self.forward(first);
        }
        let config = &self.inner.config;
        let silence_limit = config.upstream_silence;
        let idle_stop = config.idle_stop;
        let mut idle_check = tokio::time::interval(config.idle_check_period());
        idle_check.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let silence = tokio::time::sleep(silence_limit);
        tokio::pin!(silence);
        let mut unwatched_since: Option<Instant> = None;
        loop {
            let message = tokio::select! {
                biased;
                () = self.inner.shutdown.cancelled() => return PumpEnd::Shutdown,
                // Before the messages, so a busy stream cannot starve the idle check.
                _ = idle_check.tick() => {
                    if self.hub.viewer_count() > 0 {
                        unwatched_since = None;
                    } else if unwatched_since.get_or_insert_with(Instant::now).elapsed() >= idle_stop
                        && self.inner.stop_if_unwatched(&self.stream_id, &self.hub)
                    {
                        return PumpEnd::Unwatched;
                    }
                    continue;
                }
                message = upstream.frames.message() => message,
                () = &mut silence => {
                    return PumpEnd::Broken(Broke::Silent(silence_limit));
                }
            };
            match message {
                Ok(Some(message)) => {
                    silence.as_mut().reset(Instant::now() + silence_limit);
                    self.receive(message);
                }
                Ok(None) => return PumpEnd::Finished,
                Err(status) => return PumpEnd::Broken(status.into()),
            }
        }
    }

    fn receive(&mut self, message: MediaFrame) {
        crate::metrics::record_lag(&self.lag, message.sent_at_unix_us);
        match frame_from_proto(message) {
            Ok(frame) => self.forward(frame),
            Err(error) => {
                self.invalid += 1;
                warn!(stream_id = %self.stream_id, %error, invalid = self.invalid, "dropping invalid relayed frame");
            }
        }
    }

    fn forward(&mut self, frame: Frame) {
        let replaying = self.gate.is_waiting();
        match self.gate.admit(&frame, self.hub.has_video()) {
            GateVerdict::Skip => return,
            GateVerdict::Resumed { skipped } if skipped > 0 => {
                info!(stream_id = %self.stream_id, skipped, "relayed stream resumed at a keyframe");
            }
            GateVerdict::Resumed { .. } | GateVerdict::Pass => {}
        }
        // A new upstream repeats metadata and configs; resending identical ones mid-stream
        // would only make players reset their decoders.
        if !self.headers.is_new(&frame, replaying) {
            return;
        }
        let frame = self.rebaser.rebase(frame);
        self.hub.publish(frame);
    }

    /// Finds the stream again, at whichever origin owns it now, within `resubscribe_for`;
    /// stops early when nobody has watched for `idle_stop`.
    async fn resubscribe(&mut self) -> Resubscribed {
        let window = self.inner.config.resubscribe_for;
        let idle_stop = self.inner.config.idle_stop;
        let deadline = Instant::now() + window;
        let mut backoff = BACKOFF_MIN;
        let mut attempts = 0u32;
        let mut unwatched_since: Option<Instant> = None;
        while Instant::now() < deadline {
            attempts += 1;
            if self.hub.viewer_count() > 0 {
                unwatched_since = None;
            } else if unwatched_since.get_or_insert_with(Instant::now).elapsed() >= idle_stop
                && self.inner.stop_if_unwatched(&self.stream_id, &self.hub)
            {
                info!(stream_id = %self.stream_id, "no viewers while resubscribing; stopped pulling");
                return Resubscribed::Unwatched;
            }
            let attempt = tokio::select! {
                () = self.inner.shutdown.cancelled() => return Resubscribed::GaveUp,
                attempt = tokio::time::timeout_at(deadline, upstream::open(&self.inner, &self.stream_id)) => attempt,
            };
            match attempt {
                Ok(Ok(upstream)) => {
                    info!(stream_id = %self.stream_id, url = %upstream.url, attempts, "resubscribed upstream");
                    return Resubscribed::Upstream(Box::new(upstream));
                }
                Ok(Err(error)) => {
                    crate::metrics::upstream_failed(&error);
                    debug!(stream_id = %self.stream_id, %error, attempts, "resubscribe attempt failed");
                }
                Err(_) => break,
            }
            // The whole window is used: a publisher may return in its last moment.
            let wake = (Instant::now() + backoff).min(deadline);
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return Resubscribed::GaveUp,
                () = tokio::time::sleep_until(wake) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        warn!(stream_id = %self.stream_id, attempts, window = ?window, "could not resubscribe in time; ending stream");
        Resubscribed::GaveUp
    }
}

/// How a resubscription ended.
enum Resubscribed {
    /// The stream is found again.
    Upstream(Box<Upstream>),
    /// Nobody watched for `idle_stop`; the hub is already stopped.
    Unwatched,
    /// The window ran out or the edge is shutting down: end the stream.
    GaveUp,
}

/// The bodies of the last metadata and codec configurations forwarded.
#[derive(Default)]
struct Headers {
    metadata: Option<Bytes>,
    video_config: Option<Bytes>,
    audio_config: Option<Bytes>,
}

impl Headers {
    /// Records `frame` if it is a header; false for a header identical to the last one while
    /// `replaying` a new upstream's start frames.
    fn is_new(&mut self, frame: &Frame, replaying: bool) -> bool {
        let slot = match (frame.kind, frame.config) {
            (FrameKind::Script, _) => &mut self.metadata,
            (FrameKind::Video, true) => &mut self.video_config,
            (FrameKind::Audio, true) => &mut self.audio_config,
            _ => return true,
        };
        let body = frame.tag.slice_ref(frame.body());
        if replaying && slot.as_ref() == Some(&body) {
            return false;
        }
        *slot = Some(body);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_headers_are_dropped_only_while_replaying() {
        let config = Frame::sequence_header(FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1]);
        let later = Frame::sequence_header(FrameKind::Video, 900, &[0x17, 0, 0, 0, 0, 1]);
        let changed = Frame::sequence_header(FrameKind::Video, 900, &[0x17, 0, 0, 0, 0, 2]);
        let media = Frame::keyframe(900, &[0x17, 1]);
        let mut headers = Headers::default();
        assert!(headers.is_new(&config, true));
        // Same body at another timestamp: a replay of what viewers already have.
        assert!(!headers.is_new(&later, true));
        assert!(headers.is_new(&later, false));
        assert!(headers.is_new(&changed, true));
        assert!(headers.is_new(&media, true));
    }
}
