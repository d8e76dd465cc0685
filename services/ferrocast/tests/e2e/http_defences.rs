//! The HTTP port against clients that hold connections without using them (issue 10):
//! slow-loris clients are closed at the header-read timeout while others are served,
//! connections over the cap are closed at once and counted, and with a low open-file limit a
//! flood of idle sockets silences neither the ops port nor, once they are gone, the HTTP port.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::ingest::{playlist_when, segment_uris};
use crate::support::http::get;
use crate::support::media::publish_clip;
use crate::support::server::{DevServer, dev};
use crate::support::wait_for;

const OPEN: &str = "ferrocast_listener_connections{listener=\"http\"}";
const REFUSED: &str = "ferrocast_listener_connections_refused_total{listener=\"http\"}";
const HEADER_TIMEOUTS: &str =
    "ferrocast_listener_timeouts_total{listener=\"http\",kind=\"header\"}";

/// `127.0.0.1:<port>` of the server's HTTP port.
fn http_authority(server: &DevServer) -> String {
    let rest = server.hls_url.trim_start_matches("http://");
    rest[..rest.find('/').unwrap()].to_owned()
}

/// The value of one series on the ops port's `/metrics`.
fn metric(server: &DevServer, series: &str) -> Option<f64> {
    let text = get(&format!("{}/metrics", server.ops_url)).text();
    let prefix = format!("{series} ");
    let line = text.lines().find(|line| line.starts_with(&prefix))?;
    line[prefix.len()..].trim().parse().ok()
}

/// The server's log without terminal colours, so fields read `name=value`.
fn plain_log(server: &DevServer) -> String {
    let mut plain = String::new();
    let mut rest = server.log();
    while let Some(start) = rest.find('\x1b') {
        plain.push_str(&rest[..start]);
        let end = rest[start..]
            .find('m')
            .map_or(rest.len(), |m| start + m + 1);
        rest = rest.split_off(end);
    }
    plain.push_str(&rest);
    plain
}

/// Sends `first`, then one byte of `trickle` a second, until the server closes the
/// connection: how long that took, or `None` if it stayed open for `patience`.
fn time_to_close(
    mut socket: TcpStream,
    first: &[u8],
    trickle: &[u8],
    patience: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    socket.write_all(first).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut trickle = trickle.iter();
    let mut buf = [0u8; 1024];
    while started.elapsed() < patience {
        match socket.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(started.elapsed()),
        }
        if let Some(byte) = trickle.next()
            && socket.write_all(&[*byte]).is_err()
        {
            return Some(started.elapsed());
        }
    }
    None
}

#[test]
fn slow_loris_clients_are_closed_at_the_header_timeout_while_others_are_served() {
    let server = dev().start_with(&[("FERROCAST_EDGE__HTTP__HEADER_READ_TIMEOUT", "2s")]);
    let mut publisher = publish_clip(&server.publish_url, -1);
    playlist_when(&server, "the stream to go live", |text| {
        !segment_uris(text).is_empty()
    });
    let addr = http_authority(&server);
    let request = b"GET /hls/x/index.m3u8 HTTP/1.1\r\nhost: edge\r\naccept: */*\r\n\r\n";
    let patience = Duration::from_secs(15);
    let clients: Vec<(&str, &'static [u8], &'static [u8])> = vec![
        ("nothing at all", b"", b""),
        ("one byte a second", b"", request),
        (
            "only a request line",
            b"GET /hls/x/index.m3u8 HTTP/1.1\r\n",
            b"",
        ),
    ];
    let slow: Vec<_> = clients
        .into_iter()
        .map(|(name, first, trickle)| {
            let socket = TcpStream::connect(&addr).unwrap();
            let closed =
                std::thread::spawn(move || time_to_close(socket, first, trickle, patience));
            (name, closed)
        })
        .collect();

    // While the three hold their connections, others are served.
    let playlist = crate::support::hls::media_text(&server.hls_url).expect("a playlist");
    assert!(!segment_uris(&playlist).is_empty(), "{playlist}");
    assert_eq!(get(&format!("{}/healthz", server.ops_url)).status, 200);

    for (name, closed) in slow {
        let closed = closed.join().unwrap();
        let Some(after) = closed else {
            panic!("{name}: still open after {patience:?}");
        };
        assert!(
            after >= Duration::from_millis(1500) && after <= Duration::from_secs(4),
            "{name}: closed after {after:?}, not at the 2 s header timeout"
        );
    }
    assert_eq!(metric(&server, HEADER_TIMEOUTS), Some(3.0));
    let _ = publisher.kill();
    let _ = publisher.wait();
}

