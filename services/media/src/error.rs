//! The single error type returned by every parser and converter in the crate.

use std::sync::Arc;

use thiserror::Error;

/// Why a piece of media could not be parsed or converted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MediaError {
    /// The input ended before a complete structure could be read.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// The input is malformed; the text names the offending field.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// The input is well formed but uses a feature or codec we do not handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A declared length exceeds the limit we are willing to buffer.
    #[error("{what} of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The declared length.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// An MP4 box could not be encoded (a field out of the box's range).
    #[error("cannot encode the mp4 {what} box")]
    Encode {
        /// The box.
        what: &'static str,
        /// Why.
        #[source]
        source: BoxError,
    },
}

/// The box encoder's error, shared so [`MediaError`] stays `Clone` and comparable.
#[derive(Debug, Clone, Error)]
#[error(transparent)]
pub struct BoxError(Arc<mp4_atom::Error>);

impl BoxError {
    /// Wraps an encoder error.
    pub fn new(error: mp4_atom::Error) -> Self {
        Self(Arc::new(error))
    }
}

/// Two box errors are equal when they are the same error (it has no equality of its own).
impl PartialEq for BoxError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for BoxError {}
