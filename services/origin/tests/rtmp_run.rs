//! The origin's real `run` on a loopback listener, over memory twins (control, index, object
//! store, hubs), driven by RTMP clients in the test:
//! - a publish with the right key is listed segment by segment, each segment stored first,
//!   and an RTMP player on the same listener gets the sequence headers, then the frames from
//!   a keyframe on, in order;
//! - a wrong key gets an `onStatus` error, and nothing is listed or live;
//! - hostile bytes (garbage after the handshake, an illegal chunk size, an oversize message)
//!   end only their own connection while a publish goes on;
//! - a shutdown drains: the running publish is closed at the publish deadline, its last
//!   segment is stored and listed, and `run` returns within the drain's deadlines.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing unwrap is a failing test

// Only the files these tests use: `support/mod.rs` is the uploader tests' harness.
mod support {
    pub mod control;
    pub mod feed;
    pub mod rtmp_client;
    pub mod running;
}

use std::time::Duration;

use ferrocast_base::{Epoch, lock};
use ferrocast_media::rtmp_chunk::message_type;
use ferrocast_rtmp::reader::Message;
use ferrocast_rtmp::testing::{message_chunks, set_chunk_size};
use support::control::{APP, KEY, PLAYBACK_ID};
use support::feed::Feed;
use support::rtmp_client::{ANSWER_WITHIN, RtmpClient, Status};
use support::running::{Origin, config};

/// A connection whose bytes are wrong at once is closed within this.
const PROMPTLY: Duration = Duration::from_secs(3);

fn status(level: &str, code: &str) -> Status {
    Status {
        level: level.into(),
        code: code.into(),
    }
}

/// Checks what the index lists: `count` segments with contiguous msns from 0, each one's
/// object stored with the listed size, as MPEG-TS holding at least `min_bytes`.
async fn check_listed(origin: &Origin, count: usize, min_bytes: usize) {
    let listed = origin.listed().await;
    let msns: Vec<u64> = listed.iter().map(|record| record.msn.get()).collect();
    assert_eq!(msns, (0..count as u64).collect::<Vec<_>>(), "{listed:?}");
    for record in &listed {
        let object = origin.object(record).await;
        assert_eq!(object.len() as u64, record.bytes, "{record:?}");
        assert!(object.len() >= min_bytes, "{record:?}");
        let mpeg_ts = object.len().is_multiple_of(188) && object[0] == 0x47;
        assert!(mpeg_ts, "not MPEG-TS");
    }
}

/// The audio and video messages `player` receives, up to and with video frame `last`.
async fn media_until(player: &mut RtmpClient, last: u32) -> Vec<Message> {
    let mut media = Vec::new();
    loop {
        let message = player.next_message().await.expect("the stream goes on");
        let video = message.type_id == message_type::VIDEO;
        if !video && message.type_id != message_type::AUDIO {
            continue;
        }
        let done = video && Feed::video_frame_number(&message.payload) == Some(last);
        media.push(message);
        if done {
            return media;
        }
    }
}

