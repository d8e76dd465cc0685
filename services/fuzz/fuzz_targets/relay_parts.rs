//! Feeds an edge's part-log mirror what an origin sends it over `SubscribeParts`: the input is
//! a run of length-delimited `LogMessage`s (protobuf, as gRPC frames carry them), decoded by
//! prost, converted by `ferrocast_relay::event_from_proto` and applied to a `PartLog` in
//! order, as `RelayParts` does; after each event, every renderer an edge serves from the log
//! (both media playlists with a blocking and a delta request, the multivariant playlist, the
//! MPD) runs on it.
//!
//! Beyond "no panic" it asserts that an accepted event converts back to the same event
//! (`event_to_proto` then `event_from_proto`), so the origin and its mirrors hold equal logs.
#![no_main]

use ferrocast_base::Msn;
use ferrocast_media::cmaf::TrackKind;
use ferrocast_media::ll::playlist::{self, Request};
use ferrocast_media::ll::{LogConfig, PartLog, mpd, variants};
use ferrocast_proto::relay::LogMessage;
use ferrocast_relay::{event_from_proto, event_to_proto};
use libfuzzer_sys::fuzz_target;
use prost::Message;

/// Messages applied per input: a run longer than this adds time, not coverage.
const MAX_MESSAGES: usize = 64;

/// Renders what an edge renders from `log`, for the requests a player makes.
fn render_all(log: &PartLog) {
    let newest = log.segments().last().map(|segment| segment.msn);
    for track in [TrackKind::Video, TrackKind::Audio] {
        let _ = playlist::render(log, track, &Request::default());
        let delta = Request {
            skip: true,
            ..Request::default()
        };
        let _ = playlist::render(log, track, &delta);
        if let Some(msn) = newest {
            let blocking = Request {
                msn: Some(Msn(msn.get().saturating_add(1))),
                part: Some(0),
                skip: false,
            };
            let _ = playlist::render(log, track, &blocking);
        }
    }
    let _ = variants::render(log, None);
    let _ = mpd::render(log);
}

fuzz_target!(|data: &[u8]| {
    // A small window, so trimming runs within one input.
    let mut log = PartLog::new(LogConfig {
        max_bytes: 64 * 1024,
        ..LogConfig::default()
    });
    let mut rest = data;
    for _ in 0..MAX_MESSAGES {
        if rest.is_empty() {
            break;
        }
        let Ok(message) = LogMessage::decode_length_delimited(&mut rest) else {
            break;
        };
        let Ok(event) = event_from_proto(message) else {
            continue;
        };
        let again = event_from_proto(event_to_proto(event.clone()));
        assert_eq!(
            again.ok().as_ref(),
            Some(&event),
            "the event changed on the wire"
        );
        // A refused event (out of order, another session's part…) ends a real mirror's
        // subscription; the log stays as it was, and the next events are still applied here
        // to reach more states.
        let _ = log.apply(event);
        render_all(&log);
    }
});
