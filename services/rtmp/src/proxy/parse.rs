//! The sans-I/O PROXY protocol header parser: bytes in, a header, an error, or "read at least
//! this many more bytes" out. The header itself is decoded by the `ppp` crate; this module
//! adds what a server reading from a socket needs around it: which versions are accepted, the
//! size bounds, and how many bytes may be read next without reading past the header (the RTMP
//! handshake follows it on the same socket).

use std::net::SocketAddr;

use ppp::{v1, v2};

/// The 12-byte signature that starts a version 2 (binary) header.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The fixed part of a version 2 header: signature, version and command, family and
/// protocol, and the big-endian length of what follows.
const V2_FIXED: usize = 16;
/// What starts a version 1 (text) header.
const V1_PREFIX: &[u8] = b"PROXY ";
/// The shortest version 1 header: `PROXY UNKNOWN\r\n`.
const V1_SHORTEST: usize = 15;
/// The shortest complete header for each version 1 protocol; it lets the reader take the
/// addresses in a few reads instead of two bytes at a time.
const V1_SHORTEST_BY_PROTOCOL: [(&[u8], usize); 2] = [
    (b"PROXY TCP4 ", "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n".len()),
    (b"PROXY TCP6 ", "PROXY TCP6 :: :: 0 0\r\n".len()),
];

/// The longest version 1 header, CRLF included (the specification's bound).
pub const MAX_V1_HEADER: usize = 107;
/// The most address and TLV bytes a version 2 header may announce. Cloud load balancers send
/// a few dozen (addresses plus an endpoint or link id); the protocol allows 65,535, which a
/// server need not hold for an unauthenticated peer.
pub const MAX_V2_PAYLOAD: usize = 1024;
/// The longest header [`parse`] accepts, of either version.
pub const MAX_HEADER: usize = V2_FIXED + MAX_V2_PAYLOAD;

/// Which header versions a listener accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Only the text header.
    V1,
    /// Only the binary header.
    V2,
    /// Either.
    Any,
}

impl Accept {
    fn v1(self) -> bool {
        matches!(self, Self::V1 | Self::Any)
    }

    fn v2(self) -> bool {
        matches!(self, Self::V2 | Self::Any)
    }

    /// The shortest header this listener may receive: what can always be read first.
    fn shortest(self) -> usize {
        if self.v1() { V1_SHORTEST } else { V2_FIXED }
    }
}

/// A PROXY protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The text header.
    V1,
    /// The binary header.
    V2,
}

/// A complete, valid header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Which version it was.
    pub version: Version,
    /// Its length in bytes: what the connection's own bytes start after.
    pub length: usize,
    /// The client's address, as the proxy saw it. `None` for a connection the proxy made
    /// itself (a v2 `LOCAL` health check), a v1 `UNKNOWN`, or an address family other than
    /// IPv4 and IPv6: the socket's own address stands then.
    pub source: Option<SocketAddr>,
}

/// How far parsing got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The header is complete; the bytes after `header.length` are not part of it.
    Complete(Header),
    /// More bytes are needed: at least this many (always at least one), and reading this many
    /// never goes past the end of the header.
    Incomplete {
        /// How many more bytes may be read and are needed at least.
        at_least: usize,
    },
}

/// Why the bytes are not an acceptable header. Every error is final: more bytes will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// The bytes start like neither accepted header.
    #[error("no PROXY protocol header")]
    Missing,
    /// A header of a version this listener does not accept.
    #[error("PROXY protocol {0:?} header, not accepted here")]
    NotAccepted(Version),
    /// Longer than the bound: [`MAX_V1_HEADER`], or [`MAX_V2_PAYLOAD`] announced.
    #[error("PROXY protocol header longer than {limit} bytes")]
    TooLong {
        /// The bound that was passed.
        limit: usize,
    },
    /// A header of an accepted version that does not decode.
    #[error("malformed PROXY protocol header: {0}")]
    Malformed(String),
}

/// Parses the start of a connection's bytes as a PROXY protocol header.
pub fn parse(bytes: &[u8], accept: Accept) -> Result<Progress, ProxyError> {
    if bytes.is_empty() {
        return Ok(Progress::Incomplete {
            at_least: accept.shortest(),
        });
    }
    let looks_v2 = starts_like(bytes, V2_SIGNATURE);
    let looks_v1 = starts_like(bytes, V1_PREFIX);
    match (looks_v1, looks_v2) {
        (_, true) if accept.v2() => parse_v2(bytes),
        (true, _) if accept.v1() => parse_v1(bytes),
        (_, true) => Err(ProxyError::NotAccepted(Version::V2)),
        (true, _) => Err(ProxyError::NotAccepted(Version::V1)),
        (false, false) => Err(ProxyError::Missing),
    }
}

