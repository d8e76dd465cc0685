//! One CMAF track's frames waiting for their part, and the `moof`+`mdat` a part becomes.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use mp4_atom::{Encode, Mdat, Mfhd, Moof, Tfdt, Tfhd, Traf, Trun, TrunEntry, TrunSamples};

use super::TrackKind;
use super::init::encode_error;
use crate::MediaError;

/// `sample_flags` of a sync sample: depends on no other sample.
const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// `sample_flags` of a non-sync sample: depends on others, `sample_is_non_sync_sample`.
const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;
/// Bytes of an `mdat` box header (32-bit size + type).
const MDAT_HEADER_LEN: usize = 8;

/// One frame, timed on its track's timescale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sample {
    /// Decode time in track ticks.
    pub(super) dts: u64,
    /// Session DTS in milliseconds, to compare frames across tracks.
    pub(super) dts_ms: u64,
    /// Duration in track ticks; a video frame's is set when the next frame (or the end of
    /// its part) is known.
    pub(super) duration: u32,
    /// Composition offset (PTS - DTS) in track ticks.
    pub(super) cts: i32,
    /// Whether it is a random access point.
    pub(super) sync: bool,
    /// The frame as the sample entry expects it (AVCC access unit, raw AAC or MP3 frame).
    pub(super) data: Bytes,
}

/// A track's pending frames, fragment numbering and the open segment's parts.
#[derive(Debug)]
pub(super) struct Writer {
    pub(super) kind: TrackKind,
    pub(super) timescale: u32,
    /// Takes part in the open segment (it had an init segment when the segment opened).
    pub(super) active: bool,
    /// Frames not yet in a part, in arrival order.
    samples: VecDeque<Sample>,
    /// `mfhd` sequence number of the next fragment.
    sequence: u32,
    /// The open segment's parts so far.
    segment: BytesMut,
}

impl Writer {
    pub(super) fn new(kind: TrackKind) -> Self {
        Self {
            kind,
            timescale: 1,
            active: false,
            samples: VecDeque::new(),
            sequence: 1,
            segment: BytesMut::new(),
        }
    }

    fn track_id(&self) -> u32 {
        match self.kind {
            TrackKind::Video => 1,
            TrackKind::Audio => 2,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Decode time of the first pending frame.
    pub(super) fn first_dts(&self) -> Option<u64> {
        self.samples.front().map(|s| s.dts)
    }

    /// Appends a frame. With `open_durations`, the previous frame now lasts until this one
    /// (at most `max_duration`).
    pub(super) fn push(&mut self, sample: Sample, open_durations: bool, max_duration: u64) {
        if open_durations {
            self.end_last_at(sample.dts, max_duration);
        }
        self.samples.push_back(sample);
    }

    /// Makes the last pending frame last until `end` (at most `max_duration`).
    pub(super) fn end_last_at(&mut self, end: u64, max_duration: u64) {
        if let Some(last) = self.samples.back_mut() {
            let span = end.saturating_sub(last.dts).min(max_duration);
            last.duration = u32::try_from(span).unwrap_or(u32::MAX);
        }
    }

    /// Takes the longest run of pending frames that lasts at most `target` ticks (at least
    /// one frame), with its duration.
    pub(super) fn take_part(&mut self, target: u64) -> (Vec<Sample>, u64) {
        let mut taken = Vec::new();
        let mut total = 0u64;
        while let Some(next) = self.samples.front() {
            let after = total.saturating_add(u64::from(next.duration));
            if !taken.is_empty() && after > target {
                break;
            }
            total = after;
            taken.extend(self.samples.pop_front());
        }
        (taken, total)
    }

    /// Takes the pending frames that start before `end_ms` (session time).
    pub(super) fn take_before(&mut self, end_ms: u64) -> Vec<Sample> {
        let count = self
            .samples
            .iter()
            .take_while(|s| s.dts_ms < end_ms)
            .count();
        self.samples.drain(..count).collect()
    }

    /// Takes every pending frame.
    pub(super) fn take_all(&mut self) -> Vec<Sample> {
        self.samples.drain(..).collect()
    }

    /// Decode time of the last pending frame.
    pub(super) fn last_dts(&self) -> Option<u64> {
        self.samples.back().map(|s| s.dts)
    }

    /// Session time of the first pending frame.
    pub(super) fn first_dts_ms(&self) -> Option<u64> {
        self.samples.front().map(|s| s.dts_ms)
    }

    /// Drops pending frames (a track leaving the session's segments).
    pub(super) fn clear(&mut self) {
        self.samples.clear();
    }

    /// Encodes `samples` as one fragment, adds it to the open segment and returns it.
    pub(super) fn fragment(&mut self, samples: &[Sample]) -> Result<Bytes, MediaError> {
        let first_dts = samples.first().map_or(0, |s| s.dts);
        let with_cts = self.kind == TrackKind::Video;
        let entries = samples
            .iter()
            .map(|s| TrunEntry {
                duration: Some(s.duration),
                size: Some(u32::try_from(s.data.len()).unwrap_or(u32::MAX)),
                flags: Some(if s.sync {
                    SYNC_SAMPLE_FLAGS
                } else {
                    NON_SYNC_SAMPLE_FLAGS
                }),
                cts: with_cts.then_some(i64::from(s.cts)),
            })
            .collect();
        let mut moof = Moof {
            mfhd: Mfhd {
                sequence_number: self.sequence,
            },
            traf: vec![Traf {
                tfhd: Tfhd {
                    track_id: self.track_id(),
                    default_base_is_moof: true,
                    ..Default::default()
                },
                tfdt: Some(Tfdt {
                    base_media_decode_time: first_dts,
                }),
                trun: vec![Trun {
                    data_offset: Some(0),
                    samples: TrunSamples::Explicit(entries),
                }],
                ..Default::default()
            }],
        };
        // The data offset counts from the start of the `moof` (default-base-is-moof) to the
        // first sample, just past the `mdat` header; its value does not change the size.
        let mut probe = Vec::new();
        moof.encode(&mut probe).map_err(encode_error("moof"))?;
        let offset = i32::try_from(probe.len() + MDAT_HEADER_LEN)
            .map_err(|_| MediaError::Invalid("moof size"))?;
        if let Some(trun) = moof.traf.first_mut().and_then(|traf| traf.trun.first_mut()) {
            trun.data_offset = Some(offset);
        }
        let payload_len: usize = samples.iter().map(|s| s.data.len()).sum();
        let mut data = Vec::with_capacity(payload_len);
        for sample in samples {
            data.extend_from_slice(&sample.data);
        }
        let mut out = Vec::with_capacity(probe.len() + MDAT_HEADER_LEN + payload_len);
        moof.encode(&mut out).map_err(encode_error("moof"))?;
        Mdat { data }
            .encode(&mut out)
            .map_err(encode_error("mdat"))?;
        self.sequence = self.sequence.wrapping_add(1);
        let part = Bytes::from(out);
        self.segment.extend_from_slice(&part);
        Ok(part)
    }

    /// The open segment's bytes so far, leaving the writer ready for the next segment.
    pub(super) fn take_segment(&mut self) -> Bytes {
        self.segment.split().freeze()
    }
}
