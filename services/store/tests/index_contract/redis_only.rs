//! Redis only: stale-epoch writes are refused atomically, change notifications name the
//! stream, and an outage is an error within the deadline that heals.

use super::*;

#[tokio::test]
async fn redis_refuses_a_stale_epoch_write_atomically() {
    let server = RedisServer::start();
    let s = unique_stream();
    // Two origins sharing one Redis: the zombie and the one that took over.
    let zombie = redis_index(&server);
    let successor = redis_index(&server);
    zombie.open_session(&s, Epoch(1)).await.unwrap();
    zombie.append(&s, record(0, 1, false), 10).await.unwrap();
    successor.open_session(&s, Epoch(2)).await.unwrap();

    let refused = zombie.append(&s, record(1, 1, false), 10).await;
    assert!(
        matches!(
            refused,
            Err(IndexError::StaleEpoch {
                offered: Epoch(1),
                current: Epoch(2)
            })
        ),
        "{refused:?}"
    );
    assert!(matches!(
        zombie.close_session(&s, Epoch(1)).await,
        Err(IndexError::StaleEpoch { .. })
    ));
    assert!(zombie.open_session(&s, Epoch(1)).await.is_err());

    // Read Redis itself: the refused write left no trace.
    let client = redis::Client::open(server.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let records: Vec<String> = redis::cmd("LRANGE")
        .arg(keys::index_segments(&s))
        .arg(0)
        .arg(-1)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        records,
        vec!["v3|0|1|100|2000|250000|1700000000000|0|1.-|0".to_owned()]
    );
    let (epoch, ended): (String, String) = redis::cmd("HMGET")
        .arg(keys::index_meta(&s))
        .arg("epoch")
        .arg("ended")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!((epoch.as_str(), ended.as_str()), ("2", "0"));
}

#[tokio::test]
async fn redis_changes_deliver_the_stream_id_after_a_write() {
    let server = RedisServer::start();
    let index = redis_index(&server);
    let mut changes = index.changes();
    wait_subscribed(&mut changes).await;

    let s = unique_stream();
    index.open_session(&s, Epoch(1)).await.unwrap();
    assert_eq!(
        next_change(&mut changes).await,
        IndexChange::Stream(s.clone())
    );
    index.append(&s, record(0, 1, false), 3).await.unwrap();
    assert_eq!(
        next_change(&mut changes).await,
        IndexChange::Stream(s.clone())
    );

    // Another process's writes arrive too (through Redis, not in-process).
    let other = redis_index(&server);
    other.close_session(&s, Epoch(1)).await.unwrap();
    assert_eq!(
        next_change(&mut changes).await,
        IndexChange::Stream(s.clone())
    );

    // A refused write (after the end) changes nothing and announces nothing; nor does an
    // idempotent retry of the newest record.
    assert!(index.append(&s, record(1, 1, false), 3).await.is_err());
    assert!(index.append(&s, record(0, 1, false), 3).await.is_ok());
    let quiet = tokio::time::timeout(Duration::from_millis(200), changes.recv()).await;
    assert!(quiet.is_err(), "unexpected notification {quiet:?}");
}

#[tokio::test]
async fn redis_outage_is_unavailable_within_the_deadline_and_recovers() {
    let mut server = RedisServer::start();
    let port = server.port();
    let index = RedisIndex::new(&RedisIndexConfig {
        url: server.url(),
        call_timeout: Duration::from_millis(500),
        ..RedisIndexConfig::default()
    })
    .unwrap();
    let mut changes = index.changes();
    wait_subscribed(&mut changes).await;
    let s = unique_stream();
    index.open_session(&s, Epoch(1)).await.unwrap();

    server.stop();
    let started = Instant::now();
    let down = index.load(&s).await;
    assert!(matches!(down, Err(IndexError::Unavailable(_))), "{down:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the deadline held"
    );

    // A fresh (empty) server on the same port: the listener resubscribes and tells readers
    // to flush, and calls work again.
    let _restarted = RedisServer::start_on(port).expect("restart on the same port");
    wait_subscribed(&mut changes).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match index.load(&s).await {
            Ok(state) => {
                assert!(state.is_none(), "the new server is empty");
                break;
            }
            Err(error) => assert!(Instant::now() < deadline, "never recovered: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
