//! Part-log events to and from their wire form (`LogMessage`). Byte payloads move as `Bytes`
//! handles, never copied.
//!
//! Decoding is strict, since an edge renders playlists from what it decodes: an unknown
//! track, a zero timescale or a message without an event is refused with
//! [`RelayError::InvalidLogMessage`], never guessed at and never a panic.

use ferrocast_base::{Epoch, Msn};
use ferrocast_media::cmaf::{Init, MediaDuration, Part, TrackKind};
use ferrocast_media::ll::{LogEvent, SegmentSummary, SessionInfo};
use ferrocast_proto::relay::log_message::Event as Wire;
use ferrocast_proto::relay::{
    InitSegment, LogMessage, Part as WirePart, SegmentEnd as WireSegmentEnd, SessionEnd,
    SessionStart, Track,
};

use crate::RelayError;

/// The wire form of `event`, stamped with the time it is sent.
pub fn event_to_proto(event: LogEvent) -> LogMessage {
    let event = match event {
        LogEvent::Session(info) => Wire::Session(SessionStart {
            epoch: info.epoch.get(),
            first_msn: info.first_msn.get(),
            started_at_unix_ms: info.started_at_unix_ms,
            part_target_ms: info.part_target_ms,
            target_duration_ms: info.target_duration_ms,
        }),
        LogEvent::Init(init) => {
            let (width, height) = init.dimensions.unwrap_or((0, 0));
            Wire::Init(InitSegment {
                track: track_to_proto(init.track) as i32,
                version: init.version,
                codec: init.codec,
                timescale: init.timescale,
                width,
                height,
                data: init.data,
            })
        }
        LogEvent::Part(part) => Wire::Part(WirePart {
            track: track_to_proto(part.track) as i32,
            seq: part.seq,
            index: part.index,
            duration_ticks: part.duration.ticks,
            timescale: part.duration.timescale,
            independent: part.independent,
            samples: part.samples,
            data: part.data,
        }),
        LogEvent::SegmentEnd(end) => Wire::SegmentEnd(WireSegmentEnd {
            seq: end.seq,
            start_dts_ms: end.start_dts_ms,
            duration_ticks: end.duration.ticks,
            timescale: end.duration.timescale,
            parts: end.parts,
            starts_with_keyframe: end.starts_with_keyframe,
        }),
        LogEvent::SessionEnd => Wire::SessionEnd(SessionEnd {}),
    };
    LogMessage {
        event: Some(event),
        sent_at_unix_us: crate::metrics::unix_micros(),
        replay_end: false,
    }
}

/// The event a message carries; refuses a message without one, an unknown track, a zero
/// timescale and an init segment with only one of its dimensions.
pub fn event_from_proto(message: LogMessage) -> Result<LogEvent, RelayError> {
    let event = message
        .event
        .ok_or(RelayError::InvalidLogMessage("no event"))?;
    Ok(match event {
        Wire::Session(session) => LogEvent::Session(SessionInfo {
            epoch: Epoch(session.epoch),
            first_msn: Msn(session.first_msn),
            started_at_unix_ms: session.started_at_unix_ms,
            part_target_ms: session.part_target_ms,
            target_duration_ms: session.target_duration_ms,
        }),
        Wire::Init(init) => LogEvent::Init(Init {
            track: track_from_proto(init.track)?,
            version: init.version,
            codec: init.codec,
            timescale: timescale(init.timescale)?,
            dimensions: match (init.width, init.height) {
                (0, 0) => None,
                (0, _) | (_, 0) => {
                    return Err(RelayError::InvalidLogMessage("init with one dimension"));
                }
                (width, height) => Some((width, height)),
            },
            data: init.data,
        }),
        Wire::Part(part) => LogEvent::Part(Part {
            track: track_from_proto(part.track)?,
            seq: part.seq,
            index: part.index,
            duration: MediaDuration {
                ticks: part.duration_ticks,
                timescale: timescale(part.timescale)?,
            },
            independent: part.independent,
            samples: part.samples,
            data: part.data,
        }),
        Wire::SegmentEnd(end) => LogEvent::SegmentEnd(SegmentSummary {
            seq: end.seq,
            start_dts_ms: end.start_dts_ms,
            duration: MediaDuration {
                ticks: end.duration_ticks,
                timescale: timescale(end.timescale)?,
            },
            parts: end.parts,
            starts_with_keyframe: end.starts_with_keyframe,
        }),
        Wire::SessionEnd(SessionEnd {}) => LogEvent::SessionEnd,
    })
}

