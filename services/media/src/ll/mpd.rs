//! The DASH MPD of a stream (ISO/IEC 23009-1, `dynamic`), rendered from a [`PartLog`]: one
//! Period per session (and per init version), `SegmentTemplate` with a `SegmentTimeline`
//! over the complete segments the log holds, one AdaptationSet per track.
//!
//! SKELETON (lead): bodies to be written by the owner of `media::ll`.
//!
//! The MPD is a pure function of the log: `availabilityStartTime` never changes for a stream
//! (it is the Unix epoch, and each Period starts at its session's wall-clock start), and
//! `publishTime` is the wall-clock end of the newest complete segment, so every edge renders
//! the same bytes.

use super::PartLog;

/// Renders the MPD; `None` when the log has no complete segment yet.
#[allow(unused_variables, clippy::todo)]
pub fn render(log: &PartLog) -> Option<String> {
    todo!()
}
