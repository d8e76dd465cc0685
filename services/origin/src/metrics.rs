//! Origin metrics (`ferrocast_origin_*`): connections, publishes, ingest, RTMP players,
//! segment uploads and index writes. Counters are recorded where things happen; gauges are set by [`collect`]
//! when scraped.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrocast_ops::LiveCount;
use ferrocast_rtmp::RtmpError;
use metrics::Unit;

use crate::Publishing;
use crate::ingest_rate::IngestRates;
use crate::uploader::BufferBudget;

mod cmaf;

pub(crate) use cmaf::{
    cmaf_object_failed, cmaf_object_stored, cmaf_objects_dropped, cmaf_settle_timed_out,
    part_log_error,
};

const RTMP_CONNECTIONS: &str = "ferrocast_origin_rtmp_connections";
const RTMP_ERRORS: &str = "ferrocast_origin_rtmp_connection_errors_total";
const PUBLISHERS: &str = "ferrocast_origin_publishers";
const PUBLISHES_STARTED: &str = "ferrocast_origin_publishes_started_total";
const PUBLISH_REFUSALS: &str = "ferrocast_origin_publish_refusals_total";
pub(crate) const INGEST_BYTES: &str = "ferrocast_origin_ingest_bytes_total";
const STREAM_BITRATE: &str = "ferrocast_origin_stream_ingest_bits_per_second";
const STREAM_SEGMENT_AGE: &str = "ferrocast_origin_stream_newest_segment_age_seconds";
const SEGMENTS_UPLOADED: &str = "ferrocast_origin_segments_uploaded_total";
const UPLOAD_FAILURES: &str = "ferrocast_origin_segment_upload_failures_total";
const UPLOAD_DURATION: &str = "ferrocast_origin_segment_upload_duration_seconds";
const UPLOAD_BYTES: &str = "ferrocast_origin_segment_upload_bytes_total";
const INDEX_WRITE_DURATION: &str = "ferrocast_origin_index_write_duration_seconds";
const INDEX_WRITE_FAILURES: &str = "ferrocast_origin_index_write_failures_total";
const INDEX_WRITES_FENCED: &str = "ferrocast_origin_index_writes_fenced_total";
const SEGMENTS_DROPPED: &str = "ferrocast_origin_segments_dropped_total";
const BUFFER_BYTES: &str = "ferrocast_origin_upload_buffer_bytes";
const BUFFER_OLDEST_AGE: &str = "ferrocast_origin_upload_buffer_oldest_age_seconds";
const DROP_REASONS: [&str; 5] = [
    "stream_budget",
    "process_budget",
    "max_age",
    "store_refused",
    "fenced",
];
const DRAIN_CLOSED: &str = "ferrocast_origin_drain_closed_publishes_total";
const RTMP_PLAYERS: &str = "ferrocast_origin_rtmp_players";
const RTMP_PLAYERS_IN_LANES: &str = "ferrocast_origin_rtmp_players_in_lanes";
const RTMP_EGRESS_BYTES: &str = "ferrocast_origin_rtmp_egress_bytes_total";
const RTMP_FRAMES_DROPPED: &str = "ferrocast_origin_rtmp_frames_dropped_total";
const RTMP_CLIENT_ADDRESSES: &str = "ferrocast_origin_rtmp_client_addresses";

const ERROR_KINDS: [&str; 8] = [
    "handshake",
    "protocol",
    "timeout",
    "io",
    "parser_panic",
    "limit",
    "ip_limit",
    "proxy_header",
];
const REFUSAL_REASONS: [&str; 7] = [
    "wrong_app",
    "unknown_stream",
    "wrong_key",
    "already_live",
    "unavailable",
    "storage_unavailable",
    "draining",
];

/// RTMP connections open now.
pub(crate) static CONNECTIONS: LiveCount = LiveCount::new();
/// RTMP players playing now.
pub(crate) static PLAYERS: LiveCount = LiveCount::new();
/// RTMP players a fan-out lane writes to now (ADR 25).
pub(crate) static PLAYERS_IN_LANES: LiveCount = LiveCount::new();
/// Client address groups (IPv6: /64) with an RTMP connection open now: the size of the
/// per-address table.
pub(crate) static CLIENT_ADDRESSES: LiveCount = LiveCount::new();

