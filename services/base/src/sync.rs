//! One way to take a `std::sync::Mutex` that a panicking holder poisoned.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, taking it over if a holder panicked. Every state ferrocast keeps behind a
/// mutex is updated in single steps that leave it consistent, so a panic elsewhere leaves
/// nothing to repair; refusing the lock would turn one panic into many.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_mutex_is_taken_over_with_its_value() {
        let mutex = std::sync::Arc::new(Mutex::new(7));
        let holder = mutex.clone();
        let panicked = std::thread::spawn(move || {
            let _guard = holder.lock().expect("not poisoned yet");
            panic!("poison it");
        })
        .join();
        assert!(panicked.is_err());
        assert!(mutex.is_poisoned());
        assert_eq!(*lock(&mutex), 7);
    }
}
