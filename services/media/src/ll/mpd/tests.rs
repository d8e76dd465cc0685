//! DASH MPDs of logs a real packager filled, read back as XML.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::*;
use crate::ll::LogConfig;
use crate::ll::fixtures::{Publisher, STARTED_AT_MS, log_of, session_events};

/// Checks the text is well-formed XML; returns its element names in order.
fn elements(text: &str) -> Vec<String> {
    let mut reader = Reader::from_str(text);
    let mut names = Vec::new();
    let mut depth = 0i32;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                depth += 1;
                names.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
            }
            Event::Empty(e) => names.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap()),
            Event::End(_) => depth -= 1,
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "every element closed");
    names
}

#[test]
fn a_live_stream_has_one_period_with_a_timeline_per_track() {
    let mut publisher = Publisher::new(1, 0);
    let log = log_of(LogConfig::default(), &session_events(&mut publisher, 7_000));
    let text = render(&log).unwrap();
    let names = elements(&text);
    assert_eq!(names.iter().filter(|n| *n == "Period").count(), 1);
    assert_eq!(names.iter().filter(|n| *n == "AdaptationSet").count(), 2);
    assert_eq!(names.last().unwrap(), "UTCTiming");
    assert!(
        text.contains(
            "type=\"dynamic\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" \
         availabilityStartTime=\"1970-01-01T00:00:00Z\" publishTime=\"2027-01-15T09:00:06.000Z\" \
         minimumUpdatePeriod=\"PT2S\" minBufferTime=\"PT2S\" maxSegmentDuration=\"PT2S\" \
         timeShiftBufferDepth=\"PT16S\" suggestedPresentationDelay=\"PT6S\">"
        ),
        "{text}"
    );
    let started_s = (STARTED_AT_MS + 3_600_000) / 1_000;
    assert!(text.contains(&format!("<Period id=\"1-0-0\" start=\"PT{started_s}S\">")));
    assert!(text.contains(
        "<AdaptationSet id=\"1\" contentType=\"video\" mimeType=\"video/mp4\" codecs=\"avc1.64000d\" \
         width=\"320\" height=\"240\" frameRate=\"30\" segmentAlignment=\"true\" startWithSAP=\"1\">"
    ), "{text}");
    // Times are the media's decode times, which carry the 0.7 s MPEG-TS delay.
    let template = "<SegmentTemplate timescale=\"90000\" presentationTimeOffset=\"63000\" \
         initialization=\"1/init.0.video.mp4\" media=\"1/$Number$.video.m4s\" startNumber=\"0\">";
    let timeline =
        "          <SegmentTimeline>\n            <S t=\"63000\" d=\"180000\" r=\"2\"/>\n";
    assert!(text.contains(&format!("{template}\n{timeline}")), "{text}");
    assert!(text.contains(
        "contentType=\"audio\" mimeType=\"audio/mp4\" codecs=\"mp4a.40.2\" audioSamplingRate=\"44100\""
    ));
    assert!(text.contains("<S t=\"30870\" d=\"88200\" r=\"2\"/>"));
    assert!(text.contains(
        "<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:direct:2014\" value=\"2027-01-15T09:00:06.000Z\"/>"
    ));
}

#[test]
fn nothing_before_a_complete_segment_and_a_period_per_session() {
    let mut first = Publisher::new(1, 0);
    let mut events = session_events(&mut first, 1_500);
    assert_eq!(render(&log_of(LogConfig::default(), &events)), None);
    events.extend(first.advance(3_000));
    events.extend(first.finish());
    let mut second = Publisher::new(2, 3);
    events.extend(session_events(&mut second, 4_500));
    let log = log_of(LogConfig::default(), &events);
    let text = render(&log).unwrap();
    elements(&text);
    let first_start = (STARTED_AT_MS + 3_600_000) / 1_000;
    let second_start = (STARTED_AT_MS + 7_200_000) / 1_000;
    let periods: Vec<&str> = text.lines().filter(|l| l.contains("<Period")).collect();
    assert_eq!(
        periods,
        [
            format!("  <Period id=\"1-0-0\" start=\"PT{first_start}S\">"),
            format!("  <Period id=\"2-0-0\" start=\"PT{second_start}S\">"),
        ]
    );
    // The first session's last segment lasted 0.499 s; the second's numbers start again.
    assert!(text.contains(
        "<S t=\"63000\" d=\"180000\" r=\"1\"/>\n            <S t=\"423000\" d=\"44910\"/>"
    ));
    assert!(text.contains("media=\"2/$Number$.video.m4s\" startNumber=\"0\""));
}

/// ADR 19: an HEVC stream's video adaptation set names its `hvc1` codec and size.
#[test]
fn an_hevc_stream_names_hvc1() {
    let mut publisher = Publisher::hevc(1, 0);
    let log = log_of(LogConfig::default(), &session_events(&mut publisher, 7_000));
    let text = render(&log).unwrap();
    elements(&text);
    assert!(text.contains(
        "<AdaptationSet id=\"1\" contentType=\"video\" mimeType=\"video/mp4\" codecs=\"hvc1.1.6.L30.90\" \
         width=\"160\" height=\"120\" frameRate=\"30\""
    ), "{text}");
}
