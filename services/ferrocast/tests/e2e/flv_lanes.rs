//! HTTP-FLV outside hyper (ADR 25): a connection's first `GET /live/*.flv` is served by the
//! edge itself so that the hub's fan-out lane writes to caught-up viewers. Viewers must see
//! what they saw through hyper: the whole stream from a keyframe, in order, without gaps; a
//! viewer that stops reading falls out of the lane and is ended without hurting the others;
//! a `.flv` request later on a kept-alive connection is still served (by hyper).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::ingest::{playlist_when, segment_uris};
use crate::support::media::publish_clip;
use crate::support::server::{DevServer, dev, metric, until_metric_is_zero};
use crate::viewers::watch_flv;

/// `127.0.0.1:<port>` and the path of `url`.
fn authority_and_path(url: &str) -> (&str, &str) {
    let rest = url.trim_start_matches("http://");
    rest.split_at(rest.find('/').unwrap())
}

fn live_server(env: &[(&str, &str)]) -> (DevServer, std::process::Child) {
    let server = dev().start_with(env);
    let publisher = publish_clip(&server.publish_url, -1);
    playlist_when(&server, "the stream to go live", |text| {
        !segment_uris(text).is_empty()
    });
    (server, publisher)
}

#[test]
fn viewers_ride_a_lane_and_one_that_stops_reading_falls_out_alone() {
    let (server, mut publisher) = live_server(&[
        ("FERROCAST_EDGE__VIEWERS__MAX_LAG", "1s"),
        ("FERROCAST_EDGE__VIEWERS__MAX_SKIPS", "1"),
    ]);
    let (authority, path) = authority_and_path(&server.flv_url);
    let mut stalled = TcpStream::connect(authority).expect("connect");
    write!(stalled, "GET {path} HTTP/1.1\r\nHost: {authority}\r\n\r\n").expect("request");
    let dropped_before = metric(&server, "ferrocast_edge_flv_frames_dropped_total");

    let viewers: Vec<_> = (0..3)
        .map(|_| {
            let url = server.flv_url.clone();
            std::thread::spawn(move || watch_flv(&url, Duration::from_secs(8)))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(4));
    let in_lanes = metric(&server, "ferrocast_edge_flv_viewers_in_lanes");
    for (n, viewer) in viewers.into_iter().enumerate() {
        let received = viewer.join().unwrap();
        assert!(received.keyframes >= 1, "viewer {n}: {received:?}");
        assert!(received.video_span_ms() >= 7000, "viewer {n}: {received:?}");
        assert_eq!(received.video_steps_back, 0, "viewer {n}: {received:?}");
        assert!(
            received.max_video_step_ms <= 100,
            "viewer {n}: {received:?}"
        );
    }
    assert!(in_lanes >= 3.0, "{in_lanes} viewers rode a lane");

    let ended = until_metric_is_zero(
        &server,
        "ferrocast_edge_viewers{protocol=\"flv\"}",
        Duration::from_secs(60),
    );
    let dropped = metric(&server, "ferrocast_edge_flv_frames_dropped_total") - dropped_before;
    println!(
        "measured: stalled FLV viewer ended {ended:?} after the others; {dropped} frames dropped"
    );
    assert!(dropped > 0.0, "the stalled viewer skipped nothing");
    let _ = publisher.kill();
    let _ = publisher.wait();
    drop(stalled);
}

#[test]
fn a_flv_request_after_another_on_a_kept_alive_connection_is_served_too() {
    let (server, mut publisher) = live_server(&[]);
    let (authority, flv_path) = authority_and_path(&server.flv_url);
    let (_, playlist_path) = authority_and_path(&server.hls_url);
    let mut connection = TcpStream::connect(authority).expect("connect");
    connection
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        connection,
        "GET {playlist_path} HTTP/1.1\r\nHost: {authority}\r\n\r\nGET {flv_path} HTTP/1.1\r\nHost: {authority}\r\n\r\n"
    )
    .expect("two pipelined requests");
    let mut read = Vec::new();
    let mut buffer = [0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && read.len() < 256 * 1024 {
        let count = connection.read(&mut buffer).expect("read");
        assert!(count > 0, "closed after {} bytes", read.len());
        read.extend_from_slice(&buffer[..count]);
    }
    let text = String::from_utf8_lossy(&read);
    let answers: Vec<&str> = text.matches("HTTP/1.1 200 OK").collect();
    assert_eq!(answers.len(), 2, "{}", &text[..text.len().min(600)]);
    assert!(text.contains("#EXTM3U"), "the playlist came first");
    assert!(text.contains("video/x-flv"), "then the live FLV response");
    assert!(
        read.windows(3).any(|window| window == b"FLV"),
        "with its FLV header"
    );
    let _ = publisher.kill();
    let _ = publisher.wait();
}
