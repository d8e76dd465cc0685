//! The open segment: frames of both tracks go in, parts come out when the leading track
//! would pass the part target, and the segment's end when the cut rules say so.

use super::track::{Sample, Writer};
use super::{Event, Init, MediaDuration, Part, SegmentEnd, TrackKind, TrackSegment, video_ticks};
use crate::MediaError;

/// Which tracks take part in a segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Active {
    pub(super) video: bool,
    pub(super) audio: bool,
}

#[derive(Debug)]
struct Open {
    seq: u64,
    start_dts_ms: u64,
    starts_with_keyframe: bool,
    /// The track whose frames decide where parts close.
    leading: TrackKind,
    parts: u32,
    /// Sum of the parts' durations, in the leading track's ticks.
    duration: u64,
}

/// Builds a session's segments and parts from timed frames.
#[derive(Debug)]
pub(super) struct Assembler {
    part_target_ms: u64,
    /// The longest a segment is listed as (the cut rules' ceiling): a video frame before a
    /// timestamp gap ends there at the latest.
    ceiling_ms: u64,
    video: Writer,
    audio: Writer,
    /// Init segments that take effect when the next segment opens.
    staged: Vec<Init>,
    /// Which tracks have had an init segment.
    initialised: Active,
    open: Option<Open>,
    next_seq: u64,
}

impl Assembler {
    pub(super) fn new(part_target_ms: u64, ceiling_ms: u64) -> Self {
        Self {
            part_target_ms: part_target_ms.max(1),
            ceiling_ms,
            video: Writer::new(TrackKind::Video),
            audio: Writer::new(TrackKind::Audio),
            staged: Vec::new(),
            initialised: Active::default(),
            open: None,
            next_seq: 0,
        }
    }

    /// Stages a track's new init segment; it replaces any staged one of that track.
    pub(super) fn stage_init(&mut self, init: Init) {
        self.staged.retain(|staged| staged.track != init.track);
        self.staged.push(init);
    }

    /// Lets a track whose first init segment is staged join the open segment at once,
    /// rather than at the next cut: an MP3 track is configured by its first frame, which
    /// usually follows the keyframe that opened the first segment. Its parts then start at
    /// a later index of that segment.
    pub(super) fn join(&mut self, kind: TrackKind, events: &mut Vec<Event>) {
        let first = match kind {
            TrackKind::Video => !self.initialised.video,
            TrackKind::Audio => !self.initialised.audio,
        };
        if !first || self.leading().is_none_or(|leading| leading == kind) {
            return;
        }
        let Some(at) = self.staged.iter().position(|init| init.track == kind) else {
            return;
        };
        let init = self.staged.remove(at);
        match kind {
            TrackKind::Video => self.initialised.video = true,
            TrackKind::Audio => self.initialised.audio = true,
        }
        let writer = self.writer(kind);
        writer.timescale = init.timescale;
        writer.active = true;
        events.push(Event::Init(init));
    }

    /// The leading track of the open segment.
    pub(super) fn leading(&self) -> Option<TrackKind> {
        self.open.as_ref().map(|open| open.leading)
    }

    /// Closes the open segment where the frame at `at_ms` cuts it and opens the next one,
    /// led by `leading`, with the `active` tracks that have an init segment.
    pub(super) fn cut(
        &mut self,
        at_ms: u64,
        random_access: bool,
        leading: TrackKind,
        active: Active,
        events: &mut Vec<Event>,
    ) -> Result<(), MediaError> {
        let video_end = video_ticks(at_ms);
        self.close_segment(video_end, events)?;
        for kind in [TrackKind::Video, TrackKind::Audio] {
            let wanted = match kind {
                TrackKind::Video => active.video,
                TrackKind::Audio => active.audio,
            };
            if wanted && let Some(at) = self.staged.iter().position(|init| init.track == kind) {
                let init = self.staged.remove(at);
                self.writer(kind).timescale = init.timescale;
                match kind {
                    TrackKind::Video => self.initialised.video = true,
                    TrackKind::Audio => self.initialised.audio = true,
                }
                events.push(Event::Init(init));
            }
            let ready = match kind {
                TrackKind::Video => self.initialised.video,
                TrackKind::Audio => self.initialised.audio,
            };
            let writer = self.writer(kind);
            writer.active = wanted && ready;
            writer.clear();
        }
        self.open = Some(Open {
            seq: self.next_seq,
            start_dts_ms: at_ms,
            starts_with_keyframe: random_access,
            leading,
            parts: 0,
            duration: 0,
        });
        self.next_seq += 1;
        Ok(())
    }

    /// Adds a frame of `kind` to the open segment (dropped if none is open or the track is
    /// not active). A frame of the leading track that would take the open part past the
    /// target (its duration estimated as `estimate` ticks) first closes it.
    pub(super) fn push(
        &mut self,
        kind: TrackKind,
        sample: Sample,
        estimate: u64,
        events: &mut Vec<Event>,
    ) -> Result<(), MediaError> {
        let Some(leading) = self.leading() else {
            return Ok(());
        };
        if !self.writer(kind).active {
            return Ok(());
        }
        let target = self.target_ticks(kind);
        if leading == kind
            && let Some(first) = self.writer(kind).first_dts()
        {
            let span = sample.dts.saturating_sub(first).saturating_add(estimate);
            if span > target {
                if kind == TrackKind::Video {
                    self.video.end_last_at(sample.dts, target);
                }
                self.flush_parts(events)?;
            }
        }
        let open_durations = kind == TrackKind::Video;
        let max_duration = self.target_ticks(TrackKind::Video);
        self.writer(kind).push(sample, open_durations, max_duration);
        Ok(())
    }

