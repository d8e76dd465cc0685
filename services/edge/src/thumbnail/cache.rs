//! Thumbnails by keyframe: a byte-bounded LRU of JPEGs, and single flight in front of the
//! worker, so that however many ask for one keyframe at once it is decoded once; the first
//! asker starts the decode, the others wait for its outcome.
//!
//! A flight ends whatever happens to the request that started it: the worker completes it,
//! and a flight dropped unfinished (its request gone before queueing, a worker that died)
//! completes as failed, so no waiter waits for nothing and no key stays stuck.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferrocast_base::{Epoch, Msn, StreamId, lock};
use ferrocast_thumbnail::{Keyframe, Options, Thumbnail, ThumbnailError};
use tokio::sync::watch;

use super::ThumbnailConfig;
use super::lru::{Lru, Weight};
use super::metrics;
use super::worker::{Job, Refusal, Renderer, Worker};

/// One thumbnail: a keyframe of a source, at a width.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    /// The stream.
    pub(crate) stream: StreamId,
    /// Which keyframe of the stream.
    pub(crate) frame: Frame,
    /// The width asked for (`None`: the stream's own).
    pub(crate) width: Option<u32>,
}

/// Where a keyframe is in a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Frame {
    /// A live keyframe: the serial of the hub it came through (a run of frames) and its
    /// timestamp in that run.
    Live { hub_serial: u64, timestamp_ms: u32 },
    /// The keyframe opening a recorded segment: the recording and the segment's msn.
    Recorded { generation: Epoch, msn: Msn },
}

/// A JPEG and its entity tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    /// The file.
    pub(crate) jpeg: Bytes,
    /// A strong `ETag` value, quotes included: a hash of the bytes, so every edge that made
    /// the same JPEG names it alike.
    pub(crate) etag: Arc<str>,
}

impl Rendered {
    fn new(thumbnail: Thumbnail) -> Self {
        let mut hasher = DefaultHasher::new();
        thumbnail.jpeg.hash(&mut hasher);
        Self {
            etag: format!("\"{:016x}\"", hasher.finish()).into(),
            jpeg: Bytes::from(thumbnail.jpeg),
        }
    }
}

impl Weight for Rendered {
    fn weight(&self) -> usize {
        self.jpeg.len()
    }
}

/// Why there is no thumbnail, as the handler answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The stream's codec is not H.264 (415), with the reason.
    Unsupported(String),
    /// The picture is larger than `max_pixels` (415).
    TooLarge,
    /// The decoder is busy (503).
    Busy(Refusal),
    /// The decode did not finish within `max_wait` (503).
    TimedOut,
    /// The keyframe did not decode, or the decoder failed (500).
    Failed,
}

impl From<ThumbnailError> for Failure {
    fn from(error: ThumbnailError) -> Self {
        match error {
            ThumbnailError::UnsupportedCodec(_) => Failure::Unsupported(error.to_string()),
            ThumbnailError::TooLarge { .. } => Failure::TooLarge,
            _ => Failure::Failed,
        }
    }
}

/// A thumbnail, or why not.
pub(crate) type Outcome = Result<Rendered, Failure>;

/// The edge's thumbnails: cache, flights and the worker.
pub(crate) struct Thumbnails {
    shared: Arc<Shared>,
    worker: Worker,
    options: Options,
    max_wait: Duration,
}

struct Shared {
    state: Mutex<State>,
    /// Requests served from the cache, and requests that joined a flight (as the metrics
    /// count them; kept here too for the tests).
    hits: AtomicU64,
    waits: AtomicU64,
}

struct State {
    cache: Lru<Key, Rendered>,
    flights: HashMap<Key, watch::Receiver<Option<Outcome>>>,
}

enum Lookup {
    Hit(Rendered),
    Wait(watch::Receiver<Option<Outcome>>),
    Start(Flight),
}

impl Thumbnails {
    /// Thumbnails made by [`Keyframe::render`] on a worker thread of their own.
    pub(crate) fn new(config: &ThumbnailConfig) -> std::io::Result<Self> {
        Self::with_renderer(config, Arc::new(Keyframe::render))
    }

