//! LL-HLS media playlists rendered from logs a real packager filled: what a player reads,
//! blocking requests, delta updates, sessions and the audio track.

use ferrocast_base::Msn;

use super::*;
use crate::ll::fixtures::{Publisher, log_of, session_events};
use crate::ll::{LogConfig, LogEvent, names};

fn full(log: &PartLog, track: TrackKind) -> String {
    match render(log, track, &Request::default()) {
        Answer::Playlist(text) => text,
        other => panic!("no playlist: {other:?}"),
    }
}

fn blocking(msn: u64, part: Option<u32>) -> Request {
    Request {
        msn: Some(Msn(msn)),
        part,
        skip: false,
    }
}

fn millis(value: &str) -> u64 {
    let (whole, fraction) = value.split_once('.').expect("three decimals");
    assert_eq!(fraction.len(), 3, "{value}");
    whole.parse::<u64>().unwrap() * 1_000 + fraction.parse::<u64>().unwrap()
}

/// Per segment with parts: the written part durations and the EXTINF (0 while open).
fn segments_with_parts(text: &str) -> Vec<(Vec<u64>, u64)> {
    let mut out = Vec::new();
    let mut parts = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#EXT-X-PART:DURATION=") {
            parts.push(millis(rest.split(',').next().unwrap()));
        } else if let Some(rest) = line.strip_prefix("#EXTINF:") {
            out.push((
                std::mem::take(&mut parts),
                millis(rest.trim_end_matches(',')),
            ));
        }
    }
    if !parts.is_empty() {
        out.push((parts, 0));
    }
    out
}

#[test]
fn a_live_playlist_lists_segments_parts_and_the_next_part() {
    let mut publisher = Publisher::new(7, 40);
    let log = log_of(LogConfig::default(), &session_events(&mut publisher, 7_000));
    let text = full(&log, TrackKind::Video);
    let head = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
        #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.002,CAN-SKIP-UNTIL=12.000\n\
        #EXT-X-PART-INF:PART-TARGET=0.334\n#EXT-X-MEDIA-SEQUENCE:40\n\
        #EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-MAP:URI=\"7/init.0.video.mp4\"\n\
        #EXT-X-PROGRAM-DATE-TIME:2027-01-15T15:00:00.000Z\n\
        #EXT-X-PART:DURATION=0.333,URI=\"7/0.0.video.m4s\",INDEPENDENT=YES\n\
        #EXT-X-PART:DURATION=0.333,URI=\"7/0.1.video.m4s\"\n\
        #EXT-X-PART:DURATION=0.334,URI=\"7/0.2.video.m4s\"\n";
    assert!(text.starts_with(head), "{text}");
    assert_eq!(text.matches("#EXTINF:2.000,\n").count(), 3);
    assert!(text.contains("#EXTINF:2.000,\n7/2.video.m4s\n#EXT-X-PROGRAM-DATE-TIME"));
    let segments = segments_with_parts(&text);
    assert_eq!(segments.len(), 4);
    for (parts, extinf) in &segments[..3] {
        assert_eq!(parts.iter().sum::<u64>(), *extinf);
        assert!(parts.iter().all(|&ms| ms <= 334));
    }
    let open = log.segments().last().unwrap();
    let next = open.parts.len();
    assert_eq!(segments[3].0.len(), next);
    assert!(text.ends_with(&format!(
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7/3.{next}.video.m4s\"\n"
    )));
    assert!(!text.contains("ENDLIST"));
}

#[test]
fn old_segments_lose_their_parts_and_a_delta_update_skips_them() {
    let mut publisher = Publisher::new(1, 0);
    let log = log_of(
        LogConfig::default(),
        &session_events(&mut publisher, 30_500),
    );
    let text = full(&log, TrackKind::Video);
    // A 16 s window: eight complete segments (msn 7..14) and the open one.
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:7\n"), "{text}");
    assert_eq!(text.matches("#EXTINF").count(), 8);
    // Parts for the segments that end within 6 s of the end: msn 12, 13, 14 and the open 15.
    assert!(!text.contains("\"1/11.0.video.m4s\""));
    assert!(text.contains("\"1/12.0.video.m4s\""));

    let delta = match render(
        &log,
        TrackKind::Video,
        &Request {
            skip: true,
            ..Request::default()
        },
    ) {
        Answer::Playlist(text) => text,
        other => panic!("{other:?}"),
    };
    // Segments that end 12 s or more before the end (10.333 s follow msn 9): msn 7 and 8.
    assert!(delta.contains("#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n#EXT-X-MAP:URI=\"1/init.0.video.mp4\"\n"), "{delta}");
    assert!(delta.len() < text.len());
    assert!(!delta.contains("1/8.video.m4s"));
    let tail = text.split_once("1/9.video.m4s").unwrap().1;
    assert!(delta.ends_with(tail));
}

