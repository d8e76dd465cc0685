//! Origin settings, read from the `origin` table of the role's configuration.

use std::time::Duration;

use ferrocast_live::ViewerLimits;
use ferrocast_media::ll::LogConfig;
use ferrocast_ops::Drain;
use ferrocast_rtmp::Limits;
use serde::{Deserialize, Serialize};

use ferrocast_rtmp::proxy::Accept;

/// HLS packaging settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HlsConfig {
    /// Cut a segment at the first keyframe after this much media.
    #[serde(with = "humantime_serde")]
    pub target_duration: Duration,
    /// Segments listed in a playlist.
    pub window: usize,
    /// Segments kept in the index and object store (at least `window`); older ones are deleted.
    pub retain: usize,
    /// Bytes of finished segments one stream may hold in memory while they wait to be stored
    /// and listed (64 MiB: about 190 s of a 2.5 Mb/s stream); beyond it the oldest waiting segment is
    /// dropped and the next listed one carries a discontinuity.
    pub buffer_bytes_per_stream: u64,
    /// Bytes of waiting segments the whole process may hold (1 GiB: about 50 minutes of
    /// 2.5 Mb/s, e.g. 16 streams for 3 minutes or 100 streams for 30 s); a stream that adds
    /// a segment past it drops its own oldest waiting one.
    pub buffer_bytes_total: u64,
    /// Longest a finished segment may wait; older waiting segments are dropped (a segment
    /// whose index write is under way stays until it is known to be listed).
    #[serde(with = "humantime_serde")]
    pub buffer_max_age: Duration,
    /// Longest a CMAF part may last: LL-HLS's `PART-TARGET` (ADR 16). Parts close before
    /// the frame that would take them past it.
    #[serde(with = "humantime_serde")]
    pub part_target: Duration,
    /// Bytes of media one stream's part log may hold (its low-latency window with the
    /// RFC 8216 §6.2.2 margin: about 12 s, 1.5 MB at 1 Mb/s); past it the oldest segments
    /// leave the log first. Edges then serve those from object storage.
    pub ll_max_window_bytes: usize,
}

impl HlsConfig {
    /// The settings of the part logs this origin keeps.
    pub fn log_config(&self) -> LogConfig {
        LogConfig {
            max_bytes: self.ll_max_window_bytes,
            ..LogConfig::default()
        }
    }
}

impl Default for HlsConfig {
    fn default() -> Self {
        Self {
            target_duration: Duration::from_secs(2),
            window: 6,
            retain: 12,
            buffer_bytes_per_stream: 64 * 1024 * 1024,
            buffer_bytes_total: 1024 * 1024 * 1024,
            buffer_max_age: Duration::from_secs(300),
            part_target: Duration::from_millis(ferrocast_media::cmaf::DEFAULT_PART_TARGET_MS),
            ll_max_window_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The RTMP server: connections, the bounds on each, and how RTMP players are written to.
/// Wherever a configuration says `rtmp`, it means this: the `[origin.rtmp]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtmpServerConfig {
    /// Concurrent RTMP connections, publishers and players together; more are closed at once
    /// and counted. Keep it below the process's open-file limit.
    pub max_connections: usize,
    /// How long an RTMP player's media may wait to go out in one write with the media that
    /// follows: fewer, larger writes make a player cheaper to serve, at up to this much added
    /// latency. Zero writes each video frame (with its audio) as soon as it arrives.
    #[serde(with = "humantime_serde")]
    pub play_merge_window: Duration,
    /// Time allowed for the RTMP handshake.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// Time allowed from the end of the handshake to an accepted publish or play; a
    /// connection that only holds a slot is closed.
    #[serde(with = "humantime_serde")]
    pub start_timeout: Duration,
    /// Time a connection may send nothing; encoders send continuously.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Longest RTMP message (bytes) an authorized publisher may send: it must hold the largest
    /// keyframe. Before a publish is authorized, only commands of up to 64 KiB are accepted.
    pub max_message_size: usize,
    /// Whether connections start with a PROXY protocol header, sent by the L4 load balancer
    /// in front, naming the client. When on, a connection without a valid header of an
    /// accepted version is closed.
    pub proxy_protocol: ProxyProtocol,
    /// How long a connection has to deliver its whole PROXY protocol header.
    #[serde(with = "humantime_serde")]
    pub proxy_header_timeout: Duration,
    /// Concurrent connections one client address may hold (IPv6: one /64); more are closed
    /// at once and counted. The address is the PROXY protocol header's when that is on.
    /// Zero turns the cap off.
    pub max_connections_per_ip: usize,
}

/// PROXY protocol on the RTMP listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyProtocol {
    /// No header: the socket's peer is the client.
    #[default]
    Off,
    /// The text header only.
    V1,
    /// The binary header only.
    V2,
    /// Either header.
    Any,
}

impl ProxyProtocol {
    /// The header versions accepted, or `None` when the protocol is off.
    pub fn accepted(self) -> Option<Accept> {
        match self {
            Self::Off => None,
            Self::V1 => Some(Accept::V1),
            Self::V2 => Some(Accept::V2),
            Self::Any => Some(Accept::Any),
        }
    }
}

impl Default for RtmpServerConfig {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            max_connections: 10_000,
            play_merge_window: Duration::from_millis(200),
            handshake_timeout: limits.handshake_timeout,
            start_timeout: limits.start_timeout,
            idle_timeout: limits.idle_timeout,
            max_message_size: limits.max_message_size,
            proxy_protocol: ProxyProtocol::Off,
            proxy_header_timeout: Duration::from_secs(5),
            max_connections_per_ip: 16,
        }
    }
}

impl RtmpServerConfig {
    /// The bounds of each connection.
    pub fn limits(&self) -> Limits {
        Limits {
            handshake_timeout: self.handshake_timeout,
            start_timeout: self.start_timeout,
            idle_timeout: self.idle_timeout,
            max_message_size: self.max_message_size,
            ..Limits::default()
        }
    }
}

/// Everything an origin needs to know: the `origin` table of `ferrocast origin` and of
/// `ferrocast dev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OriginConfig {
    /// RTMP application publishers must use (`rtmp://host/<app>/<key>`).
    pub publish_app: String,
    /// The RTMP server: its connections, the bounds on each, and how it writes to players.
    pub rtmp: RtmpServerConfig,
    /// Deadline of one publish authorization; above the control client's own (control may
    /// wait takeover_after + 250 ms for a quiet holder: 3.75 s with the defaults).
    #[serde(with = "humantime_serde")]
    pub authorize_timeout: Duration,
    /// HLS packaging.
    pub hls: HlsConfig,
    /// How far RTMP players may fall behind before they skip, and then are cut.
    pub viewers: ViewerLimits,
    /// What SIGTERM does to running publishes: `publish_deadline` and `flush_deadline`
    /// apply (`request_deadline` does not: the relay's streams end with the publishes).
    pub drain: Drain,
    /// How long after a publish ends its viewers stay connected and its playlist stays open
    /// (no `EXT-X-ENDLIST`) for the encoder to come back (Mux's `reconnect_window`).
    #[serde(with = "humantime_serde")]
    pub reconnect_window: Duration,
}

impl Default for OriginConfig {
    fn default() -> Self {
        Self {
            publish_app: "live".into(),
            rtmp: RtmpServerConfig::default(),
            authorize_timeout: Duration::from_secs(5),
            hls: HlsConfig::default(),
            viewers: ViewerLimits::default(),
            drain: Drain::default(),
            reconnect_window: Duration::from_secs(60),
        }
    }
}
