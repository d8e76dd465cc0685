//! What a webhook says: the event kinds, the JSON payload, and the deterministic ids of the
//! stream lifecycle's events (the same on every control replica, so the outbox can queue each
//! once).

use ferrocast_base::{Epoch, StreamId};
use serde::{Deserialize, Serialize};

/// The kinds of event, with their names on the wire (`type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A publish was granted: the stream is live.
    #[serde(rename = "stream.active")]
    StreamActive,
    /// The encoder is gone; viewers wait for it during the reconnect window.
    #[serde(rename = "stream.disconnected")]
    StreamDisconnected,
    /// The reconnect window passed with no new publish: the stream has ended.
    #[serde(rename = "stream.idle")]
    StreamIdle,
    /// A recording can be played or downloaded.
    #[serde(rename = "recording.ready")]
    RecordingReady,
    /// A recording was deleted.
    #[serde(rename = "recording.deleted")]
    RecordingDeleted,
}

impl EventKind {
    /// Every kind, for metrics.
    pub const ALL: [EventKind; 5] = [
        EventKind::StreamActive,
        EventKind::StreamDisconnected,
        EventKind::StreamIdle,
        EventKind::RecordingReady,
        EventKind::RecordingDeleted,
    ];

    /// The name on the wire, e.g. `stream.active`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::StreamActive => "stream.active",
            EventKind::StreamDisconnected => "stream.disconnected",
            EventKind::StreamIdle => "stream.idle",
            EventKind::RecordingReady => "recording.ready",
            EventKind::RecordingDeleted => "recording.deleted",
        }
    }
}

/// One event to deliver to every target.
///
/// `id` is what receivers dedupe by and what the outbox queues an event once by: make it
/// deterministic from what happened (`recording.ready:<recording id>`), never random, so that
/// two replicas noticing the same fact queue it once.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique, deterministic id (at most [`MAX_EVENT_ID_LEN`] bytes).
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// Details, a JSON object (ids and times; never a secret such as a stream key).
    pub data: serde_json::Value,
}

/// Longest event id accepted (ids go into Redis keys and headers).
pub const MAX_EVENT_ID_LEN: usize = 256;

/// The JSON body receivers get.
#[derive(Serialize)]
struct Payload<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: EventKind,
    created_at_ms: u64,
    data: &'a serde_json::Value,
}

impl Event {
    /// The payload as sent: `{"id","type","created_at_ms","data"}`.
    pub fn body(&self, created_at_ms: u64) -> String {
        let payload = Payload {
            id: &self.id,
            kind: self.kind,
            created_at_ms,
            data: &self.data,
        };
        // A Value and plain fields always serialize.
        serde_json::to_string(&payload).unwrap_or_default()
    }
}

/// The data of a stream's lifecycle events: one publish session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The stream.
    pub stream_id: String,
    /// Its public playback id.
    pub playback_id: String,
    /// The fencing epoch of the publish session.
    pub epoch: u64,
    /// The origin the encoder published to.
    pub origin_id: String,
}

impl Session {
    /// The session as JSON, kept in Redis and used as the events' `data`.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `stream.active:<stream id>:<epoch>`.
pub fn active_id(stream_id: &StreamId, epoch: Epoch) -> String {
    format!("stream.active:{stream_id}:{epoch}")
}

/// `stream.disconnected:<stream id>:<epoch>`. Built in Lua too (the outbox scripts); a test
/// pins both to this shape.
pub fn disconnected_id(stream_id: &StreamId, epoch: Epoch) -> String {
    format!("stream.disconnected:{stream_id}:{epoch}")
}

/// `stream.idle:<stream id>:<epoch of the last grant>`. Built in Lua too.
pub fn idle_id(stream_id: &StreamId, epoch: Epoch) -> String {
    format!("stream.idle:{stream_id}:{epoch}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn the_payload_has_id_type_time_and_data() {
        let event = Event {
            id: "recording.ready:rec1".into(),
            kind: EventKind::RecordingReady,
            data: json!({"stream_id": "s1", "recording_id": "rec1"}),
        };
        let body: serde_json::Value = serde_json::from_str(&event.body(1_700_000_000_123)).unwrap();
        assert_eq!(
            body,
            json!({
                "id": "recording.ready:rec1",
                "type": "recording.ready",
                "created_at_ms": 1_700_000_000_123_u64,
                "data": {"stream_id": "s1", "recording_id": "rec1"},
            })
        );
    }

    #[test]
    fn kinds_serialize_as_their_names() {
        for kind in EventKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
        }
    }

    #[test]
    fn lifecycle_ids_are_deterministic() {
        let id = StreamId::new("abc");
        assert_eq!(active_id(&id, Epoch(7)), "stream.active:abc:7");
        assert_eq!(disconnected_id(&id, Epoch(7)), "stream.disconnected:abc:7");
        assert_eq!(idle_id(&id, Epoch(7)), "stream.idle:abc:7");
        let session = Session {
            stream_id: "abc".into(),
            playback_id: "p".into(),
            epoch: 7,
            origin_id: "o".into(),
        };
        assert_eq!(
            serde_json::from_str::<Session>(&session.json()).unwrap(),
            session
        );
    }
}
