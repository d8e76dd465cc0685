//! A minimal blocking HTTP/1.0 client: enough for playlists, segments, FLV streams and the
//! admin API, with no framing to undo (HTTP/1.0 responses end when the connection closes).

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

/// `GET url` as a browser page on another origin would, and reads the whole response.
pub fn get(url: &str) -> Response {
    request("GET", url, &[("Origin", "https://player.example")], "")
}

/// Any request with extra headers and a JSON body (empty for none); reads the whole response.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let Streaming {
        status,
        body: mut reader,
    } = open(method, url, headers, body);
    let headers = read_headers(&mut reader);
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).expect("read body");
    Response {
        status,
        headers,
        body: bytes,
    }
}

/// `GET url`, returning after the headers so the body can be streamed.
pub fn stream(url: &str) -> Streaming {
    let mut response = open("GET", url, &[], "");
    read_headers(&mut response.body);
    response
}

fn open(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Streaming {
    try_open(method, url, headers, body).expect("connect, send the request, read the status")
}

/// `GET url` and the whole response, or the I/O error: for observers that must outlive a
/// server that is down or paused.
pub fn try_get(url: &str, timeout: Duration) -> std::io::Result<Response> {
    let Streaming {
        status,
        body: mut reader,
    } = try_open_with("GET", url, &[], "", timeout)?;
    let headers = try_read_headers(&mut reader)?;
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    Ok(Response {
        status,
        headers,
        body: bytes,
    })
}

/// `GET url`, returning after the headers, or the I/O error; reads time out after `timeout`.
pub fn try_stream(url: &str, timeout: Duration) -> std::io::Result<Streaming> {
    let mut response = try_open_with("GET", url, &[], "", timeout)?;
    try_read_headers(&mut response.body)?;
    Ok(response)
}

fn try_open(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Streaming> {
    try_open_with(method, url, headers, body, Duration::from_secs(20))
}

fn try_open_with(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> std::io::Result<Streaming> {
    let rest = url.strip_prefix("http://").expect("http url");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut socket = TcpStream::connect(authority)?;
    socket.set_read_timeout(Some(timeout))?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {authority}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    socket.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(socket);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {status_line:?}")))?;
    Ok(Streaming {
        status,
        body: reader,
    })
}

fn read_headers(reader: &mut BufReader<TcpStream>) -> Vec<(String, String)> {
    try_read_headers(reader).expect("read the headers")
}

fn try_read_headers(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            return Ok(headers);
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
}

/// The body of a `200` answer, or `None` for any other status.
pub fn get_text(url: &str) -> Option<String> {
    let response = get(url);
    (response.status == 200).then(|| response.text())
}
