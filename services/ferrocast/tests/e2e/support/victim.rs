//! The victim of an attack: a small live stream published with ffmpeg and watched over
//! HTTP-FLV by a reader that parses every tag and notes when each video frame arrived, so a
//! test can say "frames kept coming, never more than 1 s apart".

use std::io::{BufReader, ErrorKind, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferrocast_media::flv::{self, TagType};

use super::http::stream;
use super::wait_for;

/// The synthetic source of `shared/TESTING.md`, made small: 320x240 at 30 fps, 2 s GOP,
/// 300 kb/s video and 64 kb/s AAC, so a victim costs almost nothing to publish.
#[rustfmt::skip]
const SMALL_SOURCE: &[&str] = &[
    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
    "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
    "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
    "-pix_fmt", "yuv420p", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
    "-b:v", "300k", "-c:a", "aac", "-b:a", "64k", "-ar", "48000", "-ac", "2",
];

/// How long the reader waits in one socket read before it looks at its stop flag.
const READ_SLICE: Duration = Duration::from_millis(200);

/// A 10-second FLV clip of the small source, encoded once and kept in the target's temp
/// directory (written under another name and renamed, so concurrent runs never see half).
pub fn small_clip() -> &'static Path {
    static CLIP: OnceLock<PathBuf> = OnceLock::new();
    CLIP.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join("small-clip-320x240-v1.flv");
        if path.exists() {
            return path;
        }
        let partial = dir.join(format!("small-clip-{}.partial.flv", std::process::id()));
        let output = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y"])
            .args(SMALL_SOURCE)
            .args(["-t", "10", "-f", "flv"])
            .arg(&partial)
            .output()
            .expect("run ffmpeg (scripts/install-test-deps.sh installs it)");
        assert!(
            output.status.success(),
            "encoding the small clip: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::rename(&partial, &path).expect("move the clip into place");
        path
    })
}

/// What the reader saw.
#[derive(Debug, Default, Clone)]
pub struct Playback {
    /// Video frames (coded pictures, not sequence headers) received.
    pub video_frames: u64,
    /// Audio tags received.
    pub audio_tags: u64,
    /// The longest time between two video frames, or from the last one to the end.
    pub longest_gap: Duration,
    /// Why the HTTP-FLV response ended early, if it did.
    pub ended: Option<String>,
    /// The publisher's exit and error output, if it exited before the victim was stopped.
    pub publisher_exited: Option<String>,
}

#[derive(Default)]
struct Progress {
    playback: Playback,
    last_frame: Option<Instant>,
}

type Shared = Arc<(Mutex<Progress>, Condvar)>;

/// A live stream under watch; the publisher is killed and the reader stopped on drop.
pub struct Victim {
    publisher: Child,
    publish_url: String,
    progress: Shared,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Victim {
    /// Publishes the small clip in a loop at real-time pace to `publish_url`, opens
    /// `flv_url` once the stream is live, and waits for its first second of frames.
    pub fn start(publish_url: &str, flv_url: &str) -> Self {
        let publisher = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i"])
            .arg(small_clip())
            .args(["-c", "copy", "-f", "flv", publish_url])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the victim's ffmpeg publisher");
        // Owned from here on, so a failure below still kills the publisher.
        let mut victim = Self {
            publisher,
            publish_url: publish_url.to_owned(),
            progress: Arc::default(),
            stop: Arc::new(AtomicBool::new(false)),
            reader: None,
        };
        let live = Duration::from_secs(20);
        let response = wait_for("the victim stream to be live", live, || {
            let response = stream(flv_url);
            (response.status == 200).then_some(response)
        });
        let (progress, stop) = (victim.progress.clone(), victim.stop.clone());
        let reader = std::thread::spawn(move || read_frames(response.body, &progress, &stop));
        victim.reader = Some(reader);
        assert!(
            victim.wait_frames(30, Duration::from_secs(15)),
            "the victim's first 30 frames: {:?}",
            victim.snapshot()
        );
        victim
    }

    /// Waits until `more` video frames arrive after this call; false at `deadline`.
    pub fn wait_frames(&self, more: u64, deadline: Duration) -> bool {
        let (lock, arrived) = &*self.progress;
        let progress = lock.lock().expect("victim lock");
        let target = progress.playback.video_frames + more;
        let (progress, _) = arrived
            .wait_timeout_while(progress, deadline, |p| {
                p.playback.video_frames < target && p.playback.ended.is_none()
            })
            .expect("victim lock");
        progress.playback.video_frames >= target
    }

    /// What the reader has seen so far.
    pub fn snapshot(&self) -> Playback {
        let progress = self.progress.0.lock().expect("victim lock");
        let mut playback = progress.playback.clone();
        if let Some(last) = progress.last_frame {
            playback.longest_gap = playback.longest_gap.max(last.elapsed());
        }
        playback
    }

    /// Stops the publisher and the reader; returns what was seen.
    pub fn stop(mut self) -> Playback {
        let exited = self.publisher.try_wait().expect("try_wait ffmpeg");
        let mut playback = self.snapshot();
        if let Some(status) = exited {
            let mut errors = String::new();
            if let Some(mut pipe) = self.publisher.stderr.take() {
                let _ = pipe.read_to_string(&mut errors);
            }
            // ffmpeg names the URL, and so the stream key, in its errors.
            let errors = errors.replace(&self.publish_url, "<publish url>");
            playback.publisher_exited = Some(format!("{status}: {errors}"));
        }
        self.halt();
        playback
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.publisher.kill();
        let _ = self.publisher.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Parses FLV tags until stopped or the response ends, noting each video frame's arrival.
fn read_frames(mut body: BufReader<TcpStream>, progress: &Shared, stop: &AtomicBool) {
    // Bounded reads, so the reader notices its stop flag.
    if let Err(e) = body.get_ref().set_read_timeout(Some(READ_SLICE)) {
        progress.0.lock().expect("victim lock").playback.ended = Some(format!("{e}"));
        return;
    }
    let mut reader = flv::Reader::new();
    let mut buffer = vec![0; 64 * 1024];
    let ended = loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let count = match body.read(&mut buffer) {
            Ok(0) => break "the server ended the response".to_owned(),
            Ok(count) => count,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) => break format!("read: {e}"),
        };
        reader.push(&buffer[..count]);
        let (lock, arrived) = &**progress;
        let mut progress = lock.lock().expect("victim lock");
        loop {
            let tag = match reader.next_tag() {
                Ok(Some(tag)) => tag,
                Ok(None) => break,
                Err(e) => {
                    progress.playback.ended = Some(format!("invalid FLV: {e}"));
                    arrived.notify_all();
                    return;
                }
            };
            match tag.tag_type {
                TagType::Audio => progress.playback.audio_tags += 1,
                TagType::Video if is_frame(&tag.body) => {
                    let now = Instant::now();
                    if let Some(last) = progress.last_frame {
                        let gap = now - last;
                        progress.playback.longest_gap = progress.playback.longest_gap.max(gap);
                    }
                    progress.last_frame = Some(now);
                    progress.playback.video_frames += 1;
                }
                TagType::Video | TagType::Script => {}
            }
        }
        arrived.notify_all();
    };
    let (lock, arrived) = &**progress;
    lock.lock().expect("victim lock").playback.ended = Some(ended);
    arrived.notify_all();
}

fn is_frame(body: &[u8]) -> bool {
    flv::parse_video(body).is_ok_and(|video| video.packet == flv::VideoPacket::Nalu)
}
