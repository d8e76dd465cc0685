//! A bounded, sans-I/O reader of the RTMP chunk stream: bytes in, whole messages out.
//!
//! It reads all four chunk header types, one-, two- and three-byte basic headers, extended
//! timestamps (also on Type 3 continuations), every legal Set Chunk Size (1 to 0x7FFFFFFF)
//! and Abort Message, and chunk streams interleaved at chunk boundaries, as the RTMP
//! specification (section 5.3) allows. Set Chunk Size and Abort are applied here and not
//! passed on.
//!
//! Limits hold before anything is allocated: a message longer than the current maximum is
//! refused at its header, a message's buffer grows only as its bytes arrive (never reserved
//! from a header), the chunk streams a peer may use are capped, and so are the bytes held
//! for incomplete messages and unread input together.

use std::collections::HashMap;

use bytes::{Buf, Bytes, BytesMut};

use ferrocast_media::rtmp_chunk::EXTENDED_TIMESTAMP;
use ferrocast_media::rtmp_chunk::message_type::{ABORT, SET_CHUNK_SIZE};

/// The chunk size every peer starts with.
const INITIAL_CHUNK_SIZE: usize = 128;
/// The largest chunk size a peer may announce: the high bit of the field must be zero.
const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;

/// Bounds of one connection's chunk stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderLimits {
    /// Longest message accepted; longer ones are refused at their header.
    pub max_message_size: usize,
    /// Distinct chunk stream ids a peer may use over the connection's life.
    pub max_chunk_streams: usize,
    /// Bytes held at once: incomplete messages plus input not parsed yet.
    pub max_buffered_bytes: usize,
}

/// Why the chunk stream cannot be read on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// A header announced a message longer than allowed.
    #[error("rtmp message of {len} bytes exceeds the limit of {max} bytes")]
    MessageTooLong {
        /// The announced length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The peer opened more chunk streams than allowed.
    #[error("more than {0} rtmp chunk streams")]
    TooManyChunkStreams(usize),
    /// The peer made the reader hold more bytes than allowed.
    #[error("rtmp peer made the server buffer more than {0} bytes")]
    TooMuchBuffered(usize),
    /// A Set Chunk Size of 0 or with the high bit set.
    #[error("invalid rtmp chunk size {0}")]
    InvalidChunkSize(u32),
    /// A compressed header on a chunk stream that has no previous header.
    #[error("rtmp chunk stream {0} continues a header it never sent")]
    NoPreviousHeader(u32),
    /// A new message header on a chunk stream while its current message is incomplete.
    #[error("rtmp chunk stream {0} started a message before finishing the last")]
    InterruptedMessage(u32),
    /// A protocol control message with a malformed body.
    #[error("malformed rtmp control message of type {0}")]
    BadControlMessage(u8),
}

/// One complete message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The chunk stream it came on.
    pub chunk_stream_id: u32,
    /// Absolute timestamp in milliseconds (32-bit, wraps).
    pub timestamp_ms: u32,
    /// Message type id.
    pub type_id: u8,
    /// Message stream id.
    pub message_stream_id: u32,
    /// The payload.
    pub payload: Bytes,
}

/// What reading one chunk came to.
enum Chunk {
    /// The next chunk is not all here yet.
    NeedMoreBytes,
    /// A chunk was read; its message goes on.
    Read,
    /// A chunk completed this message.
    Completed(Message),
}

/// What one chunk stream remembers for header compression, and its message in progress.
#[derive(Debug, Default)]
struct ChunkStream {
    /// Whether a full header was ever received; compressed headers refer to it.
    started: bool,
    timestamp_ms: u32,
    /// The delta a Type 3 header starting a new message adds (0 after a Type 0 header).
    delta_ms: u32,
    /// Whether the last header's timestamp field was extended: Type 3 chunks then carry one.
    extended: bool,
    length: usize,
    type_id: u8,
    message_stream_id: u32,
    /// The message being received; empty between messages.
    partial: BytesMut,
    /// Whether a message is in progress (a zero-length one never is).
    receiving: bool,
}

/// Turns received bytes into messages. Feed it with [`ChunkReader::push`], then drain
/// [`ChunkReader::next_message`] until it returns `Ok(None)`.
#[derive(Debug)]
pub struct ChunkReader {
    limits: ReaderLimits,
    chunk_size: usize,
    input: BytesMut,
    streams: HashMap<u32, ChunkStream>,
    /// Bytes held in incomplete messages.
    partial_bytes: usize,
}

