//! The cluster, every role a separate process: control, two origins and two edges over a real
//! redis-server and a real S3-compatible server, as `deploy/local-cluster.sh` starts them.
//! Their internal gRPC ports answer only this cluster's nodes, each only for itself (the calls
//! are in `cluster_auth`, with the test that no role starts without a long enough secret).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrocast_proto::auth::Role;
use tonic::Code;

use crate::cluster_auth::{calls_against_origin_1, credential, subscribe_code};
use crate::ingest::segment_uris;
use crate::support::cluster::LocalCluster;
use crate::support::hls::{media_playlist, media_text};
use crate::support::http::{Response, get, request};
use crate::support::media::{codecs, finish, probe, publish_clip};
use crate::support::{files_under, wait_for};
use crate::viewers::watch_flv;

fn admin(cluster: &LocalCluster, method: &str, path: &str, body: &str) -> Response {
    let auth = format!("Bearer {}", cluster.var("ADMIN_TOKEN"));
    request(
        method,
        &format!("{}{path}", cluster.var("ADMIN_URL")),
        &[("Authorization", &auth)],
        body,
    )
}

fn json(response: &Response) -> serde_json::Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|_| panic!("JSON body: {}", response.text()))
}

fn playlist_url(edge: &str, playback_id: &str) -> String {
    format!("{edge}/hls/{playback_id}/index.m3u8")
}

/// The media playlist behind `url` (following `index.m3u8`) once `condition` holds.
fn wait_for_playlist(url: &str, what: &str, condition: impl Fn(&str) -> bool) -> String {
    wait_for(what, Duration::from_secs(40), || {
        let text = media_text(url)?;
        condition(&text).then_some(text)
    })
}

