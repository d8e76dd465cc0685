//! The commented sample configurations under `deploy/config/` must say exactly what the
//! defaults are: every key present, no other key, every value the default. A setting that is
//! unset by default (an `Option`) has no value to show: the sample shows it commented out.

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde::Serialize;
    use toml::Table;

    use crate::roles::origin::OriginRoleConfig;
    use crate::roles::{control::ControlRoleConfig, dev::DevConfig, edge::EdgeRoleConfig};

    fn assert_sample_is_default<T: Default + Serialize>(file: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/config")
            .join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let sample: Table = toml::from_str(&text).expect("the sample parses");
        let defaults = Table::try_from(T::default()).expect("defaults serialize");
        assert_eq!(
            sample,
            defaults,
            "{file} differs from the defaults; they are:\n{}",
            toml::to_string(&defaults).unwrap_or_default()
        );
        let known = serde_json::to_value(T::default()).expect("defaults serialize");
        for key in unset_keys(&known, "") {
            let leaf = key.rsplit('.').next().unwrap_or(&key);
            let shown = format!("# {leaf} = ");
            assert!(
                text.lines().any(|line| line.starts_with(&shown)),
                "{file} does not show the unset key {key} as a comment line `{shown}...`"
            );
        }
    }

    /// The dotted paths of the settings that are unset by default.
    fn unset_keys(value: &serde_json::Value, prefix: &str) -> Vec<String> {
        let serde_json::Value::Object(fields) = value else {
            return Vec::new();
        };
        let mut unset = Vec::new();
        for (key, child) in fields {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if child.is_null() {
                unset.push(path);
            } else {
                unset.extend(unset_keys(child, &path));
            }
        }
        unset
    }

    #[test]
    fn dev_sample_is_the_defaults() {
        assert_sample_is_default::<DevConfig>("dev.toml");
    }

    #[test]
    fn control_sample_is_the_defaults() {
        assert_sample_is_default::<ControlRoleConfig>("control.toml");
    }

    #[test]
    fn origin_sample_is_the_defaults() {
        assert_sample_is_default::<OriginRoleConfig>("origin.toml");
    }

    #[test]
    fn edge_sample_is_the_defaults() {
        assert_sample_is_default::<EdgeRoleConfig>("edge.toml");
    }
}
