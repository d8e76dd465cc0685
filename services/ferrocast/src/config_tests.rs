//! Tests of configuration loading: layering, unknown keys, secrets, unset URLs.

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

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Nested {
    port: u16,
    origin: Inner,
    edge: Inner,
}

#[test]
fn a_library_key_given_at_the_process_level_names_its_table() {
    let vars = env(&[("FERROCAST_DEPTH", "4"), ("FERROCAST_WIDTH", "2")]);
    let error = load::<Nested>(None, &vars, Table::new())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("depth (see edge.depth, origin.depth)"),
        "{error}"
    );
    assert!(
        error.contains("width,") || error.ends_with("width"),
        "{error}"
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
fn bad_values_are_refused_naming_the_key() {
    let vars = env(&[("FERROCAST_INNER__DEPTH", "deep")]);
    let error = load::<Sample>(None, &vars, Table::new())
        .unwrap_err()
        .to_string();
    assert!(error.contains("invalid configuration"), "{error}");
    assert!(error.contains("inner.depth"), "{error}");
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct WithUrl {
    #[serde(with = "optional_url")]
    public_url: Option<Url>,
}

#[test]
fn an_unset_url_is_none_and_a_set_one_is_parsed() {
    let unset: WithUrl = load(None, &env(&[]), Table::new()).unwrap();
    assert_eq!(unset.public_url, None);
    let url = "rtmp://ingest.example:1935/live";
    let set: WithUrl = load(None, &env(&[("FERROCAST_PUBLIC_URL", url)]), Table::new()).unwrap();
    assert_eq!(set.public_url.map(String::from).as_deref(), Some(url));
}

#[test]
fn a_bad_url_is_refused_at_load_naming_the_key() {
    let vars = env(&[("FERROCAST_PUBLIC_URL", "ingest.example/live")]);
    let error = load::<WithUrl>(None, &vars, Table::new())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("is not a URL") && error.contains("public_url"),
        "{error}"
    );
    let url = Url::parse("http://ingest.example").unwrap();
    let error = require_scheme("public_url", &url, &["rtmp", "rtmps"]).unwrap_err();
    assert!(error.to_string().contains("rtmp:// or rtmps://"), "{error}");
}

#[test]
fn control_reconnect_window_defaults_to_the_origins_and_webhook_targets_come_from_env() {
    use crate::roles::control::ControlRoleConfig;
    let defaults = ControlRoleConfig::default();
    assert_eq!(
        defaults.control.reconnect_window,
        ferrocast_origin::OriginConfig::default().reconnect_window,
        "control.reconnect_window must default to the origins' origin.reconnect_window"
    );
    let secret = "whsec-from-the-environment-0123";
    let targets = format!(r#"[{{ url = "https://hooks.example/a", secret = "{secret}" }}]"#);
    let vars = env(&[("FERROCAST_CONTROL__WEBHOOKS__TARGETS", &targets)]);
    let config: ControlRoleConfig = load(None, &vars, Table::new()).unwrap();
    let webhooks = &config.control.webhooks;
    assert_eq!(webhooks.targets.len(), 1);
    assert_eq!(webhooks.targets[0].url, "https://hooks.example/a");
    assert_eq!(webhooks.targets[0].secret, secret);
    assert!(
        !format!("{config:?}").contains(secret),
        "Debug shows a secret"
    );
}
