//! Tests of the chunk reader, with chunks built by hand after the RTMP specification.

use proptest::prelude::*;

use super::*;

const LIMITS: ReaderLimits = ReaderLimits {
    max_message_size: 1 << 20,
    max_chunk_streams: 8,
    max_buffered_bytes: 4 << 20,
};

/// Builds chunk headers by hand.
fn basic(format: u8, chunk_stream_id: u32) -> Vec<u8> {
    match chunk_stream_id {
        2..=63 => vec![(format << 6) | chunk_stream_id as u8],
        64..=319 => vec![format << 6, (chunk_stream_id - 64) as u8],
        _ => {
            let id = chunk_stream_id - 64;
            vec![(format << 6) | 1, (id & 0xFF) as u8, (id >> 8) as u8]
        }
    }
}

fn be24(value: u32) -> [u8; 3] {
    let b = value.to_be_bytes();
    [b[1], b[2], b[3]]
}

fn type0(csid: u32, timestamp: u32, len: usize, type_id: u8, msid: u32) -> Vec<u8> {
    let mut out = basic(0, csid);
    out.extend_from_slice(&be24(timestamp.min(EXTENDED_TIMESTAMP)));
    out.extend_from_slice(&be24(len as u32));
    out.push(type_id);
    out.extend_from_slice(&msid.to_le_bytes());
    if timestamp >= EXTENDED_TIMESTAMP {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
    out
}

fn type1(csid: u32, delta: u32, len: usize, type_id: u8) -> Vec<u8> {
    let mut out = basic(1, csid);
    out.extend_from_slice(&be24(delta));
    out.extend_from_slice(&be24(len as u32));
    out.push(type_id);
    out
}

fn type2(csid: u32, delta: u32) -> Vec<u8> {
    let mut out = basic(2, csid);
    out.extend_from_slice(&be24(delta));
    out
}

/// A whole message: a Type 0 chunk, then Type 3 continuations of `chunk_size` bytes.
fn message(
    csid: u32,
    timestamp: u32,
    type_id: u8,
    msid: u32,
    payload: &[u8],
    chunk_size: usize,
) -> Vec<u8> {
    let mut out = type0(csid, timestamp, payload.len(), type_id, msid);
    for (index, piece) in payload.chunks(chunk_size).enumerate() {
        if index > 0 {
            out.extend(basic(3, csid));
            if timestamp >= EXTENDED_TIMESTAMP {
                out.extend_from_slice(&timestamp.to_be_bytes());
            }
        }
        out.extend_from_slice(piece);
    }
    out
}

fn set_chunk_size(size: u32) -> Vec<u8> {
    let mut out = type0(2, 0, 4, SET_CHUNK_SIZE, 0);
    out.extend_from_slice(&size.to_be_bytes());
    out
}

fn read_all(reader: &mut ChunkReader, bytes: &[u8]) -> Result<Vec<Message>, ChunkError> {
    reader.push(bytes)?;
    let mut messages = Vec::new();
    while let Some(message) = reader.next_message()? {
        messages.push(message);
    }
    Ok(messages)
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn one_message_in_chunks_of_128() {
    let body = payload(300, 1);
    let mut reader = ChunkReader::new(LIMITS);
    let messages = read_all(&mut reader, &message(6, 40, 9, 1, &body, 128)).unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].payload, body);
    assert_eq!(
        (
            messages[0].timestamp_ms,
            messages[0].type_id,
            messages[0].message_stream_id
        ),
        (40, 9, 1)
    );
}

