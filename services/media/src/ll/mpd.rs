//! The DASH MPD of a stream (ISO/IEC 23009-1, `dynamic`), rendered from a [`PartLog`]: one
//! Period per session and init versions, `SegmentTemplate` with a `SegmentTimeline` over
//! the complete segments the playlists list, one AdaptationSet per track.
//!
//! The MPD is a pure function of the log, so every edge renders the same bytes:
//! - `availabilityStartTime` is the Unix epoch for every stream, and each Period starts at a
//!   wall-clock time since then. The first Period of a session starts at the session's
//!   start (its DTS 0), with `presentationTimeOffset` 0, so `t` is the segment's session
//!   time. A later Period of the session (a decoder configuration change) starts at its
//!   first listed segment, with that segment's time as `presentationTimeOffset`; when the
//!   Periods before it leave, it becomes the session's first and its start and offset move
//!   together, which places every segment at the same wall-clock time as before.
//! - `publishTime` is the wall-clock end of the newest complete segment, and a
//!   `UTCTiming` of scheme `direct` carries the same time, so players need no time server.
//! - `minimumUpdatePeriod` and `maxSegmentDuration` are the target duration,
//!   `timeShiftBufferDepth` the playlist window, `suggestedPresentationDelay` three target
//!   durations: a segment is listed once complete, and a player wants one more in its buffer.

use std::fmt::Write as _;

use ferrocast_base::Epoch;

use super::log::target_duration_s;
use super::variants::{bits_per_second, frame_rate_millis};
use super::{LogSegment, PartLog, names};
use crate::cmaf::{self, Init, TrackKind};
use crate::text::{date_time, seconds};

/// Segments of one session that share their init segments.
struct Run<'a> {
    epoch: Epoch,
    video: Option<u32>,
    audio: Option<u32>,
    segments: Vec<&'a LogSegment>,
}

/// Renders the MPD; `None` when the log has no complete segment yet.
pub fn render(log: &PartLog) -> Option<String> {
    let session = log.session()?;
    let complete: Vec<&LogSegment> = log
        .listed()
        .iter()
        .filter(|s| s.complete.is_some())
        .collect();
    let newest = complete.last()?;
    let target_ms = target_duration_s(session.target_duration_ms) * 1_000;
    let end_ms = newest
        .program_date_time_ms
        .saturating_add(i64::try_from(newest.duration().as_millis()).unwrap_or(0));
    let publish_time = date_time(end_ms);

    let mut text = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        text,
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\" \
         profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" \
         availabilityStartTime=\"1970-01-01T00:00:00Z\" publishTime=\"{publish_time}\" \
         minimumUpdatePeriod=\"{update}\" minBufferTime=\"{update}\" \
         maxSegmentDuration=\"{update}\" timeShiftBufferDepth=\"{depth}\" \
         suggestedPresentationDelay=\"{delay}\">",
        update = duration(target_ms),
        depth = duration(log.window_ms()),
        delay = duration(target_ms * 3),
    );
    let mut previous_epoch = None;
    for run in runs(&complete) {
        let first_of_session = previous_epoch != Some(run.epoch);
        previous_epoch = Some(run.epoch);
        write_period(&mut text, log, &run, first_of_session);
    }
    let _ = writeln!(
        text,
        "  <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:direct:2014\" value=\"{publish_time}\"/>"
    );
    text.push_str("</MPD>\n");
    Some(text)
}

/// Splits segments, oldest first, where the session or an init version changes.
fn runs<'a>(segments: &[&'a LogSegment]) -> Vec<Run<'a>> {
    let mut runs: Vec<Run<'a>> = Vec::new();
    for &segment in segments {
        let key = (segment.epoch, segment.video_init, segment.audio_init);
        match runs.last_mut() {
            Some(run) if (run.epoch, run.video, run.audio) == key => run.segments.push(segment),
            _ => runs.push(Run {
                epoch: segment.epoch,
                video: segment.video_init,
                audio: segment.audio_init,
                segments: vec![segment],
            }),
        }
    }
    runs
}

fn write_period(text: &mut String, log: &PartLog, run: &Run<'_>, first_of_session: bool) {
    let Some(first) = run.segments.first() else {
        return;
    };
    let Some(summary) = first.complete else {
        return;
    };
    let session = log.session_of(run.epoch).copied();
    // The session's start and the offset of session time at the Period's start.
    let (start_ms, offset_ms) = match session {
        Some(session) if first_of_session => (session.started_at_unix_ms, 0),
        _ => (first.program_date_time_ms, summary.start_dts_ms),
    };
    let id = format!(
        "{}-{}-{}",
        run.epoch.get(),
        version_name(run.video),
        version_name(run.audio)
    );
    let _ = writeln!(
        text,
        "  <Period id=\"{id}\" start=\"{}\">",
        duration(u64::try_from(start_ms).unwrap_or(0))
    );
    for (set_id, track) in [TrackKind::Video, TrackKind::Audio].into_iter().enumerate() {
        let version = match track {
            TrackKind::Video => run.video,
            TrackKind::Audio => run.audio,
        };
        let Some(version) = version else {
            continue;
        };
        let Some(init) = log.init(run.epoch, track, version) else {
            continue;
        };
        write_adaptation_set(text, log, run, track, init, set_id + 1, offset_ms);
    }
    text.push_str("  </Period>\n");
}