#[test]
fn a_blocking_request_waits_and_is_answered_up_to_exactly_its_part() {
    let mut publisher = Publisher::new(2, 0);
    let mut events = session_events(&mut publisher, 2_500);
    let mut log = log_of(LogConfig::default(), &events);
    let request = blocking(1, Some(3));
    assert_eq!(render(&log, TrackKind::Video, &request), Answer::Wait);
    assert_eq!(render(&log, TrackKind::Audio, &request), Answer::Wait);
    let mut answered = None;
    for event in publisher.advance(2_000) {
        events.push(event.clone());
        log.apply(event).unwrap();
        if answered.is_none()
            && let Answer::Playlist(text) = render(&log, TrackKind::Audio, &request)
        {
            answered = Some((text, log.clone()));
        }
    }
    let (text, at) = answered.expect("answered once the part exists");
    assert!(at.has_part(Msn(1), 3));
    assert!(
        text.ends_with(
            "#EXT-X-PART:DURATION=0.333,URI=\"2/1.3.audio.m4s\",INDEPENDENT=YES\n\
         #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"2/1.4.audio.m4s\"\n"
        ),
        "{text}"
    );
    // An edge further ahead answers the same bytes.
    let ahead = log_of(LogConfig::default(), &{
        let mut more = events.clone();
        more.extend(publisher.advance(1_500));
        more
    });
    assert!(ahead.segments().len() > at.segments().len());
    assert_eq!(
        render(&ahead, TrackKind::Audio, &request),
        Answer::Playlist(text)
    );
    assert_eq!(
        render(&ahead, TrackKind::Video, &request),
        render(&at, TrackKind::Video, &request)
    );

    // Past the last part of a complete segment is part 0 of the next one.
    let parts = ahead.segments()[0].parts.len() as u32;
    assert_eq!(
        render(&ahead, TrackKind::Video, &blocking(0, Some(parts))),
        render(&ahead, TrackKind::Video, &blocking(1, Some(0)))
    );
    // _HLS_msn alone: up to the end of that segment.
    let Answer::Playlist(text) = render(&ahead, TrackKind::Video, &blocking(1, None)) else {
        panic!("segment 1 is complete");
    };
    assert!(text.ends_with(
        "#EXTINF:2.000,\n2/1.video.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"2/2.0.video.m4s\"\n"
    ));
}

#[test]
fn a_session_without_a_part_is_not_found_until_its_first_part() {
    let mut publisher = Publisher::new(1, 5);
    let events = session_events(&mut publisher, 100);
    let log = log_of(LogConfig::default(), &events);
    assert!(log.session().is_some() && log.segments().is_empty());
    assert_eq!(
        render(&log, TrackKind::Video, &Request::default()),
        Answer::NotFound
    );
    assert_eq!(
        render(&log, TrackKind::Video, &blocking(5, Some(0))),
        Answer::Wait
    );
    let mut later = events;
    later.extend(publisher.advance(400));
    let log = log_of(LogConfig::default(), &later);
    assert!(full(&log, TrackKind::Video).contains("#EXT-X-PART:"));
}

#[test]
fn invalid_and_unknown_requests() {
    let empty = PartLog::new(LogConfig::default());
    assert_eq!(
        render(&empty, TrackKind::Video, &Request::default()),
        Answer::NotFound
    );
    let mut publisher = Publisher::with(1, 5, true, false);
    let log = log_of(LogConfig::default(), &session_events(&mut publisher, 2_500));
    assert_eq!(
        render(&log, TrackKind::Audio, &Request::default()),
        Answer::NotFound
    );
    let part_alone = Request {
        part: Some(1),
        ..Request::default()
    };
    assert!(matches!(
        render(&log, TrackKind::Video, &part_alone),
        Answer::BadRequest(_)
    ));
    assert!(matches!(
        render(&log, TrackKind::Video, &blocking(9, None)),
        Answer::BadRequest(_)
    ));
    assert_eq!(
        render(&log, TrackKind::Video, &blocking(8, None)),
        Answer::Wait
    );
}

#[test]
fn the_audio_playlist_has_a_part_per_index_with_gaps() {
    let mut publisher = Publisher::new(1, 0);
    let mut events = session_events(&mut publisher, 3_500);
    let dropped = events
        .iter()
        .position(|e| {
            matches!(e, LogEvent::Part(p) if p.seq == 1 && p.index == 2 && p.track == TrackKind::Audio)
        })
        .unwrap();
    events.remove(dropped);
    let log = log_of(LogConfig::default(), &events);
    let video = full(&log, TrackKind::Video);
    let audio = full(&log, TrackKind::Audio);
    let durations = |text: &str| -> Vec<(Vec<u64>, u64)> { segments_with_parts(text) };
    assert_eq!(durations(&video), durations(&audio));
    assert!(audio.contains("URI=\"1/1.2.audio.m4s\",GAP=YES\n"));
    assert!(audio.contains("#EXT-X-MAP:URI=\"1/init.0.audio.mp4\"\n"));
    assert_eq!(audio.matches("GAP=YES").count(), 1);
}

