//! The screen every message passes before `rml_rtmp` sees it.
//!
//! `rml_rtmp` decodes AMF0 recursively and indexes command arguments without checking them,
//! so a payload it cannot take would overflow the stack or panic. Here each message is
//! judged by type: AMF0 commands and data are read by our bounded reader first, protocol
//! control messages must have their exact sizes, commands that allocate server state are
//! counted, and types `rml_rtmp` has no use for are dropped. Whatever is forwarded is then
//! handed to `rml_rtmp` as one whole chunk (see [`single_chunk`]), so its own chunk parsing
//! never meets interleaving, odd chunk sizes or compressed headers.

use ferrocast_media::amf0::{self, Value};
use ferrocast_media::rtmp_chunk::{self, Header, message_type};

use crate::RtmpError;
use crate::reader::Message;

/// The longest AMF0 command or data message: real ones are a few hundred bytes.
pub const MAX_AMF_MESSAGE: usize = 64 * 1024;

/// How many times a connection may ask for what costs the server state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandLimits {
    /// `connect` commands (an encoder sends one).
    pub connects: u32,
    /// `createStream` commands (an encoder sends one per stream, a player one per play).
    pub create_streams: u32,
    /// `publish` and `play` commands together: each waits for an answer.
    pub stream_requests: u32,
}

impl Default for CommandLimits {
    fn default() -> Self {
        Self {
            connects: 2,
            create_streams: 8,
            stream_requests: 8,
        }
    }
}

/// What to do with one message.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Hand it to `rml_rtmp`.
    Forward,
    /// Hand this payload to `rml_rtmp` instead: the message, completed.
    Replace(Vec<u8>),
    /// Leave it out: well-formed, but nothing behind us uses it.
    Drop(&'static str),
}

/// Judges messages for one connection, counting its commands.
#[derive(Debug, Default)]
pub struct Screen {
    limits: CommandLimits,
    connects: u32,
    create_streams: u32,
    stream_requests: u32,
}

