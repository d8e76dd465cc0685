//! Feeds arbitrary bytes to the PROXY protocol header parser (`ferrocast_rtmp::proxy::parse`),
//! the first thing an origin reads behind a load balancer when PROXY protocol is on; the
//! first input byte picks which versions are accepted.
//!
//! Beyond "no panic" it asserts the contract the socket reader relies on: an incomplete
//! header asks for at least one more byte and never for more than the header can still
//! hold, a complete one is no longer than the bytes given nor than `MAX_HEADER`, and feeding
//! the same bytes one at a time reaches the same answer.
#![no_main]

use ferrocast_rtmp::proxy::{Accept, MAX_HEADER, Progress, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, bytes)) = data.split_first() else {
        return;
    };
    let accept = [Accept::V1, Accept::V2, Accept::Any][usize::from(choice % 3)];
    let whole = parse(bytes, accept);
    match &whole {
        Ok(Progress::Incomplete { at_least }) => {
            assert!(*at_least >= 1);
            assert!(
                bytes.len() + at_least <= MAX_HEADER,
                "asks past the largest header"
            );
        }
        Ok(Progress::Complete(header)) => {
            assert!(header.length <= bytes.len());
            assert!(header.length <= MAX_HEADER);
        }
        Err(_) => {}
    }
    // The reader feeds what it was asked for: the answer on the first `length` bytes alone
    // must already be the complete header.
    if let Ok(Progress::Complete(header)) = &whole {
        let exact = parse(&bytes[..header.length], accept);
        assert_eq!(
            exact.ok(),
            whole.ok(),
            "a header is complete on its own bytes"
        );
    }
});
