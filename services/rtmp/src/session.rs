//! The sans-I/O server session: received bytes go through our bounded front (chunk reader
//! and screen) and only then, one whole message at a time, into `rml_rtmp`'s session state
//! machine; its replies and our own statuses come out as bytes, its decisions as [`Event`]s.

use std::collections::{HashMap, VecDeque};
use std::error::Error;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use ferrocast_media::rtmp_chunk;
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};

use crate::front::{Screen, Verdict, single_chunk};
use crate::playing::PlaySession;
use crate::reader::{ChunkReader, Message};
use crate::{Limits, Metadata, RtmpError, status};

/// What the peer asked for or sent. Requests carry a `request_id` to answer with
/// [`Session::accept`] or a refusal.
#[derive(Debug)]
pub enum Event {
    /// The peer wants to publish `rtmp://host/<app>/<key>`.
    PublishRequested {
        /// Id to answer the request with.
        request_id: u32,
        /// The application name (`live`).
        app: String,
        /// The stream key: a secret, never log it.
        key: String,
    },
    /// `@setDataFrame` / `onMetaData` from the publisher.
    Metadata(Metadata),
    /// An FLV audio tag body.
    Audio {
        /// RTMP timestamp in milliseconds (32-bit, wraps).
        timestamp_ms: u32,
        /// The tag body.
        data: Bytes,
    },
    /// An FLV video tag body.
    Video {
        /// RTMP timestamp in milliseconds (32-bit, wraps).
        timestamp_ms: u32,
        /// The tag body.
        data: Bytes,
    },
    /// The publisher sent FCUnpublish/deleteStream/closeStream.
    PublishFinished,
    /// The peer wants to play `rtmp://host/<app>/<key>`.
    PlayRequested {
        /// Id to answer the request with.
        request_id: u32,
        /// The application name.
        app: String,
        /// The stream name asked for.
        key: String,
        /// The message stream the player plays on.
        stream_id: u32,
    },
    /// The player sent deleteStream/closeStream.
    PlayFinished,
}

/// One connection's protocol state after the handshake.
pub struct Session {
    reader: ChunkReader,
    screen: Screen,
    rml: ServerSession,
    limits: Limits,
    events: VecDeque<Event>,
    /// The message stream and stream name of each publish request not answered yet: the
    /// stream for its `onStatus`, the name to keep out of the acceptance.
    publish_streams: HashMap<u32, (u32, String)>,
    /// The message stream of the accepted publish.
    publishing: Option<u32>,
    /// The message stream of the message `rml_rtmp` is handling.
    feeding_stream_id: u32,
    started: bool,
    /// What a [`PlaySession`] goes on from: the peer's acknowledgement window and the bytes
    /// received so far.
    peer_window: Option<u32>,
    received: u64,
}

impl Session {
    /// A session and the bytes that open it (chunk size, window, bandwidth).
    pub fn new(limits: Limits) -> Result<(Self, Vec<u8>), RtmpError> {
        let mut config = ServerSessionConfig::new();
        // The pre-serialized frames players share are chunked at this size.
        config.chunk_size = rtmp_chunk::CHUNK_SIZE as u32;
        let (mut rml, initial) = guarded(|| ServerSession::new(config))?;
        // `rml_rtmp` only ever receives whole messages in one chunk each: let its reader take
        // chunks as long as any message we forward.
        let open_reader = Message {
            chunk_stream_id: 2,
            timestamp_ms: 0,
            type_id: rtmp_chunk::message_type::SET_CHUNK_SIZE,
            message_stream_id: 0,
            payload: Bytes::copy_from_slice(&0x7FFF_FFFFu32.to_be_bytes()),
        };
        let mut bytes = Vec::new();
        single_chunk(&open_reader, &mut bytes);
        guarded(|| rml.handle_input(&bytes))?;
        let mut session = Self {
            reader: ChunkReader::new(limits.unstarted_reader()),
            screen: Screen::new(limits.commands),
            rml,
            limits,
            events: VecDeque::new(),
            publish_streams: HashMap::new(),
            publishing: None,
            feeding_stream_id: 0,
            started: false,
            peer_window: None,
            received: 0,
        };
        let mut outbound = Vec::new();
        session.collect(initial, &mut outbound)?;
        Ok((session, outbound))
    }

