//! The single error type returned by every parser and converter in the crate.

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
}
