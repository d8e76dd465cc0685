//! The multivariant playlists of a stream (RFC 8216bis §4.4.6): the LL-HLS variant with its
//! `CODECS` (from the init segments' codec strings), `RESOLUTION`, `FRAME-RATE` and
//! `BANDWIDTH` (the peak measured over the log's complete segments, both tracks, as
//! §4.4.6.2 asks), audio as an `EXT-X-MEDIA` rendition; and, as an alternative, the MPEG-TS
//! variant. An audio-only stream's variant is its audio playlist. The MPEG-TS variant is
//! offered only when it carries what the LL one does: not for HEVC video, which only CMAF
//! carries (ADR 19).

use std::fmt::Write as _;

use super::{LogSegment, PartLog, names};
use crate::cmaf::{Init, TrackKind};
use crate::hls::{SegmentSize, peak_bandwidth};

/// The MPEG-TS variant offered beside the LL one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsVariant {
    /// Its media playlist, relative to the multivariant playlist.
    pub uri: String,
    /// Its measured peak bit rate, bits per second.
    pub bandwidth: u64,
}

/// Bit rates measured over the log, bits per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rates {
    peak: u64,
    average: u64,
}

/// Renders the multivariant playlist; `None` before the log has an init segment. With `ts`,
/// the MPEG-TS variant is listed after the LL one, unless the video is not H.264.
pub fn render(log: &PartLog, ts: Option<&TsVariant>) -> Option<String> {
    let video = init(log, TrackKind::Video);
    let audio = init(log, TrackKind::Audio);
    if video.is_none() && audio.is_none() {
        return None;
    }
    // The TS rendition writes H.264 only; an HEVC publish's TS segments have no video.
    let ts = ts.filter(|_| video.is_none_or(|init| init.codec.starts_with("avc1")));
    // What the LL and the TS variants share: CODECS, RESOLUTION, FRAME-RATE.
    let mut shared = codecs_and_resolution(
        video.map(|init| init.codec.as_str()),
        audio.map(|init| init.codec.as_str()),
        video.and_then(|init| init.dimensions),
    );
    if video.is_some()
        && let Some(rate) = frame_rate_millis(log)
    {
        let _ = write!(shared, ",FRAME-RATE={}", crate::text::seconds(rate));
    }
    let rates = rates(log);
    let mut text = String::from("#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let attributes = format!(
        "BANDWIDTH={},AVERAGE-BANDWIDTH={},{shared}",
        rates.peak, rates.average
    );
    write_track_variant(&mut text, &attributes, video.is_some(), audio.is_some());
    if let Some(ts) = ts {
        let _ = writeln!(
            text,
            "#EXT-X-STREAM-INF:BANDWIDTH={},{shared}\n{}",
            ts.bandwidth.max(1),
            ts.uri
        );
    }
    Some(text)
}

/// `CODECS` (the tracks' codec strings, video first) and, for video of a known size,
/// `RESOLUTION`: the attributes every variant of a stream, or of a recording, carries.
pub(crate) fn codecs_and_resolution(
    video_codec: Option<&str>,
    audio_codec: Option<&str>,
    resolution: Option<(u32, u32)>,
) -> String {
    let codecs: Vec<&str> = [video_codec, audio_codec].into_iter().flatten().collect();
    let mut attributes = format!("CODECS=\"{}\"", codecs.join(","));
    if let Some((width, height)) = resolution {
        // Writing to a String cannot fail.
        let _ = write!(attributes, ",RESOLUTION={width}x{height}");
    }
    attributes
}

/// Writes the variant of separate CMAF tracks (`attributes` are its `EXT-X-STREAM-INF`
/// attributes): with video and audio, the audio track is an `EXT-X-MEDIA` rendition of the
/// video variant (players need both tracks together); without video the audio playlist is
/// the variant itself.
pub(crate) fn write_track_variant(
    text: &mut String,
    attributes: &str,
    has_video: bool,
    has_audio: bool,
) {
    let with_audio = has_video && has_audio;
    if with_audio {
        let _ = writeln!(
            text,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",DEFAULT=YES,\
             AUTOSELECT=YES,URI=\"{}\"",
            names::playlist(TrackKind::Audio)
        );
    }
    let _ = write!(text, "#EXT-X-STREAM-INF:{attributes}");
    if with_audio {
        text.push_str(",AUDIO=\"audio\"");
    }
    let variant = if has_video {
        TrackKind::Video
    } else {
        TrackKind::Audio
    };
    let _ = writeln!(text, "\n{}", names::playlist(variant));
}

/// The newest init segment of `track`: the newest session's, or that of the newest segment
/// that has the track.
fn init(log: &PartLog, track: TrackKind) -> Option<&Init> {
    log.newest_init(track).or_else(|| {
        let segment = log
            .segments()
            .iter()
            .rev()
            .find(|s| s.init_version(track).is_some())?;
        log.init(segment.epoch, track, segment.init_version(track)?)
    })
}

/// Bytes and milliseconds of `segment` (its parts so far while open).
fn measure(segment: &LogSegment) -> (u64, u64) {
    let bytes: usize = segment
        .parts
        .iter()
        .map(|p| p.video.as_ref().map_or(0, |b| b.len()) + p.audio.as_ref().map_or(0, |b| b.len()))
        .sum();
    (bytes as u64, segment.duration().as_millis())
}

pub(super) fn bits_per_second(bytes: u64, millis: u64) -> u64 {
    if millis == 0 {
        return 0;
    }
    (u128::from(bytes) * 8_000).div_ceil(u128::from(millis)) as u64
}

/// The peak and average over the complete segments; before any, over the parts so far.
fn rates(log: &PartLog) -> Rates {
    let complete: Vec<(u64, u64)> = log
        .segments()
        .iter()
        .filter(|s| s.complete.is_some())
        .map(measure)
        .collect();
    let measured = if complete.is_empty() {
        log.segments().iter().map(measure).collect()
    } else {
        complete
    };
    let sizes: Vec<SegmentSize> = measured
        .iter()
        .map(|&(bytes, duration_ms)| SegmentSize { bytes, duration_ms })
        .collect();
    let peak = peak_bandwidth(&sizes, 1);
    let (bytes, millis) = measured
        .iter()
        .fold((0, 0), |(b, m), &(bytes, millis)| (b + bytes, m + millis));
    Rates {
        peak,
        average: bits_per_second(bytes, millis).clamp(1, peak),
    }
}

/// Video frames per second, in thousandths: the video samples of the parts over their
/// duration (complete segments; before any, the parts so far).
pub(super) fn frame_rate_millis(log: &PartLog) -> Option<u64> {
    let with_video = |s: &&LogSegment| s.video_init.is_some();
    let complete: Vec<&LogSegment> = log
        .segments()
        .iter()
        .filter(|s| s.complete.is_some())
        .filter(with_video)
        .collect();
    let segments = if complete.is_empty() {
        log.segments().iter().filter(with_video).collect()
    } else {
        complete
    };
    let (mut samples, mut ticks, mut timescale) = (0u64, 0u64, 0u32);
    for part in segments.iter().flat_map(|s| &s.parts) {
        if part.video.is_some() {
            samples += u64::from(part.video_samples);
            ticks += part.duration.ticks;
            timescale = part.duration.timescale;
        }
    }
    if ticks == 0 || timescale == 0 {
        return None;
    }
    let rate = u128::from(samples) * u128::from(timescale) * 1_000;
    u64::try_from((rate + u128::from(ticks) / 2) / u128::from(ticks)).ok()
}

#[cfg(test)]
mod tests;
