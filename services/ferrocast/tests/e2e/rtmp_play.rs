//! RTMP play from the origin: ffprobe and ffmpeg read `rtmp://…/live/<playback id>`.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::ingest::{playlist_when, segment_uris};
use crate::support::attack::Attacker;
use crate::support::media::{codecs, decode_errors, probe, publish_clip, run_bounded};
use crate::support::server::{DevServer, dev, metric, until_metric_is_zero};

/// `rtmp://127.0.0.1:<port>/live/<playback id>`.
fn rtmp_play_url(server: &DevServer) -> String {
    format!("{}/{}", server.rtmp_server, playback_id(server))
}

fn playback_id(server: &DevServer) -> &str {
    let file = server.flv_url.rsplit('/').next().unwrap();
    file.trim_end_matches(".flv")
}

/// Starts `dev`, publishes the clip in a loop and waits until the stream has a segment (so
/// the hub holds a whole GOP).
fn live_server() -> (DevServer, std::process::Child) {
    live_server_with(&[])
}

/// [`live_server`] with extra environment variables for `dev`.
fn live_server_with(env: &[(&str, &str)]) -> (DevServer, std::process::Child) {
    let server = dev().start_with(env);
    let publisher = publish_clip(&server.publish_url, -1);
    playlist_when(&server, "the stream to go live", |text| {
        !segment_uris(text).is_empty()
    });
    (server, publisher)
}

/// Decodes `seconds` of `url`; returns the media seconds decoded and ffmpeg's error output.
fn decode_seconds(url: &str, seconds: u32) -> (f64, String) {
    let mut command = Command::new("ffmpeg");
    command.args(["-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1"]);
    command.args(["-i", url, "-t", &seconds.to_string(), "-f", "null", "-"]);
    let output = run_bounded(command, 60);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "ffmpeg play of {url}: {stderr}");
    let progress = String::from_utf8_lossy(&output.stdout);
    let out_time_us = progress
        .lines()
        .rev()
        .filter_map(|line| line.strip_prefix("out_time_us="))
        .find_map(|value| value.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    (out_time_us / 1e6, stderr)
}

#[test]
fn ffprobe_and_ffmpeg_play_the_stream_over_rtmp() {
    let (server, mut publisher) = live_server();
    let url = rtmp_play_url(&server);

    let probed = probe(&url);
    assert_eq!(codecs(&probed), vec!["aac", "h264"], "{probed}");
    let video = probed["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|stream| stream["codec_type"] == "video")
        .unwrap();
    assert_eq!(video["width"], 1280, "{probed}");
    assert_eq!(video["height"], 720, "{probed}");

    let errors = decode_errors(&url, 5);
    assert!(errors.trim().is_empty(), "decode errors: {errors}");

    let _ = publisher.kill();
    let _ = publisher.wait();
    let log = server.log();
    assert!(log.contains("play started"), "{log}");
}

#[test]
fn unknown_playback_ids_and_apps_are_refused_quickly() {
    let (server, mut publisher) = live_server();
    let good = rtmp_play_url(&server);
    let port_and_app = server.rtmp_server.clone();
    let wrong_app = good.replace("/live/", "/other/");
    for url in [format!("{port_and_app}/nosuchstream"), wrong_app] {
        let started = Instant::now();
        let mut command = Command::new("ffprobe");
        command.args(["-v", "error", &url]);
        let output = run_bounded(command, 30);
        let took = started.elapsed();
        assert!(!output.status.success(), "ffprobe {url} should fail");
        assert!(
            took < Duration::from_secs(5),
            "refusal of {url} took {took:?}"
        );
    }
    let _ = publisher.kill();
    let _ = publisher.wait();
    let log = server.log();
    assert!(log.contains("play refused"), "{log}");
}

#[test]
fn five_concurrent_rtmp_players_each_decode_three_seconds() {
    let (server, mut publisher) = live_server();
    let url = rtmp_play_url(&server);

    let players: Vec<_> = (0..5)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || decode_seconds(&url, 4))
        })
        .collect();
    let results: Vec<(f64, String)> = players
        .into_iter()
        .map(|player| player.join().unwrap())
        .collect();
    let _ = publisher.kill();
    let _ = publisher.wait();

    for (n, (seconds, errors)) in results.iter().enumerate() {
        assert!(*seconds >= 3.0, "player {n} decoded {seconds} s: {errors}");
        assert!(errors.trim().is_empty(), "player {n} errors: {errors}");
    }
}

#[test]
fn without_a_merge_window_players_decode_cleanly_too() {
    // A zero window takes the other write path: each batch is written as it arrives.
    let (server, mut publisher) =
        live_server_with(&[("FERROCAST_ORIGIN__RTMP__PLAY_MERGE_WINDOW", "0s")]);
    let (decoded, errors) = decode_seconds(&rtmp_play_url(&server), 3);
    let _ = publisher.kill();
    let _ = publisher.wait();
    assert!(decoded >= 2.9, "decoded {decoded} s: {errors}");
    assert!(errors.trim().is_empty(), "decode errors: {errors}");
}

#[test]
fn a_player_that_stops_reading_is_dropped_while_the_others_decode_cleanly() {
    // Without a merge window caught-up players ride the hub's fan-out lane (ADR 25); one
    // whose socket stops taking bytes must fall out of it, skip, and be ended, alone.
    let (server, mut publisher) = live_server_with(&[
        ("FERROCAST_ORIGIN__RTMP__PLAY_MERGE_WINDOW", "0s"),
        ("FERROCAST_ORIGIN__VIEWERS__MAX_LAG", "1s"),
        ("FERROCAST_ORIGIN__VIEWERS__MAX_SKIPS", "1"),
    ]);
    let rtmp = server.rtmp_server.trim_start_matches("rtmp://");
    let host_port = &rtmp[..rtmp.find('/').unwrap()];
    let mut stalled = Attacker::connect(host_port).expect("connect");
    stalled.handshake().expect("handshake");
    let until = Instant::now() + Duration::from_secs(10);
    let stream_id = stalled.create_stream("live", until).expect("createStream");
    let status = stalled
        .request_play(stream_id, playback_id(&server), until)
        .expect("play status");
    assert_eq!(status.level, "status", "{status:?}");
    let dropped_before = metric(&server, "ferrocast_origin_rtmp_frames_dropped_total");

    // The stalled player reads nothing from here on; a healthy one plays meanwhile.
    let url = rtmp_play_url(&server);
    let healthy = std::thread::spawn(move || decode_seconds(&url, 8));
    std::thread::sleep(Duration::from_secs(4));
    let in_lanes = metric(&server, "ferrocast_origin_rtmp_players_in_lanes");
    let (decoded, errors) = healthy.join().unwrap();
    assert!(in_lanes >= 1.0, "{in_lanes} players rode a lane");
    assert!(decoded >= 7.9, "decoded {decoded} s: {errors}");
    assert!(errors.trim().is_empty(), "decode errors: {errors}");

    let ended = until_metric_is_zero(
        &server,
        "ferrocast_origin_rtmp_players",
        Duration::from_secs(60),
    );
    let dropped = metric(&server, "ferrocast_origin_rtmp_frames_dropped_total") - dropped_before;
    println!(
        "measured: stalled player ended {ended:?} after the healthy one; {dropped} frames dropped"
    );
    assert!(dropped > 0.0, "the stalled player skipped nothing");
    let _ = publisher.kill();
    let _ = publisher.wait();
    drop(stalled);
}
