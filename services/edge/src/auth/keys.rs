//! The edge's current signing keys, refreshed from control by [`refresh`] every
//! `signed_playback.keys_refresh`, and the tokens already verified against them.
//!
//! Staleness (ADR 22): a key deleted at control stops verifying here once a poll returns the
//! set without it: polls start every `keys_refresh` and each is bounded by it, so within two
//! periods. While control cannot be
//! reached the last set that arrived stays in force (playback keeps working through a
//! control outage) and `ferrocast_edge_signing_keys_refreshed_timestamp_seconds` stops
//! moving. Verified tokens are remembered under the set they were checked against, and
//! forgotten when it changes, so a remembered token never outlives its key.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrocast_base::lock;
use ferrocast_control_client::{PublicSigningKey, StreamDirectory};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::verify::{self, Claims, KeySet};
use super::{Audience, Refusal};

/// Most verified tokens remembered; past it the expired go, then all (cheap to rebuild: one
/// signature check per token).
const MAX_REMEMBERED: usize = 16_384;

/// Shortest polling period: a misconfigured zero must not spin on control.
const MIN_REFRESH: Duration = Duration::from_millis(100);

/// The current keys and the verified tokens.
#[derive(Default)]
pub struct KeyRing {
    current: RwLock<Current>,
    /// SHA-256 of a token → its claims, valid for `current`'s generation only.
    verified: Mutex<HashMap<[u8; 32], Claims>>,
}

#[derive(Default)]
struct Current {
    set: Arc<KeySet>,
    /// kid → JWK text of the set, to tell a changed set from the same one polled again.
    source: BTreeMap<String, String>,
}

impl KeyRing {
    /// Puts `keys` in force if they differ from the current set; answers whether they did.
    /// A key whose JWK is not a P-256 public key is left out and logged by kid.
    pub fn replace(&self, keys: &[PublicSigningKey]) -> bool {
        let source: BTreeMap<String, String> = keys
            .iter()
            .map(|key| (key.kid.clone(), key.jwk.clone()))
            .collect();
        if self.read().source == source {
            return false;
        }
        let pairs = source.iter().map(|(kid, jwk)| (kid.as_str(), jwk.as_str()));
        let (set, skipped) = KeySet::parse(pairs);
        for kid in skipped {
            tracing::warn!(kid, "signing key skipped: not a P-256 public key");
        }
        let count = set.len();
        {
            let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
            *current = Current {
                set: Arc::new(set),
                source,
            };
            // Under the write lock, so no token checked against the old set is remembered
            // after this.
            lock(&self.verified).clear();
        }
        crate::metrics::signing_keys(count);
        tracing::info!(keys = count, "signing keys changed");
        true
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Verifies `token` for `playback_id` on a route of `audience` at the current time.
    pub fn verify(
        &self,
        token: &str,
        playback_id: &str,
        audience: Audience,
        leeway: Duration,
    ) -> Result<(), Refusal> {
        self.verify_at(token, playback_id, audience, leeway, unix_now())
    }

    /// [`KeyRing::verify`] at `now`, Unix seconds.
    pub fn verify_at(
        &self,
        token: &str,
        playback_id: &str,
        audience: Audience,
        leeway: Duration,
        now: f64,
    ) -> Result<(), Refusal> {
        if !verify::well_formed(token) {
            return Err(Refusal::Bad);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let leeway = leeway.as_secs_f64();
        // The read lock is held across the check so a key set change cannot slip between
        // verifying against the old set and remembering the result.
        let current = self.read();
        let remembered = lock(&self.verified).get(&digest).cloned();
        let claims = match remembered {
            Some(claims) => claims,
            None => {
                let claims = verify::signature(token, &current.set)?;
                self.remember(digest, &claims, now, leeway);
                claims
            }
        };
        drop(current);
        claims.admit(playback_id, audience, now, leeway)
    }

    fn remember(&self, digest: [u8; 32], claims: &Claims, now: f64, leeway: f64) {
        let mut verified = lock(&self.verified);
        if verified.len() >= MAX_REMEMBERED {
            verified.retain(|_, held| held.exp + leeway > now);
            if verified.len() >= MAX_REMEMBERED {
                verified.clear();
            }
        }
        verified.insert(digest, claims.clone());
    }

    /// How many keys are in force.
    pub fn len(&self) -> usize {
        self.read().set.len()
    }

    /// Whether no key is in force.
    pub fn is_empty(&self) -> bool {
        self.read().set.is_empty()
    }
}

/// Polls `directory` for the signing keys, a poll starting every `every` and bounded by it,
/// until `shutdown`, putting each answer in force; a failed poll keeps the last set. A key
/// deleted at control is therefore gone here within two periods: the poll under way when it
/// was deleted, then the next one.
pub async fn refresh(
    ring: Arc<KeyRing>,
    directory: Arc<dyn StreamDirectory>,
    every: Duration,
    shutdown: CancellationToken,
) {
    let every = every.max(MIN_REFRESH);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let deadline = every;
        let poll = tokio::time::timeout(deadline, directory.signing_keys());
        let answer = tokio::select! {
            answer = poll => answer,
            () = shutdown.cancelled() => return,
        };
        match answer {
            Ok(Ok(keys)) => {
                ring.replace(&keys);
                crate::metrics::signing_keys_refreshed();
                if failing {
                    tracing::info!("signing keys refreshed again");
                }
                failing = false;
            }
            Ok(Err(error)) => {
                crate::metrics::signing_keys_refresh_failed();
                if !failing {
                    tracing::warn!(%error, "signing keys not refreshed; the last set stays");
                }
                failing = true;
            }
            Err(_) => {
                crate::metrics::signing_keys_refresh_failed();
                if !failing {
                    tracing::warn!(
                        ?deadline,
                        "signing keys not refreshed in time; the last set stays"
                    );
                }
                failing = true;
            }
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}
