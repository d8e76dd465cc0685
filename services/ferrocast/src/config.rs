//! Configuration loading: defaults, then an optional TOML file, then `FERROCAST_*` variables,
//! then command-line flags. Unknown keys are refused, all of them named in one message.
//!
//! A role's configuration is its process settings (listen addresses, node id, backends) with
//! the libraries' own configurations nested under their names: `origin`, `edge`, `control`.
//! An environment variable names a key path with `__` between levels:
//! `FERROCAST_ORIGIN__HLS__TARGET_DURATION=3s` sets `origin.hls.target_duration`. Its value is
//! read as a TOML value when it parses as one (numbers, booleans), else as a string.
//!
//! A setting that may be unset is an `Option`: absent from the defaults and the samples, set
//! by naming it. URLs among them are parsed at load, so a bad one stops the start.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use ferrocast_control_client::ClusterSecret;
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

const ENV_PREFIX: &str = "FERROCAST_";
/// Variables with the prefix that belong to the command line, not to a role's configuration.
const COMMAND_LINE_VARIABLES: &[&str] = &["FERROCAST_LOG_JSON"];

/// Loads a role's configuration. `env` is injected so tests need not touch the process's.
pub fn load<T: Default + Serialize + DeserializeOwned>(
    file: Option<&Path>,
    env: &BTreeMap<String, String>,
    flags: Table,
) -> anyhow::Result<T> {
    let defaults = T::default();
    // JSON keeps the unset `Option` keys (as null), which TOML leaves out: they are known too.
    let known = serde_json::to_value(&defaults).context("listing the configuration keys")?;
    let mut merged = Table::try_from(defaults).context("serializing defaults")?;
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let table: Table =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        merge(&mut merged, table);
    }
    merge(&mut merged, env_table(env));
    merge(&mut merged, flags);
    let unknown = unknown_keys(&known, &merged, "");
    if !unknown.is_empty() {
        bail!("unknown configuration keys: {}", unknown.join(", "));
    }
    Value::Table(merged)
        .try_into()
        .map_err(|error: toml::de::Error| {
            // Its display ends with the key path (``in `origin.hls.window` ``): one line of it.
            let text = error.to_string();
            anyhow::anyhow!(
                "invalid configuration: {}",
                text.trim_end().replace('\n', " ")
            )
        })
}

/// A secret setting, such as `cluster_secret`: read from TOML or a `FERROCAST_*` variable
/// like any string, but `Debug` never shows it, so a configuration printed with `{:?}` cannot
/// leak it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretSetting(String);

impl SecretSetting {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SecretSetting {
    fn from(secret: &str) -> Self {
        Self(secret.to_owned())
    }
}

impl fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<empty>"
        } else {
            "<redacted>"
        })
    }
}

/// The cluster secret of `control`, `origin` or `edge`: refused at start when missing or
/// shorter than 32 characters, with a message that says how to make one (and never shows it).
pub fn cluster_secret(setting: &SecretSetting) -> anyhow::Result<ClusterSecret> {
    ClusterSecret::new(setting.expose()).map_err(anyhow::Error::from)
}

fn env_table(env: &BTreeMap<String, String>) -> Table {
    let mut table = Table::new();
    for (name, raw) in env {
        if COMMAND_LINE_VARIABLES.contains(&name.as_str()) {
            continue;
        }
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        let value = parse_env_value(raw);
        insert_path(&mut table, &keys, value);
    }
    table
}

fn parse_env_value(raw: &str) -> Value {
    let as_toml = format!("v = {raw}");
    match toml::from_str::<Table>(&as_toml)
        .ok()
        .and_then(|mut t| t.remove("v"))
    {
        Some(value) if !value.is_table() => value,
        _ => Value::String(raw.to_owned()),
    }
}

fn insert_path(table: &mut Table, keys: &[String], value: Value) {
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(next) = entry else {
            return;
        };
        current = next;
    }
    current.insert(last.clone(), value);
}

fn merge(base: &mut Table, overlay: Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(existing)), Value::Table(incoming)) => merge(existing, incoming),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The keys of `given` that `known` (the defaults, as JSON) does not have, as dotted paths.
fn unknown_keys(known: &serde_json::Value, given: &Table, prefix: &str) -> Vec<String> {
    let mut unknown = Vec::new();
    for (key, value) in given {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (known.get(key), value) {
            (None, _) => unknown.push(with_hint(known, key, path)),
            (Some(known_child @ serde_json::Value::Object(_)), Value::Table(given_child)) => {
                unknown.extend(unknown_keys(known_child, given_child, &path));
            }
            _ => {}
        }
    }
    unknown
}

/// `path`, and the tables one level down that have `key`: a library's setting given at the
/// process level (`hls.window` for `origin.hls.window`) names where it belongs.
fn with_hint(known: &serde_json::Value, key: &str, path: String) -> String {
    let Some(fields) = known.as_object() else {
        return path;
    };
    let homes: Vec<&str> = fields
        .iter()
        .filter(|(_, child)| child.get(key).is_some())
        .map(|(name, _)| name.as_str())
        .collect();
    if homes.is_empty() {
        return path;
    }
    let parent = path.strip_suffix(key).unwrap_or_default();
    let suggestions: Vec<String> = homes
        .iter()
        .map(|home| format!("{parent}{home}.{key}"))
        .collect();
    format!("{path} (see {})", suggestions.join(", "))
}

/// Serde of an `Option<Url>` setting: absent is `None`; a present value must parse as a URL,
/// or the load fails naming it. The error shows the text, so not for URLs with a password.
pub mod optional_url {
    use reqwest::Url;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the URL as its text; `None` writes nothing.
    pub fn serialize<S: Serializer>(url: &Option<Url>, serializer: S) -> Result<S::Ok, S::Error> {
        match url {
            Some(url) => serializer.serialize_some(url.as_str()),
            None => serializer.serialize_none(),
        }
    }

    /// Reads and parses the URL.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Url>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        Url::parse(&text)
            .map(Some)
            .map_err(|error| D::Error::custom(format!("{text:?} is not a URL: {error}")))
    }
}

/// Refuses a URL setting whose scheme is not one of `schemes`, naming the key.
pub fn require_scheme(key: &str, url: &Url, schemes: &[&str]) -> anyhow::Result<()> {
    if schemes.contains(&url.scheme()) {
        return Ok(());
    }
    bail!(
        "{key} must start with {}: {:?}",
        schemes
            .iter()
            .map(|scheme| format!("{scheme}://"))
            .collect::<Vec<_>>()
            .join(" or "),
        url.as_str()
    )
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
