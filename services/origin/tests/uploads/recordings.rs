//! A session that records (ADR 21): its live window still trims the listing, but nothing the
//! recording holds is deleted, neither by the trim nor when the next broadcast retires the
//! ended playlist; a session that does not record deletes what leaves its window, as before.
//! Each recorded segment's record names the CMAF objects stored with it (ADR 24), and none
//! when the store refused them: a recording's CMAF playlists never name a missing object.
//!
//! The window is made tight by an index wrapper that lists with `retain = 2` (the uploader's
//! own retention follows the wall clock, which these paused-clock tests do not move).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrocast_base::{Epoch, Msn, StreamId};
use ferrocast_control_client::RecordingGrant;
use ferrocast_store::{
    CmafTracks, IndexChange, IndexError, IndexState, Recording, RecordingPolicy, RecordingSummary,
    Retired, SegmentIndex, SegmentRecord, SessionStart,
};
use tokio::sync::broadcast;

use ferrocast_media::cmaf::TrackKind;
use ferrocast_store::SessionObject;

use super::config;
use crate::support::{Encoder, Harness, stream_id};

const FRAME_BYTES: usize = 1_600;
const KEEP: RecordingGrant = RecordingGrant {
    retention: Duration::from_secs(7 * 86_400),
    max_duration: Duration::from_secs(12 * 3600),
};

/// Forwards to `inner`, listing with a window of two segments.
struct TightWindow {
    inner: Arc<dyn SegmentIndex>,
}

#[async_trait]
impl SegmentIndex for TightWindow {
    async fn open_session(&self, s: &StreamId, epoch: Epoch) -> Result<SessionStart, IndexError> {
        self.inner.open_session(s, epoch).await
    }
    async fn append_recorded(
        &self,
        s: &StreamId,
        record: SegmentRecord,
        _retain: usize,
        recording: Option<RecordingPolicy>,
    ) -> Result<Vec<SegmentRecord>, IndexError> {
        self.inner.append_recorded(s, record, 2, recording).await
    }
    async fn close_session(&self, s: &StreamId, epoch: Epoch) -> Result<(), IndexError> {
        self.inner.close_session(s, epoch).await
    }
    async fn load(&self, s: &StreamId) -> Result<Option<IndexState>, IndexError> {
        self.inner.load(s).await
    }
    async fn recordings(&self, s: &StreamId) -> Result<Vec<RecordingSummary>, IndexError> {
        self.inner.recordings(s).await
    }
    async fn recording(&self, s: &StreamId, g: Epoch) -> Result<Option<Recording>, IndexError> {
        self.inner.recording(s, g).await
    }
    async fn recording_segment(
        &self,
        s: &StreamId,
        g: Epoch,
        msn: Msn,
    ) -> Result<Option<(RecordingSummary, SegmentRecord)>, IndexError> {
        self.inner.recording_segment(s, g, msn).await
    }
    async fn retire_recording(&self, s: &StreamId, g: Epoch) -> Result<Retired, IndexError> {
        self.inner.retire_recording(s, g).await
    }
    async fn forget_recording(&self, s: &StreamId, g: Epoch) -> Result<bool, IndexError> {
        self.inner.forget_recording(s, g).await
    }
    fn changes(&self) -> broadcast::Receiver<IndexChange> {
        self.inner.changes()
    }
}

fn tight_origin() -> Harness {
    let mut origin = Harness::new(config());
    let inner: Arc<dyn SegmentIndex> = origin.index.clone();
    origin.deps.index = Arc::new(TightWindow { inner });
    origin
}

/// Publishes `gops` GOPs under `epoch` and lets the session wind up (its playlist ends).
async fn broadcast(origin: &Harness, epoch: u64, gops: usize, recording: Option<RecordingGrant>) {
    let mut session = origin.start_recorded(epoch, recording).await;
    let mut encoder = Encoder::new(FRAME_BYTES);
    encoder.configure(&mut session);
    for _ in 0..gops {
        encoder.gop(&mut session).await;
    }
    session.finish();
    origin.wound_up().await;
}

