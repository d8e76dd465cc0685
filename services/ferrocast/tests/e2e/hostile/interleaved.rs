//! Interleaved chunk streams are legal RTMP, and some encoders and relays send them: here
//! every video message is cut in 128-byte chunks with the chunks of the audio messages that
//! follow it placed between them, and headers compressed with all four header types. The
//! publish must be accepted and play.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferrocast_media::amf0;
use ferrocast_media::flv::{self, Tag, TagType};

use crate::support::attack::{self, Attacker, DEFAULT_CHUNK_SIZE, Header, message_type};
use crate::support::media::run_bounded;
use crate::support::server::dev;
use crate::support::target::host_port;
use crate::support::victim::small_clip;

/// Media time published: enough for the probe below to read 4 s after going live.
const PUBLISHED_MS: u32 = 9_000;

/// A chunk stream that compresses each message's header against the previous message on it.
struct ChunkStream {
    id: u32,
    message_stream: u32,
    /// Timestamp, length and type of the previous message, and its delta if it had one.
    previous: Option<(u32, usize, u8, Option<u32>)>,
}

impl ChunkStream {
    fn new(id: u32, message_stream: u32) -> Self {
        Self {
            id,
            message_stream,
            previous: None,
        }
    }

    /// The message's chunks: Type 0 first, then Type 1 (new length), Type 2 (same length)
    /// or Type 3 (same length and delta), with Type 3 continuations.
    fn chunks(&mut self, timestamp: u32, type_id: u8, payload: &[u8]) -> Vec<Vec<u8>> {
        let length = payload.len();
        let (header, delta) = match self.previous {
            Some((last, last_length, last_type, last_delta)) if timestamp >= last => {
                let delta = timestamp - last;
                let same_shape = last_length == length && last_type == type_id;
                let header = if same_shape && last_delta == Some(delta) {
                    Header::Continuation { extended: None }
                } else if same_shape {
                    Header::DeltaOnly { delta }
                } else {
                    let length = u32::try_from(length).expect("tag fits");
                    Header::Delta {
                        delta,
                        length,
                        type_id,
                    }
                };
                (header, Some(delta))
            }
            _ => {
                let header = Header::full(timestamp, length, type_id, self.message_stream);
                (header, None)
            }
        };
        self.previous = Some((timestamp, length, type_id, delta));
        attack::chunks(self.id, header, payload, DEFAULT_CHUNK_SIZE)
    }
}

/// Every tag of the small clip up to `PUBLISHED_MS`.
fn clip_tags() -> Vec<Tag> {
    let mut reader = flv::Reader::new();
    reader.push(&std::fs::read(small_clip()).expect("read the clip"));
    let mut tags = Vec::new();
    while let Some(tag) = reader.next_tag().expect("ffmpeg writes valid FLV") {
        if tag.timestamp_ms <= PUBLISHED_MS {
            tags.push(tag);
        }
    }
    tags
}

/// Sends the tags at real-time pace; returns how many audio chunks went out between two
/// chunks of one video message.
fn publish_interleaved(
    mut attacker: Attacker,
    stream_id: u32,
    tags: Vec<Tag>,
) -> Result<usize, String> {
    let mut data = ChunkStream::new(5, stream_id);
    let mut audio = ChunkStream::new(6, stream_id);
    let mut video = ChunkStream::new(7, stream_id);
    let mut interleaved = 0;
    // A message begun and then abandoned with Abort Message is legal and leaves no trace.
    let junk = Header::full(0, 300, message_type::DATA_AMF0, stream_id);
    let mut bytes = attack::chunks(4, junk, &[0x05; 300], DEFAULT_CHUNK_SIZE).swap_remove(0);
    bytes.extend(attack::control(message_type::ABORT, 4));
    attacker.send(&bytes).map_err(|e| format!("abort: {e}"))?;
    let start = Instant::now();
    let mut tags = tags.into_iter().peekable();
    while let Some(tag) = tags.next() {
        let due = start + Duration::from_millis(u64::from(tag.timestamp_ms));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let bytes = match tag.tag_type {
            TagType::Script => {
                let mut payload = Vec::new();
                amf0::write_string("@setDataFrame", &mut payload);
                payload.extend_from_slice(&tag.body);
                data.chunks(tag.timestamp_ms, message_type::DATA_AMF0, &payload)
                    .concat()
            }
            TagType::Audio => audio
                .chunks(tag.timestamp_ms, message_type::AUDIO, &tag.body)
                .concat(),
            TagType::Video => {
                let video_chunks = video.chunks(tag.timestamp_ms, message_type::VIDEO, &tag.body);
                // The audio up to the next video frame rides inside this video message.
                let mut audio_chunks = Vec::new();
                while let Some(next) = tags.next_if(|next| next.tag_type == TagType::Audio) {
                    audio_chunks.extend(audio.chunks(
                        next.timestamp_ms,
                        message_type::AUDIO,
                        &next.body,
                    ));
                }
                let inside = audio_chunks.len().min(video_chunks.len().saturating_sub(1));
                interleaved += inside;
                let mut audio_chunks = audio_chunks.into_iter();
                let mut bytes = Vec::new();
                for chunk in video_chunks {
                    bytes.extend(chunk);
                    if let Some(audio_chunk) = audio_chunks.next() {
                        bytes.extend(audio_chunk);
                    }
                }
                bytes.extend(audio_chunks.flatten());
                bytes
            }
        };
        attacker
            .send(&bytes)
            .map_err(|e| format!("at {} ms: {e}", tag.timestamp_ms))?;
    }
    // End the publish as encoders do, so the server ends the stream cleanly.
    let mut arguments = Vec::new();
    amf0::write_null(&mut arguments);
    amf0::write_value(&amf0::Value::Number(f64::from(stream_id)), &mut arguments);
    let delete = attack::command(0, "deleteStream", 4.0, &arguments, DEFAULT_CHUNK_SIZE);
    attacker
        .send(&delete)
        .map_err(|e| format!("deleteStream: {e}"))?;
    Ok(interleaved)
}