fn version_name(version: Option<u32>) -> String {
    version.map_or_else(|| "n".to_string(), |v| v.to_string())
}

fn write_adaptation_set(
    text: &mut String,
    log: &PartLog,
    run: &Run<'_>,
    track: TrackKind,
    init: &Init,
    set_id: usize,
    offset_ms: u64,
) {
    let codecs = &init.codec;
    match track {
        TrackKind::Video => {
            let _ = write!(
                text,
                "    <AdaptationSet id=\"{set_id}\" contentType=\"video\" mimeType=\"video/mp4\" \
                 codecs=\"{codecs}\""
            );
            if let Some((width, height)) = init.dimensions {
                let _ = write!(text, " width=\"{width}\" height=\"{height}\"");
            }
            if let Some(rate) = frame_rate_millis(log) {
                let rate = if rate.is_multiple_of(1_000) {
                    (rate / 1_000).to_string()
                } else {
                    format!("{rate}/1000")
                };
                let _ = write!(text, " frameRate=\"{rate}\"");
            }
        }
        TrackKind::Audio => {
            let _ = write!(
                text,
                "    <AdaptationSet id=\"{set_id}\" contentType=\"audio\" mimeType=\"audio/mp4\" \
                 codecs=\"{codecs}\" audioSamplingRate=\"{}\"",
                init.timescale
            );
        }
    }
    text.push_str(" segmentAlignment=\"true\" startWithSAP=\"1\">\n");
    let name = track.name();
    let _ = writeln!(
        text,
        "      <Representation id=\"{name}\" bandwidth=\"{}\">",
        peak_bandwidth(run, track)
    );
    let timescale = init.timescale.max(1);
    let first_seq = run.segments.first().map_or(0, |s| s.seq);
    let _ = writeln!(
        text,
        "        <SegmentTemplate timescale=\"{timescale}\" presentationTimeOffset=\"{}\" \
         initialization=\"{}\" media=\"{}/$Number$.{name}.m4s\" startNumber=\"{first_seq}\">",
        media_ticks(offset_ms, timescale),
        names::init(run.epoch, init.version, track),
        run.epoch.get(),
    );
    text.push_str("          <SegmentTimeline>\n");
    write_timeline(text, run, timescale);
    text.push_str("          </SegmentTimeline>\n        </SegmentTemplate>\n");
    text.push_str("      </Representation>\n    </AdaptationSet>\n");
}

/// `S` elements: `t` from each segment's session start, `d` its duration, both on the
/// track's timescale; a run of equal, back-to-back segments is one `S` with `r`.
fn write_timeline(text: &mut String, run: &Run<'_>, timescale: u32) {
    let mut entries: Vec<(u64, u64, u32)> = Vec::new();
    for segment in &run.segments {
        let Some(summary) = segment.complete else {
            continue;
        };
        let start = media_ticks(summary.start_dts_ms, timescale);
        let length = rescale(
            summary.duration.ticks,
            summary.duration.timescale,
            timescale,
        );
        match entries.last_mut() {
            Some((t, d, r)) if *d == length && *t + *d * (u64::from(*r) + 1) == start => {
                *r += 1;
            }
            _ => entries.push((start, length, 0)),
        }
    }
    for (t, d, r) in entries {
        if r == 0 {
            let _ = writeln!(text, "            <S t=\"{t}\" d=\"{d}\"/>");
        } else {
            let _ = writeln!(text, "            <S t=\"{t}\" d=\"{d}\" r=\"{r}\"/>");
        }
    }
}

/// The track's peak bit rate over the run's segments, bits per second (at least 1).
fn peak_bandwidth(run: &Run<'_>, track: TrackKind) -> u64 {
    run.segments
        .iter()
        .map(|segment| {
            let bytes: usize = segment
                .parts
                .iter()
                .filter_map(|p| p.track(track))
                .map(|b| b.len())
                .sum();
            bits_per_second(bytes as u64, segment.duration().as_millis())
        })
        .max()
        .unwrap_or(0)
        .max(1)
}

/// Session time `millis` as the media carries it (`tfdt`, with
/// [`cmaf::PRESENTATION_DELAY_MS`] added), on `timescale`.
fn media_ticks(millis: u64, timescale: u32) -> u64 {
    rescale(
        millis.saturating_add(cmaf::PRESENTATION_DELAY_MS),
        1_000,
        timescale,
    )
}

fn rescale(value: u64, from: u32, to: u32) -> u64 {
    let scaled = u128::from(value) * u128::from(to) / u128::from(from.max(1));
    u64::try_from(scaled).unwrap_or(u64::MAX)
}

/// Milliseconds as an `xs:duration` in seconds (`PT2S`, `PT1800000000.123S`).
fn duration(millis: u64) -> String {
    if millis.is_multiple_of(1_000) {
        format!("PT{}S", millis / 1_000)
    } else {
        format!("PT{}S", seconds(millis))
    }
}

#[cfg(test)]
mod tests;
