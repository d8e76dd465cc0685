//! Raw RTMP bytes for tests and load tools: a plain handshake and hand-made malformed
//! messages, written with blocking `std::net` so any test can use them.

use std::io::{Read, Write};
use std::net::TcpStream;

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
