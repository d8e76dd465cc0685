//! The index semantics as pure functions over one stream's state, shared by the in-process
//! indexes ([`crate::MemoryIndex`], [`crate::DiskIndex`]) so they cannot drift apart. The
//! Redis scripts implement the same rules inside Redis; one contract test pins all of them.

use std::collections::BTreeMap;

use ferrocast_base::{Epoch, Msn};

use crate::index::{IndexError, IndexState, SegmentRecord, SessionStart};
use crate::recording::rules::{Log, not_held};
use crate::recording::{Recording, RecordingPolicy, RecordingSummary, Retired};

/// One stream's index state, plus what the listing alone cannot tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamState {
    /// What readers see.
    pub(crate) view: IndexState,
    /// The newest msn ever listed: the listing may be empty after a new generation retired
    /// it, and msns must still continue.
    pub(crate) last_msn: Option<Msn>,
    /// Recordings by generation.
    pub(crate) recordings: BTreeMap<Epoch, Log>,
}

fn stale(offered: Epoch, current: Epoch) -> IndexError {
    IndexError::StaleEpoch { offered, current }
}

/// Opens a session of `epoch` on `previous` (`None`: the stream never had one).
pub(crate) fn open_session(
    previous: Option<StreamState>,
    epoch: Epoch,
) -> Result<(StreamState, SessionStart), IndexError> {
    let Some(mut stream) = previous else {
        let stream = StreamState {
            view: IndexState {
                epoch,
                generation: epoch,
                ..IndexState::default()
            },
            last_msn: None,
            recordings: BTreeMap::new(),
        };
        let start = SessionStart {
            next_msn: Msn(0),
            discontinuity: false,
            retired: Vec::new(),
        };
        return Ok((stream, start));
    };
    let view = &mut stream.view;
    let current = view.epoch;
    // A session that ended stays ended: only a newer epoch may open, as a new generation.
    if epoch < current || (view.ended && epoch == current) {
        return Err(stale(epoch, current));
    }
    let mut retired = Vec::new();
    if view.ended {
        retired = std::mem::take(&mut view.segments);
        view.discontinuity_base += count_discontinuities(&retired);
        retired = not_held(stream.recordings.get(&view.generation), retired);
        view.generation = epoch;
        view.ended = false;
    }
    view.epoch = epoch;
    let start = SessionStart {
        next_msn: stream.last_msn.map_or(Msn(0), Msn::next),
        discontinuity: !stream.view.segments.is_empty(),
        retired,
    };
    Ok((stream, start))
}

/// Lists `record` on `stream`, trimming beyond `retain`, and records it per `recording`;
/// returns the trimmed records no recording holds.
pub(crate) fn append(
    stream: &mut StreamState,
    record: SegmentRecord,
    retain: usize,
    recording: Option<RecordingPolicy>,
) -> Result<Vec<SegmentRecord>, IndexError> {
    let view = &mut stream.view;
    // Older epochs are fenced out; a newer one never opened a session (skipping the fence).
    if record.epoch != view.epoch {
        return Err(stale(record.epoch, view.epoch));
    }
    if let Some(newest) = view.segments.last()
        && newest.msn == record.msn
        && newest.epoch == record.epoch
    {
        // A retry of an append that landed (its answer was lost): nothing more to do.
        return Ok(Vec::new());
    }
    if view.ended {
        return Err(stale(record.epoch, view.epoch));
    }
    if let Some(last) = stream.last_msn
        && record.msn <= last
    {
        return Err(IndexError::SequenceRewind {
            offered: record.msn,
            last,
        });
    }
    stream.last_msn = Some(record.msn);
    let generation = view.generation;
    if let Some(policy) = recording {
        stream
            .recordings
            .entry(generation)
            .or_insert_with(|| Log::start(generation, &record, policy));
    }
    if let Some(log) = stream.recordings.get_mut(&generation) {
        log.add(&record, recording);
    }
    let view = &mut stream.view;
    view.segments.push(record);
    let excess = view.segments.len().saturating_sub(retain.max(1));
    let trimmed: Vec<SegmentRecord> = view.segments.drain(..excess).collect();
    view.discontinuity_base += count_discontinuities(&trimmed);
    Ok(not_held(stream.recordings.get(&generation), trimmed))
}

/// Ends the session of `epoch` at `now_ms` (its generation's recording becomes ready).
pub(crate) fn close_session(
    stream: &mut StreamState,
    epoch: Epoch,
    now_ms: i64,
) -> Result<(), IndexError> {
    if epoch != stream.view.epoch {
        return Err(stale(epoch, stream.view.epoch));
    }
    stream.view.ended = true;
    if let Some(log) = stream.recordings.get_mut(&stream.view.generation) {
        log.summary.ended_at_ms.get_or_insert(now_ms);
    }
    Ok(())
}

/// The stream's recordings, oldest first.
pub(crate) fn recordings(stream: &StreamState) -> Vec<RecordingSummary> {
    let logs = stream.recordings.values();
    logs.map(|log| log.summary.clone()).collect()
}

/// One recording.
pub(crate) fn recording(stream: &StreamState, generation: Epoch) -> Option<Recording> {
    stream.recordings.get(&generation).map(|log| Recording {
        summary: log.summary.clone(),
        segments: log.records.clone(),
    })
}

/// Record `msn` of a servable-by-state recording.
pub(crate) fn recording_segment(
    stream: &StreamState,
    generation: Epoch,
    msn: Msn,
) -> Option<(RecordingSummary, SegmentRecord)> {
    let log = stream.recordings.get(&generation)?;
    if log.summary.deleting || !log.summary.holds(msn) {
        return None;
    }
    let offset = usize::try_from(msn.get() - log.summary.first_msn.get()).ok()?;
    let record = log.records.get(offset).filter(|record| record.msn == msn)?;
    Some((log.summary.clone(), record.clone()))
}

/// Marks an ended recording deleted, clearing its generation's listing if that is the
/// stream's (ended) playlist.
pub(crate) fn retire_recording(stream: &mut StreamState, generation: Epoch) -> Retired {
    let Some(log) = stream.recordings.get_mut(&generation) else {
        return Retired::Unknown;
    };
    if log.summary.ended_at_ms.is_none() {
        return Retired::Busy;
    }
    log.summary.deleting = true;
    let recording = Recording {
        summary: log.summary.clone(),
        segments: log.records.clone(),
    };
    let view = &mut stream.view;
    let mut cleared = Vec::new();
    if view.generation == generation {
        cleared = std::mem::take(&mut view.segments);
        view.discontinuity_base += count_discontinuities(&cleared);
    }
    Retired::Retired { recording, cleared }
}

/// Removes a retired recording; `true` if it was there.
pub(crate) fn forget_recording(stream: &mut StreamState, generation: Epoch) -> bool {
    let retired = stream
        .recordings
        .get(&generation)
        .is_some_and(|log| log.summary.deleting);
    if retired {
        stream.recordings.remove(&generation);
    }
    retired
}

fn count_discontinuities(records: &[SegmentRecord]) -> u64 {
    records.iter().filter(|record| record.discontinuity).count() as u64
}

/// Now, Unix milliseconds: when an in-process index stamps a recording ended.
pub(crate) fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}