/// Whether `bytes` and `prefix` agree as far as both go.
fn starts_like(bytes: &[u8], prefix: &[u8]) -> bool {
    let common = bytes.len().min(prefix.len());
    bytes[..common] == prefix[..common]
}

fn parse_v2(bytes: &[u8]) -> Result<Progress, ProxyError> {
    if bytes.len() < V2_FIXED {
        return Ok(Progress::Incomplete {
            at_least: V2_FIXED - bytes.len(),
        });
    }
    let payload = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    if payload > MAX_V2_PAYLOAD {
        return Err(ProxyError::TooLong { limit: MAX_HEADER });
    }
    let length = V2_FIXED + payload;
    if bytes.len() < length {
        return Ok(Progress::Incomplete {
            at_least: length - bytes.len(),
        });
    }
    let header = v2::Header::try_from(&bytes[..length])
        .map_err(|error| ProxyError::Malformed(error.to_string()))?;
    let source = match (header.command, header.addresses) {
        (v2::Command::Local, _) => None,
        (v2::Command::Proxy, v2::Addresses::IPv4(ip)) => {
            Some(SocketAddr::from((ip.source_address, ip.source_port)))
        }
        (v2::Command::Proxy, v2::Addresses::IPv6(ip)) => {
            Some(SocketAddr::from((ip.source_address, ip.source_port)))
        }
        (v2::Command::Proxy, v2::Addresses::Unspecified | v2::Addresses::Unix(_)) => None,
    };
    Ok(Progress::Complete(Header {
        version: Version::V2,
        length,
        source,
    }))
}

fn parse_v1(bytes: &[u8]) -> Result<Progress, ProxyError> {
    let end = bytes.windows(2).position(|pair| pair == b"\r\n");
    let length = match end {
        Some(crlf) => crlf + 2,
        None => bytes.len(),
    };
    if length > MAX_V1_HEADER || (end.is_none() && length == MAX_V1_HEADER) {
        return Err(ProxyError::TooLong {
            limit: MAX_V1_HEADER,
        });
    }
    if end.is_none() {
        return match unfinished_v1_problem(bytes) {
            Some(problem) => Err(ProxyError::Malformed(problem.into())),
            None => Ok(Progress::Incomplete {
                at_least: v1_bytes_still_needed(bytes),
            }),
        };
    }
    let header = v1::Header::try_from(&bytes[..length])
        .map_err(|error| ProxyError::Malformed(error.to_string()))?;
    let source = match header.addresses {
        v1::Addresses::Tcp4(ip) => Some(SocketAddr::from((ip.source_address, ip.source_port))),
        v1::Addresses::Tcp6(ip) => Some(SocketAddr::from((ip.source_address, ip.source_port))),
        v1::Addresses::Unknown => None,
    };
    Ok(Progress::Complete(Header {
        version: Version::V1,
        length,
        source,
    }))
}

/// What already rules out a text header that has not ended yet, so a peer sending something
/// else is refused on its first bytes rather than at the length bound or the deadline. The
/// full grammar is checked by `ppp` once the line is complete.
fn unfinished_v1_problem(bytes: &[u8]) -> Option<&'static str> {
    let text = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if !text.iter().all(|byte| (0x20..0x7f).contains(byte)) {
        return Some("not printable text");
    }
    let protocol = text.get(V1_PREFIX.len()..).unwrap_or_default();
    let protocol = protocol
        .split(|&byte| byte == b' ')
        .next()
        .unwrap_or_default();
    let known = [&b"TCP4"[..], b"TCP6", b"UNKNOWN"];
    if !known
        .iter()
        .any(|name| starts_like(protocol, name) && protocol.len() <= name.len())
    {
        return Some("unknown protocol");
    }
    None
}

/// A lower bound of the bytes an unfinished text header still lacks, never past its end.
fn v1_bytes_still_needed(bytes: &[u8]) -> usize {
    // CRLF is still to come: two bytes, or one after a CR.
    let line_end = if bytes.ends_with(b"\r") { 1 } else { 2 };
    let shortest = V1_SHORTEST_BY_PROTOCOL
        .iter()
        .find(|(prefix, _)| bytes.starts_with(prefix))
        .map_or(V1_SHORTEST, |&(_, shortest)| shortest);
    let needed = shortest.saturating_sub(bytes.len()).max(line_end);
    needed.min(MAX_V1_HEADER - bytes.len())
}
