//! The one HTTP-FLV stream the ceiling fans out: an HTTP/1.0 GET (so the answer is the raw
//! FLV bytes, never chunked), then whole FLV tags per read, each sliced out of the read
//! without a copy and told apart enough to start a viewer (metadata, codec configurations,
//! keyframes).

use std::io::Read;
use std::net::{SocketAddr, TcpStream};

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};

/// FLV file header plus the first PreviousTagSize.
const FILE_HEADER_LEN: usize = 13;
/// An FLV tag's header.
pub const TAG_HEADER_LEN: usize = 11;
/// The PreviousTagSize after each tag.
pub const TAG_TRAILER_LEN: usize = 4;
/// Bytes asked of the socket per read.
const READ_SIZE: usize = 256 * 1024;
/// Longest HTTP response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// What a tag is, as far as starting a viewer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    /// `onMetaData` and other script data.
    Script,
    /// The video decoder configuration.
    VideoConfig,
    /// The audio decoder configuration.
    AudioConfig,
    /// A video keyframe: a GOP starts here.
    Keyframe,
    /// Any other media.
    Media,
}

/// One whole tag, trailer included.
#[derive(Debug, Clone)]
pub struct Tag {
    pub kind: TagKind,
    pub bytes: Bytes,
}

/// What one read finished: every whole tag, as one buffer and one by one (slices of it).
#[derive(Debug, Default)]
pub struct Batch {
    pub bytes: Bytes,
    pub tags: Vec<Tag>,
}

/// The stream being read.
pub struct Upstream {
    stream: TcpStream,
    pending: BytesMut,
    header: Bytes,
}

impl Upstream {
    /// GETs `url` (`http://` + a loopback address + path) and reads the FLV file header.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let rest = url.strip_prefix("http://").context("an http:// URL")?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let address: SocketAddr = authority.parse().context("host:port as an IP address")?;
        if !address.ip().is_loopback() {
            bail!("the upstream must be on a loopback address");
        }
        let mut stream = TcpStream::connect(address)?;
        let request = format!("GET /{path} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
        std::io::Write::write_all(&mut stream, request.as_bytes())?;
        let mut pending = read_head(&mut stream)?;
        while pending.len() < FILE_HEADER_LEN {
            if read_more(&mut stream, &mut pending)? == 0 {
                bail!("the upstream closed before the FLV header");
            }
        }
        let header = pending.split_to(FILE_HEADER_LEN).freeze();
        if &header[..3] != b"FLV" {
            bail!("the upstream is not FLV");
        }
        Ok(Self {
            stream,
            pending,
            header,
        })
    }

    /// The FLV file header every viewer starts with.
    pub fn header(&self) -> &Bytes {
        &self.header
    }

    /// Blocks for the next read and returns the tags it completed (maybe none); `None` once
    /// the upstream closed.
    pub fn read(&mut self) -> anyhow::Result<Option<Batch>> {
        if read_more(&mut self.stream, &mut self.pending)? == 0 {
            return Ok(None);
        }
        let mut whole = 0;
        let mut spans = Vec::new();
        while let Some(len) = tag_len(&self.pending[whole..]) {
            spans.push((whole, len, kind(&self.pending[whole..whole + len])));
            whole += len;
        }
        let bytes = self.pending.split_to(whole).freeze();
        let tags = spans
            .into_iter()
            .map(|(start, len, kind)| Tag {
                kind,
                bytes: bytes.slice(start..start + len),
            })
            .collect();
        Ok(Some(Batch { bytes, tags }))
    }
}

/// Reads the response head; returns what came after it. Refuses anything but a plain 200.
fn read_head(stream: &mut TcpStream) -> anyhow::Result<BytesMut> {
    let mut buffer = BytesMut::new();
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            if !head.starts_with("http/1.1 200") && !head.starts_with("http/1.0 200") {
                bail!("upstream answered {}", head.lines().next().unwrap_or(""));
            }
            if head.contains("transfer-encoding: chunked") {
                bail!("upstream answered chunked to HTTP/1.0");
            }
            let _ = buffer.split_to(end + 4);
            return Ok(buffer);
        }
        if buffer.len() > MAX_HEAD || read_more(stream, &mut buffer)? == 0 {
            bail!("no HTTP response head from the upstream");
        }
    }
}

fn read_more(stream: &mut TcpStream, buffer: &mut BytesMut) -> std::io::Result<usize> {
    let start = buffer.len();
    buffer.resize(start + READ_SIZE, 0);
    let read = stream.read(&mut buffer[start..]);
    buffer.truncate(start + *read.as_ref().unwrap_or(&0));
    read
}

/// The length of the whole tag at the start of `bytes`, if it is all there.
fn tag_len(bytes: &[u8]) -> Option<usize> {
    let header = bytes.get(..TAG_HEADER_LEN)?;
    let data = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    let len = TAG_HEADER_LEN + data + TAG_TRAILER_LEN;
    (bytes.len() >= len).then_some(len)
}

fn kind(tag: &[u8]) -> TagKind {
    let body = &tag[TAG_HEADER_LEN..];
    let first = body.first().copied().unwrap_or(0);
    let packet = body.get(1).copied().unwrap_or(1);
    match tag[0] & 0x1f {
        18 => TagKind::Script,
        // AAC, packet type 0: the AudioSpecificConfig.
        8 if first >> 4 == 10 && packet == 0 => TagKind::AudioConfig,
        // AVC (codec 7), packet type 0: the decoder configuration record.
        9 if first & 0x0f == 7 && packet == 0 => TagKind::VideoConfig,
        9 if first >> 4 == 1 => TagKind::Keyframe,
        _ => TagKind::Media,
    }
}
