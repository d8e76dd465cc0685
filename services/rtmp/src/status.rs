//! Statuses written without `rml_rtmp`: `onStatus` refusals of publishes and plays (its
//! refusals are `_error` responses to no request of the client's, which librtmp, and so OBS,
//! ignores), the end of a publish or a stream, and `|RtmpSampleAccess` at timestamp 0.

use ferrocast_media::amf0::{self, Value};

use ferrocast_media::rtmp_chunk::{self, Header, chunk_stream, message_type};

/// Appends an `onStatus` command with level `error` on `message_stream_id`, as a player
/// expects after a refused `play` (`NetStream.Play.StreamNotFound`, `…Failed`).
pub fn write_error(message_stream_id: u32, code: &str, description: &str, out: &mut Vec<u8>) {
    write_on_status(message_stream_id, "error", code, description, out);
}

/// Appends an `onStatus` command with level `status` on `message_stream_id`.
pub fn write_status(message_stream_id: u32, code: &str, description: &str, out: &mut Vec<u8>) {
    write_on_status(message_stream_id, "status", code, description, out);
}

/// Appends what tells a player the stream is over: `NetStream.Play.UnpublishNotify` and
/// `NetStream.Play.Stop`, on which ffmpeg ends cleanly instead of reporting an I/O error when
/// the connection then closes.
pub fn write_play_stopped(message_stream_id: u32, out: &mut Vec<u8>) {
    let notify = "NetStream.Play.UnpublishNotify";
    write_on_status(message_stream_id, "status", notify, "stream ended", out);
    let stop = "NetStream.Play.Stop";
    write_on_status(message_stream_id, "status", stop, "stream ended", out);
}

fn write_on_status(
    message_stream_id: u32,
    level: &str,
    code: &str,
    description: &str,
    out: &mut Vec<u8>,
) {
    let mut payload = Vec::with_capacity(64 + code.len() + description.len());
    amf0::write_string("onStatus", &mut payload);
    amf0::write_value(&Value::Number(0.0), &mut payload);
    amf0::write_null(&mut payload);
    let info = [
        ("level", Value::String(level.to_owned())),
        ("code", Value::String(code.to_owned())),
        ("description", Value::String(description.to_owned())),
    ];
    amf0::write_object(&info, &mut payload);
    let header = Header {
        chunk_stream_id: chunk_stream::STATUS,
        timestamp_ms: 0,
        type_id: message_type::COMMAND_AMF0,
        message_stream_id,
    };
    // Three short strings stay far below the 16 MiB message limit.
    rtmp_chunk::serialize(&header, &payload, out).expect("a status message fits in one message");
}

/// Appends the `|RtmpSampleAccess` data message (audio and video access allowed) that Flash
/// players expect after `NetStream.Play.Start`. Timestamp 0, so ffmpeg does not read it as a
/// data track.
pub fn write_sample_access(message_stream_id: u32, out: &mut Vec<u8>) {
    let mut payload = Vec::with_capacity(24);
    amf0::write_string("|RtmpSampleAccess", &mut payload);
    amf0::write_value(&Value::Bool(true), &mut payload);
    amf0::write_value(&Value::Bool(true), &mut payload);
    let header = rtmp_chunk::Media::Data.header(0, message_stream_id);
    rtmp_chunk::serialize(&header, &payload, out).expect("a 24-byte payload fits");
}

#[cfg(test)]
mod tests {
    use super::*;

    // AMF0 type markers, spelled out so the layout is checked independently of the writer.
    const AMF0_NUMBER: u8 = 0x00;
    const AMF0_BOOLEAN: u8 = 0x01;
    const AMF0_OBJECT: u8 = 0x03;
    const AMF0_NULL: u8 = 0x05;
    const AMF0_OBJECT_END: [u8; 3] = [0x00, 0x00, 0x09];

    #[test]
    fn error_status_layout() {
        let mut out = Vec::new();
        write_error(
            1,
            "NetStream.Play.StreamNotFound",
            "no such stream",
            &mut out,
        );
        assert_eq!(out[0], chunk_stream::STATUS);
        assert_eq!(out[7], message_type::COMMAND_AMF0);
        assert_eq!(&out[8..12], &[1, 0, 0, 0]);
        let payload = &out[12..];
        assert_eq!(&payload[..11], b"\x02\x00\x08onStatus");
        assert_eq!(payload[11], AMF0_NUMBER);
        assert_eq!(&payload[20..22], &[AMF0_NULL, AMF0_OBJECT]);
        assert_eq!(&payload[22..37], b"\x00\x05level\x02\x00\x05error");
        let text = String::from_utf8_lossy(payload);
        assert!(text.contains("NetStream.Play.StreamNotFound"));
        assert!(payload.ends_with(&AMF0_OBJECT_END));
    }

    #[test]
    fn sample_access_layout() {
        let mut out = Vec::new();
        write_sample_access(1, &mut out);
        assert_eq!(&out[..8], &[chunk_stream::DATA, 0, 0, 0, 0, 0, 24, 18]);
        assert_eq!(&out[12..32], b"\x02\x00\x11|RtmpSampleAccess");
        assert_eq!(&out[32..], &[AMF0_BOOLEAN, 1, AMF0_BOOLEAN, 1]);
    }
}
