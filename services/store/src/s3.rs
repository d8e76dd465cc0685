//! An S3-compatible object store (AWS, MinIO, R2, s3s...) for segment objects.
//!
//! Uses `object_store`'s ring-based S3 client: the process must install the rustls ring
//! provider (`rustls::crypto::ring::default_provider().install_default()`) before building
//! one, or the client panics, even for `http://` endpoints.

use std::fmt;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use serde::{Deserialize, Serialize};

use crate::segments::StoreError;

/// Where segment objects are stored in S3. Empty strings mean "not set".
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// Endpoint URL of an S3-compatible service (e.g. `http://127.0.0.1:9000`); empty for AWS.
    pub endpoint: String,
    /// Bucket holding the segment objects; required.
    pub bucket: String,
    /// Region the requests are signed for.
    pub region: String,
    /// Access key id; empty to use the instance/container credentials of the environment.
    pub access_key_id: String,
    /// Secret access key, set together with `access_key_id`. Never printed by `Debug`.
    pub secret_access_key: String,
    /// Address buckets as `<endpoint>/<bucket>` instead of `<bucket>.<endpoint>`; most
    /// self-hosted servers need this.
    pub path_style: bool,
    /// Permit a plain `http://` endpoint (tests, a server on a private network).
    pub allow_http: bool,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            bucket: String::new(),
            region: "us-east-1".to_owned(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            path_style: false,
            allow_http: false,
        }
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rule 7: secrets never reach a log line, even through `{:?}` of a whole config.
        let secret = if self.secret_access_key.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &secret)
            .field("path_style", &self.path_style)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// Builds the S3 client described by `config`; no request is made yet.
pub fn s3_object_store(config: &S3Config) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let mut bad = Vec::new();
    if config.bucket.is_empty() {
        bad.push("s3.bucket is empty");
    }
    if config.region.is_empty() {
        bad.push("s3.region is empty");
    }
    if config.access_key_id.is_empty() != config.secret_access_key.is_empty() {
        bad.push("s3.access_key_id and s3.secret_access_key must be set together");
    }
    if !bad.is_empty() {
        return Err(StoreError::Config(bad.join("; ")));
    }
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&config.bucket)
        .with_region(&config.region)
        .with_allow_http(config.allow_http)
        .with_virtual_hosted_style_request(!config.path_style);
    if !config.endpoint.is_empty() {
        builder = builder.with_endpoint(&config.endpoint);
    }
    if !config.access_key_id.is_empty() {
        builder = builder
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(&config.secret_access_key);
    }
    let store = builder
        .build()
        .map_err(|error| StoreError::S3(Arc::new(error)))?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_secret() {
        let config = S3Config {
            secret_access_key: "SKEXAMPLE".into(),
            ..S3Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("SKEXAMPLE"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn missing_and_half_set_fields_are_named() {
        let config = S3Config {
            access_key_id: "AK".into(),
            ..S3Config::default()
        };
        let Err(StoreError::Config(message)) = s3_object_store(&config) else {
            panic!("a config without bucket must be refused");
        };
        assert!(message.contains("s3.bucket"), "{message}");
        assert!(message.contains("s3.secret_access_key"), "{message}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let parsed: Result<S3Config, _> = serde_json::from_str(r#"{"bucket":"b","bukket":"c"}"#);
        assert!(parsed.is_err());
        let parsed: S3Config = serde_json::from_str(r#"{"bucket":"b"}"#).unwrap_or_default();
        assert_eq!(parsed.bucket, "b");
        assert_eq!(parsed.region, "us-east-1");
    }
}
