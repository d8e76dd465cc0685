//! The audio held while video is awaited (see [`super`]): bounded, and the same frames in
//! every muxer of a session, since what it keeps depends only on DTS and cost.

use std::collections::VecDeque;

/// One audio frame held back, in whatever form its muxer writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held<T> {
    /// Session DTS, milliseconds.
    pub(crate) dts_ms: u64,
    /// Its [`frame_cost`].
    pub(crate) cost: usize,
    /// The frame.
    pub(crate) frame: T,
}

/// Audio frames that arrived while no segment was open because video was expected: either
/// video never comes (they then open the first audio-only segment) or its first keyframe
/// comes (those at or after it follow it). Bounded: only the newest target's worth of audio,
/// costing at most `max_segment_bytes`, is held; older frames go. Every muxer of a session
/// holds and drops the same frames, since the rule reads only DTS and cost.
#[derive(Debug, Clone)]
pub(crate) struct Backlog<T> {
    frames: VecDeque<Held<T>>,
    cost: usize,
    span_ms: u64,
    max_cost: usize,
}

impl<T> Backlog<T> {
    /// An empty backlog holding at most `span_ms` of audio costing at most `max_cost`.
    pub(crate) fn new(span_ms: u64, max_cost: usize) -> Self {
        Self {
            frames: VecDeque::new(),
            cost: 0,
            span_ms,
            max_cost,
        }
    }

    /// Holds `held`, dropping the oldest frames beyond the bounds.
    pub(crate) fn hold(&mut self, held: Held<T>) {
        self.cost = self.cost.saturating_add(held.cost);
        let newest = held.dts_ms;
        self.frames.push_back(held);
        while let Some(oldest) = self.frames.front() {
            let too_old = newest.saturating_sub(oldest.dts_ms) >= self.span_ms;
            if !too_old && self.cost <= self.max_cost {
                break;
            }
            self.cost = self.cost.saturating_sub(oldest.cost);
            self.frames.pop_front();
        }
    }

    /// DTS of the oldest held frame.
    pub(crate) fn first_dts_ms(&self) -> Option<u64> {
        self.frames.front().map(|held| held.dts_ms)
    }

    /// Every held frame, oldest first; the backlog is left empty.
    pub(crate) fn take(&mut self) -> VecDeque<Held<T>> {
        self.cost = 0;
        std::mem::take(&mut self.frames)
    }
}
