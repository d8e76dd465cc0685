//! The bytes an attacker sends: chunk headers of every type (extended timestamps included),
//! messages cut at any chunk size into chunks a caller can interleave, protocol control
//! messages, and AMF0 commands (among them a `connect` nested to any depth).
//!
//! Written here rather than with a crate: serializers such as `rml_rtmp`'s write only
//! well-formed chunk streams, one message after another, with headers of their choosing, and
//! AMF0 writers recurse, so none can make a shrinking length, an illegal chunk size, chunks
//! of two messages interleaved, or a value nested 10,000 deep. The AMF0 scalars come from
//! `ferrocast_media::amf0`; what reads the server's answers is `rml_rtmp`.

use ferrocast_media::amf0::{self, Value};

/// RTMP message type ids used here.
pub mod message_type {
    /// Set Chunk Size.
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// Abort Message.
    pub const ABORT: u8 = 2;
    /// Window Acknowledgement Size.
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// Audio.
    pub const AUDIO: u8 = 8;
    /// Video.
    pub const VIDEO: u8 = 9;
    /// AMF0 data (`@setDataFrame`).
    pub const DATA_AMF0: u8 = 18;
    /// AMF0 command.
    pub const COMMAND_AMF0: u8 = 20;
}

/// Chunk stream of protocol control messages.
pub const CONTROL_CHUNK_STREAM: u32 = 2;
/// Chunk stream this client sends `connect` and `createStream` on.
pub const COMMAND_CHUNK_STREAM: u32 = 3;
/// Timestamps from this value up go in the extended timestamp field.
const EXTENDED: u32 = 0xFF_FFFF;
/// The chunk size both sides start with.
pub const DEFAULT_CHUNK_SIZE: usize = 128;

/// The message header of one chunk, by header type.
#[derive(Debug, Clone, Copy)]
pub enum Header {
    /// Type 0: absolute timestamp, length, type and message stream id.
    Full {
        /// Absolute timestamp (extended when 0xFFFFFF or more).
        timestamp: u32,
        /// Message length.
        length: u32,
        /// Message type id.
        type_id: u8,
        /// Message stream id.
        stream_id: u32,
    },
    /// Type 1: timestamp delta, length and type; the message stream of the previous chunk.
    Delta {
        /// Timestamp delta.
        delta: u32,
        /// Message length.
        length: u32,
        /// Message type id.
        type_id: u8,
    },
    /// Type 2: only a timestamp delta; length, type and stream as before.
    DeltaOnly {
        /// Timestamp delta.
        delta: u32,
    },
    /// Type 3: nothing; a continuation, or a new message exactly like the previous one.
    /// `extended` repeats the extended timestamp of the chunk stream's last header, as
    /// ffmpeg and librtmp do.
    Continuation {
        /// The extended timestamp to repeat, if the stream's last header had one.
        extended: Option<u32>,
    },
}

impl Header {
    /// A Type 0 header.
    pub fn full(timestamp: u32, length: usize, type_id: u8, stream_id: u32) -> Self {
        let length = u32::try_from(length).expect("test messages fit in u32");
        Header::Full {
            timestamp,
            length,
            type_id,
            stream_id,
        }
    }

    /// The timestamp field the header carries, if any.
    fn time_field(&self) -> Option<u32> {
        match *self {
            Header::Full { timestamp, .. } => Some(timestamp),
            Header::Delta { delta, .. } | Header::DeltaOnly { delta } => Some(delta),
            Header::Continuation { .. } => None,
        }
    }
}

/// Appends one chunk header (basic header, message header, extended timestamp).
pub fn write_header(chunk_stream: u32, header: Header, out: &mut Vec<u8>) {
    let format: u8 = match header {
        Header::Full { .. } => 0,
        Header::Delta { .. } => 1,
        Header::DeltaOnly { .. } => 2,
        Header::Continuation { .. } => 3,
    };
    match chunk_stream {
        2..=63 => out.push(format << 6 | chunk_stream as u8),
        64..=319 => out.extend_from_slice(&[format << 6, (chunk_stream - 64) as u8]),
        _ => {
            let id = chunk_stream - 64;
            out.extend_from_slice(&[format << 6 | 1, id as u8, (id >> 8) as u8]);
        }
    }
    let time = header.time_field();
    if let Some(time) = time {
        out.extend_from_slice(&time.min(EXTENDED).to_be_bytes()[1..]);
    }
    match header {
        Header::Full {
            length,
            type_id,
            stream_id,
            ..
        } => {
            out.extend_from_slice(&length.to_be_bytes()[1..]);
            out.push(type_id);
            out.extend_from_slice(&stream_id.to_le_bytes());
        }
        Header::Delta {
            length, type_id, ..
        } => {
            out.extend_from_slice(&length.to_be_bytes()[1..]);
            out.push(type_id);
        }
        Header::DeltaOnly { .. } => {}
        Header::Continuation { extended } => {
            if let Some(extended) = extended {
                out.extend_from_slice(&extended.to_be_bytes());
            }
        }
    }
    if let Some(time) = time.filter(|&time| time >= EXTENDED) {
        out.extend_from_slice(&time.to_be_bytes());
    }
}

