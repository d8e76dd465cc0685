//! Single flight, the cache and the worker's bounds, with a stand-in renderer that counts
//! decodes and holds them until the test lets them finish.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing unwrap is a failing test

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use ferrocast_media::flv::{Reader, TagType};

use super::*;

/// A real keyframe (640x360 colour bars by libx264; see the thumbnail crate's tests).
fn keyframe() -> Keyframe {
    let mut reader = Reader::new();
    reader.push(include_bytes!(
        "../../../thumbnail/tests/fixtures/smptebars-640x360.flv"
    ));
    let mut config = None;
    while let Some(tag) = reader.next_tag().unwrap() {
        match (tag.tag_type, tag.body.get(..2)) {
            (TagType::Video, Some([0x17, 0])) => config = Some(tag.body),
            (TagType::Video, Some([0x17, 1])) => {
                return Keyframe::from_flv(&config.unwrap(), &tag.body).unwrap();
            }
            _ => {}
        }
    }
    panic!("no keyframe in the fixture")
}

fn key(timestamp_ms: u32) -> Key {
    Key {
        stream: StreamId::new("s"),
        frame: Frame::Live {
            hub_serial: 1,
            timestamp_ms,
        },
        width: None,
    }
}

/// A renderer that counts its calls, reports each start, and finishes only when released.
struct Held {
    calls: Arc<AtomicUsize>,
    started: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
}

fn held() -> (Held, Renderer) {
    let calls = Arc::new(AtomicUsize::new(0));
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let counted = calls.clone();
    let renderer: Renderer = Arc::new(move |_, _| {
        let call = counted.fetch_add(1, Ordering::SeqCst);
        let _ = started_tx.send(());
        lock(&release_rx)
            .recv_timeout(Duration::from_secs(10))
            .expect("the test releases every decode");
        Ok(Thumbnail {
            jpeg: vec![call as u8; 100],
            width: 640,
            height: 360,
        })
    });
    let held = Held {
        calls,
        started,
        release,
    };
    (held, renderer)
}

impl Held {
    fn wait_started(&self) {
        self.started
            .recv_timeout(Duration::from_secs(10))
            .expect("a decode starts");
    }
}

fn config() -> ThumbnailConfig {
    ThumbnailConfig {
        worker_nice: 0,
        ..ThumbnailConfig::default()
    }
}

