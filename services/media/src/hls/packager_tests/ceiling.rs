//! The target duration never changes (RFC 8216 §6.2.1): every segment rounds to at most
//! [`target_duration_s`], whatever the encoder's keyframe interval or timestamp gaps.

use super::*;
use crate::hls::{Playlist, PlaylistSegment, render, target_duration_s};

/// Feeds `frames` video frames `step_ms` apart from `start_ms`, a keyframe every `gop`
/// frames from the first; returns the segments closed meanwhile.
fn feed(
    packager: &mut Packager,
    start_ms: u64,
    frames: u64,
    gop: u64,
    step_ms: u64,
) -> Vec<Segment> {
    (0..frames)
        .flat_map(|i| {
            let keyframe = i % gop == 0;
            let body = video(keyframe, 0, 50);
            packager
                .push_video_body(start_ms + i * step_ms, &body)
                .unwrap()
        })
        .collect()
}

fn target_lines(segments: &[Segment], target_s: u64) -> Vec<String> {
    let listed: Vec<PlaylistSegment> = (0u64..)
        .zip(segments)
        .map(|(msn, segment)| PlaylistSegment {
            msn,
            duration_ms: segment.duration_ms,
            program_date_time_ms: 1_700_000_000_000 + segment.start_dts_ms as i64,
            discontinuity: false,
        })
        .collect();
    // Every sliding window a player would see, as the edge renders it.
    (1..=listed.len())
        .map(|newest| {
            let text = render(&Playlist {
                segments: &listed[..newest],
                discontinuity_base: 0,
                window: 3,
                min_target_duration_s: target_s,
                ended: false,
            });
            let line = text
                .lines()
                .find(|l| l.starts_with("#EXT-X-TARGETDURATION:"));
            line.unwrap().to_owned()
        })
        .collect()
}

/// The user report of issue 13: `EXT-X-TARGETDURATION` went 8 → 2 after a long-GOP encoder
/// switched to 2 s keyframes, because it was computed from the listed segments.
#[test]
fn a_long_gop_then_a_short_one_never_changes_the_target_duration() {
    let mut packager = configured(2_000, true);
    // 8.3 s GOPs (x264's default keyint 250 at 30 fps), then 2 s GOPs.
    let mut segments = feed(&mut packager, 0, 750, 250, 33);
    segments.extend(feed(&mut packager, 750 * 33, 600, 61, 33));
    segments.extend(packager.finish());

    let target_s = target_duration_s(2_000);
    for segment in &segments {
        assert!(
            (segment.duration_ms + 500) / 1000 <= target_s,
            "EXTINF {} ms rounds above {target_s} s",
            segment.duration_ms
        );
    }
    let lines = target_lines(&segments, target_s);
    assert!(
        lines.iter().all(|line| line == "#EXT-X-TARGETDURATION:2"),
        "{lines:?}"
    );
    // The long GOPs were cut before their keyframes came; each keyframe still starts a
    // segment, so a player joining finds one at a segment's start.
    assert!(segments.iter().any(|s| !s.starts_with_keyframe));
    let keyframe_starts = segments.iter().filter(|s| s.starts_with_keyframe).count();
    assert_eq!(
        keyframe_starts,
        3 + 10,
        "every keyframe of both encoders opens a segment"
    );
    // Nothing is lost: the segments join up end to start.
    for pair in segments.windows(2) {
        assert_eq!(
            pair[0].start_dts_ms + pair[0].duration_ms,
            pair[1].start_dts_ms
        );
    }
    assert_eq!(units(&segments).len(), 1_350);
}

#[test]
fn keyframe_intervals_just_over_the_target_are_cut_at_their_keyframes() {
    // 2.4 s GOPs (keyint 60 at 25 fps): 2.4 rounds to 2, so nothing is forced.
    let mut packager = configured(2_000, true);
    let mut segments = feed(&mut packager, 0, 300, 60, 40);
    segments.extend(packager.finish());
    assert_eq!(segments.len(), 5);
    assert!(segments.iter().all(|s| s.starts_with_keyframe));
    assert!(segments[..4].iter().all(|s| s.duration_ms == 2_400));
}

#[test]
fn a_timestamp_gap_is_listed_at_the_ceiling() {
    let mut packager = configured(2_000, true);
    let mut segments = feed(&mut packager, 0, 30, 30, 33);
    // A 6 s hole in the timestamps (under the normalizer's 10 s jump limit, so kept).
    segments.extend(feed(&mut packager, 7_000, 90, 30, 33));
    segments.extend(packager.finish());
    assert_eq!(segments[0].duration_ms, 2_499, "{segments:?}");
    assert_eq!(segments[1].start_dts_ms, 7_000);
    assert!(segments.iter().all(|s| s.duration_ms <= 2_499));
}

#[test]
fn target_duration_is_the_target_rounded_up() {
    assert_eq!(target_duration_s(2_000), 2);
    assert_eq!(target_duration_s(2_001), 3);
    assert_eq!(target_duration_s(3_500), 4);
    assert_eq!(target_duration_s(500), 1);
    assert_eq!(target_duration_s(0), 1);
}
