//! Feeds arbitrary bytes to `flv::Reader` as an HTTP-FLV / FLV-file stream (file header, then
//! tags), and every audio or video tag it returns to the tag-body parsers.
//!
//! Beyond "no panic" it asserts:
//! - delivery does not matter: pushed in chunks of varying size (derived from the input's
//!   length, so seeds stay plain `.flv` files) it returns the same tags, the same final
//!   outcome and the same leftover bytes as when pushed at once;
//! - an error is sticky: asking again, even after more bytes arrived, returns the same error;
//! - no body exceeds the reader's limit;
//! - the tags, written back with `flv::write_tag`, read back identical and leave nothing over.
#![no_main]

use ferrocast_media::MediaError;
use ferrocast_media::flv::{self, Reader, Tag, TagType};
use libfuzzer_sys::fuzz_target;

/// Small enough that the fuzzer reaches the "too large" refusal with short inputs.
const MAX_TAG_BODY: usize = 32 * 1024;

/// What one reader made of a stream: its tags, how it stopped, and what it kept buffered.
#[derive(Debug, PartialEq)]
struct Outcome {
    tags: Vec<Tag>,
    error: Option<MediaError>,
    buffered_len: usize,
}

/// Pulls tags until the reader needs more bytes or fails; returns the error, if any.
fn drain(reader: &mut Reader, tags: &mut Vec<Tag>) -> Option<MediaError> {
    loop {
        match reader.next_tag() {
            Ok(Some(tag)) => tags.push(tag),
            Ok(None) => return None,
            Err(error) => {
                assert_eq!(reader.next_tag(), Err(error.clone()), "error not sticky");
                return Some(error);
            }
        }
    }
}

/// Pushes `data` in chunks of `chunk_len(index)` bytes, pulling tags after each push. After an
/// error it keeps pushing, and the error must stay the same.
fn read_in_chunks(data: &[u8], chunk_len: impl Fn(usize) -> usize) -> Outcome {
    let mut reader = Reader::with_max_tag_body(MAX_TAG_BODY);
    let mut tags = Vec::new();
    let mut error = None;
    let mut rest = data;
    let mut index = 0;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(chunk_len(index).clamp(1, rest.len()));
        rest = tail;
        index += 1;
        reader.push(chunk);
        match &error {
            None => error = drain(&mut reader, &mut tags),
            Some(first) => assert_eq!(reader.next_tag().as_ref(), Err(first), "error changed"),
        }
    }
    Outcome {
        tags,
        error,
        buffered_len: reader.buffered_len(),
    }
}

fn parse_body(tag: &Tag) {
    match tag.tag_type {
        TagType::Audio => {
            if let Ok(audio) = flv::parse_audio(&tag.body) {
                assert!(!flv::audio_codec_name(&audio.codec).is_empty());
            }
        }
        TagType::Video => {
            if let Ok(video) = flv::parse_video(&tag.body) {
                assert!(!flv::video_codec_name(&video.codec).is_empty());
            }
        }
        // AMF0 script bodies have their own target.
        TagType::Script => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let at_once = read_in_chunks(data, |_| data.len());
    let salt = data.len();
    let chunked = read_in_chunks(data, |index| 1 + (index * 7 + salt) % 61);
    assert_eq!(at_once, chunked, "chunking changed what was read");

    let mut rewritten = flv::file_header(true, true).to_vec();
    for tag in &at_once.tags {
        assert!(tag.body.len() <= MAX_TAG_BODY, "body over the limit");
        parse_body(tag);
        flv::write_tag(tag.tag_type, tag.timestamp_ms, &tag.body, &mut rewritten);
    }
    let reread = read_in_chunks(&rewritten, |_| rewritten.len());
    let expected = Outcome {
        tags: at_once.tags,
        error: None,
        buffered_len: 0,
    };
    assert_eq!(reread, expected, "written tags did not read back");
});
