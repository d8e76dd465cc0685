//! Feeds arbitrary C0+C1 and C2 to the server handshake (`ferrocast_rtmp::handshake`): our
//! framing, then `rml_rtmp`'s digest computation on input of exactly those sizes.
//!
//! Beyond "no panic" it asserts that a version other than 3 is refused, that an answer is
//! S0+S1+S2 (3,073 bytes, version 3), and that nothing reaches `rml_rtmp`'s panic guard.
#![no_main]

use ferrocast_rtmp::RtmpError;
use ferrocast_rtmp::handshake::{C0_C1_LEN, C2_LEN, ServerHandshake};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(c0_c1) = data.get(..C0_C1_LEN) else {
        return;
    };
    let c0_c1: &[u8; C0_C1_LEN] = c0_c1.try_into().expect("sliced to size");
    let mut handshake = ServerHandshake::default();
    let response = match handshake.respond(c0_c1) {
        Ok(response) => response,
        Err(error) => {
            assert!(!matches!(error, RtmpError::ParserPanicked), "{error}");
            return;
        }
    };
    assert_eq!(c0_c1[0], 3, "only version 3 is answered");
    assert_eq!(response.len(), 1 + 2 * C2_LEN);
    assert_eq!(response[0], 3);
    let mut c2 = [0u8; C2_LEN];
    let rest = &data[C0_C1_LEN..];
    let len = rest.len().min(C2_LEN);
    c2[..len].copy_from_slice(&rest[..len]);
    if let Err(error) = handshake.finish(&c2) {
        assert!(!matches!(error, RtmpError::ParserPanicked), "{error}");
    }
});