#[test]
fn audio_chunks_inside_a_video_message_are_read() {
    let video = payload(400, 2);
    let audio = [payload(20, 3), payload(150, 4)];
    let mut bytes = type0(6, 0, video.len(), 9, 1);
    bytes.extend_from_slice(&video[..128]);
    bytes.extend(message(4, 0, 8, 1, &audio[0], 128));
    bytes.extend(basic(3, 6));
    bytes.extend_from_slice(&video[128..256]);
    // The second audio message: a Type 1 header (new length), then its continuation.
    bytes.extend(type1(4, 23, audio[1].len(), 8));
    bytes.extend_from_slice(&audio[1][..128]);
    bytes.extend(basic(3, 6));
    bytes.extend_from_slice(&video[256..384]);
    bytes.extend(basic(3, 4));
    bytes.extend_from_slice(&audio[1][128..]);
    bytes.extend(basic(3, 6));
    bytes.extend_from_slice(&video[384..]);
    let mut reader = ChunkReader::new(LIMITS);
    let messages = read_all(&mut reader, &bytes).unwrap();
    let seen: Vec<_> = messages
        .iter()
        .map(|m| (m.type_id, m.timestamp_ms, m.payload.to_vec()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (8, 0, audio[0].clone()),
            (8, 23, audio[1].clone()),
            (9, 0, video.clone())
        ]
    );
}

#[test]
fn compressed_headers_carry_deltas() {
    let mut bytes = message(5, 1000, 8, 1, &[1, 2], 128);
    bytes.extend(type1(5, 20, 3, 8));
    bytes.extend_from_slice(&[3, 4, 5]);
    bytes.extend(type2(5, 21));
    bytes.extend_from_slice(&[6, 7, 8]);
    // Type 3 starting a message: same length and delta as the last.
    bytes.extend(basic(3, 5));
    bytes.extend_from_slice(&[9, 10, 11]);
    let mut reader = ChunkReader::new(LIMITS);
    let messages = read_all(&mut reader, &bytes).unwrap();
    let times: Vec<u32> = messages.iter().map(|m| m.timestamp_ms).collect();
    assert_eq!(times, [1000, 1020, 1041, 1062]);
    assert_eq!(messages[3].payload.as_ref(), &[9, 10, 11]);
}

#[test]
fn extended_timestamps_on_first_and_continuation_chunks() {
    let timestamp = 0x0123_4567;
    let body = payload(200, 5);
    let mut reader = ChunkReader::new(LIMITS);
    let messages = read_all(&mut reader, &message(6, timestamp, 9, 1, &body, 128)).unwrap();
    assert_eq!(messages[0].timestamp_ms, timestamp);
    assert_eq!(messages[0].payload, body);
}

#[test]
fn two_and_three_byte_basic_headers() {
    let mut reader = ChunkReader::new(LIMITS);
    let mut bytes = message(100, 1, 8, 1, &[1], 128);
    bytes.extend(message(4000, 2, 9, 1, &[2], 128));
    let messages = read_all(&mut reader, &bytes).unwrap();
    let ids: Vec<u32> = messages.iter().map(|m| m.chunk_stream_id).collect();
    assert_eq!(ids, [100, 4000]);
}

#[test]
fn every_legal_chunk_size_is_accepted() {
    for size in [1, 127, 4096, 65_536, 0x7FFF_FFFF] {
        let body = payload(1000, 6);
        let mut bytes = set_chunk_size(size);
        bytes.extend(message(6, 0, 9, 1, &body, size as usize));
        let mut reader = ChunkReader::new(LIMITS);
        let messages = read_all(&mut reader, &bytes).unwrap();
        assert_eq!(messages.len(), 1, "chunk size {size}");
        assert_eq!(messages[0].payload, body, "chunk size {size}");
        assert_eq!(reader.chunk_size(), size as usize);
    }
}

#[test]
fn zero_and_high_bit_chunk_sizes_are_refused() {
    for size in [0, 0x8000_0000] {
        let mut reader = ChunkReader::new(LIMITS);
        assert_eq!(
            read_all(&mut reader, &set_chunk_size(size)),
            Err(ChunkError::InvalidChunkSize(size))
        );
    }
}

#[test]
fn a_message_over_the_limit_is_refused_at_its_header() {
    let mut bytes = set_chunk_size(0x7FFF_FFFF);
    bytes.extend(type0(6, 0, 15 << 20, 9, 1));
    let mut reader = ChunkReader::new(LIMITS);
    assert_eq!(
        read_all(&mut reader, &bytes),
        Err(ChunkError::MessageTooLong {
            len: 15 << 20,
            max: LIMITS.max_message_size
        })
    );
}