#[tokio::test]
async fn fifty_concurrent_askers_share_one_decode() {
    let (held, renderer) = held();
    let thumbnails = Thumbnails::with_renderer(&config(), renderer).unwrap();
    let prepared = AtomicUsize::new(0);
    let askers = (0..50).map(|_| {
        thumbnails.get(key(0), || {
            prepared.fetch_add(1, Ordering::SeqCst);
            Ok(keyframe())
        })
    });
    let mut all = Box::pin(futures::future::join_all(askers));
    // Every asker looks up while the decode is held: one starts it, 49 join it.
    assert!(futures::poll!(&mut all).is_pending());
    held.wait_started();
    assert_eq!(thumbnails.counts(), (0, 49));
    held.release.send(()).unwrap();
    let answers = all.await;

    assert_eq!(held.calls.load(Ordering::SeqCst), 1);
    assert_eq!(prepared.load(Ordering::SeqCst), 1);
    let first = answers[0].clone().unwrap();
    assert!(answers.iter().all(|answer| answer.as_ref() == Ok(&first)));
    // Later askers are served from the cache.
    let again = thumbnails.get(key(0), || unreachable!("cached")).await;
    assert_eq!(again.unwrap(), first);
    assert_eq!(thumbnails.counts(), (1, 49));
    // A newer keyframe is a new decode.
    held.release.send(()).unwrap();
    let newer = thumbnails.get(key(2000), || Ok(keyframe())).await.unwrap();
    assert_ne!(newer.etag, first.etag);
    assert_eq!(held.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_full_queue_refuses_at_once() {
    let (held, renderer) = held();
    let config = ThumbnailConfig {
        max_queued: 1,
        ..config()
    };
    let thumbnails = Thumbnails::with_renderer(&config, renderer).unwrap();
    let mut decoding = Box::pin(thumbnails.get(key(0), || Ok(keyframe())));
    assert!(futures::poll!(&mut decoding).is_pending());
    held.wait_started();
    let mut queued = Box::pin(thumbnails.get(key(1), || Ok(keyframe())));
    assert!(futures::poll!(&mut queued).is_pending());
    let refused = thumbnails.get(key(2), || Ok(keyframe())).await;
    assert_eq!(refused, Err(Failure::Busy(Refusal::QueueFull)));

    held.release.send(()).unwrap();
    held.release.send(()).unwrap();
    assert!(decoding.await.is_ok() && queued.await.is_ok());
    // The refused key left no flight behind: asking again decodes it.
    held.release.send(()).unwrap();
    assert!(thumbnails.get(key(2), || Ok(keyframe())).await.is_ok());
}

#[tokio::test]
async fn the_rate_cap_refuses_past_its_budget() {
    let (held, renderer) = held();
    let config = ThumbnailConfig {
        max_decodes_per_second: 1,
        ..config()
    };
    let thumbnails = Thumbnails::with_renderer(&config, renderer).unwrap();
    held.release.send(()).unwrap();
    assert!(thumbnails.get(key(0), || Ok(keyframe())).await.is_ok());
    let refused = thumbnails.get(key(1), || Ok(keyframe())).await;
    assert_eq!(refused, Err(Failure::Busy(Refusal::Rate)));
    assert_eq!(held.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_keyframe_that_cannot_be_prepared_fails_without_a_decode() {
    let (held, renderer) = held();
    let thumbnails = Thumbnails::with_renderer(&config(), renderer).unwrap();
    let hevc = || Err(ThumbnailError::UnsupportedCodec("hevc".into()));
    let answer = thumbnails.get(key(0), hevc).await;
    assert!(matches!(answer, Err(Failure::Unsupported(_))), "{answer:?}");
    // Nothing is cached or stuck: the next asker prepares again.
    let again = thumbnails.get(key(0), hevc).await;
    assert!(matches!(again, Err(Failure::Unsupported(_))), "{again:?}");
    assert_eq!(held.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_panicking_decode_fails_its_askers_and_the_worker_goes_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let renderer: Renderer = Arc::new(move |_, _| {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("a decoder bug");
        }
        Ok(Thumbnail {
            jpeg: vec![1],
            width: 640,
            height: 360,
        })
    });
    let thumbnails = Thumbnails::with_renderer(&config(), renderer).unwrap();
    let failed = thumbnails.get(key(0), || Ok(keyframe())).await;
    assert_eq!(failed, Err(Failure::Failed));
    assert!(thumbnails.get(key(0), || Ok(keyframe())).await.is_ok());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_asker_stops_waiting_at_max_wait_and_the_decode_still_lands() {
    let (held, renderer) = held();
    let config = ThumbnailConfig {
        max_wait: Duration::from_millis(50),
        ..config()
    };
    let thumbnails = Thumbnails::with_renderer(&config, renderer).unwrap();
    let answer = thumbnails.get(key(0), || Ok(keyframe())).await;
    assert_eq!(answer, Err(Failure::TimedOut));
    held.release.send(()).unwrap();
    // The decode finishes for whoever asks next, without a second one.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut later = thumbnails.get(key(0), || Ok(keyframe())).await;
    while later == Err(Failure::TimedOut) && tokio::time::Instant::now() < deadline {
        // Each ask waits up to max_wait for the same flight: this waits for the decode.
        later = thumbnails.get(key(0), || Ok(keyframe())).await;
    }
    assert!(later.is_ok(), "{later:?}");
    assert_eq!(held.calls.load(Ordering::SeqCst), 1);
}
