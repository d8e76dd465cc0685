//! A minimal blocking HTTP/1.0 client: enough for playlists, segments and FLV streams, with
//! no framing to undo (HTTP/1.0 responses end when the connection closes).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A complete response.
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(key, _)| key == name);
        found.map(|(_, value)| value.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An open response whose body is still being read.
pub struct Streaming {
    /// Status code.
    pub status: u16,
    /// The body reader.
    pub body: BufReader<TcpStream>,
}

/// `GET url` and reads the whole response.
pub fn get(url: &str) -> Response {
    let Streaming { status, mut body } = open(url, Some("https://player.example"));
    let headers = read_headers(&mut body);
    let mut bytes = Vec::new();
    body.read_to_end(&mut bytes).expect("read body");
    Response {
        status,
        headers,
        body: bytes,
    }
}

/// `GET url`, returning after the headers so the body can be streamed.
pub fn stream(url: &str) -> Streaming {
    let mut response = open(url, None);
    read_headers(&mut response.body);
    response
}

fn open(url: &str, origin: Option<&str>) -> Streaming {
    let rest = url.strip_prefix("http://").expect("http url");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut socket = TcpStream::connect(authority).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n{origin}\r\n");
    socket.write_all(request.as_bytes()).expect("send request");
    let mut body = BufReader::new(socket);
    let mut status_line = String::new();
    body.read_line(&mut status_line).expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    Streaming { status, body }
}

fn read_headers(reader: &mut BufReader<TcpStream>) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        let line = line.trim_end();
        if line.is_empty() {
            return headers;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
}
