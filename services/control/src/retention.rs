//! How long a stream's recordings are kept (ADR 21): a per-stream setting over a global
//! default. Written as text everywhere (JSON, TOML, environment): `"off"`, a humantime
//! duration (`"7d"`, `"36h"`), or, per stream, `"default"`; a bare number is days.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A recording retention setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retention {
    /// Use the control's `recordings.retention` (a stream's setting only).
    #[default]
    Default,
    /// Record nothing: the live window's trim deletes segments, as without recordings.
    Off,
    /// Record each broadcast and keep it this long after it ended.
    Keep(Duration),
}

const DAY: Duration = Duration::from_secs(86_400);

impl Retention {
    /// Parses the text form; the error says what is accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "default" => Ok(Retention::Default),
            "off" => Ok(Retention::Off),
            other => {
                let kept = humantime::parse_duration(other).map_err(|_| {
                    format!(
                        "recording retention {other:?} is not \"off\", \"default\" or a duration \
                         like \"7d\""
                    )
                })?;
                if kept.is_zero() {
                    return Err("a recording retention must be positive (or \"off\")".into());
                }
                Ok(Retention::Keep(kept))
            }
        }
    }

    /// This setting with `default` standing in for [`Retention::Default`]: `None` = off.
    pub fn effective(self, default: Retention) -> Option<Duration> {
        match self {
            Retention::Default => default.effective(Retention::Off),
            Retention::Off => None,
            Retention::Keep(kept) => Some(kept),
        }
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Retention::Default => f.write_str("default"),
            Retention::Off => f.write_str("off"),
            Retention::Keep(kept) => write!(f, "{}", humantime::format_duration(*kept)),
        }
    }
}

impl Serialize for Retention {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Retention {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = Retention;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"off\", \"default\", a duration like \"7d\", or a number of days")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Retention, E> {
                Retention::parse(text).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, days: u64) -> Result<Retention, E> {
                let days = u32::try_from(days).map_err(|_| E::custom("too many days"))?;
                match days {
                    0 => Err(E::custom(
                        "a recording retention must be positive (or \"off\")",
                    )),
                    days => Ok(Retention::Keep(DAY * days)),
                }
            }
            fn visit_i64<E: de::Error>(self, days: i64) -> Result<Retention, E> {
                let days = u64::try_from(days).map_err(|_| E::custom("negative days"))?;
                self.visit_u64(days)
            }
        }
        deserializer.deserialize_any(Text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        for (text, expected) in [
            ("\"off\"", Retention::Off),
            ("\"default\"", Retention::Default),
            ("\"7d\"", Retention::Keep(DAY * 7)),
            ("\"3s\"", Retention::Keep(Duration::from_secs(3))),
            ("2", Retention::Keep(DAY * 2)),
        ] {
            let parsed: Retention = serde_json::from_str(text).unwrap();
            assert_eq!(parsed, expected, "{text}");
            let again: Retention =
                serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
            assert_eq!(again, parsed);
        }
        for bad in ["\"0s\"", "0", "-1", "\"forever\"", "\"\"", "true"] {
            assert!(serde_json::from_str::<Retention>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_falls_back_to_the_global_setting() {
        let week = Retention::Keep(DAY * 7);
        assert_eq!(Retention::Default.effective(week), Some(DAY * 7));
        assert_eq!(Retention::Default.effective(Retention::Off), None);
        assert_eq!(Retention::Off.effective(week), None);
        assert_eq!(Retention::Keep(DAY).effective(Retention::Off), Some(DAY));
    }
}
