//! A [`PartLog`] as the events that rebuild it: what a new relay subscriber gets first.

use ferrocast_base::Epoch;

use super::{LogSegment, PartLog};
use crate::cmaf::{self, TrackKind};
use crate::ll::LogEvent;

const TRACKS: [TrackKind; 2] = [TrackKind::Video, TrackKind::Audio];

impl PartLog {
    /// The events that rebuild this log in an empty one: what a new relay subscriber gets
    /// first. Holds every retained segment, the inits they need and the open segment's parts.
    /// A segment this log cut off is replayed as complete (see the module docs).
    pub fn replay(&self) -> Vec<LogEvent> {
        let mut events = Vec::new();
        let mut sent_inits: Vec<(Epoch, TrackKind, u32)> = Vec::new();
        let mut epoch = None;
        for segment in &self.state.segments {
            if epoch != Some(segment.epoch) {
                epoch = Some(segment.epoch);
                if let Some(session) = self.session_of(segment.epoch) {
                    events.push(LogEvent::Session(*session));
                }
            }
            for track in TRACKS {
                let Some(version) = segment.init_version(track) else {
                    continue;
                };
                let key = (segment.epoch, track, version);
                if sent_inits.contains(&key) {
                    continue;
                }
                if let Some(init) = self.init(segment.epoch, track, version) {
                    events.push(LogEvent::Init(init.clone()));
                    sent_inits.push(key);
                }
            }
            replay_segment(segment, &mut events);
        }
        let Some(newest) = self.session() else {
            return events;
        };
        if epoch != Some(newest.epoch) {
            events.push(LogEvent::Session(*newest));
        }
        // Inits that no segment uses yet: they come before the next segment's parts.
        let mut pending: Vec<_> = self
            .state
            .inits
            .iter()
            .filter(|(e, init)| {
                *e == newest.epoch && !sent_inits.contains(&(*e, init.track, init.version))
            })
            .map(|(_, init)| init.clone())
            .collect();
        pending.sort_by_key(|init| init.version);
        events.extend(pending.into_iter().map(LogEvent::Init));
        if self.state.ended {
            events.push(LogEvent::SessionEnd);
        }
        events
    }
}

fn replay_segment(segment: &LogSegment, events: &mut Vec<LogEvent>) {
    for part in &segment.parts {
        for track in TRACKS {
            let Some(data) = part.track(track) else {
                continue;
            };
            let samples = match track {
                TrackKind::Video => part.video_samples,
                TrackKind::Audio => part.audio_samples,
            };
            events.push(LogEvent::Part(cmaf::Part {
                track,
                seq: segment.seq,
                index: part.index,
                duration: part.duration,
                independent: part.independent,
                samples,
                data: data.clone(),
            }));
        }
    }
    if let Some(summary) = segment.complete {
        events.push(LogEvent::SegmentEnd(summary));
    }
}
