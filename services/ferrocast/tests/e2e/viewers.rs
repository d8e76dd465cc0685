//! Viewers: many at once, and the answers for streams that are not there.

use std::io::Read;
use std::time::{Duration, Instant};

use ferrocast_media::flv::{self, TagType};

use crate::ingest::{playlist_when, segment_uris};
use crate::support::http::{get, stream};
use crate::support::media::publish_clip;
use crate::support::server::dev;

/// What one HTTP-FLV viewer received in a fixed time.
#[derive(Debug, Default)]
pub struct Received {
    pub video_tags: usize,
    pub audio_tags: usize,
    pub script_tags: usize,
    pub keyframes: usize,
    pub first_video_ms: Option<u32>,
    pub last_video_ms: u32,
    /// The longest step between consecutive video timestamps.
    pub max_video_step_ms: u32,
    /// Video timestamps that went back.
    pub video_steps_back: usize,
}

impl Received {
    /// Media time covered by the video received.
    pub fn video_span_ms(&self) -> u32 {
        self.last_video_ms
            .saturating_sub(self.first_video_ms.unwrap_or(0))
    }
}

/// Reads `url` as HTTP-FLV for `duration`, parsing every tag.
pub fn watch_flv(url: &str, duration: Duration) -> Received {
    let mut response = stream(url);
    assert_eq!(response.status, 200);
    let mut reader = flv::Reader::new();
    let mut received = Received::default();
    let mut buffer = vec![0; 64 * 1024];
    let start = Instant::now();
    while start.elapsed() < duration {
        let count = response.body.read(&mut buffer).expect("read flv");
        if count == 0 {
            break;
        }
        reader.push(&buffer[..count]);
        while let Some(tag) = reader.next_tag().expect("valid FLV from the server") {
            match tag.tag_type {
                TagType::Script => received.script_tags += 1,
                TagType::Audio => received.audio_tags += 1,
                TagType::Video => {
                    let video = flv::parse_video(&tag.body).expect("valid video tag");
                    if video.packet == flv::VideoPacket::Nalu {
                        received.video_tags += 1;
                        received.keyframes += usize::from(video.is_keyframe());
                        if received.first_video_ms.is_some() {
                            let last = received.last_video_ms;
                            let step = tag.timestamp_ms.saturating_sub(last);
                            received.max_video_step_ms = received.max_video_step_ms.max(step);
                            received.video_steps_back += usize::from(tag.timestamp_ms < last);
                        }
                        received.first_video_ms.get_or_insert(tag.timestamp_ms);
                        received.last_video_ms = tag.timestamp_ms;
                    }
                }
            }
        }
    }
    received
}

#[test]
fn twenty_concurrent_flv_viewers_all_receive_the_stream() {
    let server = dev().start();
    let mut publisher = publish_clip(&server.publish_url, -1);
    playlist_when(&server, "the stream to go live", |text| {
        !segment_uris(text).is_empty()
    });

    let viewers: Vec<_> = (0..20)
        .map(|_| {
            let url = server.flv_url.clone();
            std::thread::spawn(move || watch_flv(&url, Duration::from_secs(4)))
        })
        .collect();
    let results: Vec<Received> = viewers
        .into_iter()
        .map(|viewer| viewer.join().unwrap())
        .collect();
    let _ = publisher.kill();
    let _ = publisher.wait();

    for (n, received) in results.iter().enumerate() {
        assert!(
            received.script_tags >= 1,
            "viewer {n} got onMetaData: {received:?}"
        );
        assert!(
            received.keyframes >= 1,
            "viewer {n} started on a keyframe: {received:?}"
        );
        assert!(
            received.audio_tags >= 50,
            "viewer {n} got audio: {received:?}"
        );
        assert!(
            received.video_span_ms() >= 3000,
            "viewer {n} got >= 3 s of video: {received:?}"
        );
    }
}

#[test]
fn unknown_and_offline_streams_are_404() {
    let server = dev().start();
    let base = server.hls_url.split("/hls/").next().unwrap().to_owned();
    for url in [
        format!("{base}/hls/nosuchstream/index.m3u8"),
        format!("{base}/live/nosuchstream.flv"),
        server.hls_url.clone(),
        server.flv_url.clone(),
        format!(
            "{base}/live/{}",
            server
                .flv_url
                .rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".flv")
        ),
    ] {
        assert_eq!(get(&url).status, 404, "{url}");
    }
}
