//! Liveness and readiness of one process: starting, ready, then draining for good.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio_util::sync::CancellationToken;

const STARTING: u8 = 0;
const READY: u8 = 1;
const DRAINING: u8 = 2;

/// Where a process is in its life, as `/readyz` reports it.
#[derive(Clone, Default)]
pub struct Health {
    state: Arc<AtomicU8>,
}

/// What `/readyz` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Listeners are not bound or dependencies not wired yet.
    Starting,
    /// Serving.
    Ready,
    /// Shutting down: finishing what runs, taking nothing new.
    Draining,
}

impl Health {
    /// Marks the role as serving, unless it already began draining.
    pub fn set_ready(&self) {
        let _ = self
            .state
            .compare_exchange(STARTING, READY, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Marks the role as draining; it never becomes ready again.
    pub fn set_draining(&self) {
        self.state.store(DRAINING, Ordering::Release);
    }

    /// The current readiness.
    pub fn readiness(&self) -> Readiness {
        match self.state.load(Ordering::Acquire) {
            STARTING => Readiness::Starting,
            READY => Readiness::Ready,
            _ => Readiness::Draining,
        }
    }

    /// Turns readiness false as soon as `drain` is cancelled.
    pub fn follow(&self, drain: &CancellationToken) {
        let (health, drain) = (self.clone(), drain.clone());
        tokio::spawn(async move {
            drain.cancelled().await;
            health.set_draining();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draining_is_final() {
        let health = Health::default();
        assert_eq!(health.readiness(), Readiness::Starting);
        health.set_ready();
        assert_eq!(health.readiness(), Readiness::Ready);
        health.set_draining();
        health.set_ready();
        assert_eq!(health.readiness(), Readiness::Draining);
    }
}
