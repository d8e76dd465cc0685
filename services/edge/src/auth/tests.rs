//! Each refusal of a playback token, algorithm confusion, key rotation and the remembered
//! tokens, with tokens signed by `jsonwebtoken` as an operator's code would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use ferrocast_control_client::PublicSigningKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::SecretKey;
use p256::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};

use super::keys::KeyRing;
use super::{Audience, Refusal, token_of};

const NOW: f64 = 1_800_000_000.0;
const LEEWAY: Duration = Duration::from_secs(5);

/// A test signing key: a fixed scalar (tests need no randomness), its kid, PKCS#8 and JWK.
struct TestKey {
    kid: String,
    secret: SecretKey,
}

impl TestKey {
    fn new(kid: &str, seed: u8) -> Self {
        let secret = SecretKey::from_slice(&[seed; 32]).expect("a valid scalar");
        Self {
            kid: kid.to_owned(),
            secret,
        }
    }

    fn public(&self) -> PublicSigningKey {
        PublicSigningKey {
            kid: self.kid.clone(),
            jwk: self.secret.public_key().to_jwk_string(),
            created_at_ms: 1,
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        self.sign_with(&header, claims)
    }

    fn sign_with(&self, header: &Header, claims: &Value) -> String {
        let der = self.secret.to_pkcs8_der().expect("PKCS#8");
        let key = EncodingKey::from_ec_der(der.as_bytes());
        jsonwebtoken::encode(header, claims, &key).expect("a signed token")
    }
}

fn ring(keys: &[&TestKey]) -> KeyRing {
    let ring = KeyRing::default();
    let public: Vec<PublicSigningKey> = keys.iter().map(|key| key.public()).collect();
    assert!(ring.replace(&public));
    ring
}

fn claims(sub: &str, exp: f64) -> Value {
    json!({ "sub": sub, "exp": exp })
}

fn check(ring: &KeyRing, token: &str, playback_id: &str) -> Result<(), Refusal> {
    ring.verify_at(token, playback_id, Audience::Live, LEEWAY, NOW)
}

#[test]
fn a_valid_token_plays_its_stream_only() {
    let key = TestKey::new("k1", 7);
    let ring = ring(&[&key]);
    let token = key.sign(&claims("pb1", NOW + 60.0));
    assert_eq!(check(&ring, &token, "pb1"), Ok(()));
    assert_eq!(check(&ring, &token, "pb2"), Err(Refusal::OtherStream));
    // Remembered now: the same answers again, without a signature check.
    assert_eq!(check(&ring, &token, "pb1"), Ok(()));
    assert_eq!(check(&ring, &token, "pb2"), Err(Refusal::OtherStream));
}

#[test]
fn expiry_allows_only_the_leeway() {
    let key = TestKey::new("k1", 7);
    let ring = ring(&[&key]);
    let within = key.sign(&claims("pb1", NOW - 4.0));
    assert_eq!(check(&ring, &within, "pb1"), Ok(()));
    let expired = key.sign(&claims("pb1", NOW - 5.0));
    assert_eq!(check(&ring, &expired, "pb1"), Err(Refusal::Expired));
    // A remembered token expires too.
    let later = ring.verify_at(&within, "pb1", Audience::Live, LEEWAY, NOW + 2.0);
    assert_eq!(later, Err(Refusal::Expired));
    let early = key.sign(&json!({ "sub": "pb1", "exp": NOW + 60.0, "nbf": NOW + 30.0 }));
    assert_eq!(check(&ring, &early, "pb1"), Err(Refusal::NotYetValid));
}

#[test]
fn an_audience_must_fit_the_route() {
    let key = TestKey::new("k1", 7);
    let ring = ring(&[&key]);
    let live = key.sign(&json!({ "sub": "pb1", "exp": NOW + 60.0, "aud": "live" }));
    assert_eq!(check(&ring, &live, "pb1"), Ok(()));
    let thumbnail = ring.verify_at(&live, "pb1", Audience::Thumbnail, LEEWAY, NOW);
    assert_eq!(thumbnail, Err(Refusal::OtherUse));
    let both = key.sign(&json!({ "sub": "pb1", "exp": NOW + 60.0, "aud": ["recording", "live"] }));
    assert_eq!(check(&ring, &both, "pb1"), Ok(()));
    let recording = ring.verify_at(&both, "pb1", Audience::Recording, LEEWAY, NOW);
    assert_eq!(recording, Ok(()));
    let other = key.sign(&json!({ "sub": "pb1", "exp": NOW + 60.0, "aud": "thumbnail" }));
    assert_eq!(check(&ring, &other, "pb1"), Err(Refusal::OtherUse));
}

#[test]
fn unknown_missing_and_deleted_keys_are_refused() {
    let known = TestKey::new("k1", 7);
    let stranger = TestKey::new("k2", 9);
    let ring = ring(&[&known]);
    let by_stranger = stranger.sign(&claims("pb1", NOW + 60.0));
    assert_eq!(check(&ring, &by_stranger, "pb1"), Err(Refusal::UnknownKey));
    // Another key's signature under a known kid: a bad signature.
    let forged = TestKey::new("k1", 9).sign(&claims("pb1", NOW + 60.0));
    assert_eq!(check(&ring, &forged, "pb1"), Err(Refusal::Bad));
    let no_kid = known.sign_with(&Header::new(Algorithm::ES256), &claims("pb1", NOW + 60.0));
    assert_eq!(check(&ring, &no_kid, "pb1"), Err(Refusal::UnknownKey));

    // Rotation: the new key added, then the old one deleted. A token of the old key that
    // was remembered is forgotten with the set.
    let by_known = known.sign(&claims("pb1", NOW + 60.0));
    assert_eq!(check(&ring, &by_known, "pb1"), Ok(()));
    assert!(ring.replace(&[known.public(), stranger.public()]));
    assert_eq!(check(&ring, &by_stranger, "pb1"), Ok(()));
    assert!(
        !ring.replace(&[known.public(), stranger.public()]),
        "same set"
    );
    assert!(ring.replace(&[stranger.public()]));
    assert_eq!(check(&ring, &by_known, "pb1"), Err(Refusal::UnknownKey));
    assert_eq!(check(&ring, &by_stranger, "pb1"), Ok(()));
    assert!(ring.replace(&[]));
    assert_eq!(check(&ring, &by_stranger, "pb1"), Err(Refusal::UnknownKey));
}

#[test]
fn only_es256_is_accepted() {
    let key = TestKey::new("k1", 7);
    let ring = ring(&[&key]);
    let body = claims("pb1", NOW + 60.0);
    // HS256 keyed with the public JWK's text, the classic confusion attack.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let secret = EncodingKey::from_secret(key.public().jwk.as_bytes());
    let hs256 = jsonwebtoken::encode(&header, &body, &secret).unwrap();
    assert_eq!(check(&ring, &hs256, "pb1"), Err(Refusal::Bad));
    // `alg: none` with an empty signature.
    let b64 = |value: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "kid": "k1", "typ": "JWT" })),
        b64(&body)
    );
    assert_eq!(check(&ring, &none, "pb1"), Err(Refusal::Bad));
    // Claims changed after signing: the signature no longer covers them.
    let es256 = key.sign(&body);
    let mut parts: Vec<&str> = es256.split('.').collect();
    let tampered_claims = b64(&claims("pb2", NOW + 60.0));
    parts[1] = &tampered_claims;
    assert_eq!(check(&ring, &parts.join("."), "pb2"), Err(Refusal::Bad));
}

