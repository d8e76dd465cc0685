//! A publish session's CMAF side (ADR 16): its init and segment objects land in the object
//! store under the contract's keys, its part log follows the session and goes after the
//! wind-up, and its objects (inits included) leave storage with their TS segments. (Trimming
//! by retention follows the wall clock, which these paused-clock tests do not move; the
//! retired records of an ended playlist take the same deletion path.)
//!
//! Box types are checked by their four-character codes; ffprobe reads the real output in the
//! end-to-end tests.
use std::collections::BTreeSet;

use crate::support::{Encoder, Harness, stream_id};
use ferrocast_base::{Epoch, Msn};
use ferrocast_origin::OriginConfig;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

/// Every object name under the stream's session `epoch`, and the bytes of each.
async fn objects(origin: &Harness, epoch: u64) -> Vec<(String, bytes::Bytes)> {
    let prefix = Path::from(format!("live/{}/{epoch}", stream_id()));
    let metas: Vec<_> = origin
        .objects
        .list(Some(&prefix))
        .try_collect()
        .await
        .unwrap();
    let mut named = Vec::new();
    for meta in metas {
        let data = origin.objects.get(&meta.location).await.unwrap();
        let name = meta.location.filename().unwrap().to_owned();
        named.push((name, data.bytes().await.unwrap()));
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

/// The four-character codes of the top-level boxes of an ISO BMFF file.
fn boxes(mut data: &[u8]) -> Vec<String> {
    let mut types = Vec::new();
    while data.len() >= 8 {
        let size = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
        types.push(String::from_utf8_lossy(&data[4..8]).into_owned());
        assert!((8..=data.len()).contains(&size), "box size {size}");
        data = &data[size..];
    }
    assert!(data.is_empty(), "trailing bytes");
    types
}

fn config() -> OriginConfig {
    let mut config = OriginConfig::default();
    config.hls.retain = 1_000;
    config.hls.window = 1_000;
    config
}

#[tokio::test(start_paused = true)]
async fn a_sessions_cmaf_objects_land_under_the_contracts_keys() {
    let origin = Harness::new(config());
    let mut session = origin.start(1).await;
    let mut encoder = Encoder::new(1_000);
    encoder.configure(&mut session);
    for _ in 0..4 {
        encoder.gop(&mut session).await;
    }
    // While live, the part log holds the session, numbered from the index's next msn.
    let log = origin.deps.part_logs.get(&stream_id()).expect("a part log");
    let (epoch, first_msn, listed) = log.read(|log| {
        let session = log.session().expect("a session");
        (session.epoch, session.first_msn, log.segments().len())
    });
    assert_eq!((epoch, first_msn), (Epoch(1), Msn(0)));
    assert!(listed >= 3, "{listed} segments in the log");
    session.finish();
    origin.wound_up().await;

    let state = origin.state().await;
    let objects = objects(&origin, 1).await;
    let names: BTreeSet<&str> = objects.iter().map(|(name, _)| name.as_str()).collect();
    assert!(names.contains("init.0.video.mp4"), "{names:?}");
    for record in &state.segments {
        let ts = format!("{}.ts", record.seq);
        let cmaf = format!("{}.video.m4s", record.seq);
        assert!(
            names.contains(ts.as_str()) && names.contains(cmaf.as_str()),
            "{names:?}"
        );
    }
    // Nothing else: no audio track was published, and no part is an object.
    assert_eq!(names.len(), 1 + 2 * state.segments.len(), "{names:?}");
    for (name, data) in &objects {
        if name.starts_with("init.") {
            assert_eq!(boxes(data), ["ftyp", "moov"], "{name}");
        } else if name.ends_with(".m4s") {
            let boxes = boxes(data);
            assert!(
                boxes.len() >= 2 && boxes.len().is_multiple_of(2),
                "{name}: {boxes:?}"
            );
            for pair in boxes.chunks(2) {
                assert_eq!(pair, ["moof", "mdat"], "{name}: one fragment per part");
            }
        }
    }
    assert_eq!(origin.deps.buffers.held_bytes(), 0);
    assert!(
        origin.deps.part_logs.get(&stream_id()).is_none(),
        "the log goes after the reconnect and low-latency windows"
    );
}

#[tokio::test(start_paused = true)]
async fn a_reconnect_continues_the_part_log_without_a_rewind() {
    let origin = Harness::new(config());
    let mut encoder = Encoder::new(1_000);
    let mut first = origin.start(1).await;
    encoder.configure(&mut first);
    for _ in 0..3 {
        encoder.gop(&mut first).await;
    }
    first.finish();
    // Its last segment is stored and listed (the paused clock moves only once every task
    // waits), then the encoder comes back within the reconnect window.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let mut second = origin.start(2).await;
    let mut encoder = Encoder::new(1_000);
    encoder.configure(&mut second);
    encoder.gop(&mut second).await;
    let log = origin.deps.part_logs.get(&stream_id()).expect("a part log");
    let (msns, session) = log.read(|log| {
        let msns: Vec<_> = log.segments().iter().map(|s| (s.epoch, s.msn)).collect();
        (msns, *log.session().expect("a session"))
    });
    assert_eq!(session.epoch, Epoch(2));
    let newest_first = msns
        .iter()
        .filter(|(epoch, _)| *epoch == Epoch(1))
        .map(|(_, msn)| *msn);
    let newest_first = newest_first
        .max()
        .expect("session 1's segments stay in the log");
    assert_eq!(session.first_msn, newest_first.next(), "no rewind, no gap");
    second.finish();
    origin.wound_up().await;
}

#[tokio::test(start_paused = true)]
async fn the_next_playlist_deletes_an_ended_ones_objects_inits_included() {
    let origin = Harness::new(config());
    let mut encoder = Encoder::new(1_000);
    let mut first = origin.start(1).await;
    encoder.configure(&mut first);
    for _ in 0..3 {
        encoder.gop(&mut first).await;
    }
    first.finish();
    origin.wound_up().await;
    assert!(origin.state().await.ended);
    assert!(!objects(&origin, 1).await.is_empty());

    let mut second = origin.start(2).await;
    let mut encoder = Encoder::new(1_000);
    encoder.configure(&mut second);
    encoder.gop(&mut second).await;
    second.finish();
    origin.wound_up().await;
    let old: Vec<String> = objects(&origin, 1)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(old.is_empty(), "session 1's objects are all gone: {old:?}");
    assert!(!objects(&origin, 2).await.is_empty());
}
