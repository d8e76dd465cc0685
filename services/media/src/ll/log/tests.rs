//! The part log fed by a real CMAF packager: what it holds, replays, order checks, sessions,
//! cut-offs, rewinds, retention and the byte cap.

use ferrocast_base::{Epoch, Msn};

use super::*;
use crate::cmaf::TrackKind;
use crate::ll::fixtures::{Publisher, log_of, session_events};
use crate::ll::{LogConfig, LogEvent, SessionInfo};

fn parts_of(events: &[LogEvent], track: TrackKind) -> Vec<&cmaf::Part> {
    events
        .iter()
        .filter_map(|e| match e {
            LogEvent::Part(p) if p.track == track => Some(p),
            _ => None,
        })
        .collect()
}

use crate::cmaf;

#[test]
fn a_packager_run_fills_segments_parts_and_inits() {
    let mut publisher = Publisher::new(3, 100);
    let events = session_events(&mut publisher, 7_000);
    let log = log_of(LogConfig::default(), &events);

    let segments = log.segments();
    assert_eq!(
        segments.len(),
        4,
        "three complete 2 s segments and the open one"
    );
    for (seq, segment) in segments.iter().enumerate() {
        assert_eq!(segment.seq, seq as u64);
        assert_eq!(segment.msn, Msn(100 + seq as u64));
        assert_eq!(segment.epoch, Epoch(3));
        assert!(!segment.discontinuity);
        assert_eq!((segment.video_init, segment.audio_init), (Some(0), Some(0)));
    }
    for segment in &segments[..3] {
        let summary = segment.complete.expect("complete");
        assert_eq!(summary.parts as usize, segment.parts.len());
        assert_eq!(segment.duration().as_millis(), 2_000);
        let sum: u64 = segment.parts.iter().map(|p| p.duration.ticks).sum();
        assert_eq!(sum, summary.duration.ticks);
        let start = i64::try_from(summary.start_dts_ms).unwrap();
        assert_eq!(
            segment.program_date_time_ms,
            publisher.info.started_at_unix_ms + start
        );
    }
    let open = &segments[3];
    assert!(open.complete.is_none());
    assert_eq!(
        open.program_date_time_ms,
        publisher.info.started_at_unix_ms + 6_000,
        "an open segment starts where the one before ended"
    );
    assert_eq!(log.listed().len(), 4, "8 s window: all listed");

    // Bytes: parts and segments as the packager made them.
    let video = parts_of(&events, TrackKind::Video);
    let first = video[0];
    assert_eq!(
        log.part_bytes(Epoch(3), 0, 0, TrackKind::Video),
        Some(first.data.clone())
    );
    let of_segment: Vec<u8> = video
        .iter()
        .filter(|p| p.seq == 1)
        .flat_map(|p| p.data.to_vec())
        .collect();
    assert_eq!(
        log.segment_bytes(Epoch(3), 1, TrackKind::Video).unwrap(),
        of_segment
    );
    assert_eq!(log.segment_bytes(Epoch(3), 3, TrackKind::Video), None);
    assert_eq!(log.part_bytes(Epoch(4), 0, 0, TrackKind::Video), None);
    assert_eq!(
        log.newest_init(TrackKind::Audio).unwrap().codec,
        "mp4a.40.2"
    );
    assert!(log.init(Epoch(3), TrackKind::Video, 0).is_some());
    assert!(log.init(Epoch(3), TrackKind::Video, 1).is_none());
    let media: usize = events
        .iter()
        .map(|e| match e {
            LogEvent::Part(p) => p.data.len(),
            LogEvent::Init(i) => i.data.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(log.bytes(), media);
}

#[test]
fn a_replay_rebuilds_an_equal_log_and_changes_nothing_when_applied_again() {
    let mut publisher = Publisher::new(5, 0);
    let mut events = session_events(&mut publisher, 4_500);
    for stop_ms in [0, 1_234, 5_000] {
        events.extend(publisher.advance(stop_ms));
        let mut log = log_of(LogConfig::default(), &events);
        let replay = log.replay();
        let rebuilt = log_of(LogConfig::default(), &replay);
        assert_eq!(rebuilt, log, "after {stop_ms} ms more");
        assert_eq!(rebuilt.replay(), replay);

        let version = log.version();
        for event in replay {
            log.apply(event).unwrap();
        }
        assert_eq!(log.version(), version, "a second replay changes nothing");
        assert_eq!(log, rebuilt);
    }
    events.extend(publisher.finish());
    let log = log_of(LogConfig::default(), &events);
    assert!(log.ended());
    assert_eq!(log_of(LogConfig::default(), &log.replay()), log);
}

#[test]
fn an_edge_that_joins_mid_segment_holds_what_the_origin_holds() {
    let mut publisher = Publisher::new(1, 10);
    let mut events = session_events(&mut publisher, 3_100);
    let mut origin = log_of(LogConfig::default(), &events);
    let mut edge = log_of(LogConfig::default(), &origin.replay());
    let later = publisher.advance(2_500);
    for event in &later {
        origin.apply(event.clone()).unwrap();
        edge.apply(event.clone()).unwrap();
    }
    events.extend(later);
    assert_eq!(edge, origin);
    assert_eq!(edge, log_of(LogConfig::default(), &events));
}

#[test]
fn events_out_of_order_are_refused_and_change_nothing() {
    let mut publisher = Publisher::new(1, 0);
    let events = session_events(&mut publisher, 2_500);
    let mut log = PartLog::new(LogConfig::default());
    assert!(
        log.apply(events[1].clone()).is_err(),
        "an init before its session"
    );

    // Skip one part in the middle of a segment.
    let skip = events
        .iter()
        .position(|e| matches!(e, LogEvent::Part(p) if p.seq == 0 && p.index == 2))
        .unwrap();
    let mut log = log_of(LogConfig::default(), &events[..skip]);
    let before = log.clone();
    let next_index = events[skip + 1..]
        .iter()
        .find(|e| matches!(e, LogEvent::Part(p) if p.index == 3))
        .unwrap();
    assert_eq!(
        log.apply(next_index.clone()),
        Err(LogError::OutOfOrder("a part whose predecessor is missing"))
    );
    let end = events
        .iter()
        .find(|e| matches!(e, LogEvent::SegmentEnd(_)))
        .unwrap();
    assert!(log.apply(end.clone()).is_err(), "an end before its parts");
    assert_eq!(log, before);
    assert_eq!(log.version(), before.version());
}

#[test]
fn a_segment_end_whose_duration_is_not_its_parts_is_refused_and_changes_nothing() {
    let mut publisher = Publisher::new(1, 0);
    let events = session_events(&mut publisher, 2_500);
    let at = events
        .iter()
        .position(|e| matches!(e, LogEvent::SegmentEnd(_)))
        .unwrap();
    let mut log = log_of(LogConfig::default(), &events[..at]);
    let before = log.clone();
    let LogEvent::SegmentEnd(summary) = &events[at] else {
        unreachable!()
    };
    let mut longer = *summary;
    longer.duration.ticks += 1;
    assert_eq!(
        log.apply(LogEvent::SegmentEnd(longer)),
        Err(LogError::Inconsistent(
            "a segment end whose duration is not its parts'"
        ))
    );
    assert_eq!(log, before);
    assert!(log.apply(events[at].clone()).is_ok());
}

#[test]
fn cut_off_closes_the_open_segment_and_the_next_session_is_a_discontinuity() {
    let mut first = Publisher::new(1, 0);
    let mut events = session_events(&mut first, 2_700);
    let mut log = log_of(LogConfig::default(), &events);
    let open_parts = log.segments()[1].parts.len();
    let held = log.bytes();
    let version = log.version();
    log.cut_off();
    assert!(log.version() > version);
    assert_eq!(log.bytes(), held, "nothing is dropped");
    let cut = &log.segments()[1];
    let summary = cut.complete.expect("closed");
    assert_eq!(summary.parts as usize, open_parts);
    let sum: u64 = cut.parts.iter().map(|p| p.duration.ticks).sum();
    assert_eq!(summary.duration.ticks, sum);
    assert_eq!(summary.start_dts_ms, 2_000);
    assert!(log.has_part(Msn(1), 0));

    // The rest of the dead session's segment is ignored; the next session follows.
    for event in first.advance(500) {
        log.apply(event).unwrap();
    }
    assert_eq!(log.segments().len(), 2);
    let mut second = Publisher::new(2, 2);
    let next = session_events(&mut second, 2_500);
    for event in &next {
        log.apply(event.clone()).unwrap();
    }
    let segments = log.segments();
    assert_eq!(segments.len(), 4);
    assert_eq!((segments[2].epoch, segments[2].msn), (Epoch(2), Msn(2)));
    assert!(segments[2].discontinuity);
    assert!(!segments[3].discontinuity);
    assert_eq!(log.session().unwrap().epoch, Epoch(2));
    assert_eq!(log.listed().len(), 4);
    assert_eq!(log.discontinuities_before(3), 1);

    // An older session's events are ignored from now on.
    events.push(first.start());
    let version = log.version();
    for event in events {
        log.apply(event).unwrap();
    }
    assert_eq!(log.version(), version);
}

#[test]
fn a_session_after_a_gap_is_listed_alone_and_a_rewind_drops_segments() {
    let mut first = Publisher::new(1, 0);
    let events = session_events(&mut first, 6_500);
    let mut log = log_of(LogConfig::default(), &events);
    assert_eq!(log.segments().len(), 4);

    // A takeover whose origin announced msn 4 and 5 and died: the next session starts at 6.
    log.cut_off();
    let mut gap = Publisher::new(2, 6);
    for event in session_events(&mut gap, 2_500) {
        log.apply(event).unwrap();
    }
    assert_eq!(log.segments().len(), 6);
    let listed = log.listed();
    assert_eq!(listed.len(), 2, "never listed across the gap");
    assert_eq!((listed[0].msn, listed[0].discontinuity), (Msn(6), true));
    assert!(log.part_bytes(Epoch(1), 0, 0, TrackKind::Video).is_some());

    // A takeover that did not see msn 6 and 7: they are dropped.
    log.cut_off();
    let mut rewind = Publisher::new(3, 6);
    for event in session_events(&mut rewind, 500) {
        log.apply(event).unwrap();
    }
    let msns: Vec<u64> = log.segments().iter().map(|s| s.msn.get()).collect();
    assert_eq!(msns, [0, 1, 2, 3, 6]);
    assert_eq!(log.segments()[4].epoch, Epoch(3));
    assert!(log.init(Epoch(2), TrackKind::Video, 0).is_none());
}

#[test]
fn an_absurd_target_duration_saturates_the_window_instead_of_panicking() {
    // Found by the relay_parts fuzz target: a target near u64::MAX milliseconds.
    let config = LogConfig {
        window_ms: 6_000,
        max_bytes: usize::MAX,
    };
    let session = SessionInfo {
        epoch: Epoch(1),
        first_msn: Msn(0),
        started_at_unix_ms: 0,
        part_target_ms: 334,
        target_duration_ms: u64::MAX - 1,
    };
    assert_eq!(window::window_ms(&config, Some(&session)), u64::MAX);
}

#[test]
fn segments_leave_after_the_window_and_the_margin_and_the_cap_holds() {
    let config = LogConfig {
        window_ms: 6_000,
        max_bytes: usize::MAX,
    };
    let mut publisher = Publisher::new(1, 0);
    let mut log = log_of(config, &session_events(&mut publisher, 0));
    let mut most = 0;
    for _ in 0..60 {
        for event in publisher.advance(1_000) {
            log.apply(event).unwrap();
        }
        let listed = log.listed();
        let complete_ms: u64 = listed
            .iter()
            .filter(|s| s.complete.is_some())
            .map(|s| s.duration().as_millis())
            .sum();
        let held_ms: u64 = log
            .segments()
            .iter()
            .map(|s| s.duration().as_millis())
            .sum();
        if log.segments().len() > listed.len() {
            assert!(complete_ms >= 6_000, "a full window before any leaves");
        }
        most = most.max(log.segments().len());
        assert!(held_ms <= 20_000, "{held_ms} ms held");
    }
    assert_eq!(
        log.listed().len(),
        4,
        "three complete segments and the open one"
    );
    // A segment leaves the listing with 6 s after it and stays until 18 s follow it (twice
    // the window, its own 2 s and two targets): itself, eight complete and the open one.
    assert_eq!(most, 10, "segments stay for the §6.2.2 margin");
    assert_eq!(log.segments()[0].msn, Msn(20), "msn 29 is open");

    // The cap: the oldest go first, the open segment stays.
    let capped = LogConfig {
        window_ms: 6_000,
        max_bytes: 100_000,
    };
    let mut capped_log = log_of(capped, &log.replay());
    assert!(capped_log.bytes() <= 100_000);
    assert!(capped_log.segments().len() < log.segments().len());
    assert_eq!(capped_log.segments().last(), log.segments().last());
    let tiny = LogConfig {
        window_ms: 6_000,
        max_bytes: 1,
    };
    capped_log = log_of(tiny, &log.replay());
    assert_eq!(capped_log.segments().len(), 1);
}

#[test]
fn a_part_exists_for_blocking_once_every_track_has_it() {
    let mut publisher = Publisher::new(1, 0);
    let events = session_events(&mut publisher, 1_000);
    let video_part_1 = events
        .iter()
        .position(|e| matches!(e, LogEvent::Part(p) if p.index == 1 && p.track == TrackKind::Video))
        .unwrap();
    let mut log = log_of(LogConfig::default(), &events[..=video_part_1]);
    assert!(log.has_part(Msn(0), 0));
    assert!(!log.has_part(Msn(0), 1), "its audio part is not there yet");
    assert_eq!(log.segments()[0].settled_parts(TrackKind::Video), 2);
    assert_eq!(log.segments()[0].settled_parts(TrackKind::Audio), 1);
    log.apply(events[video_part_1 + 1].clone()).unwrap();
    assert!(log.has_part(Msn(0), 1));
    assert!(!log.has_part(Msn(1), 0));

    let mut publisher = Publisher::new(1, 0);
    let log = log_of(LogConfig::default(), &session_events(&mut publisher, 2_500));
    let parts = log.segments()[0].parts.len() as u32;
    assert!(log.has_part(Msn(0), parts), "part 0 of the next segment");
    assert!(log.has_part(Msn(1), 0));
    assert!(!log.has_part(Msn(1), 1));
}
