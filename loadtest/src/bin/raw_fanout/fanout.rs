//! The fan-out loop: one thread, driven by the upstream's reads. Per read it admits the
//! viewers that arrived, then writes the read's whole tags to every viewer: one `write` of
//! the shared buffer (the FLV tags, or for RTMP players the same tags as RTMP messages, made
//! once per read when a player is connected), or, for a viewer with a backlog (its start, or
//! a write the socket did not take whole), one `writev` of the backlog. A viewer whose backlog
//! passes [`MAX_BACKLOG`] is cut, as a server cuts a viewer that cannot keep up.

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::io::{ErrorKind, IoSlice, Write};
use std::net::TcpStream;
use std::sync::mpsc::Receiver;

use bytes::Bytes;

use crate::rtmp;
use crate::upstream::{Tag, TagKind, Upstream};

/// The response head: raw FLV until the connection closes.
const HTTP_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nCache-Control: no-cache\r\n\
Connection: close\r\n\r\n";
/// Most bytes a viewer may have waiting.
const MAX_BACKLOG: usize = 8 * 1024 * 1024;
/// Most buffers in one `writev`.
const MAX_SLICES: usize = 64;
/// Most bytes of GOP kept for starting viewers.
const MAX_GOP: usize = 16 * 1024 * 1024;

/// How a viewer plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP-FLV: an HTTP head, the FLV file header, then FLV tags.
    Flv,
    /// RTMP play, answered up to `play` already: RTMP messages.
    Rtmp,
}

/// A viewer ready for the stream.
pub struct Arrival {
    pub stream: TcpStream,
    pub protocol: Protocol,
}

/// A tag kept for starting viewers, with its RTMP message made the first time an RTMP
/// player is started on it and shared by every later one.
struct Kept {
    tag: Tag,
    rtmp: OnceCell<Bytes>,
}

impl Kept {
    fn new(tag: &Tag) -> Self {
        Self {
            tag: tag.clone(),
            rtmp: OnceCell::new(),
        }
    }

    fn of(&self, protocol: Protocol) -> Bytes {
        match protocol {
            Protocol::Flv => self.tag.bytes.clone(),
            Protocol::Rtmp => self
                .rtmp
                .get_or_init(|| rtmp::messages([&self.tag]))
                .clone(),
        }
    }
}

/// What a new viewer is sent before the live tags.
#[derive(Default)]
struct Start {
    script: Option<Kept>,
    video_config: Option<Kept>,
    audio_config: Option<Kept>,
    gop: Vec<Kept>,
    gop_bytes: usize,
}

impl Start {
    fn note(&mut self, tag: &Tag) {
        match tag.kind {
            TagKind::Script => self.script = Some(Kept::new(tag)),
            TagKind::VideoConfig => self.video_config = Some(Kept::new(tag)),
            TagKind::AudioConfig => self.audio_config = Some(Kept::new(tag)),
            TagKind::Keyframe => {
                self.gop.clear();
                self.gop_bytes = tag.bytes.len();
                self.gop.push(Kept::new(tag));
            }
            // Media before the first keyframe cannot start a decoder: not kept.
            TagKind::Media if !self.gop.is_empty() && self.gop_bytes < MAX_GOP => {
                self.gop_bytes += tag.bytes.len();
                self.gop.push(Kept::new(tag));
            }
            TagKind::Media => {}
        }
    }

    fn opening(&self, protocol: Protocol, file_header: &Bytes) -> VecDeque<Bytes> {
        let preamble = match protocol {
            Protocol::Flv => vec![Bytes::from_static(HTTP_HEAD), file_header.clone()],
            // The session's answers up to `play` were sent when it was accepted.
            Protocol::Rtmp => Vec::new(),
        };
        let configs = [&self.script, &self.video_config, &self.audio_config];
        let kept = configs.into_iter().flatten().chain(&self.gop);
        preamble
            .into_iter()
            .chain(kept.map(|kept| kept.of(protocol)))
            .collect()
    }
}

struct Viewer {
    stream: TcpStream,
    protocol: Protocol,
    backlog: VecDeque<Bytes>,
    backlog_bytes: usize,
}

impl Viewer {
    /// Sends `live` (after any backlog); false when the viewer is gone or cut.
    fn send(&mut self, live: &Bytes) -> bool {
        if self.backlog.is_empty() {
            match self.stream.write(live) {
                Ok(sent) if sent == live.len() => return true,
                Ok(sent) => self.queue(live.slice(sent..)),
                Err(error) if error.kind() == ErrorKind::WouldBlock => self.queue(live.clone()),
                Err(_) => return false,
            }
            return self.backlog_bytes <= MAX_BACKLOG;
        }
        if !live.is_empty() {
            self.queue(live.clone());
        }
        self.flush()
    }

    fn queue(&mut self, bytes: Bytes) {
        self.backlog_bytes += bytes.len();
        self.backlog.push_back(bytes);
    }

    /// Writes the backlog until the socket takes no more; false when gone or cut.
    fn flush(&mut self) -> bool {
        while !self.backlog.is_empty() {
            let slices: Vec<IoSlice<'_>> = self
                .backlog
                .iter()
                .take(MAX_SLICES)
                .map(|bytes| IoSlice::new(bytes))
                .collect();
            match self.stream.write_vectored(&slices) {
                Ok(0) => return false,
                Ok(sent) => self.advance(sent),
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        self.backlog_bytes <= MAX_BACKLOG
    }

    fn advance(&mut self, mut sent: usize) {
        self.backlog_bytes -= sent;
        while let Some(front) = self.backlog.front_mut() {
            if sent < front.len() {
                let _ = front.split_to(sent);
                return;
            }
            sent -= front.len();
            self.backlog.pop_front();
        }
    }
}

/// Fans the upstream out until it ends.
pub fn run(mut source: Upstream, arrivals: &Receiver<Arrival>) -> anyhow::Result<()> {
    let mut start = Start::default();
    let mut viewers: Vec<Viewer> = Vec::new();
    while let Some(batch) = source.read()? {
        // Admitted before this read's tags join the start, which they are sent live.
        while let Ok(Arrival { stream, protocol }) = arrivals.try_recv() {
            if stream.set_nonblocking(true).is_err() || stream.set_nodelay(true).is_err() {
                continue;
            }
            let backlog = start.opening(protocol, source.header());
            let backlog_bytes = backlog.iter().map(Bytes::len).sum();
            viewers.push(Viewer {
                stream,
                protocol,
                backlog,
                backlog_bytes,
            });
        }
        for tag in &batch.tags {
            start.note(tag);
        }
        // Made at the first RTMP player's turn, so a run of HTTP-FLV viewers never pays it.
        let mut rtmp_live = None;
        viewers.retain_mut(|viewer| match viewer.protocol {
            Protocol::Flv => viewer.send(&batch.bytes),
            Protocol::Rtmp => {
                viewer.send(rtmp_live.get_or_insert_with(|| rtmp::messages(&batch.tags)))
            }
        });
    }
    Ok(())
}
