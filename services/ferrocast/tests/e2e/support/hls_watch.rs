//! An HLS viewer that judges a fault: it reloads the playlist (following the multivariant
//! playlist) every half second, fetches every newly listed segment once, and records what a
//! player would suffer: media-sequence holes, listed segments that do not answer 200, a media
//! sequence going back, `EXT-X-ENDLIST`, and the longest time the playlist did not advance.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::hls::{listed_segments, tag_value, try_media_playlist};
use super::http::try_get;

/// How often the playlist is reloaded (a player reloads about every target duration).
const RELOAD_EVERY: Duration = Duration::from_millis(500);
/// A request that takes longer counts as failed (the observer goes on).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many entries are kept per list, so a long run cannot grow without bound.
const KEEP: usize = 10_000;

/// What the viewer saw so far.
#[derive(Debug, Default, Clone)]
pub struct HlsReport {
    /// Playlist reloads that answered 200.
    pub reloads: usize,
    /// Reloads that failed, as `status` or error text.
    pub reload_failures: Vec<String>,
    /// Segments fetched with a 200.
    pub segments_fetched: usize,
    /// Listed segments that answered anything but 200: `msn uri: status`.
    pub missing: Vec<String>,
    /// Ranges of msns never listed between two that were: `(first missing, last missing)`.
    pub msn_holes: Vec<(u64, u64)>,
    /// `EXT-X-MEDIA-SEQUENCE` values lower than one seen before: `(before, after)`.
    pub sequence_went_back: Vec<(u64, u64)>,
    /// Whether any reload carried `EXT-X-ENDLIST`.
    pub endlist_seen: bool,
    /// `EXT-X-DISCONTINUITY` tags seen before newly listed segments.
    pub discontinuities: usize,
    /// Media playlist URLs in the order they were read (a new generation adds one).
    pub media_urls: Vec<String>,
    /// The highest msn listed so far.
    pub newest_msn: Option<u64>,
    /// When the newest msn went up, with its new value.
    pub advances: Vec<(Instant, u64)>,
    /// The longest time between two advances (or from the last advance to now).
    pub longest_stall: Duration,
}

impl HlsReport {
    /// How long after `since` the playlist first advanced, if it did.
    pub fn first_advance_after(&self, since: Instant) -> Option<Duration> {
        let (at, _) = self.advances.iter().find(|(at, _)| *at > since)?;
        Some(at.duration_since(since))
    }

    /// Asserts the promise of a fault that loses nothing: no hole, nothing listed missing, the
    /// sequence never back, no ENDLIST.
    pub fn assert_nothing_lost(&self, what: &str) {
        assert!(self.msn_holes.is_empty(), "{what}: msn holes {self:#?}");
        assert!(
            self.missing.is_empty(),
            "{what}: listed but missing {self:#?}"
        );
        assert!(
            self.sequence_went_back.is_empty(),
            "{what}: media sequence went back {self:#?}"
        );
        assert!(!self.endlist_seen, "{what}: EXT-X-ENDLIST seen {self:#?}");
    }
}

/// A running HLS viewer thread.
pub struct HlsWatcher {
    stop: Arc<AtomicBool>,
    report: Arc<Mutex<HlsReport>>,
    thread: Option<JoinHandle<()>>,
}

impl HlsWatcher {
    /// Starts reading `index_url`.
    pub fn start(index_url: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let report = Arc::new(Mutex::new(HlsReport::default()));
        let thread = {
            let (stop, report, url) = (stop.clone(), report.clone(), index_url.to_owned());
            std::thread::spawn(move || watch(&url, &stop, &report))
        };
        Self {
            stop,
            report,
            thread: Some(thread),
        }
    }

    /// What it saw so far.
    pub fn report(&self) -> HlsReport {
        self.report.lock().expect("report lock").clone()
    }

    /// Waits until the newest msn is at least `msn`, within `deadline`.
    pub fn wait_for_msn(&self, msn: u64, deadline: Duration) -> HlsReport {
        super::wait_for(&format!("msn {msn} listed"), deadline, || {
            let report = self.report();
            (report.newest_msn >= Some(msn)).then_some(report)
        })
    }

