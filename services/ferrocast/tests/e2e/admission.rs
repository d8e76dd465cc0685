//! RTMP admission on the real binary: the per-address cap, with the PROXY protocol (the cap
//! counts the address in the header) and without it (the cap counts the socket's address).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::time::Duration;

use ferrocast_rtmp::testing::client_handshake;

use crate::ingest::{playlist_when, segment_uris};
use crate::support::http::get;
use crate::support::media::publish_clip;
use crate::support::server::{DevServer, dev, segment_files};
use crate::support::wait_for;

/// Less than the RTMP handshake timeout (5 s): a connection still open after this was let in.
const CLOSED_AT_ONCE: Duration = Duration::from_secs(3);

#[test]
fn with_proxy_protocol_the_cap_counts_the_client_address_in_the_header() {
    let mut server = dev().start_with(&[
        ("FERROCAST_ORIGIN__RTMP__PROXY_PROTOCOL", "v2"),
        ("FERROCAST_ORIGIN__RTMP__MAX_CONNECTIONS_PER_IP", "3"),
    ]);
    let rtmp = rtmp_address(&server);
    // The victim: ffmpeg cannot send a PROXY header, so a relay in front of it does, as a
    // load balancer would.
    let relay = ProxyRelay::start(rtmp, "192.0.2.10:50000".parse().unwrap());
    let victim_url = format!("rtmp://{}/live/{}", relay.address, server.stream_key);
    let mut publisher = publish_clip(&victim_url, -1);
    playlist_when(&server, "the victim stream to go live", |text| {
        !segment_uris(text).is_empty()
    });
    let segments_before = segment_files(&server).len();

    let held: Vec<TcpStream> = (0..3)
        .map(|i| served(connect_as(rtmp, &format!("203.0.113.7:{}", 40000 + i))))
        .collect();
    let mut fourth = connect_as(rtmp, "203.0.113.7:40003");
    assert_closed_at_once(&mut fourth, "the fourth connection from 203.0.113.7");
    let other = served(connect_as(rtmp, "198.51.100.9:41000"));
    let mut no_header = TcpStream::connect(rtmp).unwrap();
    no_header.write_all(&[3; 1537]).unwrap(); // C0 and C1, as a client unaware of the proxy
    assert_closed_at_once(&mut no_header, "a connection without a PROXY header");

    let metrics = get(&format!("{}/metrics", server.ops_url)).text();
    for (kind, count) in [("ip_limit", 1), ("proxy_header", 1)] {
        let series = format!("ferrocast_origin_rtmp_connection_errors_total{{kind=\"{kind}\"}}");
        assert_eq!(metric(&metrics, &series), Some(count as f64), "{metrics}");
    }
    assert_eq!(
        metric(&metrics, "ferrocast_origin_rtmp_client_addresses"),
        Some(3.0),
        "192.0.2.10, 203.0.113.7 and 198.51.100.9: {metrics}"
    );
    wait_for(
        "the victim stream's next segment",
        Duration::from_secs(15),
        || (segment_files(&server).len() > segments_before).then_some(()),
    );
    assert!(server.is_running(), "the process survives");
    assert!(
        publisher.try_wait().unwrap().is_none(),
        "the victim is still publishing"
    );
    let log = plain(&server.log());
    assert!(
        log.lines()
            .any(|line| line.contains("publish started") && line.contains("peer=192.0.2.10:50000")),
        "the publish is logged with the client's address from the header:\n{log}"
    );
    assert!(
        log.contains("per-address limit reached") && log.contains("address=203.0.113.7"),
        "{log}"
    );
    let _ = publisher.kill();
    let _ = publisher.wait();
    drop((held, other));
}