#[tokio::test]
async fn a_publish_is_stored_listed_and_played_over_rtmp() {
    let mut origin = Origin::start(config()).await;
    let mut publisher = RtmpClient::handshake(origin.addr).await;
    let (stream, started) = publisher.publish(APP, KEY).await;
    assert_eq!(started, status("status", "NetStream.Publish.Start"));
    publisher.send_sequence_headers(stream).await;
    publisher.send_frames(stream, 0..45).await;

    let mut player = RtmpClient::handshake(origin.addr).await;
    let playing = player.play(APP, PLAYBACK_ID).await;
    assert_eq!(playing, status("status", "NetStream.Play.Start"));
    // Up to the fourth GOP's keyframe, which closes the third segment.
    publisher.send_frames(stream, 45..91).await;

    let media = media_until(&mut player, 90).await;
    let first_audio = media.iter().find(|m| m.type_id == message_type::AUDIO);
    let first_audio = &first_audio.expect("audio").payload;
    assert_eq!(first_audio[..], Feed::aac_sequence_header()[..]);
    let video: Vec<&Message> = media
        .iter()
        .filter(|m| m.type_id == message_type::VIDEO)
        .collect();
    assert_eq!(video[0].payload[..], Feed::avc_sequence_header()[..]);
    let numbers: Vec<u32> = video[1..]
        .iter()
        .map(|m| Feed::video_frame_number(&m.payload).expect("a frame"))
        .collect();
    // Wherever the player joined, it starts at a keyframe and misses nothing after it.
    let first = numbers[0];
    assert!(first.is_multiple_of(Feed::GOP_FRAMES), "{numbers:?}");
    assert_eq!(numbers, (first..=90).collect::<Vec<_>>());
    for (message, n) in video[1..].iter().zip(first..) {
        assert_eq!(message.payload[..], Feed::video(n)[..], "frame {n}");
        assert_eq!(message.timestamp_ms, Feed::timestamp_ms(n), "frame {n}");
    }

    let listed = origin.wait_listed(3).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.iter().all(|record| record.duration_ms == 1000));
    // A GOP is 30 video frames of over 300 bytes each.
    check_listed(&origin, 3, 30 * 300).await;
    drop((player, publisher));
    origin.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_nothing_is_listed() {
    let mut origin = Origin::start(config()).await;
    let mut publisher = RtmpClient::handshake(origin.addr).await;
    let (_, refused) = publisher.publish(APP, "sk-stream-1-guessed").await;
    assert_eq!(refused, status("error", "NetStream.Publish.Denied"));
    publisher.closed_within(ANSWER_WITHIN).await;

    assert!(!origin.stream_known().await, "an index session was opened");
    assert!(origin.hubs.is_empty(), "a hub was started");
    assert!(lock(&origin.control.released).is_empty());
    let mut player = RtmpClient::handshake(origin.addr).await;
    let playing = player.play(APP, PLAYBACK_ID).await;
    assert_eq!(playing, status("error", "NetStream.Play.StreamNotFound"));
    origin.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn hostile_bytes_end_only_their_own_connection() {
    let mut config = config();
    // Far beyond the test: only the bytes sent can explain a prompt close.
    config.rtmp.start_timeout = Duration::from_secs(60);
    config.rtmp.idle_timeout = Duration::from_secs(60);
    let mut origin = Origin::start(config).await;
    let mut victim = RtmpClient::handshake(origin.addr).await;
    let (stream, started) = victim.publish(APP, KEY).await;
    assert_eq!(started, status("status", "NetStream.Publish.Start"));
    victim.send_sequence_headers(stream).await;
    victim.send_frames(stream, 0..30).await;

    let garbage: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    // Set Chunk Size with the high bit set: above the largest legal size.
    let oversize_chunks = set_chunk_size(0xFFFF_FFFF);
    // A command announcing 1 MiB, where 64 KiB is the most before a publish: its first chunk.
    let oversize_message = message_chunks(3, 20, 0, &vec![0; 1 << 20], 128)[..12 + 128].to_vec();
    for attack in [garbage, oversize_chunks, oversize_message] {
        let mut attacker = RtmpClient::handshake(origin.addr).await;
        // A failed write means the server already closed the connection, which is the point.
        let _ = attacker.send(&attack).await;
        attacker.closed_within(PROMPTLY).await;
    }

    victim.send_frames(stream, 30..91).await;
    let listed = origin.wait_listed(3).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    check_listed(&origin, 3, 30 * 300).await;
    assert!(
        lock(&origin.control.released).is_empty(),
        "the victim ended"
    );
    drop(victim);
    origin.stop(ANSWER_WITHIN).await;
}

#[tokio::test]
async fn a_shutdown_stores_the_last_segment_of_a_running_publish() {
    let config = config();
    let drain = config.drain.clone();
    let mut origin = Origin::start(config).await;
    let mut publisher = RtmpClient::handshake(origin.addr).await;
    let (stream, _) = publisher.publish(APP, KEY).await;
    publisher.send_sequence_headers(stream).await;
    // Two GOPs and half of a third: two segments cut, the third one open.
    publisher.send_frames(stream, 0..75).await;
    assert_eq!(origin.wait_listed(2).await.len(), 2);

    let took = origin.stop(ANSWER_WITHIN).await;
    // The publish ran on to its deadline, then the flush had its own.
    assert!(took >= drain.publish_deadline, "{took:?}");
    assert!(
        took < drain.publish_deadline + 2 * drain.flush_deadline,
        "{took:?}"
    );
    let told = publisher.next_status().await;
    assert_eq!(told, status("status", "NetStream.Unpublish.Success"));
    publisher.closed_within(ANSWER_WITHIN).await;

    let listed = origin.listed().await;
    assert_eq!(listed.len(), 3, "the open segment was stored: {listed:?}");
    let last = &listed[2];
    assert!(last.duration_ms > 0 && last.duration_ms < 1000, "{last:?}");
    check_listed(&origin, 3, 15 * 300).await;
    assert_eq!(*lock(&origin.control.released), vec![Epoch(1)]);
}