/// Frames of each kind ffprobe decodes from the first 4 s of `url`.
fn frames_decoded(url: &str) -> (u64, u64, String) {
    let mut command = Command::new("ffprobe");
    command.args(["-v", "error", "-count_frames", "-read_intervals", "%+4"]);
    command.args([
        "-show_entries",
        "stream=codec_type,nb_read_frames",
        "-of",
        "json",
        url,
    ]);
    let output = run_bounded(command, 30);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let probed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let count = |kind: &str| {
        let streams = probed["streams"].as_array().cloned().unwrap_or_default();
        let stream = streams.iter().find(|s| s["codec_type"] == kind);
        stream
            .and_then(|s| s["nb_read_frames"].as_str()?.parse().ok())
            .unwrap_or(0)
    };
    let errors = String::from_utf8_lossy(&output.stderr).into_owned();
    (count("video"), count("audio"), format!("{text}{errors}"))
}

/// The control: ffmpeg's own RTMP server (`-listen 1`) takes the same publish and writes a
/// file that decodes, so the bytes are valid RTMP and a failure below is the server's.
#[test]
fn ffmpegs_rtmp_server_accepts_the_interleaved_publish() {
    let port = ferrocast_testkit::free_port();
    let output = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("interleaved-{}-{port}.flv", std::process::id()));
    let mut listener = Command::new("ffmpeg")
        .args([
            "-nostdin", "-v", "error", "-y", "-listen", "1", "-timeout", "20",
        ])
        .args(["-i", &format!("rtmp://127.0.0.1:{port}/live/control")])
        .args(["-c", "copy", "-f", "flv"])
        .arg(&output)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ffmpeg -listen");
    let addr = format!("127.0.0.1:{port}");
    let mut attacker =
        crate::support::wait_for("ffmpeg to listen", Duration::from_secs(10), || {
            Attacker::connect(&addr).ok()
        });
    attacker.handshake().expect("handshake");
    let (stream_id, status) = attacker
        .publish("live", "control", Duration::from_secs(10))
        .expect("publish answered");
    assert_eq!(status.code, "NetStream.Publish.Start", "{status:?}");
    let interleaved = publish_interleaved(attacker, stream_id, clip_tags()).expect("publish");
    assert!(
        interleaved > 100,
        "{interleaved} audio chunks inside video messages"
    );
    let exited = listener
        .wait()
        .expect("ffmpeg -listen exits when the publisher leaves");
    let mut errors = String::new();
    if let Some(mut pipe) = listener.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut errors);
    }
    // It reports the publisher's hang-up as an I/O error, and exits 0.
    assert!(exited.success(), "{exited}: {errors}");
    let (video, audio, probed) = frames_decoded(&output.display().to_string());
    let _ = std::fs::remove_file(&output);
    assert!(
        video >= 100 && audio >= 150,
        "decoded {video} video and {audio} audio frames: {probed}\nffmpeg -listen: {errors}"
    );
}

#[test]
fn interleaved_chunk_streams_at_chunk_size_128_are_accepted_and_play() {
    let server = dev().start();
    let tags = clip_tags();
    let mut attacker = Attacker::connect(&host_port(&server.rtmp_server)).expect("connect");
    attacker.handshake().expect("handshake");
    let (stream_id, status) = attacker
        .publish("live", &server.stream_key, Duration::from_secs(10))
        .expect("publish answered");
    assert_eq!(
        (status.level.as_str(), status.code.as_str()),
        ("status", "NetStream.Publish.Start"),
        "{status:?}"
    );
    let publisher = std::thread::spawn(move || publish_interleaved(attacker, stream_id, tags));

    crate::support::wait_for("the stream to be live", Duration::from_secs(10), || {
        let response = crate::support::http::stream(&server.flv_url);
        (response.status == 200).then_some(())
    });
    let (video, audio, probed) = frames_decoded(&server.flv_url);
    let published = publisher.join().expect("publisher thread");
    let interleaved =
        published.unwrap_or_else(|e| panic!("the server cut the publish {e}; decoded: {probed}"));
    assert!(
        interleaved > 100,
        "only {interleaved} audio chunks inside video messages"
    );
    // 4 s at 30 fps and ~47 AAC frames a second, and the GOP sent at once on top.
    assert!(
        video >= 100 && audio >= 150,
        "decoded {video} video and {audio} audio frames: {probed}"
    );
    assert!(!server.log().contains("panicked"), "{}", server.log());
}
