//! Raw RTMP bytes for tests and load tools: a plain handshake and hand-made messages, legal
//! and hostile, written with blocking `std::net` so any test can use them.

use std::io::{Read, Write};
use std::net::TcpStream;

use ferrocast_media::rtmp_chunk;

const HANDSHAKE_SIZE: usize = 1536;

/// Performs the plain (non-digest) client handshake.
pub fn client_handshake(socket: &mut TcpStream) -> std::io::Result<()> {
    let mut c0_c1 = vec![0u8; 1 + HANDSHAKE_SIZE];
    c0_c1[0] = 3;
    socket.write_all(&c0_c1)?;
    let mut s0_s1_s2 = vec![0u8; 1 + 2 * HANDSHAKE_SIZE];
    socket.read_exact(&mut s0_s1_s2)?;
    // C2 echoes S1.
    socket.write_all(&s0_s1_s2[1..=HANDSHAKE_SIZE])
}

/// An AMF0 data message holding only `"@setDataFrame"`, with no metadata after it: legal
/// framing that makes `rml_rtmp` 0.8 index an empty list and panic.
pub fn set_data_frame_without_metadata() -> Vec<u8> {
    let mut payload = vec![0x02, 0x00, 13];
    payload.extend_from_slice(b"@setDataFrame");
    let mut chunk = vec![0x03]; // fmt 0, chunk stream 3
    chunk.extend_from_slice(&[0, 0, 0]); // timestamp
    let length = payload.len() as u32;
    chunk.extend_from_slice(&length.to_be_bytes()[1..]);
    chunk.push(18); // AMF0 data message
    chunk.extend_from_slice(&0u32.to_le_bytes()); // message stream id
    chunk.extend_from_slice(&payload);
    chunk
}

/// `payload` as one message on `chunk_stream_id` (2 to 63): a Type 0 chunk, then Type 3
/// continuations of `chunk_size` bytes.
pub fn message_chunks(
    chunk_stream_id: u8,
    type_id: u8,
    message_stream_id: u32,
    payload: &[u8],
    chunk_size: usize,
) -> Vec<u8> {
    let header = rtmp_chunk::Header {
        chunk_stream_id,
        timestamp_ms: 0,
        type_id,
        message_stream_id,
    };
    let mut out = Vec::new();
    rtmp_chunk::serialize_in_chunks(&header, payload, chunk_size.max(1), &mut out)
        .expect("test messages fit in a 24-bit length");
    out
}

/// A Set Chunk Size message announcing `size` (any value, legal or not).
pub fn set_chunk_size(size: u32) -> Vec<u8> {
    message_chunks(2, 1, 0, &size.to_be_bytes(), 128)
}

/// A `connect` command whose command object nests `levels` objects deep, at the initial
/// chunk size of 128: with 10,000 levels (about 70 KB) it overflowed the stack of a
/// recursive AMF0 decoder.
pub fn deeply_nested_connect(levels: usize) -> Vec<u8> {
    let mut payload = vec![0x02, 0x00, 0x07];
    payload.extend_from_slice(b"connect");
    payload.push(0x00); // transaction id 1.0
    payload.extend_from_slice(&1.0f64.to_be_bytes());
    for _ in 0..levels {
        payload.extend_from_slice(&[0x03, 0x00, 0x01, b'a']); // object, property "a"
    }
    payload.push(0x05); // null
    for _ in 0..levels {
        payload.extend_from_slice(&[0x00, 0x00, 0x09]); // object end
    }
    message_chunks(3, 20, 0, &payload, 128)
}
