//! Bad input ends only its own connection.

use std::io::Write;
use std::time::Duration;

use ferrocast_rtmp::testing::{client_handshake, deeply_nested_connect};

use crate::ingest::{playlist_when, segment_uris};
use crate::support::media::publish_clip;
use crate::support::server::dev;
use crate::viewers::watch_flv;

#[test]
fn connections_sending_deeply_nested_amf_leave_the_live_stream_playing() {
    let mut server = dev().start();
    let mut publisher = publish_clip(&server.publish_url, -1);
    playlist_when(&server, "the stream to go live", |text| {
        !segment_uris(text).is_empty()
    });

    let url = server.flv_url.clone();
    let viewer = std::thread::spawn(move || watch_flv(&url, Duration::from_secs(5)));
    let rtmp_addr = server
        .rtmp_server
        .trim_start_matches("rtmp://")
        .trim_end_matches("/live")
        .to_owned();
    for _ in 0..3 {
        let mut evil = std::net::TcpStream::connect(&rtmp_addr).unwrap();
        client_handshake(&mut evil).unwrap();
        // Over 5,000 levels: small enough to be read, too deep to be decoded.
        evil.write_all(&deeply_nested_connect(5_000)).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    let received = viewer.join().unwrap();

    assert!(server.is_running(), "the process survives");
    assert!(
        publisher.try_wait().unwrap().is_none(),
        "the publisher is still connected"
    );
    assert!(
        received.video_span_ms() >= 4000,
        "the viewer kept receiving: {received:?}"
    );
    let log = server.log();
    let refused = log.matches("amf0 nesting depth").count();
    assert_eq!(
        refused, 3,
        "each bad connection ended with a clear error: {log}"
    );
    assert_eq!(log.matches("panicked").count(), 0, "{log}");
    let _ = publisher.kill();
    let _ = publisher.wait();
}

#[test]
fn connections_beyond_rtmp_max_connections_are_closed_at_once_and_counted() {
    let server = dev().start_with(&[("FERROCAST_ORIGIN__RTMP__MAX_CONNECTIONS", "2")]);
    let rtmp_addr = server
        .rtmp_server
        .trim_start_matches("rtmp://")
        .trim_end_matches("/live")
        .to_owned();
    // Two connections hold both slots until the handshake timeout (5 s) closes them.
    let held: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(&rtmp_addr).unwrap())
        .collect();
    let mut turned_away = std::net::TcpStream::connect(&rtmp_addr).unwrap();
    turned_away
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut byte = [0u8; 1];
    let read = std::io::Read::read(&mut turned_away, &mut byte);
    assert!(
        matches!(read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the third connection is closed at once, not left to the handshake timeout: {read:?}"
    );
    let metrics = crate::support::http::get(&format!("{}/metrics", server.ops_url)).text();
    assert!(
        metrics.contains("ferrocast_origin_rtmp_connection_errors_total{kind=\"limit\"} 1"),
        "{metrics}"
    );
    drop(held);
}
