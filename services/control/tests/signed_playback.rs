//! Signed playback at control, against a real Redis: a stream's playback policy through
//! REST and `LookupStream`, and playback signing keys made, listed, served to edges over
//! `GetSigningKeys` and deleted.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

mod support;

use std::time::Duration;

use ferrocast_base::{PlaybackId, PlaybackPolicy};
use ferrocast_control_client::{
    ClientOptions, ControlClient, LookupBy, PlaybackStream, StreamDirectory,
};
use ferrocast_proto::auth::Role;
use ferrocast_proto::control::GetSigningKeysRequest;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePrivateKey;
use serde_json::json;
use support::{Control, credential};

#[tokio::test]
async fn a_stream_is_created_signed_and_patched_back_and_forth() {
    let control = Control::start(|_| {}).await;
    let (status, public) = control
        .admin("POST", "/v1/streams", Some(json!({ "name": "open" })))
        .await;
    assert_eq!(status, 201, "{public}");
    assert_eq!(public["playback_policy"], "public", "public by default");

    let (status, created) = control
        .admin(
            "POST",
            "/v1/streams",
            Some(json!({ "name": "paid", "playback_policy": "signed" })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["playback_policy"], "signed");
    let id = created["id"].as_str().unwrap();
    let playback_id = PlaybackId::new(created["playback_id"].as_str().unwrap());
    let (_, shown) = control
        .admin("GET", &format!("/v1/streams/{id}"), None)
        .await;
    assert_eq!(shown["playback_policy"], "signed");

    // An edge that never caches sees each change at once.
    let edge = ControlClient::connect(
        &format!("http://{}", control.grpc),
        ClientOptions {
            playback_hit_ttl: Duration::ZERO,
            ..ClientOptions::new(credential(Role::Edge, "edge-1"))
        },
    )
    .unwrap();
    let signed = edge.resolve_stream(&playback_id).await.unwrap().unwrap();
    assert_eq!(signed.policy, PlaybackPolicy::Signed);
    let found = edge
        .lookup(LookupBy::PlaybackId(playback_id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.playback_policy, PlaybackPolicy::Signed);

    let path = format!("/v1/streams/{id}");
    let (status, patched) = control
        .admin("PATCH", &path, Some(json!({ "playback_policy": "public" })))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["playback_policy"], "public");
    assert_eq!(patched["name"], "paid", "a field not given is kept");
    assert_eq!(
        edge.resolve_stream(&playback_id).await.unwrap(),
        Some(PlaybackStream {
            stream_id: signed.stream_id.clone(),
            policy: PlaybackPolicy::Public,
            dvr_window: std::time::Duration::ZERO,
        })
    );
    let (status, renamed) = control
        .admin(
            "PATCH",
            &path,
            Some(json!({ "name": "premium", "playback_policy": "signed" })),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "premium");
    assert_eq!(renamed["playback_policy"], "signed");

    // Refusals: an unknown policy or field, an unknown stream.
    for body in [
        json!({ "playback_policy": "private" }),
        json!({ "policy": "signed" }),
        json!({ "name": "x\u{7}" }),
    ] {
        let (status, answer) = control.admin("PATCH", &path, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
    let (status, _) = control
        .admin(
            "POST",
            "/v1/streams",
            Some(json!({ "playback_policy": "Signed" })),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = control
        .admin(
            "PATCH",
            "/v1/streams/ffffff000000",
            Some(json!({ "playback_policy": "public" })),
        )
        .await;
    assert_eq!(status, 404);
    let (_, unchanged) = control.admin("GET", &path, None).await;
    assert_eq!(unchanged["playback_policy"], "signed");
    control.stop().await;
}

#[tokio::test]
async fn signing_keys_are_made_listed_served_and_rotated_out() {
    let control = Control::start(|_| {}).await;
    let (status, made) = control.admin("POST", "/v1/signing-keys", None).await;
    assert_eq!(status, 201, "{made}");
    let kid = made["kid"].as_str().unwrap().to_owned();
    let private = made["private_key"].as_str().unwrap();
    assert!(
        private.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 PEM"
    );
    assert_eq!(made["jwk"]["kty"], "EC");
    assert_eq!(made["jwk"]["crv"], "P-256");
    assert_eq!(made["jwk"]["kid"], kid.as_str());
    assert!(made["jwk"].get("d").is_none(), "no private part in the JWK");

    // The private key signs what the served public key verifies.
    let edge = control.edge("edge-1");
    let served = edge.signing_keys().await.unwrap();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].kid, kid);
    let public = point_of(&served[0].jwk);
    let signer = SigningKey::from_pkcs8_pem(private).unwrap();
    let signature: Signature = signer.sign(b"playback");
    assert!(
        VerifyingKey::from(public)
            .verify(b"playback", &signature)
            .is_ok()
    );

    // Listing shows public halves only; the private key was shown once.
    let (_, second) = control.admin("POST", "/v1/signing-keys", None).await;
    let (status, list) = control.admin("GET", "/v1/signing-keys", None).await;
    assert_eq!(status, 200);
    let kids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [kid.as_str(), second["kid"].as_str().unwrap()]);
    let text = list.to_string();
    assert!(
        !text.contains("PRIVATE") && !text.contains("private_key"),
        "{text}"
    );
    assert!(list[0]["created_at_ms"].as_u64().unwrap() > 0);

    // Rotation: deleting the first leaves the second, for every edge.
    let (status, _) = control
        .admin("DELETE", &format!("/v1/signing-keys/{kid}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = control
        .admin("DELETE", &format!("/v1/signing-keys/{kid}"), None)
        .await;
    assert_eq!(status, 404, "already gone");
    let served = edge.signing_keys().await.unwrap();
    let served: Vec<&str> = served.iter().map(|key| key.kid.as_str()).collect();
    assert_eq!(served, [second["kid"].as_str().unwrap()]);
    control.stop().await;
}

/// The P-256 point of a served JWK (`p256` reads only `kty`, `crv`, `x` and `y`).
fn point_of(jwk: &str) -> p256::PublicKey {
    let jwk: serde_json::Value = serde_json::from_str(jwk).unwrap();
    let bare = json!({ "kty": jwk["kty"], "crv": jwk["crv"], "x": jwk["x"], "y": jwk["y"] });
    p256::PublicKey::from_jwk_str(&bare.to_string()).unwrap()
}

#[tokio::test]
async fn signing_keys_are_capped_and_need_a_cluster_node() {
    let control = Control::start(|_| {}).await;
    for _ in 0..16 {
        let (status, made) = control.admin("POST", "/v1/signing-keys", None).await;
        assert_eq!(status, 201, "{made}");
    }
    let (status, refused) = control.admin("POST", "/v1/signing-keys", None).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("at most 16"));

    // Without the admin token: nothing; without a cluster credential: nothing.
    let (status, _) = support::http(control.rest, "GET", "/v1/signing-keys", None, None).await;
    assert_eq!(status, 401);
    let mut anonymous = control.raw(None).await;
    let refused = anonymous
        .get_signing_keys(GetSigningKeysRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let origin = control.origin("origin-a");
    assert_eq!(origin.signing_keys().await.unwrap().len(), 16);
    control.stop().await;
}