#[test]
fn without_proxy_protocol_the_cap_counts_the_socket_address() {
    let mut server = dev().start_with(&[("FERROCAST_ORIGIN__RTMP__MAX_CONNECTIONS_PER_IP", "16")]);
    let rtmp = rtmp_address(&server);
    // Sixteen take every place of 127.0.0.1 (held past their handshake), then a flood.
    let mut held: Vec<TcpStream> = (0..16)
        .map(|_| served(TcpStream::connect(rtmp).unwrap()))
        .collect();
    let flood: Vec<TcpStream> = (0..984)
        .map(|_| TcpStream::connect(rtmp).unwrap())
        .collect();
    let refused = "ferrocast_origin_rtmp_connection_errors_total{kind=\"ip_limit\"}";
    let metrics = wait_for(
        "every flood connection to be refused",
        Duration::from_secs(30),
        || {
            let metrics = get(&format!("{}/metrics", server.ops_url)).text();
            (metric(&metrics, refused) == Some(984.0)).then_some(metrics)
        },
    );
    assert_eq!(
        metric(&metrics, "ferrocast_origin_rtmp_connections"),
        Some(16.0)
    );
    assert!(server.is_running(), "the process survives");
    assert_eq!(get(&format!("{}/healthz", server.ops_url)).status, 200);
    let log = plain(&server.log());
    let lines = log.matches("per-address limit reached").count();
    assert!(
        (1..=2).contains(&lines),
        "984 refusals are logged in one or two lines (one per 10 s), not {lines}"
    );

    held.extend(flood);
    drop(held);
    wait_for(
        "every connection of 127.0.0.1 to end",
        Duration::from_secs(15),
        || {
            let metrics = get(&format!("{}/metrics", server.ops_url)).text();
            (metric(&metrics, "ferrocast_origin_rtmp_client_addresses") == Some(0.0)).then_some(())
        },
    );
    let mut victim = publish_clip(&server.publish_url, -1);
    playlist_when(&server, "the victim stream to go live", |text| {
        !segment_uris(text).is_empty()
    });
    assert!(victim.try_wait().unwrap().is_none(), "the victim publishes");
    let _ = victim.kill();
    let _ = victim.wait();
}

fn rtmp_address(server: &DevServer) -> SocketAddr {
    server
        .rtmp_server
        .trim_start_matches("rtmp://")
        .trim_end_matches("/live")
        .parse()
        .unwrap()
}

/// The log without its terminal colours (ANSI escape sequences).
fn plain(log: &str) -> String {
    let mut text = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters... final letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            text.push(c);
        }
    }
    text
}

/// The value of one series in Prometheus text, e.g. `name{kind="x"}`.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// A PROXY protocol v2 header, written out from the specification: TCP over IPv4.
fn proxy_v2_header(source: SocketAddrV4, destination: SocketAddr) -> Vec<u8> {
    let SocketAddr::V4(destination) = destination else {
        panic!("the test server listens on IPv4");
    };
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend([0x21, 0x11, 0, 12]); // version 2 PROXY; TCP over IPv4; 12 address bytes
    header.extend(source.ip().octets());
    header.extend(destination.ip().octets());
    header.extend(source.port().to_be_bytes());
    header.extend(destination.port().to_be_bytes());
    header
}

/// Connects with a v2 header naming `client`.
fn connect_as(server: SocketAddr, client: &str) -> TcpStream {
    let mut socket = TcpStream::connect(server).unwrap();
    socket
        .write_all(&proxy_v2_header(client.parse().unwrap(), server))
        .unwrap();
    socket
}

/// Completes the RTMP handshake: the server let the connection in.
fn served(mut socket: TcpStream) -> TcpStream {
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client_handshake(&mut socket).expect("the connection is served");
    socket
}

fn assert_closed_at_once(socket: &mut TcpStream, what: &str) {
    socket.set_read_timeout(Some(CLOSED_AT_ONCE)).unwrap();
    let mut byte = [0u8; 1];
    let read = socket.read(&mut byte);
    let closed = matches!(read, Ok(0))
        || read
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset);
    assert!(closed, "{what} is closed at once: {read:?}");
}

/// A one-connection TCP relay that prepends a PROXY v2 header naming `client`, then copies
/// bytes both ways: what a load balancer with PROXY protocol does.
struct ProxyRelay {
    address: SocketAddr,
}

impl ProxyRelay {
    fn start(server: SocketAddr, client: SocketAddrV4) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let Ok((downstream, _)) = listener.accept() else {
                return;
            };
            let mut upstream = TcpStream::connect(server).unwrap();
            upstream
                .write_all(&proxy_v2_header(client, server))
                .unwrap();
            let (mut down_read, mut up_write) = (
                downstream.try_clone().unwrap(),
                upstream.try_clone().unwrap(),
            );
            std::thread::spawn(move || pipe(&mut down_read, &mut up_write));
            pipe(
                &mut upstream.try_clone().unwrap(),
                &mut downstream.try_clone().unwrap(),
            );
        });
        Self { address }
    }
}

/// Copies until either side ends, then ends both directions.
fn pipe(from: &mut TcpStream, to: &mut TcpStream) {
    let _ = std::io::copy(from, to);
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
