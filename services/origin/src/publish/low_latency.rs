//! The low-latency side of a publish session (ADR 16): a CMAF packager beside the MPEG-TS one,
//! fed the same parsed tags, whose events go to the stream's part log (which the relay
//! replays and follows for edges) and whose init segments and finished segments go to object
//! storage through the uploader's CMAF lane.
//!
//! - The session's `Session` event is applied at its first media frame, when the wall-clock
//!   time of DTS 0 is known (the TS side stamps its program date times from the same
//!   moment). Its `first_msn` is the higher of the index's next msn and the log's newest
//!   segment + 1, so a reconnect to this origin continues the log without a rewind.
//! - Part events carry no epoch, so only the stream's newest session writes the log: every
//!   event is checked and applied under the stream's [`LogWriter`].
//! - A refused event is a bug (the packager and the log disagree): it is logged at error
//!   with the stream id and counted, never a panic.
//! - `SessionEnd` is applied when the reconnect window closes without a newer session
//!   ([`LogEnding`]), as the TS playlist gets `EXT-X-ENDLIST` then and not before; the log
//!   stays for the low-latency window after that, then is removed.

use std::sync::Arc;

use ferrocast_base::{Epoch, Msn, StreamId, lock};
use ferrocast_live::{LogChannel, PartLogs};
use ferrocast_media::MediaError;
use ferrocast_media::cmaf::{self, Event, Packager};
use ferrocast_media::flv::{AudioTag, VideoTag};
use ferrocast_media::hls::PackagerConfig;
use ferrocast_media::ll::{LogEvent, SegmentSummary, SessionInfo};
use ferrocast_store::SessionObject;

use crate::publish::registry::LogWriter;
use crate::uploader::CmafObject;
use crate::{OriginConfig, metrics};

/// The CMAF packager of one publish session and its writes to the part log.
pub(crate) struct LowLatency {
    stream_id: StreamId,
    epoch: Epoch,
    packager: Packager,
    part_logs: Arc<PartLogs>,
    writer: LogWriter,
    /// The stream's log, once this session's `Session` event is applied.
    log: Option<Arc<LogChannel>>,
    /// The index's next msn when the session opened.
    index_next_msn: Msn,
    part_target_ms: u64,
    target_duration_ms: u64,
}

impl LowLatency {
    /// The low-latency side of the session `epoch` of `stream_id`, cutting segments as
    /// `segments` says.
    pub(crate) fn new(
        stream_id: &StreamId,
        epoch: Epoch,
        index_next_msn: Msn,
        segments: PackagerConfig,
        config: &OriginConfig,
        part_logs: Arc<PartLogs>,
        writer: LogWriter,
    ) -> Self {
        let part_target_ms = u64::try_from(config.hls.part_target.as_millis()).unwrap_or(u64::MAX);
        let packager = Packager::new(cmaf::Config {
            segments,
            part_target_ms,
        });
        Self {
            stream_id: stream_id.clone(),
            epoch,
            packager,
            part_logs,
            writer,
            log: None,
            index_next_msn,
            part_target_ms,
            target_duration_ms: segments.target_duration_ms,
        }
    }

    /// The session's first media frame arrived; DTS 0 is `started_at_unix_ms`. Opens the
    /// session in the stream's log unless a newer session writes it already.
    pub(crate) fn begin(&mut self, started_at_unix_ms: i64) {
        let mut writer = lock(&self.writer);
        if writer.is_some_and(|newest| newest > self.epoch) {
            return;
        }
        *writer = Some(self.epoch);
        let log = self.part_logs.get_or_create(&self.stream_id);
        let newest = log.read(|log| log.segments().last().map(|segment| segment.msn));
        let after_log = newest.map_or(Msn(0), Msn::next);
        let info = SessionInfo {
            epoch: self.epoch,
            first_msn: self.index_next_msn.max(after_log),
            started_at_unix_ms,
            part_target_ms: self.part_target_ms,
            target_duration_ms: self.target_duration_ms,
        };
        tracing::debug!(stream_id = %self.stream_id, first_msn = info.first_msn.get(), "low-latency session opened");
        report(&self.stream_id, log.apply(LogEvent::Session(info)));
        self.log = Some(log);
    }

