//! Feeds arbitrary bytes to `amf0::read_values`, the bounded reader every RTMP command and
//! `@setDataFrame` passes before `rml_rtmp` sees it.
//!
//! Beyond "no panic" it asserts that what is read writes back to bytes that read back to the
//! same bytes again (a fixed point after one round: the writer normalises ECMA array counts),
//! and that a payload of N bytes never yields more values than it has bytes.
#![no_main]

use ferrocast_media::amf0::{self, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(values) = amf0::read_values(data, Limits::default()) else {
        return;
    };
    assert!(values.len() <= data.len(), "more values than bytes");
    let mut written = Vec::new();
    for value in &values {
        amf0::write_value(value, &mut written);
    }
    let again = amf0::read_values(&written, Limits::default()).expect("what we write reads back");
    let mut rewritten = Vec::new();
    for value in &again {
        amf0::write_value(value, &mut rewritten);
    }
    assert_eq!(written, rewritten, "write(read(write(x))) == write(x)");
});
