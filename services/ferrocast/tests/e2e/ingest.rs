//! Publishing: what a broadcaster with ffmpeg sees, and what players then get.

use std::time::{Duration, Instant};

use crate::support::hls::{media_playlist, media_text};
pub use crate::support::hls::{segment_uris, tag_value};
use crate::support::http::get;
use crate::support::media::{codecs, decode_errors, finish, probe, publish_clip, publish_live};
use crate::support::server::{DevServer, dev, segment_files};
use crate::support::wait_for;

/// A reconnect window short enough for tests that wait for a publish to end the playlist.
pub const SHORT_RECONNECT_WINDOW: (&str, &str) = ("FERROCAST_ORIGIN__RECONNECT_WINDOW", "2s");

/// The media playlist behind the server's `index.m3u8` once `condition` holds for it.
pub fn playlist_when(
    server: &DevServer,
    what: &str,
    mut condition: impl FnMut(&str) -> bool,
) -> String {
    wait_for(what, Duration::from_secs(30), || {
        let text = media_text(&server.hls_url)?;
        condition(&text).then_some(text)
    })
}

#[test]
fn synthetic_source_with_b_frames_plays_over_hls_and_flv() {
    let server = dev().start_with(&[SHORT_RECONNECT_WINDOW]);
    let started = Instant::now();
    let publisher = publish_live(&server.publish_url, 10);

    let first = playlist_when(&server, "the first playlist", |text| {
        !segment_uris(text).is_empty()
    });
    eprintln!(
        "first playable playlist {:?} after the publisher started",
        started.elapsed()
    );
    let live = probe(&server.hls_url);
    assert_eq!(codecs(&live), ["aac", "h264"], "{live}");
    assert_eq!(
        live["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["codec_name"] == "h264")
            .unwrap()["width"],
        1280
    );

    let flv = probe(&server.flv_url);
    assert_eq!(codecs(&flv), ["aac", "h264"], "{flv}");
    assert_eq!(
        decode_errors(&server.flv_url, 3),
        "",
        "HTTP-FLV decodes without errors"
    );

    let playlist = get(&media_playlist(&server.hls_url)
        .expect("a media playlist")
        .url);
    assert_eq!(
        playlist.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(playlist.header("cache-control"), Some("public, max-age=1"));
    assert_eq!(playlist.header("access-control-allow-origin"), Some("*"));
    assert!(first.contains("#EXT-X-PROGRAM-DATE-TIME:"));

    let (ok, errors) = finish(publisher);
    assert!(ok, "publisher failed: {errors}");
    let ended = playlist_when(&server, "EXT-X-ENDLIST", |text| {
        text.contains("#EXT-X-ENDLIST")
    });
    let base = server.hls_url.trim_end_matches("index.m3u8");
    for uri in segment_uris(&ended) {
        let segment = get(&format!("{base}{uri}"));
        assert_eq!(segment.status, 200, "listed segment {uri} must exist");
        assert_eq!(segment.header("content-type"), Some("video/mp2t"));
        assert!(
            segment
                .header("cache-control")
                .unwrap()
                .contains("immutable")
        );
        assert_eq!(segment.body.len() % 188, 0);
    }
    let duration: f64 = probe(&server.hls_url)["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (9.0..=11.0).contains(&duration),
        "HLS duration {duration} s for a 10 s publish"
    );
    assert_eq!(
        decode_errors(&server.hls_url, 30),
        "",
        "HLS decodes without errors"
    );
}

#[test]
fn wrong_key_is_refused_and_leaves_no_segment() {
    let server = dev().start();
    let wrong_secret = "0123456789abcdef0123456789abcdef";
    let stream_id = server.stream_key.split('_').nth(1).unwrap().to_owned();
    let wrong_url = format!("{}/sk_{stream_id}_{wrong_secret}", server.rtmp_server);
    let (ok, errors) = finish(publish_clip(&wrong_url, 0));
    assert!(!ok, "ffmpeg must fail to publish with a wrong key");
    assert!(
        errors.contains("wrong stream key"),
        "the RTMP error status reaches the client: {errors}"
    );

    let log = server.log();
    let refusal = log
        .lines()
        .find(|line| line.contains("publish refused"))
        .expect("a refusal log line");
    assert!(
        refusal.contains(&stream_id),
        "names the stream id: {refusal}"
    );
    assert!(
        !log.contains(wrong_secret) && !log.contains(&server.stream_key),
        "never logs a key"
    );
    assert_eq!(get(&server.hls_url).status, 404);
    assert_eq!(get(&server.flv_url).status, 404);
    assert!(
        segment_files(&server).is_empty(),
        "no segment behind: {:?}",
        segment_files(&server)
    );
}

/// msns of the listed segments (`{msn}.ts`).
fn listed_msns(playlist: &str) -> Vec<u64> {
    segment_uris(playlist)
        .iter()
        .map(|uri| uri.trim_end_matches(".ts").parse().unwrap())
        .collect()
}

#[test]
fn reconnect_within_the_window_continues_the_playlist_after_one_discontinuity() {
    let server = dev().start();
    let (ok, errors) = finish(publish_clip(&server.publish_url, 0));
    assert!(ok, "{errors}");
    playlist_when(&server, "the first session's segments", |text| {
        segment_uris(text).len() >= 3
    });

    let publisher = publish_clip(&server.publish_url, 0);
    let mut sequences = Vec::new();
    let mut endlist_seen = false;
    let second = playlist_when(&server, "the second session's segments", |text| {
        sequences.extend(tag_value(text, "#EXT-X-MEDIA-SEQUENCE"));
        endlist_seen |= text.contains("#EXT-X-ENDLIST");
        // Three of the new session's segments, still shown with the discontinuity before them.
        text.split("#EXT-X-DISCONTINUITY\n")
            .nth(1)
            .is_some_and(|after| segment_uris(after).len() >= 3)
    });
    let (ok, errors) = finish(publisher);
    assert!(ok, "{errors}");

    assert!(
        !endlist_seen,
        "no ENDLIST while the reconnect window is open"
    );
    assert_eq!(
        second.matches("#EXT-X-DISCONTINUITY\n").count(),
        1,
        "{second}"
    );
    let msns = listed_msns(&second);
    assert!(
        msns.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "contiguous, increasing: {msns:?}"
    );
    assert!(
        sequences.windows(2).all(|pair| pair[1] >= pair[0]),
        "media sequence never rewinds: {sequences:?}"
    );
    let (before_gap, after_gap) = second.split_once("#EXT-X-DISCONTINUITY\n").unwrap();
    let first_new = listed_msns(after_gap)[0];
    let last_old = *listed_msns(before_gap).last().unwrap();
    assert_eq!(
        first_new,
        last_old + 1,
        "the new session continues the media sequence"
    );
}

#[test]
fn after_the_window_closes_endlist_stays_and_a_new_publish_starts_a_new_playlist() {
    let server = dev().start_with(&[SHORT_RECONNECT_WINDOW]);
    let (ok, errors) = finish(publish_clip(&server.publish_url, 0));
    assert!(ok, "{errors}");
    let ended = playlist_when(&server, "ENDLIST once the window closed", |text| {
        text.contains("#EXT-X-ENDLIST")
    });
    let old = media_playlist(&server.hls_url).expect("the ended playlist");

    let publisher = publish_clip(&server.publish_url, 0);
    let new = wait_for("a new playlist generation", Duration::from_secs(30), || {
        media_playlist(&server.hls_url)
            .filter(|playlist| playlist.url != old.url && !segment_uris(&playlist.text).is_empty())
    });
    let (ok, errors) = finish(publisher);
    assert!(ok, "{errors}");

    // ENDLIST is never taken back: the ended generation's URL never serves a live playlist
    // again (it is gone, 404, once the new generation retired its segments).
    let old_again = get(&old.url);
    assert!(
        old_again.status == 404
            || (old_again.status == 200 && old_again.text().contains("#EXT-X-ENDLIST")),
        "the ended generation stays ended: {} {}",
        old_again.status,
        old_again.text()
    );
    let (old_last, new_first) = (
        *listed_msns(&ended).last().unwrap(),
        listed_msns(&new.text)[0],
    );
    assert!(
        new_first > old_last,
        "msns go on: {old_last} then {new_first}"
    );
    assert!(!new.text.contains("#EXT-X-DISCONTINUITY\n"), "{}", new.text);
}

#[test]
fn a_second_publisher_on_a_live_key_is_refused() {
    let server = dev().start();
    let mut first = publish_clip(&server.publish_url, -1);
    playlist_when(&server, "the first publisher's playlist", |text| {
        !segment_uris(text).is_empty()
    });
    let (ok, errors) = finish(publish_clip(&server.publish_url, 0));
    assert!(
        !ok && errors.contains("already live"),
        "second publisher refused: {errors}"
    );
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first publisher keeps going"
    );
    let _ = first.kill();
    let _ = first.wait();
}
