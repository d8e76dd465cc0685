//! A tiny blocking RESP2 client for the harness: enough to ask a test's own Redis and Sentinel
//! processes about their state (`INFO`, `ROLE`, `SENTINEL …`) with std only.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Deepest reply nesting read; Sentinel replies are two levels deep.
const MAX_DEPTH: usize = 4;
/// Largest bulk string or array read: the harness asks small questions.
const MAX_LEN: usize = 1 << 20;

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `+…` or a bulk string.
    Text(String),
    /// `-…`.
    Error(String),
    /// `:…`.
    Integer(i64),
    /// `*…`.
    Array(Vec<Reply>),
    /// A null bulk or array.
    Nil,
}

impl Reply {
    /// The text, if this is one.
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Reply::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// Sends `args` to 127.0.0.1:`port` on a fresh connection and reads one reply within a
/// second; `None` if nothing sensible came back.
pub(crate) fn command(port: u16, args: &[&str]) -> Option<Reply> {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let limit = Some(Duration::from_secs(1));
    socket.set_read_timeout(limit).ok()?;
    socket.set_write_timeout(limit).ok()?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    socket.write_all(request.as_bytes()).ok()?;
    read_reply(&mut BufReader::new(socket), 0)
}

fn read_reply(reader: &mut impl BufRead, depth: usize) -> Option<Reply> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let line = line.strip_suffix("\r\n")?;
    let (kind, rest) = line.split_at_checked(1)?;
    match kind {
        "+" => Some(Reply::Text(rest.to_owned())),
        "-" => Some(Reply::Error(rest.to_owned())),
        ":" => rest.parse().ok().map(Reply::Integer),
        "$" => {
            let Ok(len) = usize::try_from(rest.parse::<i64>().ok()?) else {
                return Some(Reply::Nil);
            };
            if len > MAX_LEN {
                return None;
            }
            let mut body = vec![0; len + 2];
            reader.read_exact(&mut body).ok()?;
            body.truncate(len);
            String::from_utf8(body).ok().map(Reply::Text)
        }
        "*" if depth < MAX_DEPTH => {
            let Ok(len) = usize::try_from(rest.parse::<i64>().ok()?) else {
                return Some(Reply::Nil);
            };
            if len > MAX_LEN {
                return None;
            }
            (0..len)
                .map(|_| read_reply(reader, depth + 1))
                .collect::<Option<Vec<_>>>()
                .map(Reply::Array)
        }
        _ => None,
    }
}

/// The value of `field` in an `INFO` reply's `field:value` lines.
pub(crate) fn info_field(port: u16, section: &str, field: &str) -> Option<String> {
    let reply = command(port, &["INFO", section])?;
    let prefix = format!("{field}:");
    reply
        .text()?
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(str::to_owned)
}
