//! Rendering, windows and listing times of media playlists, checked line by line.

use super::*;
use proptest::prelude::*;

const GOLDEN: &str = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:11
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-PROGRAM-DATE-TIME:2026-11-21T07:07:40.123Z
#EXTINF:2.002,
11.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-11-21T07:08:00.000Z
#EXTINF:3.500,
12.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-21T07:08:03.500Z
#EXTINF:0.040,
13.ts
#EXT-X-ENDLIST
";

fn segment(msn: u64, duration_ms: u64, pdt: i64, discontinuity: bool) -> PlaylistSegment {
    PlaylistSegment {
        msn,
        duration_ms,
        program_date_time_ms: pdt,
        discontinuity,
    }
}

#[test]
fn golden_render() {
    let segments = [
        segment(10, 2_000, 1_795_244_858_123, true),
        segment(11, 2_002, 1_795_244_860_123, false),
        segment(12, 3_500, 1_795_244_880_000, true),
        segment(13, 40, 1_795_244_883_500, false),
    ];
    let playlist = Playlist {
        segments: &segments,
        discontinuity_base: 2,
        window: 3,
        min_target_duration_s: 2,
        ended: true,
    };
    assert_eq!(render(&playlist), GOLDEN);
    assert_eq!(render(&playlist), render(&playlist));
}

#[test]
fn a_long_playlist_offers_delta_updates_that_skip_all_but_its_end() {
    // Two hours of 2 s segments, one discontinuity early on.
    let segments: Vec<PlaylistSegment> = (0..3600u64)
        .map(|i| segment(100 + i, 2_000, 1_795_244_858_000 + 2_000 * i as i64, i == 7))
        .collect();
    let playlist = Playlist {
        segments: &segments,
        discontinuity_base: 1,
        window: segments.len(),
        min_target_duration_s: 2,
        ended: false,
    };
    let offered = Delta {
        can_skip_until_s: Some(12),
        skip: false,
    };
    let full = render_with(&playlist, offered);
    let delta = render_with(
        &playlist,
        Delta {
            skip: true,
            ..offered
        },
    );
    assert!(full.starts_with(
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=12\n\
         #EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
    ));
    assert_eq!(full.matches("#EXTINF").count(), 3600);
    // Kept: the segments that start less than 12 s before the end (6 of 2 s each).
    let head = "#EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n\
                #EXT-X-SKIP:SKIPPED-SEGMENTS=3594\n";
    assert!(delta.contains(head), "{delta}");
    assert_eq!(delta.matches("#EXTINF").count(), 6);
    assert!(delta.contains("\n3694.ts\n") && !delta.contains("\n3693.ts\n"));
    assert!(
        !delta.contains("#EXT-X-DISCONTINUITY\n"),
        "the skipped one's tag goes too"
    );
    // The cost per request that docs/dvr.md quotes.
    eprintln!(
        "measured: 2 h DVR playlist {} bytes, delta update {} bytes",
        full.len(),
        delta.len()
    );
    assert!(full.len() > 200_000 && delta.len() < 1_000);
    // Without the offer, a request for a delta gets the full playlist, version 3.
    let plain = render_with(
        &playlist,
        Delta {
            can_skip_until_s: None,
            skip: true,
        },
    );
    assert_eq!(plain, render(&playlist));
    assert!(plain.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n"));
}

#[test]
fn empty_and_extreme_inputs_do_not_panic() {
    let empty = Playlist {
        segments: &[],
        discontinuity_base: 4,
        window: 5,
        min_target_duration_s: 2,
        ended: false,
    };
    assert_eq!(
        render(&empty),
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY-SEQUENCE:4\n"
    );
    let segments = [
        segment(u64::MAX, u64::MAX, i64::MIN, true),
        segment(0, 0, i64::MAX, false),
    ];
    let text = render(&Playlist {
        segments: &segments,
        discontinuity_base: u64::MAX,
        window: 0,
        min_target_duration_s: 0,
        ended: true,
    });
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:1\n"));
    let text = render(&Playlist {
        segments: &segments,
        discontinuity_base: 0,
        window: 9,
        min_target_duration_s: 0,
        ended: false,
    });
    assert!(text.contains("1970-01-01T00:00:00.000Z"));
    assert!(text.contains("9999-12-31T23:59:59.999Z"));
}

#[test]
fn target_duration_uses_rounded_extinf() {
    let segments = [segment(0, 6_499, 0, false), segment(1, 6_500, 0, false)];
    let one = render(&Playlist {
        segments: &segments[..1],
        discontinuity_base: 0,
        window: 5,
        min_target_duration_s: 1,
        ended: false,
    });
    assert!(one.contains("#EXT-X-TARGETDURATION:6\n"));
    let two = render(&Playlist {
        segments: &segments,
        discontinuity_base: 0,
        window: 5,
        min_target_duration_s: 1,
        ended: false,
    });
    assert!(two.contains("#EXT-X-TARGETDURATION:7\n"));
}

/// What a client sees in one rendered playlist.
#[derive(Debug)]
struct Parsed {
    media_sequence: u64,
    discontinuity_sequence: u64,
    /// (msn, global discontinuity number, duration text)
    segments: Vec<(u64, u64, String)>,
}

fn parse(text: &str) -> Parsed {
    let header = |name: &str| -> u64 {
        let prefix = format!("#EXT-X-{name}:");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap()
            .parse()
            .unwrap()
    };
    let media_sequence = header("MEDIA-SEQUENCE");
    let discontinuity_sequence = header("DISCONTINUITY-SEQUENCE");
    let target = header("TARGETDURATION");
    let mut discontinuity = discontinuity_sequence;
    let mut expected_msn = media_sequence;
    let mut duration = String::new();
    let mut segments = Vec::new();
    for line in text.lines() {
        assert!(!line.ends_with(' '));
        if line == "#EXT-X-DISCONTINUITY" {
            discontinuity += 1;
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d.trim_end_matches(',').to_string();
            let secs: f64 = duration.parse().unwrap();
            assert!(secs.round() as u64 <= target);
        } else if let Some(name) = line.strip_suffix(".ts") {
            let msn: u64 = name.parse().unwrap();
            assert_eq!(
                msn, expected_msn,
                "msn in playlist does not follow MEDIA-SEQUENCE"
            );
            expected_msn += 1;
            segments.push((msn, discontinuity, duration.clone()));
        }
    }
    Parsed {
        media_sequence,
        discontinuity_sequence,
        segments,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        duration_ms: u64,
        discontinuity: bool,
    },
    Trim(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..12_000, proptest::bool::weighted(0.2))
            .prop_map(|(duration_ms, discontinuity)| Op::Append { duration_ms, discontinuity }),
        1 => (0usize..6).prop_map(Op::Trim),
    ]
}

