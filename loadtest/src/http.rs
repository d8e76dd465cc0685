//! A lean HTTP/1.1 client connection on hyper, driven inside the viewer's own task (no task
//! per connection): GET requests with keep-alive, bodies read frame by frame.

use std::future::Future;
use std::pin::{Pin, pin};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::errors::{ErrorKind, Failure};
use crate::target::HttpTarget;

type Conn = Connection<TokioIo<TcpStream>, Empty<Bytes>>;

/// Bytes read from the socket at a time.
const READ_BUFFER: usize = 32 * 1024;

/// One HTTP/1.1 connection.
pub struct HttpConn {
    sender: SendRequest<Empty<Bytes>>,
    conn: Pin<Box<Conn>>,
    closed: bool,
    io_timeout: Duration,
    addr: std::net::SocketAddr,
}

/// Classifies a hyper error.
fn failure(error: &hyper::Error) -> Failure {
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_incomplete_message() || error.is_closed() || error.is_canceled() {
        ErrorKind::Eof
    } else if error.is_parse() || error.is_parse_status() {
        ErrorKind::Protocol
    } else {
        ErrorKind::Io
    };
    Failure::new(kind, format!("http: {error}"))
}

fn timed_out(what: &str) -> Failure {
    Failure::new(ErrorKind::Timeout, format!("http {what} timed out"))
}

impl HttpConn {
    /// Opens a connection to `target`'s server.
    pub async fn connect(target: &HttpTarget, io_timeout: Duration) -> Result<Self, Failure> {
        let socket = match timeout(io_timeout, TcpStream::connect(target.addr)).await {
            Err(_) => return Err(timed_out("connect")),
            Ok(Err(error)) => return Err(Failure::new(ErrorKind::Connect, error.to_string())),
            Ok(Ok(socket)) => socket,
        };
        let _ = socket.set_nodelay(true);
        // A fixed read buffer: hyper's adaptive one grows to hundreds of KiB on a live
        // stream, which thousands of viewers cannot afford.
        let (sender, conn) = http1::Builder::new()
            .read_buf_exact_size(Some(READ_BUFFER))
            .handshake(TokioIo::new(socket))
            .await
            .map_err(|error| failure(&error))?;
        Ok(Self {
            sender,
            conn: Box::pin(conn),
            closed: false,
            io_timeout,
            addr: target.addr,
        })
    }

    /// The server address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Whether another request can go on this connection.
    pub fn is_open(&self) -> bool {
        !self.closed && !self.sender.is_closed()
    }

    /// Sends `GET` for `target` and returns the response head; the body follows through
    /// [`HttpConn::next_chunk`].
    pub async fn get(&mut self, target: &HttpTarget) -> Result<Response<Incoming>, Failure> {
        let request = Request::get(target.path_and_query.as_str())
            .header(header::HOST, target.authority.as_str())
            .header(header::USER_AGENT, "ferrocast-loadtest")
            .body(Empty::new())
            .map_err(|error| Failure::new(ErrorKind::Protocol, error.to_string()))?;
        let io_timeout = self.io_timeout;
        let sender = &mut self.sender;
        let exchange = async move {
            sender.ready().await.map_err(|error| failure(&error))?;
            sender
                .send_request(request)
                .await
                .map_err(|error| failure(&error))
        };
        let answer = drive(
            &mut self.conn,
            &mut self.closed,
            timeout(io_timeout, exchange),
        );
        answer.await.map_err(|_| timed_out("response"))?
    }

    /// The next piece of `body`; `None` at its end.
    pub async fn next_chunk(&mut self, body: &mut Incoming) -> Result<Option<Bytes>, Failure> {
        loop {
            let frame = timeout(self.io_timeout, body.frame());
            let frame = drive(&mut self.conn, &mut self.closed, frame)
                .await
                .map_err(|_| timed_out("body read"))?;
            match frame {
                None => return Ok(None),
                Some(Err(error)) => return Err(failure(&error)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// Reads a whole body into `into` (cleared first), refusing more than `limit` bytes.
    pub async fn read_body(
        &mut self,
        body: &mut Incoming,
        into: &mut Vec<u8>,
        limit: usize,
    ) -> Result<u64, Failure> {
        into.clear();
        while let Some(chunk) = self.next_chunk(body).await? {
            if into.len() + chunk.len() > limit {
                return Err(Failure::new(ErrorKind::Protocol, "http body too large"));
            }
            into.extend_from_slice(&chunk);
        }
        Ok(into.len() as u64)
    }

    /// Reads and discards a whole body, returning its length.
    pub async fn drain_body(&mut self, body: &mut Incoming) -> Result<u64, Failure> {
        let mut total = 0u64;
        while let Some(chunk) = self.next_chunk(body).await? {
            total += chunk.len() as u64;
        }
        Ok(total)
    }
}

/// The status as a failure unless it is 200.
pub fn expect_ok(status: StatusCode) -> Result<(), Failure> {
    if status == StatusCode::OK {
        return Ok(());
    }
    Err(Failure::new(
        ErrorKind::HttpStatus,
        format!("http status {status}"),
    ))
}

/// Polls `work` while also driving the connection's I/O, until `work` completes. Once the
/// connection has ended, `work` still runs to drain what was already received.
async fn drive<T>(
    conn: &mut Pin<Box<Conn>>,
    closed: &mut bool,
    work: impl Future<Output = T>,
) -> T {
    let mut work = pin!(work);
    loop {
        tokio::select! {
            biased;
            output = &mut work => return output,
            _ = conn.as_mut(), if !*closed => *closed = true,
        }
    }
}
