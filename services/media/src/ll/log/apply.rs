//! Applying one [`LogEvent`] to a [`PartLog`]: the idempotence, order, session and gap
//! rules of the module docs.

use ferrocast_base::Msn;

use super::{LogError, LogPart, LogSegment, PartLog};
use crate::cmaf::{self, Init, TrackKind};
use crate::ll::{LogEvent, SegmentSummary, SessionInfo};

impl PartLog {
    /// Applies one event (ignored when already held).
    pub fn apply(&mut self, event: LogEvent) -> Result<(), LogError> {
        let changed = match event {
            LogEvent::Session(info) => self.start_session(info),
            LogEvent::Init(init) => self.add_init(init)?,
            LogEvent::Part(part) => self.add_part(part)?,
            LogEvent::SegmentEnd(summary) => self.end_segment(&summary)?,
            LogEvent::SessionEnd => self.end_session()?,
        };
        if changed {
            self.retain();
            self.version += 1;
        }
        Ok(())
    }

    /// The session the next Init, Part or SegmentEnd belongs to: `None` when the events are
    /// an older session's (ignored).
    fn current(&self) -> Result<Option<SessionInfo>, LogError> {
        let Some(newest) = self.session() else {
            return Err(LogError::OutOfOrder("an event before its session"));
        };
        Ok((self.state.cursor == Some(newest.epoch)).then_some(*newest))
    }

    fn start_session(&mut self, info: SessionInfo) -> bool {
        if let Some(newest) = self.session()
            && info.epoch <= newest.epoch
        {
            // The newest session again (a replay): its events apply; an older one's do not.
            self.state.cursor = (info.epoch == newest.epoch).then_some(info.epoch);
            return false;
        }
        let rewinds = self
            .state
            .segments
            .last()
            .is_some_and(|last| info.first_msn <= last.msn);
        if rewinds {
            self.state.segments.retain(|s| s.msn < info.first_msn);
        }
        self.state.sessions.push(info);
        self.state.cursor = Some(info.epoch);
        self.state.ended = false;
        true
    }

    fn add_init(&mut self, init: Init) -> Result<bool, LogError> {
        let Some(session) = self.current()? else {
            return Ok(false);
        };
        let newest = self.newest_version(session, init.track);
        if newest.is_some_and(|version| init.version <= version) {
            return Ok(false);
        }
        self.state.inits.push((session.epoch, init));
        Ok(true)
    }

    fn newest_version(&self, session: SessionInfo, track: TrackKind) -> Option<u32> {
        self.state
            .inits
            .iter()
            .filter(|(epoch, init)| *epoch == session.epoch && init.track == track)
            .map(|(_, init)| init.version)
            .max()
    }

    fn add_part(&mut self, part: cmaf::Part) -> Result<bool, LogError> {
        let Some(session) = self.current()? else {
            return Ok(false);
        };
        let Some(init_version) = self.newest_version(session, part.track) else {
            return Err(LogError::OutOfOrder("a part before its init segment"));
        };
        let index = usize::try_from(part.index).unwrap_or(usize::MAX);
        let segments = &mut self.state.segments;
        if let Some(segment) = segments
            .iter_mut()
            .rev()
            .find(|s| s.epoch == session.epoch && s.seq == part.seq)
        {
            return add_to_segment(segment, part, index, init_version);
        }
        let held_later = segments
            .iter()
            .any(|s| s.epoch == session.epoch && s.seq > part.seq);
        if held_later {
            // Held before (or trimmed since): a replay's old part.
            return Ok(false);
        }
        if index != 0 {
            return Err(LogError::OutOfOrder(
                "a part of a segment whose first part is missing",
            ));
        }
        let msn = Msn(session.first_msn.get().saturating_add(part.seq));
        let last = segments.last();
        if let Some(last) = last {
            if last.epoch == session.epoch && last.complete.is_none() {
                return Err(LogError::OutOfOrder(
                    "a part of a new segment before the open one ended",
                ));
            }
            if msn <= last.msn {
                return Err(LogError::OutOfOrder("a segment older than the newest one"));
            }
        }
        let follows = last.filter(|l| l.epoch == session.epoch && l.msn.next() == msn);
        // The first frame's wall-clock time: where the previous segment of the session
        // ends, or the session's start; the segment's end brings the exact value.
        let program_date_time_ms = follows.map_or(session.started_at_unix_ms, |previous| {
            let duration_ms = i64::try_from(previous.duration().as_millis()).unwrap_or(0);
            previous.program_date_time_ms.saturating_add(duration_ms)
        });
        let discontinuity = last.is_some() && (self.state.cut || follows.is_none());
        let mut segment = LogSegment {
            msn,
            epoch: session.epoch,
            seq: part.seq,
            discontinuity,
            program_date_time_ms,
            video_init: None,
            audio_init: None,
            parts: Vec::new(),
            complete: None,
        };
        let added = add_to_segment(&mut segment, part, index, init_version);
        self.state.segments.push(segment);
        self.state.cut = false;
        added
    }

