use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A socket that takes at most `room` bytes until told otherwise, and records them.
#[derive(Default)]
struct FakeSocket {
    room: AtomicUsize,
    written: Mutex<Vec<u8>>,
    broken: std::sync::atomic::AtomicBool,
}

impl FakeSocket {
    fn with_room(room: usize) -> Self {
        let socket = Self::default();
        socket.room.store(room, Ordering::SeqCst);
        socket
    }

    fn written(&self) -> Vec<u8> {
        ferrocast_base::lock(&self.written).clone()
    }
}

impl Sink for Arc<FakeSocket> {
    fn try_write(&self, buffers: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        let room = self.room.load(Ordering::SeqCst);
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut written = ferrocast_base::lock(&self.written);
        let mut taken = 0;
        for buffer in buffers {
            let take = buffer.len().min(room - taken);
            written.extend_from_slice(&buffer[..take]);
            taken += take;
        }
        self.room.fetch_sub(taken, Ordering::SeqCst);
        Ok(taken)
    }
}

fn batch(text: &'static str, media_ms: u32, keyframe: bool) -> Delivery {
    Delivery {
        bytes: Bytes::from_static(text.as_bytes()),
        media_ms,
        starts_with_keyframe: keyframe,
    }
}

fn limits() -> ViewerLimits {
    ViewerLimits {
        max_lag: Duration::from_millis(100),
        max_skips: 1,
        skip_window: Duration::from_secs(30),
    }
}

#[test]
fn a_caught_up_viewer_is_written_by_the_lane() {
    let socket = Arc::new(FakeSocket::with_room(usize::MAX / 2));
    let lane = Lane::default();
    lane.join(Seat::new(socket.clone(), limits(), false));
    lane.deliver(&batch("k1", 0, true));
    lane.deliver(&batch("d2", 33, false));
    assert_eq!(socket.written(), b"k1d2");
}

#[test]
fn a_full_socket_queues_in_order_and_the_viewer_drains_it() {
    let socket = Arc::new(FakeSocket::with_room(3));
    let seat = Seat::new(socket.clone(), limits(), false);
    let now = Instant::now();
    assert_eq!(seat.offer(&batch("aaaa", 0, true), now), Offer::Queued);
    assert_eq!(seat.offer(&batch("bb", 33, false), now), Offer::Queued);
    seat.send_between_messages(Bytes::from_static(b"R"));
    assert!(!seat.drain().unwrap(), "the socket is still full");
    socket.room.store(100, Ordering::SeqCst);
    assert!(seat.drain().unwrap());
    assert_eq!(
        socket.written(),
        b"aaaabbR",
        "in order, the reply between messages"
    );
    assert_eq!(seat.offer(&batch("cc", 66, false), now), Offer::Sent);
}

#[test]
fn a_lagging_viewer_keeps_the_begun_batch_skips_to_a_keyframe_then_is_cut() {
    let socket = Arc::new(FakeSocket::with_room(2));
    let seat = Seat::new(socket.clone(), limits(), false);
    let now = Instant::now();
    assert_eq!(seat.offer(&batch("aaaa", 0, true), now), Offer::Queued);
    assert_eq!(seat.offer(&batch("bb", 50, false), now), Offer::Queued);
    // 150 ms of media queued: over max_lag.
    assert_eq!(seat.offer(&batch("cc", 150, false), now), Offer::Skipped);
    assert_eq!(seat.offer(&batch("dd", 183, false), now), Offer::Skipped);
    assert_eq!(seat.offer(&batch("KK", 200, true), now), Offer::Queued);
    socket.room.store(100, Ordering::SeqCst);
    assert!(seat.drain().unwrap());
    assert_eq!(
        socket.written(),
        b"aaaaKK",
        "the begun batch whole, then the keyframe"
    );
    socket.room.store(0, Ordering::SeqCst);
    assert_eq!(seat.offer(&batch("ee", 300, false), now), Offer::Queued);
    assert_eq!(seat.offer(&batch("ff", 500, false), now), Offer::Gone);
    assert!(seat.is_gone());
}

#[test]
fn a_viewer_without_a_keyframe_waits_for_one_and_a_broken_socket_leaves() {
    let socket = Arc::new(FakeSocket::with_room(100));
    let lane = Lane::default();
    lane.join(Seat::new(socket.clone(), limits(), true));
    assert_eq!(lane.deliver(&batch("d1", 0, false)), 1);
    assert_eq!(lane.deliver(&batch("K2", 33, true)), 1);
    assert_eq!(socket.written(), b"K2");
    socket.broken.store(true, Ordering::SeqCst);
    assert_eq!(lane.deliver(&batch("d3", 66, false)), 0);
}