    /// Waits for the first advance after `since`, within `deadline`; returns its delay.
    pub fn wait_advance_after(&self, since: Instant, deadline: Duration) -> Duration {
        super::wait_for("the playlist to advance", deadline, || {
            self.report().first_advance_after(since)
        })
    }

    /// Stops the viewer and returns what it saw.
    pub fn stop(&mut self) -> HlsReport {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the HLS watcher thread");
        }
        let mut report = self.report();
        update_stall(&mut report, Instant::now());
        report
    }
}

impl Drop for HlsWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn watch(url: &str, stop: &AtomicBool, report: &Mutex<HlsReport>) {
    let mut last_sequence: Option<u64> = None;
    while !stop.load(Ordering::Relaxed) {
        let reload_started = Instant::now();
        match try_media_playlist(url, REQUEST_TIMEOUT) {
            Ok(Some(playlist)) => {
                let mut seen = report.lock().expect("report lock");
                seen.reloads += 1;
                if seen.media_urls.last() != Some(&playlist.url) && seen.media_urls.len() < KEEP {
                    seen.media_urls.push(playlist.url.clone());
                }
                seen.endlist_seen |= playlist.text.contains("#EXT-X-ENDLIST");
                if let Some(sequence) = tag_value(&playlist.text, "#EXT-X-MEDIA-SEQUENCE") {
                    if let Some(before) = last_sequence.filter(|before| sequence < *before) {
                        push_capped(&mut seen.sequence_went_back, (before, sequence));
                    }
                    last_sequence = Some(last_sequence.map_or(sequence, |s| s.max(sequence)));
                }
                let fresh = newly_listed(&mut seen, &playlist.text);
                drop(seen);
                for (msn, uri) in fresh {
                    let status = match try_get(&playlist.resolve(&uri), REQUEST_TIMEOUT) {
                        Ok(response) => response.status.to_string(),
                        Err(error) => error.to_string(),
                    };
                    let mut seen = report.lock().expect("report lock");
                    if status == "200" {
                        seen.segments_fetched += 1;
                    } else {
                        push_capped(&mut seen.missing, format!("{msn} {uri}: {status}"));
                    }
                }
            }
            Ok(None) => note_failure(report, "not 200".to_owned()),
            Err(error) => note_failure(report, error.to_string()),
        }
        update_stall(&mut report.lock().expect("report lock"), Instant::now());
        std::thread::sleep(RELOAD_EVERY.saturating_sub(reload_started.elapsed()));
    }
}

/// Records the segments listed above the newest msn seen so far (and any hole before them);
/// returns them to be fetched.
fn newly_listed(seen: &mut HlsReport, text: &str) -> Vec<(u64, String)> {
    let mut fresh = Vec::new();
    let mut discontinuity_pending = false;
    let listed = listed_segments(text);
    let mut listed_iter = listed.iter();
    for line in text.lines() {
        if line.starts_with("#EXT-X-DISCONTINUITY") && !line.contains("SEQUENCE") {
            discontinuity_pending = true;
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((msn, uri)) = listed_iter.next() else {
            break;
        };
        let is_new = seen.newest_msn.is_none_or(|newest| *msn > newest);
        if is_new {
            if let Some(newest) = seen.newest_msn.filter(|newest| *msn > newest + 1) {
                push_capped(&mut seen.msn_holes, (newest + 1, msn - 1));
            }
            seen.discontinuities += usize::from(discontinuity_pending && seen.newest_msn.is_some());
            seen.newest_msn = Some(*msn);
            push_capped(&mut seen.advances, (Instant::now(), *msn));
            fresh.push((*msn, uri.clone()));
        }
        discontinuity_pending = false;
    }
    fresh
}

fn note_failure(report: &Mutex<HlsReport>, what: String) {
    push_capped(
        &mut report.lock().expect("report lock").reload_failures,
        what,
    );
}

fn update_stall(report: &mut HlsReport, now: Instant) {
    let mut longest = report.longest_stall;
    for pair in report.advances.windows(2) {
        longest = longest.max(pair[1].0.duration_since(pair[0].0));
    }
    if let Some((last, _)) = report.advances.last() {
        longest = longest.max(now.duration_since(*last));
    }
    report.longest_stall = longest;
}

fn push_capped<T>(list: &mut Vec<T>, item: T) {
    if list.len() < KEEP {
        list.push(item);
    }
}
