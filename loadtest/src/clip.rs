//! The pre-encoded FLV clip that publishers loop: read once, shared by every publisher.

use std::collections::HashMap;

use anyhow::{Context, bail};
use bytes::Bytes;
use rml_amf0::Amf0Value;
use rml_rtmp::sessions::StreamMetadata;

use ferrocast_media::flv::{self, TagType};

use crate::flv::{TAG_AUDIO, TAG_VIDEO};

const CODEC_AVC: u8 = 7;
const CODEC_AAC: u8 = 10;

/// One audio or video tag of the clip.
#[derive(Debug, Clone)]
pub struct ClipTag {
    /// [`TAG_AUDIO`] or [`TAG_VIDEO`].
    pub tag_type: u8,
    /// Milliseconds since the clip's first media tag.
    pub timestamp_ms: u32,
    /// The FLV tag body (the RTMP message payload).
    pub body: Bytes,
}

impl ClipTag {
    /// An H.264 coded picture, whose NAL units can carry our stamp.
    pub fn is_avc_picture(&self) -> bool {
        self.tag_type == TAG_VIDEO
            && self.body.len() > 5
            && self.body[0] & 0x0f == CODEC_AVC
            && self.body[0] & 0x80 == 0
            && self.body[1] == 1
    }
}

/// A parsed clip.
#[derive(Debug)]
pub struct Clip {
    /// From the clip's `onMetaData`, with codec ids filled in from the tags if missing.
    pub metadata: StreamMetadata,
    /// The AVC sequence header (or first video config) body.
    pub video_config: Option<Bytes>,
    /// The AAC sequence header body.
    pub audio_config: Option<Bytes>,
    /// Audio and video tags in file order, configs excluded.
    pub tags: Vec<ClipTag>,
    /// Length of one loop: last video timestamp plus one frame interval.
    pub loop_ms: u32,
    /// AVCC NAL unit length size from the AVC sequence header.
    pub nalu_length_size: usize,
}

impl Clip {
    /// Reads an FLV file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(Bytes::from(bytes)).with_context(|| format!("parsing {}", path.display()))
    }

    /// Parses a whole FLV file.
    pub fn parse(file: Bytes) -> anyhow::Result<Self> {
        if file.len() < 13 || &file[..3] != b"FLV" {
            bail!("not an FLV file");
        }
        let mut reader = flv::Reader::new();
        reader.push(&file);
        let mut clip = Clip {
            metadata: StreamMetadata::new(),
            video_config: None,
            audio_config: None,
            tags: Vec::new(),
            loop_ms: 0,
            nalu_length_size: 4,
        };
        let mut first_ts = None;
        // A truncated last tag, as when ffmpeg was stopped, ends the clip (`Ok(None)`).
        while let Some(tag) = reader.next_tag().context("reading FLV tags")? {
            let body = tag.body;
            let tag_type = match tag.tag_type {
                TagType::Script => {
                    clip.on_script(&body);
                    continue;
                }
                TagType::Audio => TAG_AUDIO,
                TagType::Video => TAG_VIDEO,
            };
            if body.is_empty()
                || clip.on_config(tag_type, &body)
                || is_end_of_sequence(tag_type, &body)
            {
                continue;
            }
            let first = *first_ts.get_or_insert(tag.timestamp_ms);
            clip.tags.push(ClipTag {
                tag_type,
                timestamp_ms: tag.timestamp_ms.wrapping_sub(first),
                body,
            });
        }
        if clip.tags.is_empty() {
            bail!("no audio or video tags");
        }
        clip.loop_ms = trim_to_loop(&mut clip.tags);
        Ok(clip)
    }

    fn on_script(&mut self, body: &[u8]) {
        let Ok(values) = rml_amf0::deserialize(&mut std::io::Cursor::new(body)) else {
            return;
        };
        let properties = values.into_iter().find_map(|value| match value {
            Amf0Value::Object(properties) => Some(properties),
            _ => None,
        });
        let properties: HashMap<String, Amf0Value> = properties.unwrap_or_default();
        self.metadata.apply_metadata_values(properties);
    }

    /// Keeps codec configurations aside; true if `body` was one.
    fn on_config(&mut self, tag_type: u8, body: &Bytes) -> bool {
        let codec = if tag_type == TAG_VIDEO {
            body[0] & 0x0f
        } else {
            body[0] >> 4
        };
        let is_config = body.len() > 1 && body[1] == 0 && matches!(codec, CODEC_AVC | CODEC_AAC);
        if !is_config {
            return false;
        }
        if tag_type == TAG_VIDEO {
            if let Some(&byte) = body.get(9) {
                self.nalu_length_size = usize::from(byte & 0x03) + 1;
            }
            self.metadata.video_codec_id.get_or_insert(u32::from(codec));
            self.video_config.get_or_insert_with(|| body.clone());
        } else {
            self.metadata.audio_codec_id.get_or_insert(u32::from(codec));
            self.audio_config.get_or_insert_with(|| body.clone());
        }
        true
    }
}

