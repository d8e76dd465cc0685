use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::{Frame, FrameKind, Hub, HubLimits};

/// A socket that takes at most `room` bytes until told otherwise, and records them.
#[derive(Default)]
struct FakeSocket {
    room: AtomicUsize,
    written: Mutex<Vec<u8>>,
    broken: AtomicBool,
}

impl FakeSocket {
    fn with_room(room: usize) -> Arc<Self> {
        let socket = Self::default();
        socket.room.store(room, Ordering::SeqCst);
        Arc::new(socket)
    }

    fn written(&self) -> Vec<u8> {
        ferrocast_base::lock(&self.written).clone()
    }

    fn make_room(&self, room: usize) {
        self.room.store(room, Ordering::SeqCst);
    }
}

impl Sink for FakeSocket {
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

static DROPPED: AtomicU64 = AtomicU64::new(0);

fn count(frames: u64) {
    DROPPED.fetch_add(frames, Ordering::SeqCst);
}

fn piece(sequence: u64, text: &'static str, media_ms: u32) -> Piece {
    Piece {
        sequence,
        bytes: Bytes::from_static(text.as_bytes()),
        media_ms,
        frames: 1,
    }
}

fn hub() -> Arc<Hub> {
    Arc::new(Hub::new(HubLimits::default()))
}

fn deliver(lane: &Lane<Arc<FakeSocket>>, pieces: Vec<Piece>) -> usize {
    lane.deliver(&Delivery { pieces })
}

fn seat(socket: &Arc<FakeSocket>) -> Arc<Seat<Arc<FakeSocket>>> {
    Seat::new(socket.clone(), Duration::from_millis(100), count)
}

#[test]
fn a_full_socket_queues_in_order_and_the_viewer_drains_it() {
    let lane = Lane::new(hub(), 0);
    let socket = FakeSocket::with_room(1000);
    let seat = seat(&socket);
    assert!(lane.join(seat.clone(), 0));
    assert_eq!(
        deliver(&lane, vec![piece(1, "ab", 0), piece(2, "cd", 33)]),
        4
    );
    socket.make_room(1);
    deliver(&lane, vec![piece(3, "ef", 66)]);
    seat.send_between_messages(Bytes::from_static(b"R"));
    deliver(&lane, vec![piece(4, "gh", 99)]);
    assert_eq!(socket.written(), b"abcde");
    assert_eq!(seat.drain().unwrap(), (Drained::Full, 0));
    socket.make_room(1000);
    assert_eq!(seat.drain().unwrap(), (Drained::Empty(None), 4));
    // The reply went between whole batches, never inside one.
    assert_eq!(socket.written(), b"abcdefRgh");
    assert_eq!(seat.left(), None);
    assert_eq!(lane.len(), 1);
}

#[test]
fn a_viewer_too_far_behind_keeps_only_its_begun_batch_and_leaves() {
    let lane = Lane::new(hub(), 0);
    let socket = FakeSocket::with_room(1);
    let seat = seat(&socket);
    assert!(lane.join(seat.clone(), 0));
    let before = DROPPED.load(Ordering::SeqCst);
    deliver(&lane, vec![piece(1, "ab", 0)]);
    deliver(&lane, vec![piece(2, "cd", 50), piece(3, "ef", 100)]);
    assert_eq!(lane.len(), 1, "100 ms behind is not too far");
    deliver(&lane, vec![piece(4, "gh", 133)]);
    assert_eq!(lane.len(), 0);
    assert_eq!(seat.left(), Some(Leave::FellBehind));
    assert_eq!(DROPPED.load(Ordering::SeqCst) - before, 3);
    socket.make_room(1000);
    assert_eq!(
        seat.drain().unwrap(),
        (Drained::Empty(Some(Leave::FellBehind)), 1)
    );
    assert_eq!(
        socket.written(),
        b"ab",
        "the begun batch is finished, no more"
    );
}

#[test]
fn seats_that_leave_are_forgotten_and_the_rest_are_written_on() {
    let lane = Lane::new(hub(), 0);
    let seats: Vec<_> = (0..20)
        .map(|_| {
            let socket = FakeSocket::with_room(1000);
            let seat = seat(&socket);
            assert!(lane.join(seat.clone(), 0));
            (socket, seat)
        })
        .collect();
    deliver(&lane, vec![piece(1, "ab", 0)]);
    // Every third viewer stops, across the groups the lane touches at once.
    for (_, seat) in seats.iter().step_by(3) {
        seat.leave_now();
    }
    assert_eq!(deliver(&lane, vec![piece(2, "cd", 33)]), 2 * 13);
    assert_eq!(lane.len(), 13);
    deliver(&lane, vec![piece(3, "ef", 66)]);
    for (index, (socket, _)) in seats.iter().enumerate() {
        let expected: &[u8] = if index % 3 == 0 { b"ab" } else { b"abcdef" };
        assert_eq!(socket.written(), expected, "viewer {index}");
    }
}

#[test]
fn a_joining_viewer_gets_no_batch_twice_and_misses_none() {
    let lane = Lane::new(hub(), 2);
    let socket = FakeSocket::with_room(1000);
    let seat = seat(&socket);
    // The viewer sent batches 3 and 4 itself; the lane has not delivered them yet.
    assert!(lane.join(seat.clone(), 4));
    deliver(
        &lane,
        vec![piece(3, "c", 66), piece(4, "d", 99), piece(5, "e", 133)],
    );
    deliver(&lane, vec![piece(6, "f", 166)]);
    assert_eq!(socket.written(), b"ef");
    // A viewer that has not sent batch 6 yet cannot join after the lane delivered it.
    let late = FakeSocket::with_room(1000);
    assert!(!lane.join(self::seat(&late), 5));
    assert!(lane.join(self::seat(&late), 6));
}

#[test]
fn a_broken_socket_leaves_and_an_ended_stream_closes_the_lane() {
    let lane = Lane::new(hub(), 0);
    let broken = FakeSocket::with_room(1000);
    broken.broken.store(true, Ordering::SeqCst);
    let healthy = FakeSocket::with_room(1000);
    let (gone, stays) = (seat(&broken), seat(&healthy));
    assert!(lane.join(gone.clone(), 0));
    assert!(lane.join(stays.clone(), 0));
    deliver(&lane, vec![piece(1, "a", 0)]);
    assert_eq!(gone.left(), Some(Leave::Broken));
    assert!(gone.drain().is_err());
    assert_eq!(lane.len(), 1);
    lane.empty(Leave::StreamEnded);
    assert_eq!(stays.left(), Some(Leave::StreamEnded));
    assert!(
        !lane.join(seat(&healthy), 1),
        "nobody joins an ended stream"
    );
}

#[test]
fn a_lane_that_lost_batches_takes_nobody_until_it_delivers_again() {
    let lane = Lane::new(hub(), 0);
    let socket = FakeSocket::with_room(1000);
    let seat = seat(&socket);
    assert!(lane.join(seat.clone(), 0));
    lane.empty(Leave::FellBehind);
    assert_eq!(seat.left(), Some(Leave::FellBehind));
    assert!(!lane.join(self::seat(&socket), 7));
    deliver(&lane, vec![piece(9, "i", 300)]);
    assert!(lane.join(self::seat(&socket), 9));
}

fn flv_tags(batch: &crate::Batch) -> Bytes {
    batch.flv_tags().clone()
}

fn no_egress() -> metrics::Counter {
    metrics::Counter::noop()
}

#[tokio::test]
async fn a_hubs_lane_sends_its_batches_whole_and_ends_with_the_stream() {
    let hub = Arc::new(Hub::new(HubLimits::default()));
    hub.publish(Frame::sequence_header(FrameKind::Video, 0, &[0x17, 0]));
    let lanes: Arc<Lanes<Arc<FakeSocket>>> = Lanes::new(flv_tags, no_egress);
    let lane = lanes.lane(&hub).expect("the stream is live");
    let socket = FakeSocket::with_room(1 << 20);
    let seat = seat(&socket);
    assert_eq!(hub.viewer_count(), 0, "a lane's own receiver is no viewer");
    assert!(lane.join(seat.clone(), hub.subscribe().unwrap().through));
    assert_eq!(hub.viewer_count(), 1, "its seats are");
    let frames = [
        Frame::keyframe(0, &[0x17, 1, 0, 0, 0]),
        Frame::video(33, &[0x27, 1, 0, 0, 0]),
    ];
    for frame in &frames {
        hub.publish(frame.clone());
    }
    hub.end();
    seat.backlogged().await;
    assert_eq!(seat.left(), Some(Leave::StreamEnded));
    let expected: Vec<u8> = frames.iter().flat_map(|frame| frame.tag.to_vec()).collect();
    assert_eq!(socket.written(), expected);
    assert!(lanes.lane(&hub).is_none(), "an ended stream has no lane");
    assert_eq!(hub.viewer_count(), 0);
}

/// The lane writes a real socket past the runtime's readiness; once the peer reads again,
/// the viewer's drain (which waits on that readiness) must still finish the backlog.
#[tokio::test]
async fn a_real_socket_the_lane_filled_is_drained_once_the_peer_reads() {
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let mut peer = TcpStream::connect(listener.local_addr().expect("address"))
        .await
        .expect("connect");
    let socket = Arc::new(listener.accept().await.expect("accept").0);
    let lane = Lane::new(hub(), 0);
    let seat = Seat::new(socket.clone(), Duration::from_secs(3600), count);
    assert!(lane.join(seat.clone(), 0));

    // The peer does not read: batches of 64 KiB go out until the socket queues.
    let chunk = Bytes::from(vec![7u8; 64 * 1024]);
    let mut offered = 0;
    for sequence in 1..=1000 {
        let piece = Piece {
            sequence,
            bytes: chunk.clone(),
            media_ms: 0,
            frames: 1,
        };
        lane.deliver(&Delivery {
            pieces: vec![piece],
        });
        offered += chunk.len();
        if seat.left().is_none() && matches!(seat.drain(), Ok((Drained::Full, _))) {
            break;
        }
    }
    assert!(offered < 1000 * chunk.len(), "the socket never filled");

    let reader = tokio::spawn(async move {
        let mut received = vec![0u8; offered];
        peer.read_exact(&mut received).await.map(|_| received)
    });
    let drained = async {
        loop {
            match seat.drain().expect("drain") {
                (Drained::Empty(_), _) => return,
                (Drained::Full, _) => socket.writable().await.expect("writable"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), drained)
        .await
        .expect("the backlog was never drained: a writable wake-up was lost");
    let received = reader.await.expect("reader").expect("read");
    assert!(received.iter().all(|&byte| byte == 7));
}
