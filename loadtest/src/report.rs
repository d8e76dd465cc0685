//! The human-readable report printed at the end of a run.

use std::fmt::Write;

use crate::summary::{
    ErrorSummary, HlsSummary, LlSummary, Percentiles, PlaySummary, PublishSummary, Summary,
};

/// The report as text, one role per block.
pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ferrocast-loadtest: {:.1} s · in {} · out {} · {} errors",
        summary.elapsed_s,
        bits(summary.bytes_in_per_s),
        bits(summary.bytes_out_per_s),
        summary.errors_total
    );
    if summary.publishers.count > 0 {
        publishers(&mut out, &summary.publishers);
    }
    if summary.flv.viewers > 0 {
        play(&mut out, "http-flv", &summary.flv);
    }
    if summary.rtmp.viewers > 0 {
        play(&mut out, "rtmp-play", &summary.rtmp);
    }
    if summary.hls.viewers > 0 {
        hls(&mut out, &summary.hls);
    }
    if summary.ll.viewers > 0 {
        ll(&mut out, &summary.ll);
    }
    out
}

fn bits(bytes_per_s: f64) -> String {
    format!("{:.2} Mb/s", bytes_per_s * 8.0 / 1e6)
}

fn percentiles(p: Option<&Percentiles>) -> String {
    match p {
        None => "n/a".to_owned(),
        Some(p) => format!(
            "p50 {:.1} · p95 {:.1} · p99 {:.1} · max {:.1} ms ({} samples)",
            p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms, p.count
        ),
    }
}

fn errors(out: &mut String, errors: &ErrorSummary) {
    for (kind, count) in errors.by_kind.iter().filter(|(_, count)| **count > 0) {
        let first = errors.first.get(kind).map(String::as_str).unwrap_or("");
        let _ = writeln!(out, "  error {kind}: {count} (first: {first})");
    }
}

fn publishers(out: &mut String, p: &PublishSummary) {
    let _ = writeln!(
        out,
        "publish    {}/{} live · {} video frames ({} stamped) · {} · send lag max {:.1} ms · {} reconnects",
        p.publishing,
        p.count,
        p.video_frames_sent,
        p.stamped_frames,
        bits(p.bytes_out_per_s),
        p.max_send_lag_ms,
        p.reconnects
    );
    errors(out, &p.errors);
}

fn play(out: &mut String, name: &str, p: &PlaySummary) {
    let _ = writeln!(
        out,
        "{name:<10} {}/{} receiving ({} keyframe first) · {} video frames (min {} per viewer) · {}",
        p.viewers_receiving,
        p.viewers,
        p.viewers_keyframe_first,
        p.video_frames,
        p.min_video_frames_per_viewer,
        bits(p.bytes_in_per_s)
    );
    let _ = writeln!(out, "  first frame  {}", percentiles(p.ttff_ms.as_ref()));
    let _ = writeln!(out, "  latency      {}", percentiles(p.latency_ms.as_ref()));
    let _ = writeln!(
        out,
        "  {} late · {} gaps ({} frames dropped) · {} stalls ({:.0} ms) · {} reconnects · {} not-ready retries",
        p.late_frames,
        p.gaps,
        p.dropped_frames,
        p.stalls,
        p.stall_ms,
        p.reconnects,
        p.not_ready_retries
    );
    errors(out, &p.errors);
}

fn hls(out: &mut String, h: &HlsSummary) {
    let _ = writeln!(
        out,
        "hls        {}/{} receiving · {} segments (min {} per viewer) · {} playlists · {}",
        h.viewers_receiving,
        h.viewers,
        h.segments,
        h.min_segments_per_viewer,
        h.playlists,
        bits(h.bytes_in_per_s)
    );
    let _ = writeln!(out, "  first segment {}", percentiles(h.ttff_ms.as_ref()));
    let _ = writeln!(
        out,
        "  latency (PDT) {}",
        percentiles(h.latency_ms.as_ref())
    );
    let _ = writeln!(
        out,
        "  {} segments skipped · {} stalls · {} reconnects · {} not-ready retries",
        h.skipped_segments, h.stalls, h.reconnects, h.not_ready_retries
    );
    errors(out, &h.errors);
}

fn ll(out: &mut String, l: &LlSummary) {
    let _ = writeln!(
        out,
        "ll-hls     {}/{} receiving · {} parts (min {} per viewer) · {} blocking reloads · {}",
        l.viewers_receiving,
        l.viewers,
        l.parts,
        l.min_parts_per_viewer,
        l.blocking_reloads,
        bits(l.bytes_in_per_s)
    );
    let _ = writeln!(out, "  first part    {}", percentiles(l.ttff_ms.as_ref()));
    let _ = writeln!(
        out,
        "  part latency  {}",
        percentiles(l.part_latency_ms.as_ref())
    );
    let _ = writeln!(
        out,
        "  {} stalls · {} reconnects · {} not-ready retries",
        l.stalls, l.reconnects, l.not_ready_retries
    );
    errors(out, &l.errors);
}
