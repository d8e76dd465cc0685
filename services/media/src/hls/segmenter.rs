//! The open segment being filled: converts millisecond timestamps to the
//! delayed 90 kHz clock, feeds the TS muxer and closes segments on request.
//! Deciding *when* to cut is the packager's job.

use bytes::Bytes;

use super::PRESENTATION_DELAY_90K;
use crate::cuts::Start;
use crate::ts::{AudioFormat, Muxer, PACKET_SIZE};

/// One finished MPEG-TS segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The TS packets, starting with PAT and PMT.
    pub data: Bytes,
    /// Session DTS of the segment's first frame, in milliseconds.
    pub start_dts_ms: u64,
    /// Duration in milliseconds (see [`super::Packager`] for how it is derived).
    pub duration_ms: u64,
    /// Whether the first frame is a random access point: an IDR access unit
    /// with SPS/PPS in video mode, or any AAC frame in audio-only mode.
    pub starts_with_keyframe: bool,
}

/// The elementary streams a segment's PMT lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tracks {
    /// An H.264 stream.
    pub(crate) video: bool,
    /// An audio stream.
    pub(crate) audio: bool,
    /// How the audio stream is coded (AAC in ADTS, or MPEG audio).
    pub(crate) audio_format: AudioFormat,
}

#[derive(Debug)]
struct OpenSegment {
    data: Vec<u8>,
    start_dts_ms: u64,
    starts_with_keyframe: bool,
    /// End of the last video frame (dts + frame step), for `finish`.
    video_end_ms: Option<u64>,
    /// End of the last audio frame (dts + frame duration), for `finish`.
    audio_end_ms: Option<u64>,
}

/// Owns the session's TS muxer and the segment currently being written.
#[derive(Debug)]
pub(crate) struct Segmenter {
    muxer: Muxer,
    /// No tables written yet, so the muxer can still be recreated with the
    /// first segment's streams (keeping its PMT at version 0).
    fresh: bool,
    open: Option<OpenSegment>,
}

/// Converts session milliseconds to the delayed 90 kHz clock (the muxer
/// takes it mod 2^33).
fn to_90k(ms: u64) -> u64 {
    ms.wrapping_mul(90).wrapping_add(PRESENTATION_DELAY_90K)
}

impl Segmenter {
    pub(crate) fn new() -> Self {
        Self {
            muxer: new_muxer(Tracks::default()),
            fresh: true,
            open: None,
        }
    }

    /// Closes the open segment (ending where the new one starts) and opens a
    /// new one at `start_dts_ms` with fresh PAT/PMT for `tracks`.
    pub(crate) fn cut(
        &mut self,
        start_dts_ms: u64,
        start: Start,
        tracks: Tracks,
    ) -> Option<Segment> {
        // A segment never starts before the one it follows. The track that cuts can change
        // (video arriving late, or dropped), and the new one may lag the open segment's
        // start: it then cuts at that start, so the closed segment lasts 0 ms and neither
        // the timeline nor the program date time goes back. Frames keep their timestamps.
        let start_dts_ms = self
            .open
            .as_ref()
            .map_or(start_dts_ms, |open| start_dts_ms.max(open.start_dts_ms));
        let closed = self.open.take().map(|open| {
            let duration_ms = start_dts_ms.saturating_sub(open.start_dts_ms);
            close(open, duration_ms)
        });
        if self.fresh {
            self.muxer = new_muxer(tracks);
            self.fresh = false;
        } else {
            self.muxer.set_streams(tracks.video, tracks.audio);
            self.muxer.set_audio_format(tracks.audio_format);
        }
        let mut data =
            Vec::with_capacity(closed.as_ref().map_or(64 * 1024, |s| s.data.len() + 4096));
        self.muxer.write_tables(&mut data);
        self.open = Some(OpenSegment {
            data,
            start_dts_ms,
            starts_with_keyframe: start == Start::RandomAccess,
            video_end_ms: None,
            audio_end_ms: None,
        });
        closed
    }

    /// Declares `tracks` in the open segment's own tables, rewritten in place (ignored if
    /// none is open): a track learnt after the segment began (an MP3 track is known from its
    /// first frame, an AAC one may be configured late) is declared where its frames are.
    pub(crate) fn redeclare(&mut self, tracks: Tracks) {
        let Some(open) = &mut self.open else {
            return;
        };
        self.muxer.set_streams(tracks.video, tracks.audio);
        self.muxer.set_audio_format(tracks.audio_format);
        if let Some(tables) = open.data.get_mut(..2 * PACKET_SIZE) {
            self.muxer.rewrite_tables(tables);
        }
    }

