//! An HTTP-FLV viewer that judges a fault: one connection, read until told to stop, recording
//! the longest wall-clock gap between media tags, whether the server closed the connection,
//! sequence headers received (a new publisher sends new ones) and timestamps going back.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferrocast_media::flv::{self, TagType};

use super::http::try_stream;

/// A read waits at most this long before checking whether to stop.
const READ_SLICE: Duration = Duration::from_millis(250);
/// At most this many entries are kept per list.
const KEEP: usize = 1_000;

/// What the viewer saw so far.
#[derive(Debug, Default, Clone)]
pub struct FlvReport {
    /// The response status (0 when the connection failed).
    pub status: u16,
    /// Media tags (audio and video frames, sequence headers excluded).
    pub media_tags: usize,
    /// Video keyframes.
    pub keyframes: usize,
    /// AVC sequence headers (one per publisher session, at least).
    pub video_sequence_headers: usize,
    /// The longest wall-clock time between two media tags.
    pub longest_gap: Duration,
    /// When the longest gap began.
    pub longest_gap_started: Option<Instant>,
    /// When the last media tag arrived.
    pub last_tag_at: Option<Instant>,
    /// Per track, a timestamp lower than the one before: `(track, before, after)`.
    pub timestamps_went_back: Vec<(&'static str, u32, u32)>,
    /// Why the connection ended (server close, reset, bad data), if it did.
    pub closed: Option<String>,
}

/// A running HTTP-FLV viewer thread.
pub struct FlvWatcher {
    stop: Arc<AtomicBool>,
    report: Arc<Mutex<FlvReport>>,
    thread: Option<JoinHandle<()>>,
}

impl FlvWatcher {
    /// Connects to `url` and starts reading.
    pub fn start(url: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Mutex::new(FlvReport::default()));
        let thread = {
            let (stop, report, url) = (stop.clone(), report.clone(), url.to_owned());
            std::thread::spawn(move || watch(&url, &stop, &report))
        };
        Self {
            stop,
            report,
            thread: Some(thread),
        }
    }

    /// What it saw so far.
    pub fn report(&self) -> FlvReport {
        self.report.lock().expect("report lock").clone()
    }

    /// Waits until `count` media tags arrived, within `deadline`.
    pub fn wait_for_tags(&self, count: usize, deadline: Duration) {
        super::wait_for("FLV media tags", deadline, || {
            (self.report().media_tags >= count).then_some(())
        });
    }

    /// Stops the viewer and returns what it saw.
    pub fn stop(&mut self) -> FlvReport {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the FLV watcher thread");
        }
        self.report()
    }
}

impl Drop for FlvWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn watch(url: &str, stop: &AtomicBool, report: &Mutex<FlvReport>) {
    let mut response = match try_stream(url, READ_SLICE) {
        Ok(response) => response,
        Err(error) => {
            report.lock().expect("report lock").closed = Some(format!("connect: {error}"));
            return;
        }
    };
    report.lock().expect("report lock").status = response.status;
    let mut reader = flv::Reader::new();
    let mut last_timestamp: [Option<u32>; 2] = [None, None];
    let mut buffer = vec![0; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let count = match response.body.read(&mut buffer) {
            Ok(0) => return closed(report, "closed by the server".to_owned()),
            Ok(count) => count,
            Err(error) if is_timeout(&error) => continue,
            Err(error) => return closed(report, error.to_string()),
        };
        reader.push(&buffer[..count]);
        loop {
            let tag = match reader.next_tag() {
                Ok(Some(tag)) => tag,
                Ok(None) => break,
                Err(error) => return closed(report, format!("bad FLV: {error}")),
            };
            let mut seen = report.lock().expect("report lock");
            let (track, is_media) = match tag.tag_type {
                TagType::Script => continue,
                TagType::Audio => (1, is_audio_frame(&tag.body)),
                TagType::Video => match flv::parse_video(&tag.body) {
                    Ok(video) if video.packet == flv::VideoPacket::Nalu => {
                        seen.keyframes += usize::from(video.is_keyframe());
                        (0, true)
                    }
                    Ok(_) => {
                        seen.video_sequence_headers += 1;
                        (0, false)
                    }
                    Err(error) => return closed(report, format!("bad video tag: {error}")),
                },
            };
            if !is_media {
                continue;
            }
            if let Some(before) = last_timestamp[track].filter(|before| tag.timestamp_ms < *before)
                && seen.timestamps_went_back.len() < KEEP
            {
                let name = if track == 0 { "video" } else { "audio" };
                seen.timestamps_went_back
                    .push((name, before, tag.timestamp_ms));
            }
            last_timestamp[track] = Some(tag.timestamp_ms);
            let now = Instant::now();
            if let Some(gap) = seen.last_tag_at.map(|last| now.duration_since(last))
                && gap > seen.longest_gap
            {
                seen.longest_gap = gap;
                seen.longest_gap_started = seen.last_tag_at;
            }
            seen.last_tag_at = Some(now);
            seen.media_tags += 1;
        }
    }
}

fn is_audio_frame(body: &[u8]) -> bool {
    flv::parse_audio(body).is_ok_and(|audio| audio.packet == flv::AudioPacket::Raw)
}

fn is_timeout(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn closed(report: &Mutex<FlvReport>, why: String) {
    report.lock().expect("report lock").closed = Some(why);
}