fn track_to_proto(track: TrackKind) -> Track {
    match track {
        TrackKind::Video => Track::Video,
        TrackKind::Audio => Track::Audio,
    }
}

fn track_from_proto(track: i32) -> Result<TrackKind, RelayError> {
    match Track::try_from(track) {
        Ok(Track::Video) => Ok(TrackKind::Video),
        Ok(Track::Audio) => Ok(TrackKind::Audio),
        Ok(Track::Unspecified) | Err(_) => Err(RelayError::InvalidLogMessage("unknown track")),
    }
}

fn timescale(timescale: u32) -> Result<u32, RelayError> {
    if timescale == 0 {
        return Err(RelayError::InvalidLogMessage("zero timescale"));
    }
    Ok(timescale)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn events() -> Vec<LogEvent> {
        let data = Bytes::from_static(b"moof+mdat");
        vec![
            LogEvent::Session(SessionInfo {
                epoch: Epoch(7),
                first_msn: Msn(41),
                started_at_unix_ms: 1_700_000_000_123,
                part_target_ms: 334,
                target_duration_ms: 2_000,
            }),
            LogEvent::Init(Init {
                track: TrackKind::Video,
                version: 1,
                codec: "avc1.64001f".into(),
                timescale: 90_000,
                dimensions: Some((1280, 720)),
                data: Bytes::from_static(b"ftyp+moov"),
            }),
            LogEvent::Init(Init {
                track: TrackKind::Audio,
                version: 0,
                codec: "mp4a.40.2".into(),
                timescale: 48_000,
                dimensions: None,
                data: Bytes::from_static(b"ftyp+moov audio"),
            }),
            LogEvent::Part(Part {
                track: TrackKind::Audio,
                seq: 3,
                index: 5,
                duration: MediaDuration {
                    ticks: 30_000,
                    timescale: 90_000,
                },
                independent: true,
                samples: 15,
                data: data.clone(),
            }),
            LogEvent::SegmentEnd(SegmentSummary {
                seq: 3,
                start_dts_ms: 6_000,
                duration: MediaDuration {
                    ticks: 180_000,
                    timescale: 90_000,
                },
                parts: 6,
                starts_with_keyframe: true,
            }),
            LogEvent::SessionEnd,
        ]
    }

    #[test]
    fn every_event_kind_round_trips_and_shares_its_bytes() {
        for event in events() {
            let message = event_to_proto(event.clone());
            assert!(message.sent_at_unix_us > 0, "stamped");
            assert_eq!(event_from_proto(message.clone()).unwrap(), event);
            if let (LogEvent::Part(sent), Ok(LogEvent::Part(back))) =
                (&event, event_from_proto(message))
            {
                assert_eq!(sent.data.as_ptr(), back.data.as_ptr(), "not copied");
            }
        }
    }

    #[test]
    fn unknown_tracks_zero_timescales_and_empty_messages_are_refused() {
        let [_, video_init, _, part, end, _] = events().try_into().unwrap();
        let refused = |message: LogMessage| {
            assert!(matches!(
                event_from_proto(message),
                Err(RelayError::InvalidLogMessage(_))
            ));
        };
        let mut message = event_to_proto(part.clone());
        if let Some(Wire::Part(part)) = &mut message.event {
            part.track = 0;
        }
        refused(message.clone());
        if let Some(Wire::Part(part)) = &mut message.event {
            part.track = 9;
        }
        refused(message);
        let mut message = event_to_proto(part);
        if let Some(Wire::Part(part)) = &mut message.event {
            part.timescale = 0;
        }
        refused(message);
        let mut message = event_to_proto(end);
        if let Some(Wire::SegmentEnd(end)) = &mut message.event {
            end.timescale = 0;
        }
        refused(message);
        let mut message = event_to_proto(video_init.clone());
        if let Some(Wire::Init(init)) = &mut message.event {
            init.timescale = 0;
        }
        refused(message);
        let mut message = event_to_proto(video_init);
        if let Some(Wire::Init(init)) = &mut message.event {
            init.height = 0;
        }
        refused(message);
        refused(LogMessage::default());
    }
}