/// Describes every origin metric and registers the label-free and fixed-label ones at zero.
pub fn describe() {
    metrics::describe_gauge!(RTMP_CONNECTIONS, "Open RTMP connections.");
    metrics::describe_counter!(RTMP_ERRORS, "RTMP connections ended by an error, by kind.");
    metrics::describe_gauge!(PUBLISHERS, "Publishes running on this origin.");
    metrics::describe_counter!(PUBLISHES_STARTED, "Publishes accepted.");
    metrics::describe_counter!(PUBLISH_REFUSALS, "Publishes refused, by reason.");
    metrics::describe_counter!(
        INGEST_BYTES,
        Unit::Bytes,
        "Media bytes received from publishers."
    );
    metrics::describe_gauge!(
        STREAM_BITRATE,
        "One stream's ingest bitrate in bits per second."
    );
    metrics::describe_gauge!(
        STREAM_SEGMENT_AGE,
        Unit::Seconds,
        "Seconds since the stream's newest segment was indexed."
    );
    metrics::describe_counter!(SEGMENTS_UPLOADED, "Segments stored and indexed.");
    metrics::describe_counter!(
        UPLOAD_FAILURES,
        "Segments whose PUT failed after all retries."
    );
    metrics::describe_histogram!(
        UPLOAD_DURATION,
        Unit::Seconds,
        "Segment PUT time, retries included."
    );
    metrics::describe_counter!(
        UPLOAD_BYTES,
        Unit::Bytes,
        "Bytes of segment objects stored."
    );
    metrics::describe_histogram!(INDEX_WRITE_DURATION, Unit::Seconds, "Index append time.");
    metrics::describe_counter!(
        INDEX_WRITE_FAILURES,
        "Index writes that failed or timed out."
    );
    metrics::describe_counter!(
        INDEX_WRITES_FENCED,
        "Index writes refused by the epoch fence."
    );
    metrics::describe_counter!(DRAIN_CLOSED, "Publishes closed at the drain deadline.");
    metrics::describe_counter!(
        SEGMENTS_DROPPED,
        "Finished segments dropped before they were listed, by reason: a buffer bound \
         (stream_budget, process_budget, max_age), a taken object name, or a newer session."
    );
    metrics::describe_gauge!(
        BUFFER_BYTES,
        Unit::Bytes,
        "Bytes of finished segments waiting in memory to be stored and listed."
    );
    metrics::describe_gauge!(
        BUFFER_OLDEST_AGE,
        Unit::Seconds,
        "How long the oldest segment waiting to be stored and listed has waited."
    );
    cmaf::describe();
    metrics::describe_gauge!(RTMP_PLAYERS, "RTMP players playing a stream.");
    metrics::describe_gauge!(
        RTMP_PLAYERS_IN_LANES,
        "RTMP players whose media a fan-out lane writes (caught up, no merge window)."
    );
    metrics::describe_counter!(
        RTMP_EGRESS_BYTES,
        Unit::Bytes,
        "Bytes of media sent to RTMP players."
    );
    metrics::describe_counter!(
        RTMP_FRAMES_DROPPED,
        "Frames not sent to RTMP players that fell behind or were overrun."
    );
    metrics::describe_gauge!(
        RTMP_CLIENT_ADDRESSES,
        "Client addresses (IPv6: /64 blocks) with an RTMP connection open."
    );
    for name in [
        RTMP_EGRESS_BYTES,
        RTMP_FRAMES_DROPPED,
        PUBLISHES_STARTED,
        INGEST_BYTES,
        SEGMENTS_UPLOADED,
        UPLOAD_FAILURES,
        UPLOAD_BYTES,
        INDEX_WRITE_FAILURES,
        INDEX_WRITES_FENCED,
        DRAIN_CLOSED,
    ] {
        metrics::counter!(name).absolute(0);
    }
    for kind in ERROR_KINDS {
        metrics::counter!(RTMP_ERRORS, "kind" => kind).absolute(0);
    }
    for reason in REFUSAL_REASONS {
        metrics::counter!(PUBLISH_REFUSALS, "reason" => reason).absolute(0);
    }
    for reason in DROP_REASONS {
        metrics::counter!(SEGMENTS_DROPPED, "reason" => reason).absolute(0);
    }
    buffer_held(0, None);
}

pub(crate) fn connection_failed(error: &RtmpError) {
    let kind = match error {
        RtmpError::Io(_) => "io",
        RtmpError::HandshakeTimeout(_)
        | RtmpError::StartTimeout(_)
        | RtmpError::IdleTimeout(_)
        | RtmpError::WriteTimeout(_) => "timeout",
        RtmpError::Handshake(_) => "handshake",
        RtmpError::ParserPanicked => "parser_panic",
        // Broken framing, AMF0 or limits: abuse of the protocol, whatever its intent.
        _ => "protocol",
    };
    metrics::counter!(RTMP_ERRORS, "kind" => kind).increment(1);
}

/// A connection turned away because `max_connections` are open.
pub(crate) fn connection_refused_at_limit() {
    metrics::counter!(RTMP_ERRORS, "kind" => "limit").increment(1);
}

/// A connection turned away because its client address holds `max_connections_per_ip`.
pub(crate) fn connection_refused_per_address() {
    metrics::counter!(RTMP_ERRORS, "kind" => "ip_limit").increment(1);
}

/// A connection closed for a missing, malformed or late PROXY protocol header.
pub(crate) fn proxy_header_failed() {
    metrics::counter!(RTMP_ERRORS, "kind" => "proxy_header").increment(1);
}

