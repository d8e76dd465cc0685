//! Synthetic media for the publishers of these tests: H.264 and AAC tag bodies whose frames
//! can be told apart.

use std::time::Duration;

/// Synthetic 30 fps H.264 in GOPs of [`Feed::GOP_FRAMES`] (one second), with an AAC frame at
/// each video frame's time. Frame `n`'s bodies carry `n`, so a reader can tell which frames
/// it got and in what order.
pub struct Feed;

impl Feed {
    /// Frames per GOP: frame `n` is a keyframe when `n` is a multiple of this.
    pub const GOP_FRAMES: u32 = 30;
    /// Media time of one GOP, the packager's target duration in these tests.
    pub const GOP: Duration = Duration::from_secs(1);

    /// An AVC sequence header (High profile, level 3.1) with one SPS and one PPS.
    pub fn avc_sequence_header() -> Vec<u8> {
        let mut body = vec![0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 4];
        body.extend_from_slice(&[0x67, 0x64, 0, 0x1F, 1, 0, 3, 0x68, 0xEE, 0x3C]);
        body
    }

    /// An AAC sequence header: AAC-LC, 48 kHz, stereo.
    pub fn aac_sequence_header() -> Vec<u8> {
        vec![0xAF, 0, 0x11, 0x90]
    }

    /// Media time of frame `n`, milliseconds.
    pub fn timestamp_ms(n: u32) -> u32 {
        n * 1000 / 30
    }

    /// Frame `n` as an FLV video tag body: one length-prefixed NAL unit (IDR for a keyframe).
    pub fn video(n: u32) -> Vec<u8> {
        let keyframe = n.is_multiple_of(Self::GOP_FRAMES);
        let mut nal = vec![if keyframe { 0x65 } else { 0x41 }];
        nal.extend_from_slice(&n.to_be_bytes());
        nal.extend_from_slice(&[0xA5; 300]);
        let mut body = vec![if keyframe { 0x17 } else { 0x27 }, 1, 0, 0, 0];
        body.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        body.extend_from_slice(&nal);
        body
    }

    /// The frame number a [`Feed::video`] body carries; `None` for a sequence header.
    pub fn video_frame_number(body: &[u8]) -> Option<u32> {
        if body.get(1) != Some(&1) {
            return None;
        }
        let number: [u8; 4] = body.get(10..14)?.try_into().ok()?;
        Some(u32::from_be_bytes(number))
    }

    /// Frame `n`'s audio as an FLV audio tag body (raw AAC).
    pub fn audio(n: u32) -> Vec<u8> {
        let mut body = vec![0xAF, 1];
        body.extend_from_slice(&n.to_be_bytes());
        body.extend_from_slice(&[0x21; 40]);
        body
    }
}