    fn end_segment(&mut self, summary: &SegmentSummary) -> Result<bool, LogError> {
        let Some(session) = self.current()? else {
            return Ok(false);
        };
        let segments = &mut self.state.segments;
        if let Some(segment) = segments
            .iter_mut()
            .rev()
            .find(|s| s.epoch == session.epoch && s.seq == summary.seq)
        {
            if segment.complete.is_some() {
                return Ok(false);
            }
            if usize::try_from(summary.parts).ok() != Some(segment.parts.len()) {
                return Err(LogError::OutOfOrder("a segment end before its parts"));
            }
            // The playlist's part durations must add up to the segment's EXTINF.
            if segment.duration() != summary.duration {
                return Err(LogError::Inconsistent(
                    "a segment end whose duration is not its parts'",
                ));
            }
            let start_ms = i64::try_from(summary.start_dts_ms).unwrap_or(i64::MAX);
            segment.program_date_time_ms = session.started_at_unix_ms.saturating_add(start_ms);
            segment.complete = Some(*summary);
            return Ok(true);
        }
        let held_later = segments
            .iter()
            .any(|s| s.epoch == session.epoch && s.seq > summary.seq);
        if held_later || summary.parts == 0 {
            // An old segment's end, or a segment without media: nothing to list.
            return Ok(false);
        }
        Err(LogError::OutOfOrder("a segment end before its parts"))
    }

    fn end_session(&mut self) -> Result<bool, LogError> {
        if self.current()?.is_none() || self.state.ended {
            return Ok(false);
        }
        self.close_open();
        self.state.ended = true;
        Ok(true)
    }
}

/// Adds `part` at `index` of `segment`, which holds that track's part of an earlier index
/// or none yet.
fn add_to_segment(
    segment: &mut LogSegment,
    part: cmaf::Part,
    index: usize,
    init_version: u32,
) -> Result<bool, LogError> {
    if segment.complete.is_some() {
        // Held, or the tail of a segment this log cut off.
        return Ok(false);
    }
    let count = segment.parts.len();
    if index > count {
        return Err(LogError::OutOfOrder("a part whose predecessor is missing"));
    }
    if index == count {
        segment.parts.push(LogPart {
            index: part.index,
            duration: part.duration,
            independent: part.independent,
            video: None,
            audio: None,
            video_samples: 0,
            audio_samples: 0,
        });
    }
    let held = &mut segment.parts[index];
    let (slot, samples) = match part.track {
        TrackKind::Video => (&mut held.video, &mut held.video_samples),
        TrackKind::Audio => (&mut held.audio, &mut held.audio_samples),
    };
    if slot.is_some() {
        return Ok(false);
    }
    if index + 1 < count {
        return Err(LogError::OutOfOrder("a track's part after a later part"));
    }
    *slot = Some(part.data);
    *samples = part.samples;
    let version = match part.track {
        TrackKind::Video => &mut segment.video_init,
        TrackKind::Audio => &mut segment.audio_init,
    };
    version.get_or_insert(init_version);
    Ok(true)
}
