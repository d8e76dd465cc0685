//! The checker on hand-written playlists: one that passes, and one break of each rule.

use super::*;

const GOOD: &str = "#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.002,CAN-SKIP-UNTIL=12.000
#EXT-X-PART-INF:PART-TARGET=0.334
#EXT-X-MEDIA-SEQUENCE:40
#EXT-X-DISCONTINUITY-SEQUENCE:1
#EXT-X-MAP:URI=\"7/init.0.video.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2027-01-15T15:00:00.000Z
#EXT-X-PART:DURATION=0.333,URI=\"7/0.0.video.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.334,URI=\"7/0.1.video.m4s\"
#EXTINF:0.667,
7/0.video.m4s
#EXT-X-PROGRAM-DATE-TIME:2027-01-15T15:00:00.667Z
#EXT-X-PART:DURATION=0.333,URI=\"7/1.0.video.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.334,URI=\"7/1.1.video.m4s\",GAP=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7/1.2.video.m4s\"
";

fn broken(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    check(&GOOD.replace(from, to)).expect_err(to)
}

#[test]
fn a_conforming_playlist_is_read() {
    let facts = check(GOOD).unwrap();
    assert_eq!(facts.target_duration_s, 2);
    assert_eq!(facts.part_target_us, 334_000);
    assert_eq!(facts.part_hold_back_us, 1_002_000);
    assert_eq!(facts.can_skip_until_us, Some(12_000_000));
    assert!(facts.can_block_reload);
    assert_eq!(
        (facts.media_sequence, facts.discontinuity_sequence),
        (40, 1)
    );
    assert_eq!(facts.segments.len(), 2);
    assert_eq!(facts.segments[0].duration_us, Some(667_000));
    assert_eq!(facts.segments[1].msn, 41);
    assert!(facts.segments[1].parts[1].gap);
    assert!(facts.segments[1].parts[0].independent);
    assert_eq!(facts.newest_position(), Some((41, 2)));
    assert_eq!(facts.preload_hint.as_deref(), Some("7/1.2.video.m4s"));
}

#[test]
fn each_rule_is_checked() {
    assert!(
        broken("DURATION=0.334,URI=\"7/0.1", "DURATION=0.335,URI=\"7/0.1").contains("PART-TARGET")
    );
    assert!(broken("PART-HOLD-BACK=1.002", "PART-HOLD-BACK=0.6").contains("PART-HOLD-BACK"));
    assert!(broken("#EXTINF:0.667,", "#EXTINF:0.670,").contains("add up"));
    assert!(broken("7/1.2.video.m4s", "7/1.3.video.m4s").contains("preload hint"));
    assert!(
        broken(
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7/1.2.video.m4s\"\n",
            ""
        )
        .contains("no preload hint")
    );
    assert!(
        broken(
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7/1.2.video.m4s\"\n",
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7/1.2.video.m4s\"\n#EXT-X-ENDLIST\n"
        )
        .contains("ended")
    );
    assert!(broken("#EXT-X-TARGETDURATION:2", "#EXT-X-TARGETDURATION:0").contains("target"));
    assert!(broken("#EXTM3U\n", "").contains("#EXTM3U"));
    assert!(broken("#EXT-X-MEDIA-SEQUENCE:40\n", "").contains("MEDIA-SEQUENCE"));
    // Parts within 1 ms per part of their EXTINF pass.
    assert!(check(&GOOD.replace("#EXTINF:0.667,", "#EXTINF:0.66850,")).is_ok());
}

#[test]
fn a_series_of_reloads_never_goes_back() {
    let mut sequence = Sequence::new();
    sequence.push(GOOD).unwrap();
    let next_part = GOOD.replace(
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7/1.2.video.m4s\"",
        "#EXT-X-PART:DURATION=0.100,URI=\"7/1.2.video.m4s\"\n#EXTINF:0.767,\n7/1.video.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7/2.0.video.m4s\"",
    );
    sequence.push(&next_part).unwrap();
    assert_eq!(sequence.reloads(), 2);
    let err = sequence.push(GOOD).unwrap_err();
    assert!(err.contains("went back"), "{err}");

    let mut sequence = Sequence::new();
    sequence.push(GOOD).unwrap();
    let err = sequence
        .push(&GOOD.replace("TARGETDURATION:2", "TARGETDURATION:3"))
        .unwrap_err();
    assert!(err.contains("TARGETDURATION changed"), "{err}");
    let err = sequence
        .push(&GOOD.replace("MEDIA-SEQUENCE:40", "MEDIA-SEQUENCE:39"))
        .unwrap_err();
    assert!(err.contains("went back"), "{err}");
    let err = sequence
        .push(&GOOD.replace(
            "#EXTINF:0.667,\n7/0.video.m4s",
            "#EXTINF:0.667,\n7/9.video.m4s",
        ))
        .unwrap_err();
    assert!(err.contains("changed"), "{err}");
}