/// The RTMP egress counter; players add to it in batches, not per frame.
pub(crate) fn rtmp_egress() -> metrics::Counter {
    metrics::counter!(RTMP_EGRESS_BYTES)
}

pub(crate) fn rtmp_frames_dropped(frames: u64) {
    metrics::counter!(RTMP_FRAMES_DROPPED).increment(frames);
}

pub(crate) fn publish_started() {
    metrics::counter!(PUBLISHES_STARTED).increment(1);
}

/// `reason` is one of the fixed refusal reasons.
pub(crate) fn publish_refused(reason: &'static str) {
    metrics::counter!(PUBLISH_REFUSALS, "reason" => reason).increment(1);
}

pub(crate) fn segment_uploaded(took: Duration, bytes: usize) {
    metrics::histogram!(UPLOAD_DURATION).record(took.as_secs_f64());
    metrics::counter!(UPLOAD_BYTES).increment(bytes as u64);
}

pub(crate) fn segment_upload_failed(took: Duration) {
    metrics::histogram!(UPLOAD_DURATION).record(took.as_secs_f64());
    metrics::counter!(UPLOAD_FAILURES).increment(1);
}

pub(crate) fn segment_indexed(took: Duration) {
    metrics::histogram!(INDEX_WRITE_DURATION).record(took.as_secs_f64());
    metrics::counter!(SEGMENTS_UPLOADED).increment(1);
}

pub(crate) fn index_write_failed(took: Duration, fenced: bool) {
    metrics::histogram!(INDEX_WRITE_DURATION).record(took.as_secs_f64());
    let name = if fenced {
        INDEX_WRITES_FENCED
    } else {
        INDEX_WRITE_FAILURES
    };
    metrics::counter!(name).increment(1);
}

/// `reason` is one of the fixed drop reasons.
pub(crate) fn segment_dropped(reason: &'static str) {
    metrics::counter!(SEGMENTS_DROPPED, "reason" => reason).increment(1);
}

pub(crate) fn buffer_held(bytes: u64, oldest_age: Option<Duration>) {
    metrics::gauge!(BUFFER_BYTES).set(bytes as f64);
    let age = oldest_age.unwrap_or_default().as_secs_f64();
    metrics::gauge!(BUFFER_OLDEST_AGE).set(age);
}

pub(crate) fn drain_closed(publishes: usize) {
    metrics::counter!(DRAIN_CLOSED).increment(publishes as u64);
}

/// Sets the origin's gauges from live state at scrape time. Per-stream series are capped at
/// `per_stream_limit` streams (0 turns them off).
pub struct Collector {
    publishing: std::sync::Arc<Publishing>,
    buffers: Option<std::sync::Arc<BufferBudget>>,
    per_stream_limit: usize,
    rates: Mutex<IngestRates>,
}

/// Shorter than this apart, a bitrate is mostly noise: the last one stays.
const MIN_RATE_WINDOW: Duration = Duration::from_secs(1);

impl Collector {
    /// A collector over the publishes of one origin.
    pub fn new(publishing: std::sync::Arc<Publishing>, per_stream_limit: usize) -> Self {
        Self {
            publishing,
            buffers: None,
            per_stream_limit,
            rates: Mutex::default(),
        }
    }

    /// Also sets the upload buffer gauges from `buffers`.
    pub fn with_buffers(mut self, buffers: std::sync::Arc<BufferBudget>) -> Self {
        self.buffers = Some(buffers);
        self
    }

    /// Sets every origin gauge.
    pub fn collect(&self) {
        metrics::gauge!(RTMP_CONNECTIONS).set(CONNECTIONS.get() as f64);
        metrics::gauge!(RTMP_PLAYERS).set(PLAYERS.get() as f64);
        metrics::gauge!(RTMP_PLAYERS_IN_LANES).set(PLAYERS_IN_LANES.get() as f64);
        metrics::gauge!(RTMP_CLIENT_ADDRESSES).set(CLIENT_ADDRESSES.get() as f64);
        if let Some(buffers) = &self.buffers {
            buffers.collect();
        }
        let reports = self.publishing.reports();
        metrics::gauge!(PUBLISHERS).set(reports.len() as f64);
        let per_stream = &reports[..reports.len().min(self.per_stream_limit)];
        let now = Instant::now();
        let mut rates = ferrocast_base::lock(&self.rates);
        let bitrates = rates.sample(per_stream, now, MIN_RATE_WINDOW);
        for (report, bitrate) in per_stream.iter().zip(bitrates) {
            let stream_id = report.stream_id.as_str().to_owned();
            if let Some(bits_per_second) = bitrate {
                metrics::gauge!(STREAM_BITRATE, "stream_id" => stream_id.clone())
                    .set(bits_per_second);
            }
            let age = now.duration_since(report.newest_segment_at).as_secs_f64();
            metrics::gauge!(STREAM_SEGMENT_AGE, "stream_id" => stream_id).set(age);
        }
    }
}