/// Which of the TS objects `0..count` of session `epoch` are in the store.
async fn stored(origin: &Harness, epoch: u64, count: u64) -> Vec<u64> {
    let mut present = Vec::new();
    for seq in 0..count {
        if origin
            .store
            .get(&stream_id(), Epoch(epoch), seq)
            .await
            .is_ok()
        {
            present.push(seq);
        }
    }
    present
}

#[tokio::test(start_paused = true)]
async fn a_recorded_window_trims_without_deleting() {
    let origin = tight_origin();
    broadcast(&origin, 1, 8, Some(KEEP)).await;
    let state = origin.state().await;
    assert_eq!(state.segments.len(), 2, "the live window still trims");
    assert!(state.ended);
    assert_eq!(
        stored(&origin, 1, 9).await,
        (0..8).collect::<Vec<_>>(),
        "every segment the recording holds is still stored"
    );
    let index = origin.index.inner();
    let recording = index
        .recording(&stream_id(), Epoch(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recording.segments.len(), 8, "a segment per GOP");
    assert!(recording.summary.is_ready(), "ready once the window closed");

    // The next broadcast does not record: the ended playlist it retires was recorded, so its
    // objects stay; its own segments leave storage with the window, as without recordings.
    broadcast(&origin, 2, 6, None).await;
    assert_eq!(stored(&origin, 1, 9).await, (0..8).collect::<Vec<_>>());
    let own = stored(&origin, 2, 7).await;
    assert_eq!(own, vec![4, 5], "only its window is left: {own:?}");
    let init = SessionObject::CmafInit {
        version: 0,
        track: TrackKind::Video,
    };
    let kept = origin.store.get_object(&stream_id(), Epoch(1), init).await;
    assert!(
        kept.is_ok(),
        "the recording's CMAF playlists still name its init"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unrecorded_window_deletes_what_it_trims() {
    let origin = tight_origin();
    broadcast(&origin, 1, 8, None).await;
    assert_eq!(stored(&origin, 1, 9).await, vec![6, 7]);
    let recordings = origin.index.inner().recordings(&stream_id()).await.unwrap();
    assert!(recordings.is_empty());
}

/// The CMAF tracks each segment of session `epoch`'s recording names.
async fn recorded_cmaf(origin: &Harness, epoch: u64) -> Vec<CmafTracks> {
    let recording = origin
        .index
        .inner()
        .recording(&stream_id(), Epoch(epoch))
        .await;
    let recording = recording.unwrap().expect("a recording");
    recording
        .segments
        .iter()
        .map(|record| record.cmaf)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_recorded_segment_names_the_cmaf_objects_stored_with_it() {
    let origin = tight_origin();
    broadcast(&origin, 1, 5, Some(KEEP)).await;
    // The synthetic encoder sends H.264 only: video with its first init, no audio.
    let video = CmafTracks {
        video: Some(0),
        audio: None,
    };
    assert_eq!(recorded_cmaf(&origin, 1).await, vec![video; 5]);
    for seq in 0..5 {
        let object = SessionObject::CmafSegment {
            seq,
            track: TrackKind::Video,
        };
        let stored = origin
            .store
            .get_object(&stream_id(), Epoch(1), object)
            .await;
        assert!(stored.is_ok(), "segment {seq}'s video object is stored");
    }
}

#[tokio::test(start_paused = true)]
async fn a_recording_names_no_cmaf_object_the_store_refused() {
    let origin = tight_origin();
    origin.objects.refuse_cmaf();
    broadcast(&origin, 1, 5, Some(KEEP)).await;
    assert_eq!(
        recorded_cmaf(&origin, 1).await,
        vec![CmafTracks::default(); 5],
        "every TS segment is recorded, none with a CMAF object"
    );
    assert_eq!(stored(&origin, 1, 6).await, (0..5).collect::<Vec<_>>());
}