#[test]
fn connections_over_the_cap_are_closed_at_once_and_counted() {
    let server = dev().start_with(&[("FERROCAST_EDGE__HTTP__MAX_CONNECTIONS", "3")]);
    let addr = http_authority(&server);
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    wait_for(
        "the three connections to be open",
        Duration::from_secs(10),
        || (metric(&server, OPEN) == Some(3.0)).then_some(()),
    );

    let extra = TcpStream::connect(&addr).unwrap();
    let closed = time_to_close(extra, b"", b"", Duration::from_secs(5));
    assert!(
        closed.is_some_and(|after| after < Duration::from_secs(1)),
        "the fourth connection is closed at once: {closed:?}"
    );
    assert_eq!(metric(&server, REFUSED), Some(1.0));

    drop(held);
    wait_for(
        "the held connections to close",
        Duration::from_secs(10),
        || (metric(&server, OPEN) == Some(0.0)).then_some(()),
    );
    // Nothing is published, so the answer is a 404: what matters is that there is one.
    assert_eq!(get(&server.hls_url).status, 404);
    assert_eq!(metric(&server, REFUSED), Some(1.0));
}

#[test]
fn with_256_descriptors_a_flood_of_idle_sockets_cannot_silence_the_ops_port() {
    let server = dev().start_wrapped(
        &["prlimit", "--nofile=256:256"],
        &[("FERROCAST_EDGE__HTTP__HEADER_READ_TIMEOUT", "3s")],
    );
    let log = wait_for("the edge to start", Duration::from_secs(10), || {
        let log = plain_log(&server);
        log.contains("http.max_connections").then_some(log)
    });
    assert!(log.contains("open-file limit limit=256"), "{log}");
    assert!(
        log.contains("connection cap lowered to fit the open-file limit")
            && log.contains("effective=64"),
        "{log}"
    );
    // 256 descriptors, 128 kept in reserve, half of the rest for HTTP.
    let cap = 64;
    let flood = 300;
    let addr = http_authority(&server);
    let idle: Vec<TcpStream> = (0..flood)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    wait_for(
        "every socket to be taken or refused",
        Duration::from_secs(10),
        || {
            let refused = metric(&server, REFUSED)?;
            (refused == f64::from(flood - cap)).then_some(())
        },
    );
    assert_eq!(metric(&server, OPEN), Some(f64::from(cap)));

    let health = get(&format!("{}/healthz", server.ops_url));
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    let open_fds = metric(&server, "process_open_fds").unwrap();
    assert!(open_fds < 256.0 - 32.0, "{open_fds} descriptors open");

    // The idle ones are closed at the header timeout; then viewers get in again.
    wait_for(
        "the idle sockets to be closed",
        Duration::from_secs(10),
        || (metric(&server, OPEN) == Some(0.0)).then_some(()),
    );
    assert_eq!(get(&server.hls_url).status, 404);
    drop(idle);

    let log = plain_log(&server);
    let accept_failures = log.matches("accept failed").count();
    let refusal_lines = log.matches("connection refused: limit reached").count();
    assert!(
        accept_failures <= 1,
        "{accept_failures} accept failures logged"
    );
    assert!(
        refusal_lines <= 2,
        "{refusal_lines} lines for {} refusals",
        flood - cap
    );
}
