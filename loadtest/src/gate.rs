//! A start gate: viewers wait until every publisher has either published or failed once.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Opens when `open_one` has been called as many times as it was created with.
#[derive(Debug)]
pub struct Gate {
    pending: AtomicUsize,
    opened: Notify,
}

impl Gate {
    /// A gate waiting for `count` parties (open at once for zero).
    pub fn new(count: usize) -> Self {
        Self {
            pending: AtomicUsize::new(count),
            opened: Notify::new(),
        }
    }

    /// One party is done; call it once per party.
    pub fn open_one(&self) {
        let before = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if before == Ok(1) {
            self.opened.notify_waiters();
        }
    }

    /// Waits until every party is done.
    pub async fn wait(&self) {
        loop {
            let notified = self.opened.notified();
            if self.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn opens_after_every_party() {
        let gate = Arc::new(Gate::new(2));
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.wait().await }
        });
        gate.open_one();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        gate.open_one();
        gate.open_one(); // extra calls are harmless
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("gate opened")
            .expect("waiter did not panic");
        Gate::new(0).wait().await;
    }
}