/// An AVC end-of-sequence tag, which ffmpeg writes last: sent on every loop, it would tell
/// decoders that the stream ended.
fn is_end_of_sequence(tag_type: u8, body: &[u8]) -> bool {
    tag_type == TAG_VIDEO && body.len() > 1 && body[0] & 0x0f == CODEC_AVC && body[1] == 2
}

/// Trims the clip to whole video frames and returns the loop length: the last video
/// timestamp plus one frame interval, so that video continues across loops without a gap.
/// Audio past that point is dropped (encoders often end audio later than video); a clip
/// without video loops on its audio the same way.
fn trim_to_loop(tags: &mut Vec<ClipTag>) -> u32 {
    let main_track = if tags.iter().any(|tag| tag.tag_type == TAG_VIDEO) {
        TAG_VIDEO
    } else {
        TAG_AUDIO
    };
    let mut times = tags
        .iter()
        .rev()
        .filter(|tag| tag.tag_type == main_track)
        .map(|tag| tag.timestamp_ms);
    let last = times.next().unwrap_or(0);
    let interval = times
        .find(|&before| before < last)
        .map_or(33, |before| last - before);
    let loop_ms = last + interval.max(1);
    tags.retain(|tag| tag.timestamp_ms < loop_ms);
    loop_ms
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::flv::TAG_SCRIPT;

    fn tag(tag_type: u8, timestamp_ms: u32, body: &[u8]) -> Vec<u8> {
        let tag_type = ferrocast_media::flv::TagType::from_u8(tag_type).unwrap();
        let mut out = Vec::new();
        ferrocast_media::flv::write_tag(tag_type, timestamp_ms, body, &mut out);
        out
    }

    #[test]
    fn splits_configs_from_media_and_measures_the_loop() {
        let mut file = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
        let mut meta = b"\x02\x00\x0aonMetaData\x08\x00\x00\x00\x01".to_vec();
        meta.extend_from_slice(b"\x00\x05width\x00\x40\x84\x00\x00\x00\x00\x00\x00\x00\x00\x09");
        file.extend(tag(TAG_SCRIPT, 0, &meta));
        file.extend(tag(
            TAG_VIDEO,
            100,
            &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xfd],
        ));
        file.extend(tag(TAG_AUDIO, 100, &[0xaf, 0, 0x11, 0x90]));
        file.extend(tag(TAG_VIDEO, 100, &[0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]));
        file.extend(tag(TAG_AUDIO, 110, &[0xaf, 1, 0x21]));
        file.extend(tag(TAG_VIDEO, 140, &[0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41]));
        file.extend(tag(TAG_VIDEO, 180, &[0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41]));
        file.extend(tag(TAG_AUDIO, 225, &[0xaf, 1, 0x21])); // past the loop end: trimmed
        file.extend(tag(TAG_VIDEO, 180, &[0x17, 2, 0, 0, 0])); // end of sequence: dropped
        file.extend_from_slice(&[9, 0, 0]); // truncated tail
        let clip = Clip::parse(Bytes::from(file)).unwrap();
        assert_eq!(clip.metadata.video_width, Some(640));
        assert_eq!(clip.metadata.video_codec_id, Some(7));
        assert_eq!(clip.metadata.audio_codec_id, Some(10));
        assert_eq!(clip.nalu_length_size, 2);
        assert!(clip.video_config.is_some() && clip.audio_config.is_some());
        let times: Vec<u32> = clip.tags.iter().map(|tag| tag.timestamp_ms).collect();
        assert_eq!(times, [0, 10, 40, 80]);
        assert!(clip.tags[0].is_avc_picture() && !clip.tags[1].is_avc_picture());
        assert_eq!(clip.loop_ms, 120);
    }

    #[test]
    fn refuses_files_without_media() {
        assert!(Clip::parse(Bytes::from_static(b"not flv at all")).is_err());
        let header = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00";
        assert!(Clip::parse(Bytes::from_static(header)).is_err());
    }
}