#[test]
fn a_new_session_is_a_discontinuity_and_an_ended_one_has_no_hint() {
    let mut first = Publisher::new(1, 0);
    let mut events = session_events(&mut first, 4_500);
    events.extend(first.finish());
    let log = log_of(LogConfig::default(), &events);
    let ended = full(&log, TrackKind::Video);
    assert!(
        ended.ends_with("#EXTINF:0.499,\n1/2.video.m4s\n#EXT-X-ENDLIST\n"),
        "{ended}"
    );
    assert!(!ended.contains("PRELOAD-HINT"));
    assert_eq!(
        render(&log, TrackKind::Video, &blocking(4, Some(0))),
        Answer::Playlist(ended)
    );

    let mut second = Publisher::new(2, 3);
    events.extend(session_events(&mut second, 30_500));
    let log = log_of(LogConfig::default(), &events);
    let text = full(&log, TrackKind::Video);
    assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"), "{text}");
    assert!(!text.contains("#EXT-X-DISCONTINUITY\n"));
    assert!(text.contains("#EXT-X-MAP:URI=\"2/init.0.video.mp4\"\n"));

    let mut second = Publisher::new(2, 3);
    let mut events_early =
        events[..events.iter().position(|e| *e == second.start()).unwrap()].to_vec();
    events_early.extend(session_events(&mut second, 2_500));
    let text = full(
        &log_of(LogConfig::default(), &events_early),
        TrackKind::Video,
    );
    assert!(text.contains(
        "1/2.video.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"2/init.0.video.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2027-01-15T10:00:00.000Z\n"
    ), "{text}");
    assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:0\n"));
}

#[test]
fn every_playlist_of_a_stream_conforms_and_reloads_never_go_back() {
    use ferrocast_testkit::ll_conformance::{Sequence, check};

    let mut publisher = Publisher::new(1, 0);
    let mut log = PartLog::new(LogConfig::default());
    let mut events = session_events(&mut publisher, 0);
    events.extend(publisher.advance(40_000));
    events.extend(publisher.finish());
    let mut reloads = [Sequence::new(), Sequence::new()];
    let mut delta_smaller = 0;
    // Every preload hint shown, until the part it names is made or can no longer be.
    let mut hinted = std::collections::BTreeSet::new();
    let mut dangling = Vec::new();
    for event in events {
        log.apply(event).unwrap();
        hinted.retain(|name: &String| match settled(&log, name) {
            Some(made) => {
                if !made {
                    dangling.push(name.clone());
                }
                false
            }
            None => true,
        });
        for (track, sequence) in [TrackKind::Video, TrackKind::Audio]
            .iter()
            .zip(&mut reloads)
        {
            let Answer::Playlist(text) = render(&log, *track, &Request::default()) else {
                continue;
            };
            let facts = sequence
                .push(&text)
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            hinted.extend(facts.preload_hint.clone());
            let delta = Request {
                skip: true,
                ..Request::default()
            };
            let Answer::Playlist(delta) = render(&log, *track, &delta) else {
                panic!("no delta");
            };
            check(&delta).unwrap_or_else(|e| panic!("{e}\n{delta}"));
            if delta.len() < text.len() {
                delta_smaller += 1;
            }
            // The blocking request for the part the hint names, answered once it exists.
            let Some((msn, parts)) = facts.newest_position() else {
                continue;
            };
            let request = blocking(msn, Some(u32::try_from(parts).unwrap_or(u32::MAX)));
            match render(&log, *track, &request) {
                Answer::Wait => {}
                Answer::Playlist(text) => {
                    check(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(reloads[0].reloads() > 200);
    assert!(delta_smaller > 100);
    assert_eq!(
        dangling,
        Vec::<String>::new(),
        "hints naming parts never made"
    );
}

/// Whether the part `name` names was made (`Some(true)`), can no longer be (`Some(false)`:
/// its segment ended before it), or may still come (`None`).
fn settled(log: &PartLog, name: &str) -> Option<bool> {
    let Some(names::LlName::Part {
        epoch,
        seq,
        index,
        track,
    }) = names::parse(name)
    else {
        panic!("the hint {name} is not a part name");
    };
    if log.part_bytes(epoch, seq, index, track).is_some() {
        return Some(true);
    }
    let segment = log
        .segments()
        .iter()
        .find(|s| s.epoch == epoch && s.seq == seq)?;
    segment.complete.map(|_| false)
}
