//! Turns raw 32-bit RTMP millisecond timestamps into monotonic 64-bit session
//! timestamps that start at zero.
//!
//! Policy:
//! - The first timestamp of the session, on either track, is the shared base
//!   and maps to 0. Both tracks are measured from that one base, so the
//!   audio/video offset the encoder chose is preserved.
//! - A track's first timestamp is placed relative to the base; if it lies
//!   before the base it is clamped to 0. If it is further than the jump
//!   limits from the base, the track starts where the other track currently
//!   is instead.
//! - After that each track follows its own deltas, computed with wrapping
//!   32-bit arithmetic, so the wrap at 2^32 ms (about 49.7 days) is seamless.
//! - A delta within [-[`MAX_BACKWARD_MS`], [`MAX_FORWARD_JUMP_MS`]] is applied
//!   as is, but a track's output never decreases: small backward steps (jitter,
//!   interleaving slop) are clamped to the track's previous output.
//! - A delta outside that range is a discontinuity (encoder restart, splice,
//!   bogus timestamp). The track is re-anchored so that its output continues
//!   at the previous output plus the track's last frame step (or a default of
//!   [`DEFAULT_VIDEO_STEP_MS`] / [`DEFAULT_AUDIO_STEP_MS`]), and later deltas
//!   are applied from the new anchor.

/// Largest backward delta treated as jitter rather than a discontinuity.
pub const MAX_BACKWARD_MS: i64 = 1_000;
/// Largest forward delta treated as a gap rather than a discontinuity.
pub const MAX_FORWARD_JUMP_MS: i64 = 10_000;
/// Step assumed after a video discontinuity when no frame step is known (~30 fps).
pub const DEFAULT_VIDEO_STEP_MS: u64 = 33;
/// Step assumed after an audio discontinuity when no frame step is known
/// (~one AAC frame at 48 kHz).
pub const DEFAULT_AUDIO_STEP_MS: u64 = 21;
/// Largest delta remembered as a "frame step"; bigger gaps are not frame
/// cadence and would make a re-anchored track leap ahead.
const MAX_FRAME_STEP_MS: i64 = 1_000;

/// The media track a timestamp belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    /// The audio track.
    Audio,
    /// The video track.
    Video,
}

/// Per-track state.
#[derive(Debug, Clone, Copy)]
struct TrackState {
    last_raw: u32,
    /// Unclamped position in output milliseconds; may trail `last_output`
    /// after backward jitter or start below zero.
    position: i64,
    last_output: u64,
    last_step: Option<u64>,
}

/// Normalizes timestamps for one publish session; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    base: Option<u32>,
    audio: Option<TrackState>,
    video: Option<TrackState>,
}

impl Normalizer {
    /// A normalizer that has not seen any timestamp yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps a raw RTMP timestamp of `track` to session milliseconds.
    pub fn normalize(&mut self, track: Track, raw_ms: u32) -> u64 {
        let base = *self.base.get_or_insert(raw_ms);
        let other_output = self.state(other(track)).map(|s| s.last_output);
        let state = match track {
            Track::Audio => &mut self.audio,
            Track::Video => &mut self.video,
        };
        let Some(state) = state else {
            let offset = i64::from(raw_ms.wrapping_sub(base) as i32);
            let position = if (-MAX_BACKWARD_MS..=MAX_FORWARD_JUMP_MS).contains(&offset) {
                offset
            } else {
                other_output.map_or(0, |out| i64::try_from(out).unwrap_or(i64::MAX))
            };
            let output = u64::try_from(position).unwrap_or(0);
            *state = Some(TrackState {
                last_raw: raw_ms,
                position,
                last_output: output,
                last_step: None,
            });
            return output;
        };
        let delta = i64::from(raw_ms.wrapping_sub(state.last_raw) as i32);
        state.last_raw = raw_ms;
        if (-MAX_BACKWARD_MS..=MAX_FORWARD_JUMP_MS).contains(&delta) {
            state.position = state.position.saturating_add(delta);
            if delta > 0 && delta <= MAX_FRAME_STEP_MS {
                state.last_step = Some(delta as u64);
            }
        } else {
            let step = state.last_step.unwrap_or(default_step(track));
            let output = state.last_output.saturating_add(step);
            state.position = i64::try_from(output).unwrap_or(i64::MAX);
        }
        let position = u64::try_from(state.position).unwrap_or(0);
        state.last_output = state.last_output.max(position);
        state.last_output
    }

    fn state(&self, track: Track) -> Option<&TrackState> {
        match track {
            Track::Audio => self.audio.as_ref(),
            Track::Video => self.video.as_ref(),
        }
    }
}

fn other(track: Track) -> Track {
    match track {
        Track::Audio => Track::Video,
        Track::Video => Track::Audio,
    }
}

