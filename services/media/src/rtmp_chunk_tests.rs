//! Exact bytes and a round trip through a minimal de-chunker for [`super`]'s serializer.

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
