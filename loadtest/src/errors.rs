//! Failures by kind: what went wrong on a connection, counted per role with the first
//! message of each kind kept for the report.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a connection or request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// TCP connect failed or was refused.
    Connect,
    /// An HTTP status other than 200 (after the stream was playable).
    HttpStatus,
    /// The peer spoke something unexpected: bad FLV, playlist, HTTP or RTMP.
    Protocol,
    /// Nothing arrived within the I/O timeout.
    Timeout,
    /// The peer closed the connection before the end of the run.
    Eof,
    /// Another socket error.
    Io,
    /// The server refused an RTMP connect, publish or play.
    Rejected,
    /// A viewer's stream never became available (404 until the end of the run).
    NeverReady,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Connect,
        ErrorKind::HttpStatus,
        ErrorKind::Protocol,
        ErrorKind::Timeout,
        ErrorKind::Eof,
        ErrorKind::Io,
        ErrorKind::Rejected,
        ErrorKind::NeverReady,
    ];

    /// The name used in the JSON summary.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Eof => "eof",
            ErrorKind::Io => "io",
            ErrorKind::Rejected => "rejected",
            ErrorKind::NeverReady => "never_ready",
        }
    }
}

/// A failure with its kind and a message for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The class of failure.
    pub kind: ErrorKind,
    /// What happened, for a human.
    pub detail: String,
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

/// Error counts by kind, with the first message of each kind.
#[derive(Debug, Default)]
pub struct Errors {
    counts: [AtomicU64; ErrorKind::ALL.len()],
    first: Mutex<Vec<(ErrorKind, String)>>,
}

impl Errors {
    /// Counts one failure.
    pub fn record(&self, failure: &Failure) {
        let index = failure.kind as usize;
        let previous = self.counts[index].fetch_add(1, Ordering::Relaxed);
        if previous == 0 {
            let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
            first.push((failure.kind, failure.detail.clone()));
        }
    }

    /// The count for `kind`.
    pub fn count(&self, kind: ErrorKind) -> u64 {
        self.counts[kind as usize].load(Ordering::Relaxed)
    }

    /// All failures counted.
    pub fn total(&self) -> u64 {
        ErrorKind::ALL.iter().map(|&kind| self.count(kind)).sum()
    }

    /// The first message of each kind seen.
    pub fn first_messages(&self) -> Vec<(ErrorKind, String)> {
        self.first.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn errors_count_by_kind_and_keep_the_first_message() {
        let errors = Errors::default();
        errors.record(&Failure::new(ErrorKind::Timeout, "first"));
        errors.record(&Failure::new(ErrorKind::Timeout, "second"));
        errors.record(&Failure::new(ErrorKind::Eof, "closed"));
        assert_eq!(errors.count(ErrorKind::Timeout), 2);
        assert_eq!(errors.total(), 3);
        assert_eq!(
            errors.first_messages(),
            vec![
                (ErrorKind::Timeout, "first".to_owned()),
                (ErrorKind::Eof, "closed".to_owned())
            ]
        );
    }
}
