//! Turns the publisher's `onMetaData` into the script tag that FLV viewers receive.

use ferrocast_media::amf0::{self, Value};
use ferrocast_rtmp::Metadata;

/// The `onMetaData` script tag body for `metadata`.
pub fn script_body(metadata: &Metadata) -> Vec<u8> {
    let numbers = [
        ("width", metadata.width.map(f64::from)),
        ("height", metadata.height.map(f64::from)),
        ("videocodecid", metadata.video_codec_id.map(f64::from)),
        ("framerate", metadata.frame_rate.map(f64::from)),
        ("videodatarate", metadata.video_bitrate_kbps.map(f64::from)),
        ("audiocodecid", metadata.audio_codec_id.map(f64::from)),
        ("audiodatarate", metadata.audio_bitrate_kbps.map(f64::from)),
        ("audiosamplerate", metadata.audio_sample_rate.map(f64::from)),
        ("audiochannels", metadata.audio_channels.map(f64::from)),
    ];
    let mut properties: Vec<(&str, Value)> = numbers
        .into_iter()
        .filter_map(|(name, value)| Some((name, Value::Number(value?))))
        .collect();
    if let Some(stereo) = metadata.stereo {
        properties.push(("stereo", Value::Bool(stereo)));
    }
    properties.push(("encoder", Value::String("ferrocast".into())));
    let mut body = Vec::with_capacity(256);
    amf0::write_on_metadata(&properties, &mut body);
    body
}

/// Whether the publisher announced a video track (so HLS waits for a video keyframe).
pub fn announces_video(metadata: Option<&Metadata>) -> bool {
    metadata.is_none_or(|metadata| metadata.video_codec_id.is_some() || metadata.width.is_some())
}