    /// Feeds one parsed video tag; returns the objects to store.
    pub(crate) fn on_video(&mut self, dts_ms: u64, tag: &VideoTag<'_>) -> Vec<CmafObject> {
        let packaged = self.packager.push_video(dts_ms, tag);
        self.on_packaged(packaged)
    }

    /// Feeds one parsed audio tag; returns the objects to store.
    pub(crate) fn on_audio(&mut self, dts_ms: u64, tag: &AudioTag<'_>) -> Vec<CmafObject> {
        let packaged = self.packager.push_audio(dts_ms, tag);
        self.on_packaged(packaged)
    }

    /// The publisher stopped: closes the open segment; returns the objects to store.
    pub(crate) fn finish(&mut self) -> Vec<CmafObject> {
        let packaged = self.packager.finish();
        self.on_packaged(packaged)
    }

    /// What the session's ending needs to end the log, once the reconnect window closed.
    pub(crate) fn ending(&self) -> LogEnding {
        LogEnding {
            stream_id: self.stream_id.clone(),
            epoch: self.epoch,
            part_logs: self.part_logs.clone(),
            writer: self.writer.clone(),
            began: self.log.is_some(),
        }
    }

    fn on_packaged(&mut self, packaged: Result<Vec<Event>, MediaError>) -> Vec<CmafObject> {
        let events = match packaged {
            Ok(events) => events,
            // Once per track; the TS side warns about the same codec.
            Err(MediaError::Unsupported(codec)) => {
                tracing::debug!(%codec, "track dropped from cmaf: unsupported codec");
                return Vec::new();
            }
            Err(error) => {
                tracing::debug!(%error, "frame not packaged as cmaf");
                return Vec::new();
            }
        };
        let mut objects = Vec::new();
        for event in events {
            let logged = match event {
                Event::Init(init) => {
                    objects.push(CmafObject {
                        object: SessionObject::CmafInit {
                            version: init.version,
                            track: init.track,
                        },
                        data: init.data.clone(),
                    });
                    LogEvent::Init(init)
                }
                Event::Part(part) => LogEvent::Part(part),
                Event::SegmentEnd(end) => {
                    let summary = SegmentSummary::from(&end);
                    objects.extend(end.tracks.into_iter().map(|track| CmafObject {
                        object: SessionObject::CmafSegment {
                            seq: end.seq,
                            track: track.track,
                        },
                        data: track.data,
                    }));
                    LogEvent::SegmentEnd(summary)
                }
            };
            self.apply(logged);
        }
        objects
    }

    /// Applies `event` while this session is the stream's newest.
    fn apply(&self, event: LogEvent) {
        let Some(log) = &self.log else {
            return;
        };
        let writer = lock(&self.writer);
        if *writer != Some(self.epoch) {
            return;
        }
        report(&self.stream_id, log.apply(event));
    }
}

/// Ends a session's part log after its reconnect window, from the session's ending.
pub(crate) struct LogEnding {
    stream_id: StreamId,
    epoch: Epoch,
    part_logs: Arc<PartLogs>,
    writer: LogWriter,
    /// The session opened the log (it had media).
    began: bool,
}

impl LogEnding {
    /// The publisher did not come back: edges' playlists end (`EXT-X-ENDLIST`), unless a
    /// newer session of the stream writes the log.
    pub(crate) fn end(&self) {
        let writer = lock(&self.writer);
        if !self.began || *writer != Some(self.epoch) {
            return;
        }
        if let Some(log) = self.part_logs.get(&self.stream_id) {
            report(&self.stream_id, log.apply(LogEvent::SessionEnd));
        }
    }

    /// Forgets the log, unless a newer session of the stream writes it.
    pub(crate) fn remove(&self) {
        let writer = lock(&self.writer);
        if *writer != Some(self.epoch) {
            return;
        }
        self.part_logs.remove(&self.stream_id);
        tracing::debug!(stream_id = %self.stream_id, "part log removed");
    }
}

/// Logs and counts a refused event: the packager and the log disagree, which is a bug.
fn report(stream_id: &StreamId, applied: Result<(), ferrocast_media::ll::LogError>) {
    if let Err(error) = applied {
        metrics::part_log_error();
        tracing::error!(stream_id = %stream_id, %error, "part log refused a packager event");
    }
}
