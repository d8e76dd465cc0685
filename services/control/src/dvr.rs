//! A stream's DVR window: how far back its live playlist reaches, so a viewer can seek back
//! while the stream is live (docs/dvr.md). Written as text: `"off"` or a humantime duration
//! (`"2h"`), at most [`DvrWindow::MAX`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A DVR window setting; zero is off (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DvrWindow(Duration);

impl DvrWindow {
    /// The longest window: a recording's default `max_duration`. Past it a live playlist
    /// costs more per request than players and CDNs should be asked to carry (docs/dvr.md).
    pub const MAX: Duration = Duration::from_secs(12 * 3600);
    /// The shortest window that is more than the live window itself.
    pub const MIN: Duration = Duration::from_secs(60);

    /// Parses the text form; the error says what is accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "off" {
            return Ok(Self::default());
        }
        let window = humantime::parse_duration(text)
            .map_err(|_| format!("dvr window {text:?} is not \"off\" or a duration like \"2h\""))?;
        if window.is_zero() {
            return Ok(Self::default());
        }
        if !(Self::MIN..=Self::MAX).contains(&window) {
            return Err("a dvr window must be 1m to 12h (or \"off\")".into());
        }
        Ok(Self(window))
    }

    /// The window; zero when off.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl fmt::Display for DvrWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_zero() {
            f.write_str("off")
        } else {
            write!(f, "{}", humantime::format_duration(self.0))
        }
    }
}

impl TryFrom<String> for DvrWindow {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<DvrWindow> for String {
    fn from(window: DvrWindow) -> String {
        window.to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn text_forms() {
        assert_eq!(DvrWindow::parse("off").unwrap(), DvrWindow::default());
        assert_eq!(DvrWindow::parse("0s").unwrap(), DvrWindow::default());
        let two_hours = DvrWindow::parse("2h").unwrap();
        assert_eq!(two_hours.get(), Duration::from_secs(7200));
        assert_eq!(serde_json::to_string(&two_hours).unwrap(), "\"2h\"");
        assert_eq!(
            serde_json::to_string(&DvrWindow::default()).unwrap(),
            "\"off\""
        );
        let back: DvrWindow = serde_json::from_str("\"2h\"").unwrap();
        assert_eq!(back, two_hours);
        for bad in ["\"30s\"", "\"13h\"", "\"soon\"", "7"] {
            assert!(serde_json::from_str::<DvrWindow>(bad).is_err(), "{bad}");
        }
    }
}