#[test]
fn a_new_header_in_the_middle_of_a_message_is_refused() {
    let mut bytes = type0(6, 0, 300, 9, 1);
    bytes.extend_from_slice(&payload(128, 7));
    bytes.extend(type1(6, 0, 10, 9));
    let mut reader = ChunkReader::new(LIMITS);
    assert_eq!(
        read_all(&mut reader, &bytes),
        Err(ChunkError::InterruptedMessage(6))
    );
}

#[test]
fn abort_discards_the_message_in_progress() {
    let mut bytes = type0(6, 0, 300, 9, 1);
    bytes.extend_from_slice(&payload(128, 8));
    let mut abort = type0(2, 0, 4, ABORT, 0);
    abort.extend_from_slice(&6u32.to_be_bytes());
    bytes.extend(abort);
    let fresh = payload(50, 9);
    bytes.extend(message(6, 5, 9, 1, &fresh, 128));
    let mut reader = ChunkReader::new(LIMITS);
    let messages = read_all(&mut reader, &bytes).unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].payload, fresh);
    assert_eq!(reader.partial_bytes, 0);
}

#[test]
fn compressed_header_without_a_previous_one_is_refused() {
    let mut reader = ChunkReader::new(LIMITS);
    assert_eq!(
        read_all(&mut reader, &type2(9, 1)),
        Err(ChunkError::NoPreviousHeader(9))
    );
}

#[test]
fn chunk_streams_are_capped() {
    let mut bytes = Vec::new();
    for csid in 3..3 + LIMITS.max_chunk_streams as u32 + 1 {
        bytes.extend(message(csid, 0, 8, 1, &[1], 128));
    }
    let mut reader = ChunkReader::new(LIMITS);
    assert_eq!(
        read_all(&mut reader, &bytes),
        Err(ChunkError::TooManyChunkStreams(LIMITS.max_chunk_streams))
    );
}

#[test]
fn held_bytes_are_capped_across_interleaved_messages() {
    let limits = ReaderLimits {
        max_buffered_bytes: 600,
        ..LIMITS
    };
    let mut reader = ChunkReader::new(limits);
    let mut outcome = Ok(());
    // Open many messages on different chunk streams, each never finished.
    for csid in 3..10 {
        let mut bytes = type0(csid, 0, 900, 9, 1);
        bytes.extend_from_slice(&payload(128, 1));
        outcome = read_all(&mut reader, &bytes).map(|messages| assert!(messages.is_empty()));
        if outcome.is_err() {
            break;
        }
    }
    assert_eq!(outcome, Err(ChunkError::TooMuchBuffered(600)));
}

#[test]
fn buffers_grow_with_received_bytes_not_with_the_header() {
    let mut reader = ChunkReader::new(LIMITS);
    let mut bytes = type0(6, 0, LIMITS.max_message_size, 9, 1);
    bytes.extend_from_slice(&payload(128, 1));
    assert!(read_all(&mut reader, &bytes).unwrap().is_empty());
    let stream = &reader.streams[&6];
    assert!(
        stream.partial.capacity() < 4096,
        "reserved {}",
        stream.partial.capacity()
    );
}

proptest! {
    /// However the bytes are split into reads, the same messages come out.
    #[test]
    fn splitting_the_input_changes_nothing(
        sizes in proptest::collection::vec(0usize..600, 1..6),
        chunk_size in prop_oneof![Just(128u32), 1u32..300, Just(4096)],
        cut in proptest::collection::vec(1usize..200, 1..40),
    ) {
        let mut bytes = set_chunk_size(chunk_size);
        for (index, size) in sizes.iter().enumerate() {
            let csid = 4 + (index % 3) as u32;
            bytes.extend(message(csid, index as u32 * 33, 9, 1, &payload(*size, index as u8), chunk_size as usize));
        }
        let mut whole = ChunkReader::new(LIMITS);
        let expected = read_all(&mut whole, &bytes).unwrap();
        prop_assert_eq!(expected.len(), sizes.len());
        let mut pieces = ChunkReader::new(LIMITS);
        let mut got = Vec::new();
        let mut rest = bytes.as_slice();
        for step in cut.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (head, tail) = rest.split_at((*step).min(rest.len()));
            got.extend(read_all(&mut pieces, head).unwrap());
            rest = tail;
        }
        prop_assert_eq!(got, expected);
    }
}
