//! Pure RTMP chunk serialization: media frames that are serialized once and shared by every
//! player, and the few control and status messages the RTMP server writes itself.
//!
//! Every message starts with a Type 0 chunk header (absolute timestamp, length, type, message
//! stream id), so its bytes never depend on what was sent before on the same connection: that
//! is what lets one serialization serve every player. The chunk streams used here are apart
//! from the ones the RTMP crate's session library uses for its own replies (2 to 6, with
//! header compression), so its compressed headers never refer to a header we sent.
//!
//! It lives here rather than in the RTMP crate because it is pure and because the live hub
//! serializes its frames with it: the hub needs the bytes, not the protocol.

/// The outgoing chunk size, announced by the session at start and again when play starts.
pub const CHUNK_SIZE: usize = 4096;

/// The message stream id of a player's stream when it is the first one the connection
/// created (the RTMP crate numbers `createStream` results from 1). Frames are pre-serialized
/// for it.
pub const SHARED_MESSAGE_STREAM_ID: u32 = 1;

/// The longest payload one RTMP message can carry (a 24-bit length).
pub const MAX_MESSAGE_LEN: usize = 0xFF_FFFF;

/// Timestamps from this value up are sent as an extended timestamp.
pub const EXTENDED_TIMESTAMP: u32 = 0xFF_FFFF;
/// Basic header + timestamp + length + type + message stream id.
const TYPE_0_HEADER_LEN: usize = 12;

/// Chunk stream ids.
pub mod chunk_stream {
    /// Protocol control messages (the stream the RTMP specification reserves for them).
    pub const PROTOCOL_CONTROL: u8 = 2;
    /// Status commands we write ourselves (`onStatus` refusals).
    pub const STATUS: u8 = 7;
    /// AMF0 data messages (`onMetaData`).
    pub const DATA: u8 = 8;
    /// Audio messages.
    pub const AUDIO: u8 = 9;
    /// Video messages.
    pub const VIDEO: u8 = 10;
}

/// RTMP message type ids.
pub mod message_type {
    /// Set Chunk Size protocol control message.
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// Abort Message protocol control message.
    pub const ABORT: u8 = 2;
    /// Acknowledgement protocol control message.
    pub const ACKNOWLEDGEMENT: u8 = 3;
    /// User Control message.
    pub const USER_CONTROL: u8 = 4;
    /// Window Acknowledgement Size protocol control message.
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// Set Peer Bandwidth protocol control message.
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    /// Audio data.
    pub const AUDIO: u8 = 8;
    /// Video data.
    pub const VIDEO: u8 = 9;
    /// AMF0 data (`onMetaData`).
    pub const DATA_AMF0: u8 = 18;
    /// AMF0 command (`onStatus`).
    pub const COMMAND_AMF0: u8 = 20;
}

/// A payload that does not fit in one RTMP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rtmp message of {0} bytes exceeds the 24-bit length field")]
pub struct MessageTooLong(pub usize);

/// The Type 0 header fields of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Chunk stream id, 2 to 63 (a one-byte basic header).
    pub chunk_stream_id: u8,
    /// Absolute timestamp in milliseconds.
    pub timestamp_ms: u32,
    /// Message type id.
    pub type_id: u8,
    /// Message stream id (0 for protocol control).
    pub message_stream_id: u32,
}

/// What a media message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// An FLV audio tag body.
    Audio,
    /// An FLV video tag body.
    Video,
    /// An AMF0 data message such as `onMetaData`.
    Data,
}

impl Media {
    /// The header of this kind of media on `message_stream_id`.
    pub fn header(self, timestamp_ms: u32, message_stream_id: u32) -> Header {
        let (chunk_stream_id, type_id) = match self {
            Media::Audio => (chunk_stream::AUDIO, message_type::AUDIO),
            Media::Video => (chunk_stream::VIDEO, message_type::VIDEO),
            Media::Data => (chunk_stream::DATA, message_type::DATA_AMF0),
        };
        Header {
            chunk_stream_id,
            timestamp_ms,
            type_id,
            message_stream_id,
        }
    }
}

