//! `raw-fanout`: the ceiling for HTTP-FLV and RTMP fan-out on this machine (issue 15). It
//! pulls one HTTP-FLV stream from a server and writes the same bytes to every viewer from
//! **one thread**: each upstream read is written to each viewer's non-blocking socket with
//! one `write` (a `writev` of its backlog when it has one), nothing allocated per viewer per
//! frame, no task, no wake-up but the upstream read. A viewer starts like one of
//! ferrocast's: the metadata and codec configurations, then the GOP so far. RTMP players
//! get the same tags as RTMP messages, made once per read ([`rtmp`]).
//!
//! No real server can be cheaper per viewer than this: it is what the kernel costs. The
//! benchmark (`loadtest/benchmark.sh --servers raw`) measures it with the same viewers, so a
//! server's viewers per core can be read as a fraction of the ceiling's, protocol by
//! protocol: on loopback, how a player's TCP acknowledges (which follows its protocol's
//! exchanges) decides whose CPU its acknowledgements cost.
//!
//! ```text
//! raw-fanout --upstream http://127.0.0.1:8080/live/ID.flv [--listen 127.0.0.1:0]
//!            [--rtmp-listen 127.0.0.1:0]
//! ```
//! prints `HTTP-FLV: http://ADDR/live.flv` and `RTMP: rtmp://ADDR/live/stream` once it
//! listens, then waits for the upstream to go live. Loopback addresses only.

mod fanout;
mod rtmp;
mod upstream;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use fanout::{Arrival, Protocol};

/// How long a new viewer may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the upstream stream to go live.
const UPSTREAM_PATIENCE: Duration = Duration::from_secs(120);
/// Between two tries.
const UPSTREAM_RETRY: Duration = Duration::from_millis(200);

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut upstream = None;
    let (mut listen, mut rtmp_listen) = ("127.0.0.1:0".to_owned(), "127.0.0.1:0".to_owned());
    while let Some(flag) = args.next() {
        let value = args.next().context("a flag without its value")?;
        match flag.as_str() {
            "--upstream" => upstream = Some(value),
            "--listen" => listen = value,
            "--rtmp-listen" => rtmp_listen = value,
            other => {
                bail!("unknown flag {other} (--upstream URL, --listen ADDR, --rtmp-listen ADDR)")
            }
        }
    }
    let upstream = upstream.context("--upstream http://127.0.0.1:PORT/PATH is required")?;
    let listener = bind_loopback(&listen, "--listen")?;
    let rtmp_listener = bind_loopback(&rtmp_listen, "--rtmp-listen")?;
    println!("HTTP-FLV: http://{}/live.flv", listener.local_addr()?);
    println!("RTMP: rtmp://{}/live/stream", rtmp_listener.local_addr()?);
    std::io::stdout().flush()?;
    let source = connect(&upstream)?;
    let (joined, arrivals) = mpsc::channel();
    let rtmp_joined = joined.clone();
    thread::spawn(move || accept(&listener, &joined, Protocol::Flv));
    thread::spawn(move || accept(&rtmp_listener, &rtmp_joined, Protocol::Rtmp));
    fanout::run(source, &arrivals)
}

fn bind_loopback(address: &str, flag: &str) -> anyhow::Result<TcpListener> {
    let address: SocketAddr = address.parse().context(flag.to_owned())?;
    if !address.ip().is_loopback() {
        bail!("{flag} must be a loopback address");
    }
    Ok(TcpListener::bind(address)?)
}

/// Connects to the upstream, again every [`UPSTREAM_RETRY`] until [`UPSTREAM_PATIENCE`]: the
/// stream goes live after this starts listening.
fn connect(url: &str) -> anyhow::Result<upstream::Upstream> {
    let deadline = Instant::now() + UPSTREAM_PATIENCE;
    loop {
        match upstream::Upstream::connect(url) {
            Ok(source) => return Ok(source),
            Err(error) if Instant::now() >= deadline => return Err(error),
            Err(_) => thread::sleep(UPSTREAM_RETRY),
        }
    }
}

/// Accepts viewers, reads each one's request (for RTMP, answers it up to `play`), and hands
/// the socket to the fan-out thread.
fn accept(listener: &TcpListener, joined: &mpsc::Sender<Arrival>, protocol: Protocol) {
    for stream in listener.incoming().flatten() {
        let joined = joined.clone();
        // One short-lived thread per request read: a slow client never holds the others.
        thread::spawn(move || {
            let ready = match protocol {
                Protocol::Flv => read_request(&stream).map(|()| stream).map_err(Into::into),
                Protocol::Rtmp => rtmp::accept_player(stream),
            };
            if let Ok(stream) = ready {
                let _ = joined.send(Arrival { stream, protocol });
            }
        });
    }
}

/// Reads the request up to its blank line; its content does not matter.
fn read_request(stream: &TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == "\r\n" || line == "\n" {
            return Ok(());
        }
    }
}
