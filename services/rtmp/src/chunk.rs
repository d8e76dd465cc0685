//! Pure RTMP chunk serialization for messages we send without `rml_rtmp`: media frames that
//! are serialized once and shared by every player, and a few control and status messages.
//!
//! Every message starts with a Type 0 chunk header (absolute timestamp, length, type, message
//! stream id), so its bytes never depend on what was sent before on the same connection: that
//! is what lets one serialization serve every player. The chunk streams used here are apart
//! from the ones `rml_rtmp`'s serializer uses for its own replies (2 to 6, with header
//! compression), so its compressed headers never refer to a header we sent.

/// The outgoing chunk size, announced by the session at start and again when play starts.
pub const CHUNK_SIZE: usize = 4096;

/// The message stream id of a player's stream when it is the first one the connection
/// created (`rml_rtmp` numbers `createStream` results from 1). Frames are pre-serialized for it.
pub const SHARED_MESSAGE_STREAM_ID: u32 = 1;

/// The longest payload one RTMP message can carry (a 24-bit length).
pub const MAX_MESSAGE_LEN: usize = 0xFF_FFFF;

/// Timestamps from this value up are sent as an extended timestamp.
pub(crate) const EXTENDED_TIMESTAMP: u32 = 0xFF_FFFF;
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
pub(crate) fn serialize_in_chunks(
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
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// One message read back with the reader's rules for Type 0 and Type 3 chunks.
    #[derive(Debug, PartialEq)]
    struct Read {
        header: Header,
        payload: Vec<u8>,
    }

    /// A minimal de-chunker for one stream of messages written by [`serialize`].
    fn dechunk(mut bytes: &[u8]) -> Vec<Read> {
        let mut messages = Vec::new();
        let take = |bytes: &mut &[u8], count: usize| {
            let (head, rest) = bytes.split_at(count);
            *bytes = rest;
            head.to_vec()
        };
        while !bytes.is_empty() {
            let basic = take(&mut bytes, 1)[0];
            assert_eq!(basic >> 6, 0, "a message starts with a Type 0 chunk");
            let fields = take(&mut bytes, 11);
            let be24 = |b: &[u8]| u32::from_be_bytes([0, b[0], b[1], b[2]]);
            let mut timestamp_ms = be24(&fields[0..3]);
            let length = be24(&fields[3..6]) as usize;
            let message_stream_id = u32::from_le_bytes(fields[7..11].try_into().unwrap());
            let extended = timestamp_ms == EXTENDED_TIMESTAMP;
            if extended {
                timestamp_ms = u32::from_be_bytes(take(&mut bytes, 4).try_into().unwrap());
            }
            let mut payload = Vec::with_capacity(length);
            loop {
                let count = (length - payload.len()).min(CHUNK_SIZE);
                payload.extend(take(&mut bytes, count));
                if payload.len() == length {
                    break;
                }
                assert_eq!(take(&mut bytes, 1)[0], 0xC0 | basic, "Type 3 continuation");
                if extended {
                    let repeated = u32::from_be_bytes(take(&mut bytes, 4).try_into().unwrap());
                    assert_eq!(repeated, timestamp_ms, "extended timestamp repeated");
                }
            }
            let header = Header {
                chunk_stream_id: basic & 0x3F,
                timestamp_ms,
                type_id: fields[6],
                message_stream_id,
            };
            messages.push(Read { header, payload });
        }
        messages
    }

    #[test]
    fn small_message_exact_bytes() {
        let bytes = media_message(Media::Audio, 0x01_0203, 1, &[0xAF, 0x01, 0x21]).unwrap();
        assert_eq!(
            bytes,
            [
                0x09, // fmt 0, csid 9
                0x01, 0x02, 0x03, // timestamp
                0x00, 0x00, 0x03, // length
                0x08, // audio
                0x01, 0x00, 0x00, 0x00, // message stream id 1, little-endian
                0xAF, 0x01, 0x21,
            ]
        );
    }

    #[test]
    fn message_spanning_three_chunks() {
        let payload: Vec<u8> = (0..2 * CHUNK_SIZE + 10).map(|i| i as u8).collect();
        let bytes = media_message(Media::Video, 40, 1, &payload).unwrap();
        let mut expected = vec![0x0A, 0, 0, 40];
        expected.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        expected.extend_from_slice(&[0x09, 1, 0, 0, 0]);
        expected.extend_from_slice(&payload[..CHUNK_SIZE]);
        expected.push(0xCA);
        expected.extend_from_slice(&payload[CHUNK_SIZE..2 * CHUNK_SIZE]);
        expected.push(0xCA);
        expected.extend_from_slice(&payload[2 * CHUNK_SIZE..]);
        assert_eq!(bytes, expected);
        assert_eq!(bytes.len(), serialized_len(payload.len(), 40));
    }

    #[test]
    fn extended_timestamp_is_repeated_on_continuations() {
        let payload = vec![7u8; CHUNK_SIZE + 1];
        let timestamp_ms = 0x0100_0000;
        let bytes = media_message(Media::Data, timestamp_ms, 3, &payload).unwrap();
        assert_eq!(
            &bytes[..12],
            &[0x08, 0xFF, 0xFF, 0xFF, 0, 0x10, 0x01, 18, 3, 0, 0, 0]
        );
        assert_eq!(&bytes[12..16], &timestamp_ms.to_be_bytes());
        let continuation = 16 + CHUNK_SIZE;
        assert_eq!(bytes[continuation], 0xC8);
        assert_eq!(
            &bytes[continuation + 1..continuation + 5],
            &timestamp_ms.to_be_bytes()
        );
        assert_eq!(bytes.len(), continuation + 5 + 1);
        assert_eq!(bytes.len(), serialized_len(payload.len(), timestamp_ms));
    }

    #[test]
    fn timestamp_just_below_the_escape_is_not_extended() {
        let bytes = media_message(Media::Audio, 0xFF_FFFE, 1, &[1]).unwrap();
        assert_eq!(&bytes[1..4], &[0xFF, 0xFF, 0xFE]);
        assert_eq!(bytes.len(), 13);
    }

    #[test]
    fn set_chunk_size_exact_bytes() {
        let mut bytes = Vec::new();
        write_set_chunk_size(&mut bytes);
        assert_eq!(bytes, [2, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0]);
    }

    #[test]
    fn too_long_payload_is_refused() {
        let payload = vec![0u8; MAX_MESSAGE_LEN + 1];
        assert_eq!(
            media_message(Media::Video, 0, 1, &payload),
            Err(MessageTooLong(MAX_MESSAGE_LEN + 1))
        );
    }

    /// A media kind, a timestamp (half of them extended), a message stream and a payload of
    /// up to a little over three chunks.
    fn message() -> impl Strategy<Value = (Media, u32, u32, Vec<u8>)> {
        let media = prop_oneof![Just(Media::Audio), Just(Media::Video), Just(Media::Data)];
        let timestamp = prop_oneof![0..EXTENDED_TIMESTAMP, EXTENDED_TIMESTAMP..=u32::MAX];
        let payload = proptest::collection::vec(any::<u8>(), 0..3 * CHUNK_SIZE + 7);
        (media, timestamp, 1u32..5, payload)
    }

    proptest! {
        #[test]
        fn dechunking_gives_back_every_message(
            messages in proptest::collection::vec(message(), 1..5)
        ) {
            let mut bytes = Vec::new();
            let mut expected = Vec::new();
            for (media, timestamp_ms, stream, payload) in messages {
                let header = media.header(timestamp_ms, stream);
                let before = bytes.len();
                serialize(&header, &payload, &mut bytes).unwrap();
                prop_assert_eq!(bytes.len() - before, serialized_len(payload.len(), timestamp_ms));
                expected.push(Read { header, payload });
            }
            prop_assert_eq!(dechunk(&bytes), expected);
        }
    }
}