/// One message as chunks of at most `chunk_size` payload bytes: `header` on the first,
/// Type 3 on the rest. Each chunk is returned apart, so a caller can interleave others.
pub fn chunks(
    chunk_stream: u32,
    header: Header,
    payload: &[u8],
    chunk_size: usize,
) -> Vec<Vec<u8>> {
    let extended = header.time_field().filter(|&time| time >= EXTENDED);
    let mut chunks = Vec::new();
    for (n, piece) in payload.chunks(chunk_size.max(1)).enumerate() {
        let mut chunk = Vec::with_capacity(piece.len() + 18);
        let this = if n == 0 {
            header
        } else {
            Header::Continuation { extended }
        };
        write_header(chunk_stream, this, &mut chunk);
        chunk.extend_from_slice(piece);
        chunks.push(chunk);
    }
    if payload.is_empty() {
        let mut chunk = Vec::new();
        write_header(chunk_stream, header, &mut chunk);
        chunks.push(chunk);
    }
    chunks
}

/// One message, all its chunks in a row.
pub fn message(chunk_stream: u32, header: Header, payload: &[u8], chunk_size: usize) -> Vec<u8> {
    chunks(chunk_stream, header, payload, chunk_size).concat()
}

/// A protocol control message carrying one 32-bit value (Set Chunk Size, Abort, Window
/// Acknowledgement Size) on chunk stream 2, message stream 0.
pub fn control(type_id: u8, value: u32) -> Vec<u8> {
    let header = Header::full(0, 4, type_id, 0);
    message(
        CONTROL_CHUNK_STREAM,
        header,
        &value.to_be_bytes(),
        DEFAULT_CHUNK_SIZE,
    )
}

/// An AMF0 command message: name, transaction id, then `arguments` as already-encoded
/// AMF0 values (the command object first).
pub fn command(
    stream_id: u32,
    name: &str,
    transaction: f64,
    arguments: &[u8],
    chunk_size: usize,
) -> Vec<u8> {
    let mut payload = Vec::with_capacity(32 + arguments.len());
    amf0::write_string(name, &mut payload);
    amf0::write_value(&Value::Number(transaction), &mut payload);
    payload.extend_from_slice(arguments);
    let chunk_stream = if stream_id == 0 {
        COMMAND_CHUNK_STREAM
    } else {
        8
    };
    let header = Header::full(0, payload.len(), message_type::COMMAND_AMF0, stream_id);
    message(chunk_stream, header, &payload, chunk_size)
}

/// The command object of `connect` to `app`, as an encoder sends it.
pub fn connect_object(app: &str, tc_url: &str) -> Vec<u8> {
    let mut object = Vec::new();
    let properties = [
        ("app", Value::String(app.to_owned())),
        ("type", Value::String("nonprivate".into())),
        (
            "flashVer",
            Value::String("FMLE/3.0 (compatible; ferrocast-e2e)".into()),
        ),
        ("tcUrl", Value::String(tc_url.to_owned())),
    ];
    amf0::write_object(&properties, &mut object);
    object
}

/// A `connect` command object for `app` with one more property nested `depth` objects deep
/// (`{app, a: {a: {...}}}`): 7 bytes a level, so 10,000 levels are about 70 KB.
pub fn deep_connect_object(app: &str, depth: usize) -> Vec<u8> {
    const OBJECT: u8 = 0x03;
    const OBJECT_END: [u8; 3] = [0x00, 0x00, 0x09];
    let mut object = vec![OBJECT];
    object.extend_from_slice(&3u16.to_be_bytes());
    object.extend_from_slice(b"app");
    amf0::write_string(app, &mut object);
    for _ in 0..depth {
        object.extend_from_slice(&1u16.to_be_bytes());
        object.push(b'a');
        object.push(OBJECT);
    }
    for _ in 0..=depth {
        object.extend_from_slice(&OBJECT_END);
    }
    object
}

/// The arguments of `publish`: null command object, the stream name (the key), "live".
pub fn publish_arguments(key: &str) -> Vec<u8> {
    let mut arguments = Vec::new();
    amf0::write_null(&mut arguments);
    amf0::write_string(key, &mut arguments);
    amf0::write_string("live", &mut arguments);
    arguments
}

#[cfg(test)]
mod tests {
    use rml_rtmp::chunk_io::ChunkDeserializer;

    use super::*;

    /// An independent reader (`rml_rtmp`) reads back what the writer made of the header
    /// forms no other test sends: a 3-byte chunk stream id, extended timestamps on Type 0
    /// and on the Type 3 continuations, then a Type 2 message.
    #[test]
    fn an_independent_reader_reads_extended_timestamps_and_long_chunk_stream_ids() {
        let payload: Vec<u8> = (0..300u32).map(|n| n as u8).collect();
        let first = Header::full(0x0100_0000, payload.len(), message_type::VIDEO, 1);
        let mut bytes = message(400, first, &payload, DEFAULT_CHUNK_SIZE);
        let second = Header::DeltaOnly { delta: 40 };
        bytes.extend(message(400, second, &payload, DEFAULT_CHUNK_SIZE));

        let mut reader = ChunkDeserializer::new();
        let read = reader.get_next_message(&bytes).unwrap().unwrap();
        assert_eq!(
            (read.timestamp.value, read.type_id, read.message_stream_id),
            (0x0100_0000, message_type::VIDEO, 1)
        );
        assert_eq!(read.data, payload);
        let read = reader.get_next_message(&[]).unwrap().unwrap();
        assert_eq!(
            (read.timestamp.value, &read.data[..]),
            (0x0100_0028, &payload[..])
        );
    }
}