    /// Closes the open segment at the end of the session; the last video frame lasts
    /// `last_video_duration` ticks.
    pub(super) fn finish(
        &mut self,
        last_video_duration: u64,
        events: &mut Vec<Event>,
    ) -> Result<(), MediaError> {
        let video_end = self
            .video
            .last_dts()
            .map_or(0, |dts| dts.saturating_add(last_video_duration));
        self.close_segment(video_end, events)
    }

    fn writer(&mut self, kind: TrackKind) -> &mut Writer {
        match kind {
            TrackKind::Video => &mut self.video,
            TrackKind::Audio => &mut self.audio,
        }
    }

    fn target_ticks(&self, kind: TrackKind) -> u64 {
        let timescale = match kind {
            TrackKind::Video => self.video.timescale,
            TrackKind::Audio => self.audio.timescale,
        };
        self.part_target_ms.saturating_mul(u64::from(timescale)) / 1_000
    }

    fn close_segment(&mut self, video_end: u64, events: &mut Vec<Event>) -> Result<(), MediaError> {
        let Some(start_ms) = self.open.as_ref().map(|open| open.start_dts_ms) else {
            return Ok(());
        };
        // Across a timestamp gap the last frame stops at the ceiling, as the TS packager
        // lists such a segment (the cut rules keep every other segment under it).
        let ceiling_end = video_ticks(start_ms.saturating_add(self.ceiling_ms));
        let video_end = video_end.min(ceiling_end);
        let max_duration = self.target_ticks(TrackKind::Video);
        self.video.end_last_at(video_end, max_duration);
        self.flush_parts(events)?;
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let timescale = self.writer(open.leading).timescale;
        let mut tracks = Vec::with_capacity(2);
        for writer in [&mut self.video, &mut self.audio] {
            let data = writer.take_segment();
            if !data.is_empty() {
                tracks.push(TrackSegment {
                    track: writer.kind,
                    data,
                });
            }
        }
        events.push(Event::SegmentEnd(SegmentEnd {
            seq: open.seq,
            start_dts_ms: open.start_dts_ms,
            duration: MediaDuration {
                ticks: open.duration,
                timescale,
            },
            parts: open.parts,
            starts_with_keyframe: open.starts_with_keyframe,
            tracks,
        }));
        Ok(())
    }

    /// Turns every pending frame into parts: runs of the leading track of at most the
    /// target each, with the other track's frames that start before the next run.
    fn flush_parts(&mut self, events: &mut Vec<Event>) -> Result<(), MediaError> {
        let Some(leading) = self.leading() else {
            return Ok(());
        };
        let other = match leading {
            TrackKind::Video => TrackKind::Audio,
            TrackKind::Audio => TrackKind::Video,
        };
        let target = self.target_ticks(leading);
        loop {
            let lead = self.writer(leading);
            let (lead_samples, duration) = if lead.is_empty() {
                (Vec::new(), 0)
            } else {
                lead.take_part(target)
            };
            let next_lead_ms = lead.first_dts_ms();
            let others = match next_lead_ms {
                Some(end_ms) => self.writer(other).take_before(end_ms),
                None => self.writer(other).take_all(),
            };
            if lead_samples.is_empty() && others.is_empty() {
                return Ok(());
            }
            let duration = if lead_samples.is_empty() {
                // Only the other track has frames (a cut forced by its bytes): the part
                // lasts as long as they do, on the leading timescale.
                let ticks: u64 = others.iter().map(|s| u64::from(s.duration)).sum();
                let from = u64::from(self.writer(other).timescale.max(1));
                let to = u64::from(self.writer(leading).timescale);
                (ticks.saturating_mul(to) / from).min(target)
            } else {
                duration
            };
            let (video, audio) = match leading {
                TrackKind::Video => (lead_samples, others),
                TrackKind::Audio => (others, lead_samples),
            };
            self.emit_part(duration, video, audio, events)?;
            if next_lead_ms.is_none() {
                return Ok(());
            }
        }
    }

    fn emit_part(
        &mut self,
        duration: u64,
        video: Vec<Sample>,
        audio: Vec<Sample>,
        events: &mut Vec<Event>,
    ) -> Result<(), MediaError> {
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        let (seq, index, leading) = (open.seq, open.parts, open.leading);
        open.parts += 1;
        open.duration = open.duration.saturating_add(duration);
        let timescale = self.writer(leading).timescale;
        let duration = MediaDuration {
            ticks: duration,
            timescale,
        };
        for (kind, samples) in [(TrackKind::Video, video), (TrackKind::Audio, audio)] {
            let Some(first) = samples.first() else {
                continue;
            };
            let independent = first.sync;
            let data = self.writer(kind).fragment(&samples)?;
            events.push(Event::Part(Part {
                track: kind,
                seq,
                index,
                duration,
                independent,
                samples: u32::try_from(samples.len()).unwrap_or(u32::MAX),
                data,
            }));
        }
        Ok(())
    }
}
