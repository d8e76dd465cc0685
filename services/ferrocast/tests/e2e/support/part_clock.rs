//! When each LL-HLS part exists at its origin: a subscriber of the origin's `SubscribeParts`
//! of its own (with an edge's credential, as the edges subscribe) keeps the origin's send
//! stamp (`sent_at_unix_us`, the origin's wall clock) of every live video part.
//!
//! The origin stamps a message when it hands it to a subscriber, right after it put the part
//! in its log and woke every subscriber, the edges' mirrors included. Everything runs on one
//! host, so the stamp and the test's `SystemTime` read the same clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrocast_proto::auth::NodeCredential;
use ferrocast_proto::relay::log_message::Event;
use ferrocast_proto::relay::relay_client::RelayClient;
use ferrocast_proto::relay::{SubscribeRequest, Track};
use tokio::sync::oneshot;
use tonic::transport::Endpoint;

/// Parts kept at most: 30 fps at three parts a second for an hour.
const MAX_PARTS: usize = 10_800;

/// Origin send stamps of video parts by `(seq, index)`, Unix microseconds.
type Stamps = Arc<Mutex<HashMap<(u64, u32), u64>>>;

/// A running observer of one stream's part log; stopped when dropped.
pub struct PartClock {
    stamps: Stamps,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PartClock {
    /// Subscribes to `stream_id`'s part log at `relay_url` (the owning origin's relay), which
    /// must hold one already (else `NOT_FOUND`), and keeps the stamps of the parts that come
    /// after its replay.
    pub fn start(relay_url: &str, credential: NodeCredential, stream_id: &str) -> Self {
        let stamps = Stamps::default();
        let (stop, stopped) = oneshot::channel();
        let (subscribed, ready) = std::sync::mpsc::channel();
        let (url, id, kept) = (relay_url.to_owned(), stream_id.to_owned(), stamps.clone());
        let thread = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(observe(url, credential, id, kept, subscribed, stopped));
        });
        ready
            .recv_timeout(Duration::from_secs(10))
            .expect("the part clock subscribed within 10 s")
            .unwrap_or_else(|e| panic!("subscribing to the part log: {e}"));
        Self {
            stamps,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The origin's send stamp of video part `index` of segment `seq`, Unix microseconds,
    /// once this observer has received it.
    pub fn sent_at(&self, seq: u64, index: u32) -> u64 {
        super::wait_for(
            "the origin's stamp of a part",
            Duration::from_secs(5),
            || self.stamps.lock().unwrap().get(&(seq, index)).copied(),
        )
    }
}

impl Drop for PartClock {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Subscribes, says so on `subscribed`, then records until `stopped` or the stream ends.
async fn observe(
    url: String,
    credential: NodeCredential,
    stream_id: String,
    stamps: Stamps,
    subscribed: std::sync::mpsc::Sender<Result<(), String>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let connecting = async {
        let channel = Endpoint::from_shared(url)
            .map_err(|e| e.to_string())?
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        let mut relay = RelayClient::with_interceptor(channel, credential);
        let request = SubscribeRequest { stream_id };
        let answer = relay.subscribe_parts(request).await;
        answer
            .map(|response| response.into_inner())
            .map_err(|e| e.to_string())
    };
    let mut messages = match connecting.await {
        Ok(messages) => messages,
        Err(error) => {
            let _ = subscribed.send(Err(error));
            return;
        }
    };
    let _ = subscribed.send(Ok(()));
    let mut replayed = false;
    loop {
        let message = tokio::select! {
            _ = &mut stopped => return,
            message = messages.message() => message,
        };
        let Ok(Some(message)) = message else { return };
        if !replayed {
            // Replayed events are stamped when replayed, not when they were made.
            replayed = message.replay_end;
            continue;
        }
        if let Some(Event::Part(part)) = message.event
            && part.track == Track::Video as i32
        {
            let mut stamps = stamps.lock().unwrap();
            if stamps.len() < MAX_PARTS {
                stamps.insert((part.seq, part.index), message.sent_at_unix_us);
            }
        }
    }
}

/// The wall clock now, Unix microseconds (the origin's stamps' clock).
pub fn unix_us() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    u64::try_from(since.expect("after 1970").as_micros()).expect("before year 500000")
}
