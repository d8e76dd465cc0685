//! The cut rules one frame at a time; the packagers' own tests check them on whole
//! sessions, and the `cmaf_packager` fuzz target that both packagers cut alike.

use super::*;

const VIDEO: Video = Video {
    configured: true,
    dropped: false,
};

fn cutter(target_duration_ms: u64, expect_video: bool) -> Cutter {
    Cutter::new(PackagerConfig {
        target_duration_ms,
        expect_video,
        max_segment_bytes: 10_000,
    })
}

#[test]
fn video_mode_cuts_at_due_keyframes_only() {
    let mut cuts = cutter(1_000, true);
    assert_eq!(cuts.audio(0, 200, VIDEO), Action::Hold);
    assert_eq!(cuts.video(0, false, 200), Action::Skip);
    let first = Action::Cut {
        at_ms: 33,
        start: Start::RandomAccess,
    };
    assert_eq!(cuts.video(33, true, 200), first);
    assert_eq!(cuts.audio(40, 200, VIDEO), Action::Write);
    assert_eq!(cuts.video(500, true, 200), Action::Write);
    assert_eq!(cuts.video(966, false, 200), Action::Write);
    assert!(matches!(
        cuts.video(1_066, true, 200),
        Action::Cut { at_ms: 1_066, .. }
    ));
}

#[test]
fn a_changed_configuration_cuts_at_the_next_keyframe() {
    let mut cuts = cutter(10_000, true);
    assert!(matches!(cuts.video(0, true, 200), Action::Cut { .. }));
    cuts.reconfigured();
    assert_eq!(cuts.video(33, false, 200), Action::Write);
    assert!(matches!(
        cuts.video(66, true, 200),
        Action::Cut { at_ms: 66, .. }
    ));
    assert_eq!(cuts.video(99, true, 200), Action::Write);
}

#[test]
fn hard_limit_forces_a_cut_on_any_frame() {
    let mut cuts = cutter(60_000, true);
    assert!(matches!(cuts.video(0, true, 15_000), Action::Cut { .. }));
    assert_eq!(cuts.video(33, false, 5_000), Action::Write);
    assert_eq!(
        cuts.audio(40, 100, VIDEO),
        Action::Cut {
            at_ms: 40,
            start: Start::Forced
        }
    );
}

#[test]
fn the_ceiling_forces_a_cut_before_a_long_gop_rounds_above_the_target() {
    // Target 2 s: segments may be listed up to 2.499 s.
    let mut cuts = cutter(2_000, true);
    assert_eq!(cuts.ceiling_ms(), 2_499);
    assert!(matches!(
        cuts.video(0, true, 200),
        Action::Cut { at_ms: 0, .. }
    ));
    let mut forced = None;
    for i in 1..100u64 {
        if let Action::Cut { at_ms, start } = cuts.video(i * 40, false, 200) {
            forced = Some((at_ms, start));
            break;
        }
    }
    // At 2.44 s, the next frame (40 ms later, 20 ms of slack) would pass 2.499 s.
    assert_eq!(forced, Some((2_440, Start::Forced)));
    // The next keyframe realigns, however soon it comes.
    assert_eq!(cuts.video(2_480, false, 200), Action::Write);
    assert_eq!(
        cuts.video(2_520, true, 200),
        Action::Cut {
            at_ms: 2_520,
            start: Start::RandomAccess
        }
    );
    assert_eq!(cuts.video(2_560, true, 200), Action::Write);
}

#[test]
fn audio_waits_one_target_for_video_then_opens_at_the_first_held_frame() {
    let mut cuts = cutter(1_000, true);
    let mut backlog = cuts.backlog();
    let mut released = None;
    for i in 0..60u64 {
        let dts = i * 21;
        if let Some(at) = cuts.release(dts, Video::default(), backlog.first_dts_ms()) {
            released = Some((dts, at, backlog.take().len()));
            break;
        }
        assert_eq!(cuts.audio(dts, 200, Video::default()), Action::Hold);
        backlog.hold(Held {
            dts_ms: dts,
            cost: 200,
            frame: (),
        });
    }
    // Given up at 1,008 ms; the backlog keeps what is newer than one target.
    assert_eq!(released, Some((1_008, 0, 48)));
    assert!(matches!(
        cuts.audio(1_008, 200, Video::default()),
        Action::Cut { at_ms: 1_008, .. }
    ));
}

#[test]
fn held_audio_is_bounded_by_span_and_cost() {
    let cuts = cutter(500, true);
    let mut backlog = cuts.backlog();
    for i in 0..10u64 {
        backlog.hold(Held {
            dts_ms: i * 100,
            cost: 10,
            frame: i,
        });
    }
    let kept: Vec<u64> = backlog.take().into_iter().map(|h| h.frame).collect();
    assert_eq!(kept, [5, 6, 7, 8, 9]);
    assert_eq!(backlog.first_dts_ms(), None);
    // 10,000 of cost: three frames of 3,000 fit, not four.
    for i in 0..10u64 {
        backlog.hold(Held {
            dts_ms: i,
            cost: 3_000,
            frame: i,
        });
    }
    assert_eq!(backlog.take().len(), 3);
}
