//! Verifying one playback token against a key set: pure (the time is a parameter), so every
//! refusal is tested here. `jsonwebtoken` (RustCrypto backend) checks the ES256 signature;
//! this module decides what else a token must be for a route.
//!
//! Only ES256 is accepted, whatever the header says: `none`, `HS256` made with the public key
//! as a secret, or any other algorithm is a bad token. The key comes from the header's `kid`,
//! looked up in the set; a JWK that is not a P-256 EC key never enters the set.

use std::collections::HashMap;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{Audience, Refusal};

/// Longest token accepted, bytes: an ES256 JWT with a few claims is about 300.
pub const MAX_TOKEN_BYTES: usize = 2048;

/// The keys tokens may be signed with, by kid.
#[derive(Default)]
pub struct KeySet {
    keys: HashMap<String, DecodingKey>,
}

impl KeySet {
    /// Reads `(kid, jwk)` pairs; a key that is not a P-256 EC public key (or whose JWK names
    /// another `kid` or algorithm) is left out and named in `skipped`.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> (Self, Vec<String>) {
        let mut keys = HashMap::new();
        let mut skipped = Vec::new();
        for (kid, text) in pairs {
            match decoding_key(kid, text) {
                Some(key) => {
                    keys.insert(kid.to_owned(), key);
                }
                None => skipped.push(kid.to_owned()),
            }
        }
        (Self { keys }, skipped)
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key (no signed token verifies).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `kid` is in the set.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }
}

fn decoding_key(kid: &str, text: &str) -> Option<DecodingKey> {
    let jwk: Jwk = serde_json::from_str(text).ok()?;
    let AlgorithmParameters::EllipticCurve(params) = &jwk.algorithm else {
        return None;
    };
    if params.curve != EllipticCurve::P256 {
        return None;
    }
    if jwk
        .common
        .key_id
        .as_deref()
        .is_some_and(|named| named != kid)
    {
        return None;
    }
    let alg_is_es256 = jwk
        .common
        .key_algorithm
        .is_none_or(|alg| alg == jsonwebtoken::jwk::KeyAlgorithm::ES256);
    if !alg_is_es256 {
        return None;
    }
    DecodingKey::from_jwk(&jwk).ok()
}

/// What a verified token says, kept so a repeated token is not verified again.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// The playback id it is for.
    pub sub: String,
    /// Expiry, Unix seconds.
    pub exp: f64,
    /// Not before, Unix seconds.
    pub nbf: Option<f64>,
    /// Audiences, when the token limits them.
    pub aud: Option<Vec<String>>,
    /// The key that signed it.
    pub kid: String,
}

#[derive(Deserialize)]
struct WireClaims {
    sub: String,
    exp: f64,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    aud: Option<OneOrMany>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Checks a token's form and signature: `Ok` with its claims, or why not. Claims are not
/// judged here ([`Claims::admit`] does that, for fresh and remembered tokens alike).
pub fn signature(token: &str, keys: &KeySet) -> Result<Claims, Refusal> {
    if !well_formed(token) {
        return Err(Refusal::Bad);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Bad)?;
    if header.alg != Algorithm::ES256 {
        return Err(Refusal::Bad);
    }
    let kid = header.kid.ok_or(Refusal::UnknownKey)?;
    let key = keys.keys.get(&kid).ok_or(Refusal::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::ES256);
    // Only the signature and the algorithm here; the claims are judged by `admit`.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let data =
        jsonwebtoken::decode::<WireClaims>(token, key, &validation).map_err(|_| Refusal::Bad)?;
    let claims = data.claims;
    if !claims.exp.is_finite() || claims.nbf.is_some_and(|nbf| !nbf.is_finite()) {
        return Err(Refusal::Bad);
    }
    Ok(Claims {
        sub: claims.sub,
        exp: claims.exp,
        nbf: claims.nbf,
        aud: claims.aud.map(|aud| match aud {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }),
        kid,
    })
}

/// Base64url segments and dots only, within the cap: anything else is refused before
/// parsing, and a token passing this is safe to write into a URI as it is.
pub fn well_formed(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_BYTES
        && token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
}

impl Claims {
    /// Whether these claims let a request for `playback_id` on a route of `audience` through
    /// at `now` (Unix seconds), allowing `leeway_s` of clock difference.
    pub fn admit(
        &self,
        playback_id: &str,
        audience: Audience,
        now: f64,
        leeway_s: f64,
    ) -> Result<(), Refusal> {
        if self.exp + leeway_s <= now {
            return Err(Refusal::Expired);
        }
        if self.nbf.is_some_and(|nbf| nbf - leeway_s > now) {
            return Err(Refusal::NotYetValid);
        }
        if self.sub != playback_id {
            return Err(Refusal::OtherStream);
        }
        if let Some(aud) = &self.aud
            && !aud.iter().any(|one| one == audience.as_str())
        {
            return Err(Refusal::OtherUse);
        }
        Ok(())
    }
}
