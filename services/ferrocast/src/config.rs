//! Configuration loading: defaults, then an optional TOML file, then `FERROCAST_*` variables,
//! then command-line flags. Unknown keys are refused, all of them named in one message.
//!
//! An environment variable names a key path with `__` between levels:
//! `FERROCAST_HLS__TARGET_DURATION=3s` sets `hls.target_duration`. Its value is read as a TOML
//! value when it parses as one (numbers, booleans), else as a string.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use ferrocast_control_client::ClusterSecret;
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
    let defaults = Table::try_from(T::default()).context("serializing defaults")?;
    let mut merged = defaults.clone();
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let table: Table =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        merge(&mut merged, table);
    }
    merge(&mut merged, env_table(env));
    merge(&mut merged, flags);
    let unknown = unknown_keys(&defaults, &merged, "");
    if !unknown.is_empty() {
        bail!("unknown configuration keys: {}", unknown.join(", "));
    }
    Value::Table(merged)
        .try_into()
        .map_err(|error: toml::de::Error| {
            anyhow::anyhow!("invalid configuration: {}", error.message())
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

fn unknown_keys(known: &Table, given: &Table, prefix: &str) -> Vec<String> {
    let mut unknown = Vec::new();
    for (key, value) in given {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (known.get(key), value) {
            (None, _) => unknown.push(path),
            (Some(Value::Table(known_child)), Value::Table(given_child)) => {
                unknown.extend(unknown_keys(known_child, given_child, &path));
            }
            _ => {}
        }
    }
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Sample {
        port: u16,
        name: String,
        inner: Inner,
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Inner {
        depth: u32,
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_overrides_defaults_and_flags_override_env() {
        let vars = env(&[
            ("FERROCAST_PORT", "9"),
            ("FERROCAST_INNER__DEPTH", "4"),
            ("OTHER", "x"),
        ]);
        let mut flags = Table::new();
        flags.insert("name".into(), Value::String("flag".into()));
        let loaded: Sample = load(None, &vars, flags).unwrap();
        assert_eq!(
            loaded,
            Sample {
                port: 9,
                name: "flag".into(),
                inner: Inner { depth: 4 }
            }
        );
    }

    #[test]
    fn every_unknown_key_is_named() {
        let vars = env(&[("FERROCAST_PROT", "9"), ("FERROCAST_INNER__DEPHT", "4")]);
        let error = load::<Sample>(None, &vars, Table::new())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("prot") && error.contains("inner.depht"),
            "{error}"
        );
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct WithSecret {
        cluster_secret: SecretSetting,
    }

    #[test]
    fn secrets_load_like_strings_and_never_show() {
        let secret = "0123456789abcdef0123456789abcdef";
        let vars = env(&[("FERROCAST_CLUSTER_SECRET", secret)]);
        let loaded: WithSecret = load(None, &vars, Table::new()).unwrap();
        assert_eq!(loaded.cluster_secret.expose(), secret);
        assert!(!format!("{loaded:?}").contains(secret));
        cluster_secret(&loaded.cluster_secret).unwrap();
    }

    #[test]
    fn a_short_or_missing_cluster_secret_is_refused_at_start() {
        for (given, expected) in [
            ("", "cluster_secret is not set"),
            (
                "0123456789abcdef0123456789abcde",
                "cluster_secret has 31 characters",
            ),
        ] {
            let error = cluster_secret(&SecretSetting::from(given))
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error}");
            assert!(error.contains("at least 32"), "{error}");
            assert!(given.is_empty() || !error.contains(given), "{error}");
        }
    }

    #[test]
    fn bad_values_are_refused() {
        let vars = env(&[("FERROCAST_PORT", "not-a-port")]);
        let error = load::<Sample>(None, &vars, Table::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid configuration"), "{error}");
    }
}