impl ChunkReader {
    /// A reader at the initial chunk size of 128 bytes.
    pub fn new(limits: ReaderLimits) -> Self {
        Self {
            limits,
            chunk_size: INITIAL_CHUNK_SIZE,
            input: BytesMut::new(),
            streams: HashMap::new(),
            partial_bytes: 0,
        }
    }

    /// Changes the limits, e.g. once a publish is authorized. Messages already announced keep
    /// the limit they were accepted under.
    pub fn set_limits(&mut self, limits: ReaderLimits) {
        self.limits = limits;
    }

    /// The chunk size the peer announced last.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), ChunkError> {
        self.input.extend_from_slice(bytes);
        self.check_buffered()
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, ChunkError> {
        loop {
            let message = match self.next_chunk()? {
                Chunk::NeedMoreBytes => return Ok(None),
                Chunk::Read => continue,
                Chunk::Completed(message) => message,
            };
            // Applied whatever message stream they came on: passing one on would let the peer
            // change the chunk size of whatever reads behind us.
            if self.apply_control(&message)? {
                continue;
            }
            return Ok(Some(message));
        }
    }

    /// Applies Set Chunk Size and Abort; returns whether `message` was one of them.
    fn apply_control(&mut self, message: &Message) -> Result<bool, ChunkError> {
        let value = || -> Result<u32, ChunkError> {
            let bytes: [u8; 4] = message
                .payload
                .get(..4)
                .and_then(|head| head.try_into().ok())
                .ok_or(ChunkError::BadControlMessage(message.type_id))?;
            Ok(u32::from_be_bytes(bytes))
        };
        match message.type_id {
            SET_CHUNK_SIZE => {
                let size = value()?;
                if size == 0 || size > MAX_CHUNK_SIZE {
                    return Err(ChunkError::InvalidChunkSize(size));
                }
                self.chunk_size = size as usize;
                Ok(true)
            }
            ABORT => {
                let chunk_stream_id = value()?;
                if let Some(stream) = self.streams.get_mut(&chunk_stream_id) {
                    self.partial_bytes -= stream.partial.len();
                    stream.partial = BytesMut::new();
                    stream.receiving = false;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Reads one chunk if all of it is here.
    fn next_chunk(&mut self) -> Result<Chunk, ChunkError> {
        let Some(header) = parse_header(&self.input, &self.streams)? else {
            return Ok(Chunk::NeedMoreBytes);
        };
        let stream_count = self.streams.len();
        let max_streams = self.limits.max_chunk_streams;
        let stream = match self.streams.get_mut(&header.chunk_stream_id) {
            Some(stream) => stream,
            None if stream_count >= max_streams => {
                return Err(ChunkError::TooManyChunkStreams(max_streams));
            }
            None => self.streams.entry(header.chunk_stream_id).or_default(),
        };
        // Work out the message this chunk belongs to before consuming anything, so that a
        // chunk whose payload has not arrived yet is parsed again, unchanged, next time.
        let starts_message = !stream.receiving;
        if header.format < 3 && !starts_message {
            return Err(ChunkError::InterruptedMessage(header.chunk_stream_id));
        }
        let length = header.length.unwrap_or(stream.length);
        if starts_message && length > self.limits.max_message_size {
            return Err(ChunkError::MessageTooLong {
                len: length,
                max: self.limits.max_message_size,
            });
        }
        let received = stream.partial.len();
        let body = (length - received).min(self.chunk_size);
        let Some(chunk_end) = header.len.checked_add(body) else {
            return Err(ChunkError::TooMuchBuffered(usize::MAX));
        };
        if self.input.len() < chunk_end {
            return Ok(Chunk::NeedMoreBytes);
        }
        if starts_message {
            stream.apply(&header);
            stream.receiving = length > 0;
        }
        self.input.advance(header.len);
        let payload = if received == 0 && body == stream.length {
            // A message in one chunk is handed out without a copy.
            self.input.split_to(body).freeze()
        } else {
            stream.partial.extend_from_slice(&self.input.split_to(body));
            self.partial_bytes += body;
            if stream.partial.len() < stream.length {
                return Ok(Chunk::Read);
            }
            self.partial_bytes -= stream.partial.len();
            std::mem::take(&mut stream.partial).freeze()
        };
        stream.receiving = false;
        Ok(Chunk::Completed(Message {
            chunk_stream_id: header.chunk_stream_id,
            timestamp_ms: stream.timestamp_ms,
            type_id: stream.type_id,
            message_stream_id: stream.message_stream_id,
            payload,
        }))
    }

    fn check_buffered(&self) -> Result<(), ChunkError> {
        let held = self.partial_bytes + self.input.len();
        if held > self.limits.max_buffered_bytes {
            return Err(ChunkError::TooMuchBuffered(self.limits.max_buffered_bytes));
        }
        Ok(())
    }
}

impl ChunkStream {
    /// Takes in the header of a chunk that starts a new message.
    fn apply(&mut self, header: &Header) {
        match header.format {
            0 => {
                self.timestamp_ms = header.timestamp;
                self.delta_ms = 0;
            }
            1 | 2 => {
                self.delta_ms = header.timestamp;
                self.timestamp_ms = self.timestamp_ms.wrapping_add(header.timestamp);
            }
            _ => self.timestamp_ms = self.timestamp_ms.wrapping_add(self.delta_ms),
        }
        if header.format < 3 {
            self.extended = header.extended;
        }
        if let Some(length) = header.length {
            self.length = length;
        }
        if let Some(type_id) = header.type_id {
            self.type_id = type_id;
        }
        if let Some(message_stream_id) = header.message_stream_id {
            self.message_stream_id = message_stream_id;
        }
        self.started = true;
    }
}

/// One parsed chunk header.
#[derive(Debug)]
struct Header {
    format: u8,
    chunk_stream_id: u32,
    /// Bytes the header takes.
    len: usize,
    /// The timestamp (Type 0) or delta (Types 1, 2), extended if it was.
    timestamp: u32,
    extended: bool,
    length: Option<usize>,
    type_id: Option<u8>,
    message_stream_id: Option<u32>,
}

/// Parses the chunk header at the start of `input`; `Ok(None)` if it is not all here.
fn parse_header(
    input: &[u8],
    streams: &HashMap<u32, ChunkStream>,
) -> Result<Option<Header>, ChunkError> {
    let Some(&first) = input.first() else {
        return Ok(None);
    };
    let format = first >> 6;
    let (chunk_stream_id, mut at) = match first & 0x3F {
        0 => match input.get(1) {
            Some(&low) => (64 + u32::from(low), 2),
            None => return Ok(None),
        },
        1 => match input.get(1..3) {
            Some(&[low, high]) => (64 + u32::from(low) + 256 * u32::from(high), 3),
            _ => return Ok(None),
        },
        id => (u32::from(id), 1),
    };
    let previous = streams
        .get(&chunk_stream_id)
        .filter(|stream| stream.started);
    if format > 0 && previous.is_none() {
        return Err(ChunkError::NoPreviousHeader(chunk_stream_id));
    }
    let fields = [11, 7, 3, 0][usize::from(format)];
    let Some(bytes) = input.get(at..at + fields) else {
        return Ok(None);
    };
    at += fields;
    let be24 = |b: &[u8]| u32::from_be_bytes([0, b[0], b[1], b[2]]);
    let mut header = Header {
        format,
        chunk_stream_id,
        len: 0,
        timestamp: 0,
        extended: false,
        length: None,
        type_id: None,
        message_stream_id: None,
    };
    if format < 3 {
        header.timestamp = be24(&bytes[0..3]);
        header.extended = header.timestamp == EXTENDED_TIMESTAMP;
    }
    if format < 2 {
        header.length = Some(be24(&bytes[3..6]) as usize);
        header.type_id = Some(bytes[6]);
    }
    if format == 0 {
        let id: [u8; 4] = [bytes[7], bytes[8], bytes[9], bytes[10]];
        header.message_stream_id = Some(u32::from_le_bytes(id));
    }
    // A Type 3 chunk repeats the extended timestamp of the header it continues.
    let carries_extended = header.extended || (format == 3 && previous.is_some_and(|s| s.extended));
    if carries_extended {
        let Some(bytes) = input.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        if format < 3 {
            header.timestamp = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
    }
    header.len = at;
    Ok(Some(header))
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
