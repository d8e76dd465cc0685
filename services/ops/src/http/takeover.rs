//! Connections a server serves itself, outside hyper, chosen by their first request's head.
//!
//! hyper owns a connection's socket until the connection ends and polls a response body from
//! the connection's own task, so nothing else can write to that socket: a fan-out lane, one
//! task writing each live batch to many viewers' sockets (ADR 25), cannot serve an HTTP-FLV
//! viewer through it. So where a server has a [`Takeover`], the first request's head is read
//! here (within the header timeout, parsed with `httparse`); a request the takeover wants
//! gets the bare socket, and every other connection goes to hyper, which reads the bytes
//! already read first.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Most bytes of a first request's head read here; a longer head goes to hyper, which refuses
/// it.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers a head may have to be parsed here.
const MAX_HEADERS: usize = 64;

/// A request's head, as a takeover sees it.
#[derive(Debug)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The query, without its `?`.
    pub query: Option<String>,
    /// The headers.
    pub headers: HeaderMap,
}

/// Requests a server serves itself, with the bare socket.
pub trait Takeover: Send + Sync + 'static {
    /// Whether to serve the connection of this first request here.
    fn wants(&self, head: &RequestHead) -> bool;

    /// Serves the connection (its request's bytes are read): writes the whole response and
    /// returns when it has ended, or at the latest soon after `closing` is cancelled.
    fn serve(
        &self,
        socket: TcpStream,
        head: RequestHead,
        peer: SocketAddr,
        closing: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// What the first read of a connection found.
pub(crate) enum FirstRead {
    /// A whole head the takeover wants.
    Wanted(RequestHead),
    /// Anything else, for hyper: these bytes come first.
    Other(Vec<u8>),
    /// The head was not complete within the header timeout.
    TimedOut,
}

/// Reads the first request's head from `socket` within `limit`.
pub(crate) async fn read_first(
    socket: &mut TcpStream,
    takeover: &dyn Takeover,
    limit: Duration,
) -> FirstRead {
    let mut read = Vec::with_capacity(1024);
    let reading = async {
        let mut buffer = [0u8; 4096];
        loop {
            let count = socket.read(&mut buffer).await.unwrap_or(0);
            read.extend_from_slice(&buffer[..count]);
            if count == 0 || read.len() >= MAX_HEAD_BYTES {
                return None;
            }
            if let Some(head) = parse(&read) {
                return Some(head);
            }
        }
    };
    let head = match tokio::time::timeout(limit, reading).await {
        Ok(head) => head,
        Err(_) => return FirstRead::TimedOut,
    };
    match head {
        Some(Ok(head)) if takeover.wants(&head) => FirstRead::Wanted(head),
        _ => FirstRead::Other(read),
    }
}

/// The head in `read` once it is complete: `Some(Err)` for one this server would not take
/// (malformed, or not valid as `http` types), which hyper then answers.
fn parse(read: &[u8]) -> Option<Result<RequestHead, ()>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(read) {
        Ok(httparse::Status::Complete(_)) => Some(head_of(&request).ok_or(())),
        Ok(httparse::Status::Partial) => None,
        Err(_) => Some(Err(())),
    }
}

fn head_of(request: &httparse::Request<'_, '_>) -> Option<RequestHead> {
    let method = Method::from_bytes(request.method?.as_bytes()).ok()?;
    let target = request.path?;
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (target, None),
    };
    let mut headers = HeaderMap::with_capacity(request.headers.len());
    for header in request.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(header.value).ok()?;
        headers.append(name, value);
    }
    Some(RequestHead {
        method,
        path: path.to_owned(),
        query,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_head_is_parsed_with_its_query_and_headers() {
        let head =
            parse(b"GET /live/abc.flv?token=t HTTP/1.1\r\nHost: x\r\nRange: bytes=0-\r\n\r\n")
                .expect("complete")
                .expect("valid");
        assert_eq!(head.method, Method::GET);
        assert_eq!(head.path, "/live/abc.flv");
        assert_eq!(head.query.as_deref(), Some("token=t"));
        assert_eq!(head.headers["range"], "bytes=0-");
        assert!(parse(b"GET /live/abc.flv HTTP/1.1\r\nHost: x\r\n").is_none());
        assert!(matches!(
            parse(b"GET /\x01 HTTP/1.1\r\n\r\n"),
            Some(Err(()))
        ));
    }
}
