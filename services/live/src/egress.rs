//! The bytes one viewer was sent, added to its kind's shared egress counter in steps: one
//! atomic add per frame per viewer would contend across cores.

/// Adds to the shared counter in steps of this many bytes.
const REPORT_BYTES: u64 = 256 * 1024;

/// One viewer's share of an egress counter; what is left unreported is added when it drops.
#[derive(Debug)]
pub struct Egress {
    counter: metrics::Counter,
    /// Bytes sent but not yet added to `counter`.
    unreported: u64,
}

impl Egress {
    /// A viewer's egress, reported to `counter`.
    pub fn new(counter: metrics::Counter) -> Self {
        Self {
            counter,
            unreported: 0,
        }
    }

    /// Counts `bytes` sent.
    pub fn sent(&mut self, bytes: usize) {
        self.unreported += bytes as u64;
        if self.unreported >= REPORT_BYTES {
            self.counter.increment(std::mem::take(&mut self.unreported));
        }
    }
}

impl Drop for Egress {
    fn drop(&mut self) {
        self.counter.increment(self.unreported);
    }
}