    /// Whether a publish or play was accepted.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Takes in received bytes: events are queued, replies appended to `outbound`.
    pub fn receive(&mut self, bytes: &[u8], outbound: &mut Vec<u8>) -> Result<(), RtmpError> {
        self.reader.push(bytes)?;
        self.received += bytes.len() as u64;
        let mut forwarded = Vec::new();
        while let Some(message) = self.reader.next_message()? {
            let verdict = self.screen.judge(&message)?;
            forwarded.clear();
            match verdict {
                Verdict::Forward => single_chunk(&message, &mut forwarded),
                Verdict::Replace(payload) => {
                    let completed = Message {
                        payload: Bytes::from(payload),
                        ..message
                    };
                    single_chunk(&completed, &mut forwarded);
                }
                Verdict::Drop(why) => {
                    tracing::debug!(type_id = message.type_id, why, "rtmp message dropped");
                    continue;
                }
            }
            if let Ok(size) = <[u8; 4]>::try_from(&message.payload[..])
                && message.type_id == rtmp_chunk::message_type::WINDOW_ACK_SIZE
            {
                self.peer_window = Some(u32::from_be_bytes(size));
            }
            self.feeding_stream_id = message.message_stream_id;
            let results = guarded(|| self.rml.handle_input(&forwarded))?;
            self.collect(results, outbound)?;
        }
        Ok(())
    }

    /// The next event, if one is queued.
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The state a player's connection keeps once its play on `stream_id` was accepted;
    /// `rml_rtmp`'s session and any queued events are dropped.
    pub fn into_playing(self, stream_id: u32) -> PlaySession {
        PlaySession::new(
            self.reader,
            self.screen,
            stream_id,
            self.peer_window,
            self.received,
        )
    }

    /// Accepts a publish or play request. An accepted publish may send messages up to
    /// [`Limits::max_message_size`].
    pub fn accept(&mut self, request_id: u32, outbound: &mut Vec<u8>) -> Result<(), RtmpError> {
        let mut results = guarded(|| self.rml.accept_request(request_id))?;
        if let Some((stream_id, key)) = self.publish_streams.remove(&request_id) {
            self.reader.set_limits(self.limits.publishing_reader());
            self.publishing = Some(stream_id);
            mask_key(&mut results, &key);
        }
        self.started = true;
        self.collect(results, outbound)
    }

    /// Accepts a play request, keeping the replies `keep` approves of.
    pub(crate) fn accept_play(
        &mut self,
        request_id: u32,
        keep: impl Fn(&ServerSessionResult) -> bool,
        outbound: &mut Vec<u8>,
    ) -> Result<(), RtmpError> {
        let mut results = guarded(|| self.rml.accept_request(request_id))?;
        results.retain(keep);
        self.started = true;
        self.collect(results, outbound)
    }

    /// Refuses a publish request with an `onStatus` of level `error` on its message stream,
    /// which every client reports (an `_error` reply to no request of theirs is ignored by
    /// librtmp, and so by OBS). End the connection after.
    pub fn reject_publish(
        &mut self,
        request_id: u32,
        code: &str,
        description: &str,
        outbound: &mut Vec<u8>,
    ) {
        let stream_id = self
            .publish_streams
            .remove(&request_id)
            .map_or(0, |(stream_id, _)| stream_id);
        status::write_error(stream_id, code, description, outbound);
    }

    /// Tells the publisher that the server ended its publish: an `onStatus` of level `status`,
    /// `NetStream.Unpublish.Success`, on the publish's message stream.
    pub fn end_publish(&mut self, description: &str, outbound: &mut Vec<u8>) {
        if let Some(stream_id) = self.publishing.take() {
            status::write_status(
                stream_id,
                "NetStream.Unpublish.Success",
                description,
                outbound,
            );
        }
    }

