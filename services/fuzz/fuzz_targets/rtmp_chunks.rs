//! Feeds arbitrary bytes, split into reads at points the input chooses, to the RTMP chunk
//! reader (`ferrocast_rtmp::reader::ChunkReader`): every header type, chunk sizes, Abort,
//! interleaving, extended timestamps.
//!
//! Beyond "no panic" it asserts that no message is longer than the limit in force, and that
//! splitting the same bytes differently yields the same messages up to the first error.
#![no_main]

use ferrocast_rtmp::reader::{ChunkReader, Message, ReaderLimits};
use libfuzzer_sys::fuzz_target;

const LIMITS: ReaderLimits = ReaderLimits {
    max_message_size: 64 * 1024,
    max_chunk_streams: 32,
    max_buffered_bytes: 256 * 1024,
};

/// Messages read from `data` fed in pieces of the given sizes, and whether it ended in error.
fn read(data: &[u8], piece: usize) -> (Vec<Message>, bool) {
    let mut reader = ChunkReader::new(LIMITS);
    let mut messages = Vec::new();
    for bytes in data.chunks(piece.max(1)) {
        if reader.push(bytes).is_err() {
            return (messages, true);
        }
        loop {
            match reader.next_message() {
                Ok(Some(message)) => {
                    assert!(message.payload.len() <= LIMITS.max_message_size);
                    messages.push(message);
                }
                Ok(None) => break,
                Err(_) => return (messages, true),
            }
        }
    }
    (messages, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let (whole, whole_failed) = read(data, data.len());
    let (pieces, pieces_failed) = read(data, usize::from(split % 64) + 1);
    // The buffered-bytes cap can trip on a whole input that arrives in pieces without
    // tripping, so compare only the messages both read.
    let common = whole.len().min(pieces.len());
    assert_eq!(whole[..common], pieces[..common]);
    if !whole_failed && !pieces_failed {
        assert_eq!(whole.len(), pieces.len());
    }
});