    /// Writes one video access unit to the open segment (ignored if none).
    pub(crate) fn write_video(
        &mut self,
        dts_ms: u64,
        pts_ms: u64,
        keyframe: bool,
        annex_b: &[u8],
        frame_step_ms: u64,
    ) {
        let Some(open) = &mut self.open else {
            return;
        };
        self.muxer.write_video(
            to_90k(pts_ms),
            to_90k(dts_ms),
            keyframe,
            annex_b,
            &mut open.data,
        );
        open.video_end_ms = Some(dts_ms.saturating_add(frame_step_ms));
    }

    /// Times a video frame the segment does not carry (HEVC, ADR 19): the segment lasts
    /// at least until that frame's end, as if it were written (ignored if none is open).
    pub(crate) fn follow_video(&mut self, dts_ms: u64, frame_step_ms: u64) {
        if let Some(open) = &mut self.open {
            open.video_end_ms = Some(dts_ms.saturating_add(frame_step_ms));
        }
    }

    /// Writes one audio frame (ADTS, or MPEG audio) to the open segment (ignored if none).
    pub(crate) fn write_audio(&mut self, dts_ms: u64, frame: &[u8], frame_ms: u64) {
        let Some(open) = &mut self.open else {
            return;
        };
        self.muxer
            .write_audio(to_90k(dts_ms), frame, &mut open.data);
        open.audio_end_ms = Some(dts_ms.saturating_add(frame_ms));
    }

    /// Closes the open segment at the end of its last frame.
    pub(crate) fn finish(&mut self) -> Option<Segment> {
        let open = self.open.take()?;
        let end = open.video_end_ms.max(open.audio_end_ms)?;
        let duration_ms = end.saturating_sub(open.start_dts_ms);
        Some(close(open, duration_ms))
    }
}

fn new_muxer(tracks: Tracks) -> Muxer {
    Muxer::new(tracks.video, tracks.audio)
        .with_audio_format(tracks.audio_format)
        .with_pcr_lead(PRESENTATION_DELAY_90K)
}

fn close(open: OpenSegment, duration_ms: u64) -> Segment {
    Segment {
        data: Bytes::from(open.data),
        start_dts_ms: open.start_dts_ms,
        duration_ms,
        starts_with_keyframe: open.starts_with_keyframe,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{ContinuityChecker, pes_units, verify_tables};
    use crate::ts::{AUDIO_PID, VIDEO_PID};

    const BOTH: Tracks = Tracks {
        video: true,
        audio: true,
        audio_format: AudioFormat::AacAdts,
    };

    #[test]
    fn cut_closes_previous_segment_with_gap_duration() {
        let mut segmenter = Segmenter::new();
        assert!(segmenter.cut(1_000, Start::RandomAccess, BOTH).is_none());
        segmenter.write_video(1_000, 1_066, true, &[0, 0, 0, 1, 0x65], 33);
        segmenter.write_audio(1_010, &[0xFF; 20], 23);
        let first = segmenter.cut(3_000, Start::RandomAccess, BOTH).unwrap();
        assert_eq!((first.start_dts_ms, first.duration_ms), (1_000, 2_000));
        let tables = verify_tables(&first.data);
        assert_eq!(tables.streams.len(), 2);
        let units = pes_units(&first.data);
        assert_eq!(units[0].pid, VIDEO_PID);
        assert_eq!(units[0].pes.dts, Some(1_000 * 90 + PRESENTATION_DELAY_90K));
        assert_eq!(units[0].pes.pts, Some(1_066 * 90 + PRESENTATION_DELAY_90K));
        assert_eq!(units[0].pcr, Some(1_000 * 90));
        assert_eq!(units[1].pid, AUDIO_PID);

        segmenter.write_audio(3_000, &[0xFF; 20], 23);
        segmenter.write_video(3_000, 3_000, true, &[0, 0, 0, 1, 0x65], 33);
        let last = segmenter.finish().unwrap();
        assert_eq!(last.duration_ms, 33);
        let mut checker = ContinuityChecker::default();
        checker.check(&first.data);
        checker.check(&last.data);
        assert!(segmenter.finish().is_none());
    }

    #[test]
    fn finish_without_frames_is_none() {
        let mut segmenter = Segmenter::new();
        let audio_only = Tracks {
            video: false,
            audio: true,
            audio_format: AudioFormat::AacAdts,
        };
        segmenter.cut(0, Start::RandomAccess, audio_only);
        assert!(segmenter.finish().is_none());
        segmenter.write_audio(5, &[1], 23);
        assert!(segmenter.finish().is_none());
    }

    #[test]
    fn a_followed_video_frame_times_the_segment_without_media() {
        let mut segmenter = Segmenter::new();
        segmenter.follow_video(0, 33);
        assert!(segmenter.finish().is_none(), "no segment open");
        segmenter.cut(100, Start::RandomAccess, Tracks::default());
        segmenter.follow_video(100, 33);
        segmenter.follow_video(133, 33);
        let last = segmenter.finish().unwrap();
        assert_eq!((last.start_dts_ms, last.duration_ms), (100, 66));
        assert!(pes_units(&last.data).is_empty(), "tables only");
    }
}
