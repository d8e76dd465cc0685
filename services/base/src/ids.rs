//! Typed identities: a stream's id, its public playback id, a publish session's epoch and a
//! segment's media sequence number.
//!
//! A stream id names the stream inside the cluster (index keys, leases, hubs, logs); a
//! playback id is what viewers put in URLs. The stream key, the publisher's secret, has no
//! type here on purpose: it never travels past publish authorization.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares a string identity with the conversions every boundary needs.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id (checked, where it came from outside, by whoever parsed it).
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as text (keys, URLs, log fields).
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Lets maps keyed by the id be looked up with a `&str`.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }
    };
}

string_id! {
    /// A stream's id inside the cluster: index and object keys, leases, hubs, log fields.
    StreamId
}

string_id! {
    /// A stream's public id, the one viewers' URLs carry.
    PlaybackId
}

/// Declares a counter identity over `u64`.
macro_rules! number_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// The number.
            pub const fn get(self) -> u64 {
                self.0
            }

            /// The one after this (saturating: a counter never wraps back to old values).
            #[must_use]
            pub const fn next(self) -> Self {
                Self(self.0.saturating_add(1))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}", self.0)
            }
        }

        impl From<u64> for $name {
            fn from(number: u64) -> Self {
                Self(number)
            }
        }
    };
}

number_id! {
    /// A publish session's fencing epoch: every new lease of a stream gets a higher one, and
    /// writes carrying an older one are refused.
    Epoch
}

number_id! {
    /// A segment's media sequence number (`EXT-X-MEDIA-SEQUENCE` counts in these).
    Msn
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn a_map_keyed_by_stream_id_is_looked_up_with_text() {
        let mut streams = HashMap::new();
        streams.insert(StreamId::new("abc"), 1);
        assert_eq!(streams.get("abc"), Some(&1));
        assert_eq!(streams.get("abd"), None);
    }

    #[test]
    fn ids_serialize_as_their_bare_value() {
        assert_eq!(
            serde_json::to_string(&PlaybackId::new("p1")).expect("serializes"),
            "\"p1\""
        );
        assert_eq!(serde_json::to_string(&Msn(42)).expect("serializes"), "42");
        let epoch: Epoch = serde_json::from_str("7").expect("a number");
        assert_eq!(epoch.next(), Epoch(8));
    }

    #[test]
    fn counters_saturate_instead_of_wrapping() {
        assert_eq!(Msn(u64::MAX).next(), Msn(u64::MAX));
    }
}