impl Screen {
    /// A screen with these command limits.
    pub fn new(limits: CommandLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Judges `message`: an error ends the connection.
    pub fn judge(&mut self, message: &Message) -> Result<Verdict, RtmpError> {
        let payload = &message.payload;
        let exact = |len: usize| {
            if payload.len() == len {
                Ok(Verdict::Forward)
            } else {
                Err(malformed(message.type_id))
            }
        };
        match message.type_id {
            message_type::ACKNOWLEDGEMENT | message_type::WINDOW_ACK_SIZE => exact(4),
            message_type::SET_PEER_BANDWIDTH => exact(5),
            message_type::USER_CONTROL => judge_user_control(payload),
            message_type::AUDIO | message_type::VIDEO => Ok(Verdict::Forward),
            message_type::DATA_AMF0 => judge_data(&read_amf(payload)?),
            message_type::COMMAND_AMF0 => self.judge_command(&read_amf(payload)?),
            _ => Ok(Verdict::Drop("message type not used")),
        }
    }

    fn judge_command(&mut self, values: &[Value]) -> Result<Verdict, RtmpError> {
        let (Some(name), Some(Value::Number(_))) =
            (values.first().and_then(Value::as_str), values.get(1))
        else {
            return Err(RtmpError::Protocol(
                "a command must start with its name and transaction id".into(),
            ));
        };
        // `rml_rtmp` takes the first three values without checking they are there.
        if values.len() < 3 {
            return Ok(Verdict::Drop("command without a command object"));
        }
        let limit = match name {
            "connect" => {
                self.connects += 1;
                Some((self.connects, self.limits.connects))
            }
            "createStream" => {
                self.create_streams += 1;
                Some((self.create_streams, self.limits.create_streams))
            }
            "publish" | "play" => {
                self.stream_requests += 1;
                Some((self.stream_requests, self.limits.stream_requests))
            }
            _ => None,
        };
        if let Some((count, limit)) = limit
            && count > limit
        {
            return Err(RtmpError::Protocol(
                format!("more than {limit} {name} commands").into(),
            ));
        }
        match name {
            // `rml_rtmp` reads the properties of `connect`'s command object.
            "connect" if !matches!(values[2], Value::Object(_)) => Err(RtmpError::Protocol(
                "connect without a command object".into(),
            )),
            // ... and removes the stream name of `play` and `publish`, and `publish`'s type.
            "play" | "publish" if values.len() < 4 => Err(RtmpError::Protocol(
                format!("{name} without a stream name").into(),
            )),
            "publish" if values.len() == 4 => {
                // The publishing type is optional in practice; "live" is what it means.
                let mut payload = Vec::new();
                for value in values.iter().chain([&Value::String("live".into())]) {
                    amf0::write_value(value, &mut payload);
                }
                Ok(Verdict::Replace(payload))
            }
            _ => Ok(Verdict::Forward),
        }
    }
}

/// `@setDataFrame` must name its handler and carry the metadata: `rml_rtmp` indexes both.
fn judge_data(values: &[Value]) -> Result<Verdict, RtmpError> {
    match values.first().and_then(Value::as_str) {
        Some("@setDataFrame") => {
            let carries_metadata =
                matches!(values.get(2), Some(Value::Object(_) | Value::EcmaArray(_)));
            if values.get(1).and_then(Value::as_str).is_some() && carries_metadata {
                Ok(Verdict::Forward)
            } else {
                Ok(Verdict::Drop("@setDataFrame without metadata"))
            }
        }
        _ => Ok(Verdict::Drop("data message other than @setDataFrame")),
    }
}

/// User control events: a 2-byte event type and 4 bytes of stream id or timestamp, 8 for
/// SetBufferLength (type 3).
fn judge_user_control(payload: &[u8]) -> Result<Verdict, RtmpError> {
    let expected = match payload.get(..2) {
        Some([0, 3]) => 10,
        Some(_) => 6,
        None => return Err(malformed(message_type::USER_CONTROL)),
    };
    if payload.len() == expected {
        Ok(Verdict::Forward)
    } else {
        Err(malformed(message_type::USER_CONTROL))
    }
}

pub(crate) fn read_amf(payload: &[u8]) -> Result<Vec<Value>, RtmpError> {
    if payload.len() > MAX_AMF_MESSAGE {
        return Err(RtmpError::Protocol(
            format!(
                "amf0 message of {} bytes exceeds {MAX_AMF_MESSAGE}",
                payload.len()
            )
            .into(),
        ));
    }
    amf0::read_values(payload, amf0::Limits::default())
        .map_err(|error| RtmpError::Protocol(Box::new(error)))
}

fn malformed(type_id: u8) -> RtmpError {
    RtmpError::Protocol(format!("malformed control message of type {type_id}").into())
}

/// Appends `message` as one Type 0 chunk (with an extended timestamp where needed), for a
/// reader whose chunk size is at least the message's length.
pub fn single_chunk(message: &Message, out: &mut Vec<u8>) {
    let header = Header {
        // Any one-byte chunk stream id does: every chunk carries a full header.
        chunk_stream_id: 3,
        timestamp_ms: message.timestamp_ms,
        type_id: message.type_id,
        message_stream_id: message.message_stream_id,
    };
    let payload = &message.payload;
    rtmp_chunk::serialize_in_chunks(&header, payload, payload.len().max(1), out)
        .expect("a message read under a 24-bit length fits one");
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use ferrocast_media::amf0::{write_string, write_value};

    use super::*;

    fn command(values: &[Value]) -> Message {
        let mut payload = Vec::new();
        for value in values {
            write_value(value, &mut payload);
        }
        Message {
            chunk_stream_id: 3,
            timestamp_ms: 0,
            type_id: message_type::COMMAND_AMF0,
            message_stream_id: 0,
            payload: Bytes::from(payload),
        }
    }

    fn connect() -> Message {
        let object = Value::Object(vec![("app".into(), Value::String("live".into()))]);
        command(&[Value::String("connect".into()), Value::Number(1.0), object])
    }

    #[test]
    fn connect_is_forwarded_and_counted() {
        let mut screen = Screen::new(CommandLimits::default());
        assert_eq!(screen.judge(&connect()).unwrap(), Verdict::Forward);
        assert_eq!(screen.judge(&connect()).unwrap(), Verdict::Forward);
        assert!(screen.judge(&connect()).is_err(), "a third connect");
    }

    #[test]
    fn create_stream_is_capped() {
        let mut screen = Screen::new(CommandLimits::default());
        let create = command(&[
            Value::String("createStream".into()),
            Value::Number(2.0),
            Value::Null,
        ]);
        for _ in 0..CommandLimits::default().create_streams {
            assert_eq!(screen.judge(&create).unwrap(), Verdict::Forward);
        }
        assert!(screen.judge(&create).is_err());
    }

    #[test]
    fn a_command_without_name_or_transaction_is_refused() {
        let mut screen = Screen::default();
        assert!(screen.judge(&command(&[Value::Number(1.0)])).is_err());
        assert!(
            screen
                .judge(&command(&[Value::String("play".into())]))
                .is_err()
        );
    }

    #[test]
    fn commands_missing_what_rml_rtmp_takes_are_refused_or_dropped() {
        let name = |text: &str| Value::String(text.into());
        let two = command(&[name("FCUnpublish"), Value::Number(1.0)]);
        assert!(matches!(
            Screen::default().judge(&two),
            Ok(Verdict::Drop(_))
        ));
        let bare_connect = command(&[name("connect"), Value::Number(1.0), Value::Null]);
        assert!(Screen::default().judge(&bare_connect).is_err());
        for verb in ["play", "publish"] {
            let unnamed = command(&[name(verb), Value::Number(0.0), Value::Null]);
            assert!(Screen::default().judge(&unnamed).is_err(), "{verb}");
        }
    }

    #[test]
    fn publish_without_a_type_is_completed_as_live() {
        let values = [
            name_value("publish"),
            Value::Number(0.0),
            Value::Null,
            name_value("key"),
        ];
        let Verdict::Replace(payload) = Screen::default().judge(&command(&values)).unwrap() else {
            panic!("not completed");
        };
        let read = amf0::read_values(&payload, amf0::Limits::default()).unwrap();
        assert_eq!(read[..4], values);
        assert_eq!(read[4], name_value("live"));
    }

    fn name_value(text: &str) -> Value {
        Value::String(text.into())
    }

    #[test]
    fn set_data_frame_without_metadata_is_dropped() {
        let mut payload = Vec::new();
        write_string("@setDataFrame", &mut payload);
        let mut message = command(&[]);
        message.type_id = message_type::DATA_AMF0;
        message.payload = Bytes::from(payload.clone());
        assert!(matches!(
            Screen::default().judge(&message),
            Ok(Verdict::Drop(_))
        ));
        write_string("onMetaData", &mut payload);
        write_value(
            &Value::EcmaArray(vec![("width".into(), Value::Number(1280.0))]),
            &mut payload,
        );
        message.payload = Bytes::from(payload);
        assert_eq!(Screen::default().judge(&message).unwrap(), Verdict::Forward);
    }

    #[test]
    fn control_messages_must_have_their_sizes() {
        let mut message = command(&[]);
        for (type_id, good, bad) in [
            (message_type::WINDOW_ACK_SIZE, 4, 3),
            (message_type::SET_PEER_BANDWIDTH, 5, 4),
            (message_type::USER_CONTROL, 6, 2),
        ] {
            message.type_id = type_id;
            message.payload = Bytes::from(vec![0; good]);
            assert_eq!(Screen::default().judge(&message).unwrap(), Verdict::Forward);
            message.payload = Bytes::from(vec![0; bad]);
            assert!(Screen::default().judge(&message).is_err(), "type {type_id}");
        }
    }

    #[test]
    fn oversized_amf_is_refused_before_reading() {
        let mut message = command(&[]);
        message.payload = Bytes::from(vec![0x05; MAX_AMF_MESSAGE + 1]);
        assert!(Screen::default().judge(&message).is_err());
    }

    #[test]
    fn broken_amf_keeps_the_readers_error_as_its_cause() {
        let mut message = command(&[]);
        // A string marker whose length runs past the payload.
        message.payload = Bytes::from_static(&[0x02, 0x00, 0x10, b'a']);
        let Err(error) = Screen::default().judge(&message) else {
            panic!("truncated amf0 was accepted");
        };
        assert!(matches!(error, RtmpError::Protocol(_)), "{error}");
        let cause = std::error::Error::source(&error).expect("the reader's error is kept");
        assert!(cause.is::<ferrocast_media::MediaError>(), "{cause}");
    }
}