/// Bytes [`serialize`] writes for a payload of `payload_len` bytes at `timestamp_ms`.
pub fn serialized_len(payload_len: usize, timestamp_ms: u32) -> usize {
    serialized_len_in(payload_len, timestamp_ms, CHUNK_SIZE)
}

fn serialized_len_in(payload_len: usize, timestamp_ms: u32, chunk_size: usize) -> usize {
    let chunks = payload_len.div_ceil(chunk_size).max(1);
    let extended = if timestamp_ms >= EXTENDED_TIMESTAMP {
        4
    } else {
        0
    };
    TYPE_0_HEADER_LEN + extended + (chunks - 1) * (1 + extended) + payload_len
}

/// Appends `payload` as one message: a Type 0 chunk, then Type 3 continuation chunks of
/// [`CHUNK_SIZE`] bytes. An extended timestamp is repeated on every continuation chunk, as
/// ffmpeg, librtmp and Flash expect.
pub fn serialize(header: &Header, payload: &[u8], out: &mut Vec<u8>) -> Result<(), MessageTooLong> {
    serialize_in_chunks(header, payload, CHUNK_SIZE, out)
}

/// Like [`serialize`], in chunks of `chunk_size` bytes: with a chunk size of at least the
/// payload's length, the message is one Type 0 chunk.
pub fn serialize_in_chunks(
    header: &Header,
    payload: &[u8],
    chunk_size: usize,
    out: &mut Vec<u8>,
) -> Result<(), MessageTooLong> {
    if payload.len() > MAX_MESSAGE_LEN {
        return Err(MessageTooLong(payload.len()));
    }
    debug_assert!(
        (2..=63).contains(&header.chunk_stream_id),
        "one-byte basic headers only"
    );
    let csid = header.chunk_stream_id & 0x3F;
    let extended = header.timestamp_ms >= EXTENDED_TIMESTAMP;
    let timestamp_field = header.timestamp_ms.min(EXTENDED_TIMESTAMP);
    let length = payload.len() as u32;
    out.reserve(serialized_len_in(
        payload.len(),
        header.timestamp_ms,
        chunk_size,
    ));
    out.push(csid); // fmt 0
    out.extend_from_slice(&timestamp_field.to_be_bytes()[1..]);
    out.extend_from_slice(&length.to_be_bytes()[1..]);
    out.push(header.type_id);
    out.extend_from_slice(&header.message_stream_id.to_le_bytes());
    if extended {
        out.extend_from_slice(&header.timestamp_ms.to_be_bytes());
    }
    for (index, chunk) in payload.chunks(chunk_size).enumerate() {
        if index > 0 {
            out.push(0xC0 | csid); // fmt 3
            if extended {
                out.extend_from_slice(&header.timestamp_ms.to_be_bytes());
            }
        }
        out.extend_from_slice(chunk);
    }
    Ok(())
}

/// A media message serialized on its own.
pub fn media_message(
    media: Media,
    timestamp_ms: u32,
    message_stream_id: u32,
    payload: &[u8],
) -> Result<Vec<u8>, MessageTooLong> {
    let mut out = Vec::with_capacity(serialized_len(payload.len(), timestamp_ms));
    serialize(
        &media.header(timestamp_ms, message_stream_id),
        payload,
        &mut out,
    )?;
    Ok(out)
}

/// Appends a Set Chunk Size message announcing [`CHUNK_SIZE`].
pub fn write_set_chunk_size(out: &mut Vec<u8>) {
    let header = Header {
        chunk_stream_id: chunk_stream::PROTOCOL_CONTROL,
        timestamp_ms: 0,
        type_id: message_type::SET_CHUNK_SIZE,
        message_stream_id: 0,
    };
    let size = CHUNK_SIZE as u32;
    serialize(&header, &size.to_be_bytes(), out).expect("a 4-byte payload fits");
}

#[cfg(test)]
#[path = "rtmp_chunk_tests.rs"]
mod tests;
