//! Playback signing keys (ADR 22): ES256 key pairs made here with RustCrypto's `p256`. The
//! private half is returned once, as PKCS#8 PEM, and never stored; the public half is kept in
//! Redis as a JWK, and edges poll the set (`GetSigningKeys`) to verify tokens on their own.

use std::sync::LazyLock;

use p256::SecretKey;
use p256::elliptic_curve::zeroize::Zeroizing;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use rand::TryRngCore;
use rand::rngs::OsRng;
use redis::Script;
use serde::{Deserialize, Serialize};

use super::keys;
use super::repo::{Repo, RepoError, decode, encode};

/// Most keys held at once: rotation needs two or three; a bound keeps every edge's set (and
/// each poll) small.
pub const MAX_SIGNING_KEYS: usize = 16;

/// Stores a key only while fewer than the cap are held and its kid is free, atomically.
static PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: signing keys hash; ARGV: kid, json, cap. 1 = stored, 0 = full, -1 = kid taken
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return -1 end
return 1
",
    )
});

/// A public signing key as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredKey {
    /// The `kid` tokens name in their header.
    pub kid: String,
    /// When it was made, Unix milliseconds.
    pub created_at_ms: u64,
    /// The public key as JWK JSON, with `kid`, `alg` ES256 and `use` sig.
    pub jwk: String,
}

/// A key just made: the only moment its private half exists outside the operator's hands.
pub struct NewKey {
    /// What is stored.
    pub public: StoredKey,
    /// The private key, PKCS#8 PEM. Never stored, never logged.
    pub private_pem: String,
}

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    /// The operating system's random source failed.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// The key could not be encoded (a bug, reported rather than panicking).
    #[error("encoding the key failed: {0}")]
    Encode(String),
}

/// Makes a P-256 key pair with a random 16-hex-digit kid.
pub fn make_key(created_at_ms: u64) -> Result<NewKey, MakeError> {
    let secret = random_secret()?;
    let mut kid_bytes = [0u8; 8];
    OsRng
        .try_fill_bytes(&mut kid_bytes)
        .map_err(|error| MakeError::Random(error.to_string()))?;
    let kid = hex::encode(kid_bytes);
    let private_pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| MakeError::Encode(error.to_string()))?
        .to_string();
    let jwk = public_jwk(&secret, &kid)?;
    Ok(NewKey {
        public: StoredKey {
            kid,
            created_at_ms,
            jwk,
        },
        private_pem,
    })
}

/// A uniformly random valid scalar: 32 bytes from the OS, refused by `p256` when zero or not
/// below the group order (about one draw in 2^32), then drawn again. The buffer is wiped
/// when dropped (`SecretKey` wipes its own copy).
fn random_secret() -> Result<SecretKey, MakeError> {
    for _ in 0..8 {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng
            .try_fill_bytes(bytes.as_mut())
            .map_err(|error| MakeError::Random(error.to_string()))?;
        if let Ok(secret) = SecretKey::from_slice(bytes.as_ref()) {
            return Ok(secret);
        }
    }
    Err(MakeError::Random("no valid P-256 scalar in 8 draws".into()))
}

/// The public half as a JWK with the fields a JWKS consumer expects.
fn public_jwk(secret: &SecretKey, kid: &str) -> Result<String, MakeError> {
    let text = secret.public_key().to_jwk_string();
    let mut jwk: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|error| MakeError::Encode(error.to_string()))?;
    jwk.insert("kid".into(), kid.into());
    jwk.insert("alg".into(), "ES256".into());
    jwk.insert("use".into(), "sig".into());
    serde_json::to_string(&jwk).map_err(|error| MakeError::Encode(error.to_string()))
}

impl Repo {
    /// Stores a public key. `Ok(false)` when [`MAX_SIGNING_KEYS`] are held already.
    pub async fn put_signing_key(&self, key: &StoredKey) -> Result<bool, RepoError> {
        let json = encode(key, &key.kid)?;
        let mut con = self.con();
        let outcome: i64 = self
            .deadline(
                "put signing key",
                PUT.key(keys::SIGNING_KEYS)
                    .arg(&key.kid)
                    .arg(json)
                    .arg(MAX_SIGNING_KEYS)
                    .invoke_async(&mut con),
            )
            .await?;
        match outcome {
            1 => {
                self.wait_replicas("put signing key", &mut con).await?;
                Ok(true)
            }
            0 => Ok(false),
            // 64 random bits collided: report it rather than overwrite.
            _ => Err(RepoError::Corrupt {
                key: keys::SIGNING_KEYS.to_owned(),
                detail: "a new kid collided with a held one".into(),
            }),
        }
    }

    /// Every held public key, oldest first.
    pub async fn signing_keys(&self) -> Result<Vec<StoredKey>, RepoError> {
        let mut con = self.con();
        let values: Vec<String> = self
            .deadline(
                "list signing keys",
                redis::cmd("HVALS")
                    .arg(keys::SIGNING_KEYS)
                    .query_async(&mut con),
            )
            .await?;
        let mut held = values
            .iter()
            .map(|raw| decode::<StoredKey>(raw, keys::SIGNING_KEYS))
            .collect::<Result<Vec<_>, _>>()?;
        held.sort_by(|a, b| (a.created_at_ms, &a.kid).cmp(&(b.created_at_ms, &b.kid)));
        Ok(held)
    }

    /// Removes a key: tokens it signed stop verifying once the edges poll. `false` if no
    /// such key was held.
    pub async fn delete_signing_key(&self, kid: &str) -> Result<bool, RepoError> {
        let mut con = self.con();
        let removed: i64 = self
            .deadline(
                "delete signing key",
                redis::cmd("HDEL")
                    .arg(keys::SIGNING_KEYS)
                    .arg(kid)
                    .query_async(&mut con),
            )
            .await?;
        if removed == 1 {
            self.wait_replicas("delete signing key", &mut con).await?;
        }
        Ok(removed == 1)
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
    use p256::pkcs8::DecodePrivateKey;

    use super::*;

    #[test]
    fn a_made_key_signs_what_its_jwk_verifies() {
        let made = make_key(1234).expect("a key");
        assert_eq!(made.public.kid.len(), 16);
        assert!(
            made.private_pem
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        assert!(
            !made.public.jwk.contains("\"d\""),
            "no private part in the JWK"
        );
        let jwk: serde_json::Value = serde_json::from_str(&made.public.jwk).expect("JSON");
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["alg"], "ES256");
        assert_eq!(jwk["kid"], made.public.kid.as_str());

        let signing = SigningKey::from_pkcs8_pem(&made.private_pem).expect("PKCS#8 PEM");
        let signature: Signature = signing.sign(b"message");
        // `p256` reads only the point's fields.
        let bare = serde_json::json!({ "kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"] });
        let public = p256::PublicKey::from_jwk_str(&bare.to_string()).expect("a P-256 JWK");
        let verifying = VerifyingKey::from(public);
        assert!(verifying.verify(b"message", &signature).is_ok());
        assert!(verifying.verify(b"other", &signature).is_err());

        let other = make_key(1234).expect("a key");
        assert_ne!(other.public.kid, made.public.kid);
        assert_ne!(other.private_pem, made.private_pem);
    }
}
