//! What a player's connection still needs once its `play` was accepted: the same bounded
//! reader and screen, and the few answers the protocol asks for, without `rml_rtmp`.
//!
//! `rml_rtmp`'s session keeps its own chunk deserializer and serializer for its whole life
//! (a 4 KB buffer and header tables among them), about a third of an idle player's memory
//! (ADR 26). After `play` a player only sends acknowledgements, pings, buffer lengths and,
//! at the end, `closeStream` or `deleteStream`; this answers those and drops the rest, as
//! `rml_rtmp` did.

use bytes::Buf;
use ferrocast_media::amf0::Value;
use ferrocast_media::rtmp_chunk::{self, Header, chunk_stream, message_type};

use crate::RtmpError;
use crate::front::{Screen, Verdict, read_amf};
use crate::reader::{ChunkReader, Message};

/// User control event types (RTMP specification, section 6.2).
const PING_REQUEST: u16 = 6;
const PING_RESPONSE: u16 = 7;

/// A playing connection's protocol state: what it reads, and what it answers.
pub struct PlaySession {
    reader: ChunkReader,
    screen: Screen,
    stream_id: u32,
    /// The acknowledgement window the player asked for (Window Acknowledgement Size).
    peer_window: Option<u32>,
    /// Bytes received over the session, and when the last acknowledgement was due.
    received: u64,
    acknowledged: u64,
}

impl PlaySession {
    /// Goes on from a session's reader and screen, for a play on message stream `stream_id`.
    pub(crate) fn new(
        reader: ChunkReader,
        screen: Screen,
        stream_id: u32,
        peer_window: Option<u32>,
        received: u64,
    ) -> Self {
        Self {
            reader,
            screen,
            stream_id,
            peer_window,
            received,
            acknowledged: received,
        }
    }

    /// Takes in received bytes, appending answers to `outbound`: `Ok(false)` once the player
    /// closed or deleted the stream it plays.
    pub fn receive(&mut self, bytes: &[u8], outbound: &mut Vec<u8>) -> Result<bool, RtmpError> {
        self.acknowledge(bytes.len(), outbound);
        self.reader.push(bytes)?;
        while let Some(message) = self.reader.next_message()? {
            if let Verdict::Drop(_) = self.screen.judge(&message)? {
                continue;
            }
            if !self.handle(&message, outbound)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Acknowledges every window's worth of received bytes, as the peer asked.
    fn acknowledge(&mut self, count: usize, outbound: &mut Vec<u8>) {
        self.received += count as u64;
        let Some(window) = self.peer_window.filter(|window| *window > 0) else {
            return;
        };
        if self.received - self.acknowledged >= u64::from(window) {
            self.acknowledged = self.received;
            // The sequence number is the byte count, wrapping at 32 bits.
            let sequence = self.received as u32;
            control(
                message_type::ACKNOWLEDGEMENT,
                &sequence.to_be_bytes(),
                outbound,
            );
        }
    }

    /// Handles one screened message: `Ok(false)` when it ends the play.
    fn handle(&mut self, message: &Message, outbound: &mut Vec<u8>) -> Result<bool, RtmpError> {
        let mut payload = &message.payload[..];
        match message.type_id {
            // The screen checked the sizes of these.
            message_type::WINDOW_ACK_SIZE => self.peer_window = Some(payload.get_u32()),
            message_type::USER_CONTROL if payload.get_u16() == PING_REQUEST => {
                let mut pong = PING_RESPONSE.to_be_bytes().to_vec();
                pong.extend_from_slice(payload);
                control(message_type::USER_CONTROL, &pong, outbound);
            }
            message_type::COMMAND_AMF0 => return Ok(!self.stops_the_play(message)?),
            _ => {}
        }
        Ok(true)
    }

    /// `deleteStream` names the stream in its first argument; `closeStream` is sent on the
    /// stream, though some clients name it as well.
    fn stops_the_play(&self, message: &Message) -> Result<bool, RtmpError> {
        let values = read_amf(&message.payload)?;
        let named =
            matches!(values.get(3), Some(Value::Number(id)) if *id == f64::from(self.stream_id));
        Ok(match values.first().and_then(Value::as_str) {
            Some("deleteStream") => named,
            Some("closeStream") => named || message.message_stream_id == self.stream_id,
            _ => false,
        })
    }
}

/// Appends a protocol control message (chunk stream 2, message stream 0, timestamp 0) with a
/// full header.
fn control(type_id: u8, payload: &[u8], outbound: &mut Vec<u8>) {
    let header = Header {
        chunk_stream_id: chunk_stream::PROTOCOL_CONTROL,
        timestamp_ms: 0,
        type_id,
        message_stream_id: 0,
    };
    rtmp_chunk::serialize(&header, payload, outbound).expect("a control message fits");
}

#[cfg(test)]
#[path = "playing_tests.rs"]
mod tests;
