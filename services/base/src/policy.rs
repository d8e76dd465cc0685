//! Who may play a stream: anyone with its playback id, or only a viewer with a token signed
//! for it (`docs/signed-playback.md`).

use serde::{Deserialize, Serialize};

/// A stream's playback policy, as control stores it and edges enforce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaybackPolicy {
    /// Anyone who knows the playback id may play; tokens are ignored.
    #[default]
    Public,
    /// Every playback request needs an ES256 token for the playback id.
    Signed,
}

impl PlaybackPolicy {
    /// The policy's name in JSON and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            PlaybackPolicy::Public => "public",
            PlaybackPolicy::Signed => "signed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_and_default() {
        assert_eq!(PlaybackPolicy::default(), PlaybackPolicy::Public);
        for policy in [PlaybackPolicy::Public, PlaybackPolicy::Signed] {
            let json = serde_json::to_string(&policy).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", policy.as_str()));
        }
        assert!(serde_json::from_str::<PlaybackPolicy>("\"Signed\"").is_err());
    }
}
