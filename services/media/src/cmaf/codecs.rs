//! The RFC 6381 codec strings of the sample entries the packager writes whose spelling is
//! not a decoder configuration's own (`avc1`, `mp4a`): one spelling, shared by the packager
//! (`init`) and by `describe`, which reads them back from stored init segments, so the two
//! can never disagree on a recording's `CODECS`.

/// objectTypeIndication of MPEG-4 audio (AAC) in an `esds`.
pub(super) const OBJECT_TYPE_MPEG4_AUDIO: u8 = 0x40;

/// `avc1.PPCCLL`: profile, constraint flags and level in lower-case hex.
pub(super) fn avc_codec_string(profile: u8, compatibility: u8, level: u8) -> String {
    format!("avc1.{profile:02x}{compatibility:02x}{level:02x}")
}

/// `mp4a.40.{audio object type}`: AAC names its AudioSpecificConfig's object type.
pub(super) fn aac_codec_string(audio_object_type: u8) -> String {
    format!("mp4a.40.{audio_object_type}")
}

/// `mp4a.{objectTypeIndication}` in upper-case hex: MP3 is `mp4a.6B` (MPEG-1) or `mp4a.69`.
pub(super) fn mpeg_audio_codec_string(object_type_indication: u8) -> String {
    format!("mp4a.{object_type_indication:02X}")
}
