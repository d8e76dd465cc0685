//! The index semantics as pure functions over one stream's state, shared by the in-process
//! indexes ([`crate::MemoryIndex`], [`crate::DiskIndex`]) so they cannot drift apart. The
//! Redis scripts implement the same rules inside Redis; one contract test pins all of them.

use ferrocast_base::{Epoch, Msn};

use crate::index::{IndexError, IndexState, SegmentRecord, SessionStart};

/// One stream's index state, plus what the listing alone cannot tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamState {
    /// What readers see.
    pub(crate) view: IndexState,
    /// The newest msn ever listed: the listing may be empty after a new generation retired
    /// it, and msns must still continue.
    pub(crate) last_msn: Option<Msn>,
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

/// Lists `record` on `stream`, trimming beyond `retain`; returns the trimmed records.
pub(crate) fn append(
    stream: &mut StreamState,
    record: SegmentRecord,
    retain: usize,
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
    view.segments.push(record);
    let excess = view.segments.len().saturating_sub(retain.max(1));
    let trimmed: Vec<SegmentRecord> = view.segments.drain(..excess).collect();
    view.discontinuity_base += count_discontinuities(&trimmed);
    Ok(trimmed)
}

/// Ends the session of `epoch`.
pub(crate) fn close_session(stream: &mut StreamState, epoch: Epoch) -> Result<(), IndexError> {
    if epoch != stream.view.epoch {
        return Err(stale(epoch, stream.view.epoch));
    }
    stream.view.ended = true;
    Ok(())
}

fn count_discontinuities(records: &[SegmentRecord]) -> u64 {
    records.iter().filter(|record| record.discontinuity).count() as u64
}