    fn collect(
        &mut self,
        results: Vec<ServerSessionResult>,
        outbound: &mut Vec<u8>,
    ) -> Result<(), RtmpError> {
        for result in results {
            match result {
                ServerSessionResult::OutboundResponse(packet) => outbound.extend(packet.bytes),
                ServerSessionResult::RaisedEvent(event) => self.on_event(event, outbound)?,
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(())
    }

    fn on_event(
        &mut self,
        event: ServerSessionEvent,
        outbound: &mut Vec<u8>,
    ) -> Result<(), RtmpError> {
        let event = match event {
            // Connecting to an application carries no decision: the app is checked at publish.
            ServerSessionEvent::ConnectionRequested { request_id, .. } => {
                let accepted = guarded(|| self.rml.accept_request(request_id))?;
                for result in accepted {
                    if let ServerSessionResult::OutboundResponse(packet) = result {
                        outbound.extend(packet.bytes);
                    }
                }
                return Ok(());
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                app_name,
                stream_key,
                ..
            } => {
                // rml_rtmp does not say which message stream; it is the `publish` command's.
                let stream = (self.feeding_stream_id, stream_key.clone());
                self.publish_streams.insert(request_id, stream);
                Event::PublishRequested {
                    request_id,
                    app: app_name,
                    key: stream_key,
                }
            }
            ServerSessionEvent::PublishStreamFinished { .. } => Event::PublishFinished,
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } => {
                Event::Metadata(Metadata::from_rml(metadata))
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => Event::Audio {
                timestamp_ms: timestamp.value,
                data,
            },
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => Event::Video {
                timestamp_ms: timestamp.value,
                data,
            },
            ServerSessionEvent::PlayStreamRequested {
                request_id,
                app_name,
                stream_key,
                stream_id,
                ..
            } => Event::PlayRequested {
                request_id,
                app: app_name,
                key: stream_key,
                stream_id,
            },
            ServerSessionEvent::PlayStreamFinished { .. } => Event::PlayFinished,
            _ => return Ok(()),
        };
        self.events.push_back(event);
        Ok(())
    }
}

/// Replaces the stream key in `rml_rtmp`'s acceptance of a publish (its
/// `NetStream.Publish.Start` description quotes it, and encoders log that) with as many `*`:
/// the bytes keep their length, so the chunk headers `rml_rtmp` wrote, and the ones it will
/// compress against them, stay right.
fn mask_key(results: &mut [ServerSessionResult], key: &str) {
    let key = key.as_bytes();
    if key.is_empty() {
        return;
    }
    for result in results {
        let ServerSessionResult::OutboundResponse(packet) = result else {
            continue;
        };
        let mut start = 0;
        while let Some(found) = packet.bytes[start..]
            .windows(key.len())
            .position(|window| window == key)
        {
            let at = start + found;
            packet.bytes[at..at + key.len()].fill(b'*');
            start = at + key.len();
        }
    }
}

/// Runs a call into `rml_rtmp`, turning its errors and panics into [`RtmpError`]. Our front
/// keeps every input we know of that makes it panic away from it; this stays as the last line.
pub(crate) fn guarded<T, E>(call: impl FnOnce() -> Result<T, E>) -> Result<T, RtmpError>
where
    E: Error + Send + Sync + 'static,
{
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(RtmpError::Protocol(Box::new(error))),
        Err(_) => Err(RtmpError::ParserPanicked),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::testing::message_chunks;

    fn connect() -> Vec<u8> {
        let mut payload = Vec::new();
        ferrocast_media::amf0::write_string("connect", &mut payload);
        let object = ferrocast_media::amf0::Value::Object(vec![(
            "app".into(),
            ferrocast_media::amf0::Value::String("live".into()),
        )]);
        ferrocast_media::amf0::write_value(
            &ferrocast_media::amf0::Value::Number(1.0),
            &mut payload,
        );
        ferrocast_media::amf0::write_value(&object, &mut payload);
        message_chunks(3, 20, 0, &payload, 128)
    }

    #[test]
    fn connect_is_answered() {
        let (mut session, opening) = Session::new(Limits::default()).unwrap();
        assert!(!opening.is_empty());
        let mut outbound = Vec::new();
        session.receive(&connect(), &mut outbound).unwrap();
        let reply = String::from_utf8_lossy(&outbound);
        assert!(reply.contains("NetConnection.Connect.Success"), "{reply}");
    }

    fn command(values: &[ferrocast_media::amf0::Value], message_stream_id: u32) -> Vec<u8> {
        let mut payload = Vec::new();
        for value in values {
            ferrocast_media::amf0::write_value(value, &mut payload);
        }
        message_chunks(3, 20, message_stream_id, &payload, 128)
    }

    #[test]
    fn accepting_a_publish_never_echoes_the_key() {
        use ferrocast_media::amf0::Value;
        let key = "sk_stream_0123456789abcdef";
        let (mut session, _) = Session::new(Limits::default()).unwrap();
        let mut outbound = Vec::new();
        session.receive(&connect(), &mut outbound).unwrap();
        let create = [
            Value::String("createStream".into()),
            Value::Number(2.0),
            Value::Null,
        ];
        session
            .receive(&command(&create, 0), &mut outbound)
            .unwrap();
        let publish = [
            Value::String("publish".into()),
            Value::Number(3.0),
            Value::Null,
            Value::String(key.into()),
            Value::String("live".into()),
        ];
        session
            .receive(&command(&publish, 1), &mut outbound)
            .unwrap();
        let Some(Event::PublishRequested { request_id, .. }) = session.next_event() else {
            panic!("no publish request");
        };
        let mut accepted = Vec::new();
        session.accept(request_id, &mut accepted).unwrap();
        let text = String::from_utf8_lossy(&accepted);
        assert!(text.contains("NetStream.Publish.Start"), "{text}");
        assert!(!text.contains(key), "{text}");
    }

    proptest! {
        /// Whatever follows a valid connect, the session answers with an error or goes on,
        /// and never lets `rml_rtmp` panic.
        #[test]
        fn arbitrary_bytes_never_reach_a_panic(
            pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..8)
        ) {
            let (mut session, _) = Session::new(Limits::default()).unwrap();
            let mut outbound = Vec::new();
            session.receive(&connect(), &mut outbound).unwrap();
            for piece in pieces {
                match session.receive(&piece, &mut outbound) {
                    Err(RtmpError::ParserPanicked) => prop_assert!(false, "rml_rtmp panicked"),
                    Err(_) => break,
                    Ok(()) => {}
                }
            }
        }
    }
}