fn default_step(track: Track) -> u64 {
    match track {
        Track::Audio => DEFAULT_AUDIO_STEP_MS,
        Track::Video => DEFAULT_VIDEO_STEP_MS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shared_base_keeps_av_offset() {
        let mut n = Normalizer::new();
        assert_eq!(n.normalize(Track::Video, 5_000), 0);
        assert_eq!(n.normalize(Track::Audio, 5_040), 40);
        assert_eq!(n.normalize(Track::Video, 5_033), 33);
        assert_eq!(n.normalize(Track::Audio, 5_061), 61);
    }

    #[test]
    fn late_track_before_base_is_clamped() {
        let mut n = Normalizer::new();
        assert_eq!(n.normalize(Track::Video, 1_000), 0);
        assert_eq!(n.normalize(Track::Audio, 900), 0);
        assert_eq!(n.normalize(Track::Audio, 921), 0);
        assert_eq!(n.normalize(Track::Audio, 1_021), 21);
    }

    #[test]
    fn far_away_first_track_value_joins_other_track() {
        let mut n = Normalizer::new();
        n.normalize(Track::Video, 0);
        assert_eq!(n.normalize(Track::Video, 3_000), 3_000);
        assert_eq!(n.normalize(Track::Audio, 90_000_000), 3_000);
        assert_eq!(n.normalize(Track::Audio, 90_000_023), 3_023);
    }

    #[test]
    fn wrap_is_seamless() {
        let mut n = Normalizer::new();
        let mut raw = 4_294_967_290u32;
        let mut expected = 0;
        for _ in 0..10 {
            assert_eq!(n.normalize(Track::Video, raw), expected);
            raw = raw.wrapping_add(33);
            expected += 33;
        }
    }

    #[test]
    fn jumps_become_one_frame_step() {
        let mut n = Normalizer::new();
        for i in 0..10u32 {
            n.normalize(Track::Video, 100_000 + i * 40);
        }
        assert_eq!(n.normalize(Track::Video, 100_000 + 9 * 40 + 3_600_000), 400);
        assert_eq!(
            n.normalize(Track::Video, 100_000 + 10 * 40 + 3_600_000),
            440
        );
        assert_eq!(n.normalize(Track::Video, 0), 480);
        assert_eq!(n.normalize(Track::Video, 40), 520);
        // Far from the base: audio joins the video track's current position.
        assert_eq!(n.normalize(Track::Audio, 10), 520);
        assert_eq!(n.normalize(Track::Audio, 500_000), 541);
    }

    #[test]
    fn backward_jitter_is_clamped() {
        let mut n = Normalizer::new();
        assert_eq!(n.normalize(Track::Audio, 100), 0);
        assert_eq!(n.normalize(Track::Audio, 150), 50);
        assert_eq!(n.normalize(Track::Audio, 140), 50);
        assert_eq!(n.normalize(Track::Audio, 170), 70);
    }

    proptest! {
        #[test]
        fn output_is_monotonic_per_track(
            start in any::<u32>(),
            steps in proptest::collection::vec((any::<bool>(), -2_000i64..20_000, any::<bool>()), 1..300),
        ) {
            let mut n = Normalizer::new();
            let mut raw = [start, start];
            let mut last = [0u64, 0];
            let mut seen = [false, false];
            for (video, delta, wild) in steps {
                let idx = usize::from(video);
                raw[idx] = if wild { raw[idx] ^ 0x8000_0000 } else { raw[idx].wrapping_add(delta as u32) };
                let track = if video { Track::Video } else { Track::Audio };
                let out = n.normalize(track, raw[idx]);
                if seen[idx] {
                    prop_assert!(out >= last[idx]);
                    let jump = out - last[idx];
                    prop_assert!(jump <= MAX_FORWARD_JUMP_MS as u64);
                }
                seen[idx] = true;
                last[idx] = out;
            }
        }

        #[test]
        fn wrap_and_jumps_produce_small_steps(start in any::<u32>(), jump in prop_oneof![Just(3_600_000u32), Just(0u32)]) {
            let mut n = Normalizer::new();
            let mut raw = start;
            let mut last = n.normalize(Track::Video, raw);
            for _ in 0..100 {
                raw = raw.wrapping_add(33);
                let out = n.normalize(Track::Video, raw);
                prop_assert_eq!(out, last + 33);
                last = out;
            }
            let target = if jump == 0 { 0 } else { raw.wrapping_add(jump) };
            let out = n.normalize(Track::Video, target);
            // A jump back to 0 that happens to be small is applied as a delta.
            let delta = i64::from(target.wrapping_sub(raw) as i32);
            if (-MAX_BACKWARD_MS..=MAX_FORWARD_JUMP_MS).contains(&delta) {
                prop_assert!(out <= last + MAX_FORWARD_JUMP_MS as u64);
            } else {
                prop_assert_eq!(out, last + 33);
            }
        }
    }
}