    /// Thumbnails made by `renderer` (tests count and hold decodes with it).
    pub(crate) fn with_renderer(
        config: &ThumbnailConfig,
        renderer: Renderer,
    ) -> std::io::Result<Self> {
        let worker = Worker::start(
            config.max_queued,
            config.max_decodes_per_second,
            config.worker_nice,
            renderer,
        )?;
        let state = State {
            cache: Lru::new(config.cache_bytes),
            flights: HashMap::new(),
        };
        Ok(Self {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                hits: AtomicU64::new(0),
                waits: AtomicU64::new(0),
            }),
            worker,
            options: Options {
                width: None,
                quality: config.quality,
                max_pixels: config.max_pixels,
            },
            max_wait: config.max_wait,
        })
    }

    /// The thumbnail of `key`: from the cache, from a decode in flight, or from a new decode
    /// of the keyframe `prepare` gives (called only then: it copies the access unit).
    pub(crate) async fn get(
        &self,
        key: Key,
        prepare: impl FnOnce() -> Result<Keyframe, ThumbnailError>,
    ) -> Outcome {
        let mut flight = match self.lookup(&key) {
            Lookup::Hit(rendered) => return Ok(rendered),
            Lookup::Wait(flight) => flight,
            Lookup::Start(started) => {
                let waiting = started.receiver();
                self.start(&key, started, prepare);
                waiting
            }
        };
        let finished = tokio::time::timeout(self.max_wait, flight.wait_for(Option::is_some)).await;
        match finished {
            Ok(Ok(outcome)) => outcome.clone().unwrap_or(Err(Failure::Failed)),
            Ok(Err(_)) => Err(Failure::Failed),
            Err(_) => Err(Failure::TimedOut),
        }
    }

    fn lookup(&self, key: &Key) -> Lookup {
        let mut state = lock(&self.shared.state);
        if let Some(rendered) = state.cache.get(key) {
            metrics::cache_hit();
            self.shared.hits.fetch_add(1, Ordering::Relaxed);
            return Lookup::Hit(rendered);
        }
        if let Some(flight) = state.flights.get(key) {
            metrics::waited();
            self.shared.waits.fetch_add(1, Ordering::Relaxed);
            return Lookup::Wait(flight.clone());
        }
        let (sender, receiver) = watch::channel(None);
        state.flights.insert(key.clone(), receiver);
        Lookup::Start(Flight {
            key: key.clone(),
            sender,
            shared: self.shared.clone(),
            done: false,
        })
    }

    /// `(cache hits, single-flight waits)` so far.
    #[cfg(test)]
    fn counts(&self) -> (u64, u64) {
        let hits = self.shared.hits.load(Ordering::Relaxed);
        (hits, self.shared.waits.load(Ordering::Relaxed))
    }

    /// Prepares the keyframe and queues its decode, or ends the flight with the reason not.
    fn start(
        &self,
        key: &Key,
        flight: Flight,
        prepare: impl FnOnce() -> Result<Keyframe, ThumbnailError>,
    ) {
        let keyframe = match prepare() {
            Ok(keyframe) => keyframe,
            Err(error) => return flight.complete_with(Err(error.into())),
        };
        let options = Options {
            width: key.width,
            ..self.options.clone()
        };
        let job = Job {
            keyframe,
            options,
            flight,
        };
        self.worker.submit(job);
    }
}

/// A decode being made: completing it stores the thumbnail and wakes every waiter.
pub(crate) struct Flight {
    key: Key,
    sender: watch::Sender<Option<Outcome>>,
    shared: Arc<Shared>,
    done: bool,
}

impl Flight {
    fn receiver(&self) -> watch::Receiver<Option<Outcome>> {
        self.sender.subscribe()
    }

    /// Ends the flight with what the worker made of the keyframe.
    pub(crate) fn complete_with(mut self, outcome: Result<Thumbnail, Failure>) {
        self.finish(outcome.map(Rendered::new));
    }

    fn finish(&mut self, outcome: Outcome) {
        self.done = true;
        {
            let mut state = lock(&self.shared.state);
            state.flights.remove(&self.key);
            if let Ok(rendered) = &outcome {
                state.cache.insert(self.key.clone(), rendered.clone());
            }
        }
        // Nobody waiting is fine: the thumbnail is cached for the next asker.
        let _ = self.sender.send(Some(outcome));
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        if !self.done {
            self.finish(Err(Failure::Failed));
        }
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
