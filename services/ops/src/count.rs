//! Counts of things alive now (connections, subscriptions, viewers), kept in atomics and set
//! on their gauges when scraped.

use std::sync::atomic::{AtomicI64, Ordering};

/// How many of something exist now.
#[derive(Debug, Default)]
pub struct LiveCount(AtomicI64);

impl LiveCount {
    /// Zero.
    pub const fn new() -> Self {
        Self(AtomicI64::new(0))
    }

    /// Counts one until the guard drops.
    pub fn enter(&'static self) -> LiveGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        LiveGuard(self)
    }

    /// The count now.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One counted thing; dropping it uncounts it.
#[must_use = "the thing is uncounted when the guard drops"]
#[derive(Debug)]
pub struct LiveGuard(&'static LiveCount);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_while_alive() {
        static COUNT: LiveCount = LiveCount::new();
        let first = COUNT.enter();
        let second = COUNT.enter();
        assert_eq!(COUNT.get(), 2);
        drop(first);
        assert_eq!(COUNT.get(), 1);
        drop(second);
        assert_eq!(COUNT.get(), 0);
    }
}