#[test]
fn malformed_and_oversized_tokens_are_bad() {
    let key = TestKey::new("k1", 7);
    let ring = ring(&[&key]);
    for token in ["", "abc", "a.b.c", "a b.c.d", "a.b.c\"", "%41.b.c"] {
        assert_eq!(check(&ring, token, "pb1"), Err(Refusal::Bad), "{token:?}");
    }
    let long = key.sign(&json!({ "sub": "pb1", "exp": NOW + 60.0, "pad": "x".repeat(2100) }));
    assert_eq!(check(&ring, &long, "pb1"), Err(Refusal::Bad));
    let no_exp = key.sign(&json!({ "sub": "pb1" }));
    assert_eq!(check(&ring, &no_exp, "pb1"), Err(Refusal::Bad));
    let no_sub = key.sign(&json!({ "exp": NOW + 60.0 }));
    assert_eq!(check(&ring, &no_sub, "pb1"), Err(Refusal::Bad));
}

#[test]
fn keys_that_are_not_p256_never_enter_the_set() {
    let key = TestKey::new("k1", 7);
    let ring = KeyRing::default();
    let rsa = PublicSigningKey {
        kid: "r1".into(),
        jwk: r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#.into(),
        created_at_ms: 1,
    };
    let mut jwk: Value = serde_json::from_str(&key.public().jwk).unwrap();
    jwk["kid"] = "k1".into();
    let misnamed = PublicSigningKey {
        kid: "k9".into(),
        jwk: jwk.to_string(),
        created_at_ms: 1,
    };
    ring.replace(&[rsa, misnamed, key.public()]);
    assert_eq!(ring.len(), 1, "only the P-256 key named by its own kid");
}

#[test]
fn the_token_comes_from_the_query_or_the_bearer_header() {
    let mut headers = HeaderMap::new();
    assert_eq!(token_of(None, &headers), None);
    assert_eq!(
        token_of(Some("_HLS_msn=3&token=abc&_HLS_part=1"), &headers),
        Some("abc")
    );
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Bearer xyz"),
    );
    assert_eq!(token_of(None, &headers), Some("xyz"));
    assert_eq!(
        token_of(Some("token=abc"), &headers),
        Some("abc"),
        "the query first"
    );
    assert_eq!(token_of(Some("mytoken=abc"), &headers), Some("xyz"));
}

/// The cost of a check: a new token (ES256 signature check) and a remembered one.
/// `cargo test -p ferrocast-edge --release --lib auth::tests::verification_cost -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a check"]
fn verification_cost() {
    let key = TestKey::new("k1", 7);
    let ring = ring(&[&key]);
    let tokens: Vec<String> = (0..500)
        .map(|n| key.sign(&claims("pb1", NOW + 60.0 + f64::from(n))))
        .collect();
    let started = std::time::Instant::now();
    for token in &tokens {
        assert_eq!(check(&ring, token, "pb1"), Ok(()));
    }
    let fresh = started.elapsed() / 500;
    let started = std::time::Instant::now();
    for _ in 0..20 {
        for token in &tokens {
            assert_eq!(check(&ring, token, "pb1"), Ok(()));
        }
    }
    let remembered = started.elapsed() / 10_000;
    eprintln!("measured: a new token {fresh:?}, a remembered one {remembered:?} per check");
}