/// Starts one more edge with the cluster's settings, on a fresh port.
fn start_edge(cluster: &LocalCluster, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ferrocast"))
        .arg("edge")
        .env("FERROCAST_NODE_ID", "edge-restarted")
        .env("FERROCAST_CLUSTER_SECRET", cluster.var("CLUSTER_SECRET"))
        .env("FERROCAST_HTTP_LISTEN", format!("127.0.0.1:{port}"))
        .env("FERROCAST_OPS_LISTEN", "127.0.0.1:0")
        .env("FERROCAST_CONTROL_URL", cluster.var("CONTROL_URL"))
        .env("FERROCAST_REDIS_URL", cluster.var("REDIS_URL"))
        .env("FERROCAST_S3__ENDPOINT", cluster.var("S3_ENDPOINT"))
        .env("FERROCAST_S3__BUCKET", cluster.var("S3_BUCKET"))
        .env("FERROCAST_S3__REGION", "us-east-1")
        .env(
            "FERROCAST_S3__ACCESS_KEY_ID",
            cluster.var("S3_ACCESS_KEY_ID"),
        )
        .env(
            "FERROCAST_S3__SECRET_ACCESS_KEY",
            cluster.var("S3_SECRET_ACCESS_KEY"),
        )
        .env("FERROCAST_S3__PATH_STYLE", "true")
        .env("FERROCAST_S3__ALLOW_HTTP", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start edge")
}

fn wait_listening(port: u16) {
    wait_for("the edge to listen", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
}

#[test]
fn cluster_publishes_through_origin_and_serves_identical_playlists_from_both_edges() {
    // Publishes end the playlist (ENDLIST) once this window closes.
    let cluster = LocalCluster::start_with(&[("RECONNECT_WINDOW", "2s")]);
    let (edge_1, edge_2) = (
        cluster.var("EDGE_URL_1").to_owned(),
        cluster.var("EDGE_URL_2").to_owned(),
    );

    // The admin API refuses requests without the right token.
    let streams_url = format!("{}/v1/streams", cluster.var("ADMIN_URL"));
    assert_eq!(request("GET", &streams_url, &[], "").status, 401);
    assert_eq!(
        request(
            "GET",
            &streams_url,
            &[("Authorization", "Bearer wrong")],
            ""
        )
        .status,
        401
    );

    let created = admin(
        &cluster,
        "POST",
        "/v1/streams",
        r#"{"name":"cluster test"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let stream = json(&created);
    let (id, playback_id, key) = (
        stream["id"].as_str().unwrap(),
        stream["playback_id"].as_str().unwrap(),
        stream["stream_key"].as_str().unwrap(),
    );
    assert!(
        !admin(&cluster, "GET", "/v1/streams", "")
            .text()
            .contains(key),
        "the key is shown only once"
    );

    let started = Instant::now();
    let mut publisher = publish_clip(&format!("{}/{key}", cluster.var("ORIGIN_RTMP_1")), -1);
    let (url_1, url_2) = (
        playlist_url(&edge_1, playback_id),
        playlist_url(&edge_2, playback_id),
    );
    wait_for_playlist(&url_1, "the first playlist on edge 1", |text| {
        !segment_uris(text).is_empty()
    });
    eprintln!(
        "publish -> playlist through S3 + Redis: {:?}",
        started.elapsed()
    );
    wait_for_playlist(&url_2, "three segments on edge 2", |text| {
        segment_uris(text).len() >= 3
    });

    let live = json(&admin(&cluster, "GET", &format!("/v1/streams/{id}"), ""));
    assert_eq!(live["live"], true, "{live}");
    assert_eq!(live["origin_id"], "origin-1", "{live}");

    // The internal ports answer nobody without this cluster's credential, and a node of the
    // cluster only for itself: origin-2 can neither place, end nor drain origin-1's publishes.
    let epoch = live["epoch"].as_u64().expect("an epoch while live");
    let target = (id, key, epoch);
    let secret = cluster.var("CLUSTER_SECRET");
    let foreign = credential(&"f".repeat(64), Role::Origin, "origin-2");
    let origin_2 = credential(secret, Role::Origin, "origin-2");
    let control_url = cluster.var("CONTROL_URL");
    for presented in [None, Some(foreign.clone())] {
        let codes = calls_against_origin_1(control_url, presented, target);
        assert_eq!(codes, [Code::Unauthenticated; 4]);
    }
    let codes = calls_against_origin_1(control_url, Some(origin_2.clone()), target);
    let denied = Code::PermissionDenied;
    assert_eq!(codes, [denied, denied, denied, Code::Ok]);
    let relay_url = cluster.var("ORIGIN_RELAY_1");
    let relay_codes =
        [None, Some(foreign), Some(origin_2)].map(|c| subscribe_code(relay_url, c, id));
    let unauthenticated = Code::Unauthenticated;
    assert_eq!(relay_codes, [unauthenticated, unauthenticated, denied]);
    let still = json(&admin(&cluster, "GET", &format!("/v1/streams/{id}"), ""));
    assert_eq!(
        (&still["origin_id"], &still["epoch"]),
        (&live["origin_id"], &live["epoch"]),
        "{still}"
    );
    for url in [&url_1, &url_2] {
        assert_eq!(codecs(&probe(url)), ["aac", "h264"], "{url}");
    }
    for edge in [&edge_1, &edge_2] {
        let received = watch_flv(
            &format!("{edge}/live/{playback_id}.flv"),
            Duration::from_secs(3),
        );
        assert!(
            received.keyframes >= 1 && received.audio_tags > 0,
            "{edge}: {received:?}"
        );
    }

    // A watching HTTP-FLV viewer is counted by the edge and reported through control.
    let flv_url = format!("{edge_1}/live/{playback_id}.flv");
    let watcher = std::thread::spawn(move || watch_flv(&flv_url, Duration::from_secs(8)));
    let stream_url = format!("/v1/streams/{id}");
    wait_for("the viewer to be reported", Duration::from_secs(7), || {
        let state = json(&admin(&cluster, "GET", &stream_url, ""));
        (state["viewers"].as_u64() >= Some(1)).then_some(())
    });
    assert!(watcher.join().unwrap().keyframes >= 1);

    // A wrong key is refused by the other origin too.
    let wrong = format!(
        "{}/sk_{id}_{}",
        cluster.var("ORIGIN_RTMP_2"),
        "f".repeat(48)
    );
    let (ok, errors) = finish(publish_clip(&wrong, 0));
    assert!(!ok && errors.contains("wrong stream key"), "{errors}");

    // End the publish; once both edges show the final state, their bytes are identical.
    let _ = publisher.kill();
    let _ = publisher.wait();
    let final_1 = wait_for_playlist(&url_1, "ENDLIST on edge 1", |text| {
        text.contains("#EXT-X-ENDLIST")
    });
    let final_2 = wait_for_playlist(&url_2, "ENDLIST on edge 2", |text| {
        text.contains("#EXT-X-ENDLIST")
    });
    assert_eq!(final_1, final_2, "byte-identical playlists across edges");

    // Every listed segment is in the bucket and served by both edges.
    let bucket = PathBuf::from(cluster.var("S3_ROOT")).join(cluster.var("S3_BUCKET"));
    let objects: Vec<String> = files_under(&bucket)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for uri in segment_uris(&final_1) {
        assert!(
            objects.contains(&uri),
            "{uri} listed but not in the bucket: {objects:?}"
        );
        for edge in [&edge_1, &edge_2] {
            assert_eq!(
                get(&format!("{edge}/hls/{playback_id}/{uri}")).status,
                200,
                "{edge} {uri}"
            );
        }
    }

    // A new edge serves at once, and so does a killed and restarted one: it holds no state.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url_3 = playlist_url(&format!("http://127.0.0.1:{port}"), playback_id);
    let mut edge_3 = start_edge(&cluster, port);
    wait_listening(port);
    assert_eq!(media_text(&url_3), Some(final_1.clone()));
    edge_3.kill().unwrap();
    edge_3.wait().unwrap();
    let mut edge_3 = start_edge(&cluster, port);
    wait_listening(port);
    let first = media_playlist(&url_3).map(|playlist| playlist.text);
    assert_eq!(
        first,
        Some(final_1.clone()),
        "the first answer after restart"
    );
    let _ = edge_3.kill();
    let _ = edge_3.wait();
}
