//! What the hub's ring carries: the frames published together, so that a viewer is woken once
//! per batch rather than once per frame, with their bytes concatenated once for every viewer.
//!
//! The hub lets audio wait (at most [`crate::hub::AUDIO_HOLD_MS`] of media) for the next video
//! frame, so a 30 fps stream with 44 AAC frames a second wakes each viewer about 30 times a
//! second instead of 74. On loopback most of a write's cost is waking the reader, whatever the
//! size, so one write per batch is also what makes a viewer cheap.

use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::Frame;

/// Frames published together, in order; cheap to clone.
#[derive(Debug, Clone)]
pub struct Batch(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    /// The hub's number for this batch: 1 for its first, one more for each after.
    sequence: u64,
    frames: Box<[Frame]>,
    flv_tags: OnceLock<Bytes>,
    rtmp_chunks: OnceLock<Bytes>,
}

impl Batch {
    /// A batch of `frames`, unnumbered (0).
    pub fn new(frames: Vec<Frame>) -> Self {
        Self::numbered(frames, 0)
    }

    /// A batch of `frames` that its hub numbered `sequence`.
    pub fn numbered(frames: Vec<Frame>, sequence: u64) -> Self {
        Self(Arc::new(Shared {
            sequence,
            frames: frames.into_boxed_slice(),
            flv_tags: OnceLock::new(),
            rtmp_chunks: OnceLock::new(),
        }))
    }

    /// The hub's number for this batch, which a viewer handed from its own receiver to a
    /// fan-out lane uses to send no batch twice and skip none.
    pub fn sequence(&self) -> u64 {
        self.0.sequence
    }

    /// The frames, in publish order.
    pub fn frames(&self) -> &[Frame] {
        &self.0.frames
    }

    /// Every frame's FLV tag, concatenated by the first caller and shared after.
    pub fn flv_tags(&self) -> &Bytes {
        self.0
            .flv_tags
            .get_or_init(|| concat(self.frames().iter().map(|frame| &frame.tag)))
    }

    /// Every frame's [`Frame::rtmp_chunks`], concatenated by the first caller and shared after.
    pub fn rtmp_chunks(&self) -> &Bytes {
        self.0
            .rtmp_chunks
            .get_or_init(|| concat(self.frames().iter().map(Frame::rtmp_chunks)))
    }
}

fn concat<'a>(parts: impl Iterator<Item = &'a Bytes> + Clone) -> Bytes {
    let mut joined = BytesMut::with_capacity(parts.clone().map(Bytes::len).sum());
    for part in parts {
        joined.extend_from_slice(part);
    }
    joined.freeze()
}

/// A viewer's end of the hub's ring: whole batches with [`LiveReceiver::recv_batch`], or one
/// frame at a time with [`LiveReceiver::recv`] (use one or the other).
#[derive(Debug)]
pub struct LiveReceiver {
    ring: broadcast::Receiver<Batch>,
    /// The batch [`LiveReceiver::recv`] is taking frames from, and the next frame's index.
    current: Option<(Batch, usize)>,
}

impl LiveReceiver {
    pub(crate) fn new(ring: broadcast::Receiver<Batch>) -> Self {
        Self {
            ring,
            current: None,
        }
    }

    /// The next batch. `Lagged(n)` means `n` batches were lost to a full ring; `Closed`, that
    /// the stream has ended and every batch was received. Cancel-safe.
    pub async fn recv_batch(&mut self) -> Result<Batch, RecvError> {
        if let Some(rest) = self.take_rest() {
            return Ok(rest);
        }
        self.ring.recv().await
    }

    /// The next batch if one is waiting, as [`LiveReceiver::recv_batch`].
    pub fn try_recv_batch(&mut self) -> Result<Batch, TryRecvError> {
        if let Some(rest) = self.take_rest() {
            return Ok(rest);
        }
        self.ring.try_recv()
    }

    /// Whether nothing is waiting to be received.
    pub fn is_empty(&self) -> bool {
        self.current.is_none() && self.ring.is_empty()
    }

    /// The next frame; errors as in [`LiveReceiver::recv_batch`]. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Frame, RecvError> {
        loop {
            if let Some(frame) = self.next_in_current() {
                return Ok(frame);
            }
            let batch = self.ring.recv().await?;
            self.current = Some((batch, 0));
        }
    }

    /// The next frame if one is waiting, as [`LiveReceiver::recv`].
    pub fn try_recv(&mut self) -> Result<Frame, TryRecvError> {
        loop {
            if let Some(frame) = self.next_in_current() {
                return Ok(frame);
            }
            let batch = self.ring.try_recv()?;
            self.current = Some((batch, 0));
        }
    }

    fn next_in_current(&mut self) -> Option<Frame> {
        let (batch, index) = self.current.as_mut()?;
        let frame = batch.frames().get(*index).cloned();
        *index += 1;
        if frame.is_none() {
            self.current = None;
        }
        frame
    }

    /// What is left of a batch partly taken with [`LiveReceiver::recv`].
    fn take_rest(&mut self) -> Option<Batch> {
        let (batch, index) = self.current.take()?;
        match index {
            0 => Some(batch),
            _ if index >= batch.frames().len() => None,
            _ => Some(Batch::numbered(
                batch.frames()[index..].to_vec(),
                batch.sequence(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn audio(ts: u32) -> Frame {
        Frame::audio(ts, &[0xAF, 1, ts as u8])
    }

    #[test]
    fn concatenations_are_made_once_and_hold_every_frame() {
        let batch = Batch::new(vec![audio(0), audio(21)]);
        let tags = batch.flv_tags().clone();
        let mut expected = audio(0).tag.to_vec();
        expected.extend_from_slice(&audio(21).tag);
        assert_eq!(tags, expected);
        assert_eq!(batch.clone().flv_tags().as_ptr(), tags.as_ptr());
        let chunks = batch.rtmp_chunks();
        assert_eq!(
            chunks.len(),
            audio(0).rtmp_chunks().len() + audio(21).rtmp_chunks().len()
        );
    }

    #[tokio::test]
    async fn frames_and_batches_come_out_in_order() {
        let (sender, ring) = broadcast::channel(8);
        let mut receiver = LiveReceiver::new(ring);
        sender
            .send(Batch::new(vec![audio(0), audio(21), audio(42)]))
            .unwrap();
        sender.send(Batch::new(vec![audio(63)])).unwrap();
        assert_eq!(receiver.recv().await.unwrap().timestamp_ms, 0);
        let rest = receiver.recv_batch().await.unwrap();
        let rest: Vec<u32> = rest.frames().iter().map(|f| f.timestamp_ms).collect();
        assert_eq!(rest, vec![21, 42]);
        assert_eq!(receiver.try_recv().unwrap().timestamp_ms, 63);
        assert!(matches!(receiver.try_recv(), Err(TryRecvError::Empty)));
        drop(sender);
        assert!(matches!(receiver.recv().await, Err(RecvError::Closed)));
    }
}