#[test]
fn late_segments_stay_shown_until_played_in_real_time() {
    let keep = 12_000;
    // Steady state: listed 100 ms after their media ended, every 2 s.
    let steady: Vec<(i64, i64)> = (0..12).map(|i| (i * 2_000 + 100, i * 2_000)).collect();
    let now = 11 * 2_000 + 100;
    // The window, or one more while the oldest's keep runs out.
    let shown = shown_count(&steady, 6, now, keep);
    assert!((6..=7).contains(&shown), "{shown}");
    // 8 segments that waited 16 s, listed together at `resume`.
    let resume = 40_000;
    let mut burst: Vec<(i64, i64)> = (0..4).map(|i| (i * 2_000 + 100, i * 2_000)).collect();
    burst.extend((4..12).map(|i| (resume, i * 2_000)));
    assert!(shown_count(&burst, 6, resume, keep) >= 8);
    // A player that stalled plays them from `resume` on: the last is still shown then.
    let played_last = resume + 7 * 2_000;
    assert!(shown_count(&burst, 6, played_last, keep) > 6);
    // The segment listed just before the outage (msn 3, on time, 16 s ago) is shown with
    // the late ones: no edge could show it while the index was unreachable.
    assert!(shown_from(&burst, 6, resume + 1_000, keep) <= 3);
    // Unknown listing times never widen the playlist.
    let unknown: Vec<(i64, i64)> = (0..12).map(|i| (0, i * 2_000)).collect();
    assert_eq!(shown_count(&unknown, 6, now, keep), 6);
}

proptest! {
    #[test]
    fn window_never_repeats_or_rewinds(ops in proptest::collection::vec(op(), 1..120), window in 1usize..8) {
        let mut retained: Vec<PlaylistSegment> = Vec::new();
        let mut discontinuity_base = 0u64;
        let mut next_msn = 0u64;
        let mut last_media_sequence = 0u64;
        let mut last_discontinuity_sequence = 0u64;
        let mut global: std::collections::HashMap<u64, (u64, String)> = Default::default();
        let mut highest_shown: Option<u64> = None;
        for op in ops {
            match op {
                Op::Append { duration_ms, discontinuity } => {
                    retained.push(segment(next_msn, duration_ms, 1_700_000_000_000 + next_msn as i64 * 1000, discontinuity));
                    next_msn += 1;
                }
                Op::Trim(count) => {
                    let count = count.min(retained.len());
                    discontinuity_base += retained.drain(..count).filter(|s| s.discontinuity).count() as u64;
                }
            }
            if retained.is_empty() {
                // Nothing to serve (callers answer 404); an empty list
                // carries no sequence position to check.
                continue;
            }
            let text = render(&Playlist { segments: &retained, discontinuity_base, window, min_target_duration_s: 1, ended: false });
            let parsed = parse(&text);
            prop_assert!(parsed.segments.len() <= window);
            prop_assert!(parsed.media_sequence >= last_media_sequence);
            prop_assert!(parsed.discontinuity_sequence >= last_discontinuity_sequence);
            last_media_sequence = parsed.media_sequence;
            last_discontinuity_sequence = parsed.discontinuity_sequence;
            for (msn, number, duration) in parsed.segments {
                // A segment that has left the window never comes back.
                if let Some(highest) = highest_shown {
                    prop_assert!(msn > highest || global.contains_key(&msn));
                }
                let entry = global.entry(msn).or_insert((number, duration.clone()));
                prop_assert_eq!(&*entry, &(number, duration));
                highest_shown = Some(highest_shown.map_or(msn, |h| h.max(msn)));
            }
        }
    }
}
