//! Command-line flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};

/// Most connections of one kind (publishers, FLV viewers, HLS viewers, RTMP players).
pub const MAX_PER_ROLE: usize = 20_000;
/// Longest run.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Publishers and viewers at scale against any RTMP / HLS / HTTP-FLV server on loopback.
///
/// Every load is optional and they combine in one run. URLs may hold `{key}` (publish) or
/// `{id}` / `{name}` (play), replaced per stream. Only 127.0.0.0/8 and ::1 are accepted as
/// hosts. The JSON summary (`--json`) is described in loadtest/README.md.
#[derive(Debug, Parser)]
#[command(name = "ferrocast-loadtest", version)]
pub struct Cli {
    /// How long to run (at most 24h), e.g. 30s, 5m, 1h; the run stops by itself then.
    #[arg(long, default_value = "30s", value_parser = duration)]
    pub duration: Duration,

    /// RTMP publish URL, e.g. rtmp://127.0.0.1:1935/live/{key}: one publisher per key from
    /// --keys/--keys-file (at most 20000); without {key}, one publisher.
    #[arg(long, value_name = "URL", help_heading = "Publishers")]
    pub publish_url: Option<String>,
    /// Stream keys, comma-separated.
    #[arg(
        long,
        value_name = "K1,K2",
        value_delimiter = ',',
        help_heading = "Publishers"
    )]
    pub keys: Vec<String>,
    /// File of stream keys, one per line (# comments).
    #[arg(long, value_name = "PATH", help_heading = "Publishers")]
    pub keys_file: Option<PathBuf>,
    /// Pre-encoded FLV clip (H.264/AAC) that every publisher loops in real time.
    #[arg(long, value_name = "PATH", help_heading = "Publishers")]
    pub flv: Option<PathBuf>,
    /// Send video untouched: no latency stamps (SEI) in the H.264 pictures.
    #[arg(long, help_heading = "Publishers")]
    pub no_stamp: bool,

    /// HTTP-FLV URL, e.g. http://127.0.0.1:8080/live/{id}.flv.
    #[arg(long, value_name = "URL", help_heading = "Viewers")]
    pub flv_url: Option<String>,
    /// HTTP-FLV viewers, at most 20000 [default: 1 with --flv-url].
    #[arg(long, value_name = "M", value_parser = count, help_heading = "Viewers")]
    pub flv_viewers: Option<usize>,
    /// HLS playlist URL, e.g. http://127.0.0.1:8080/hls/{id}/index.m3u8.
    #[arg(long, value_name = "URL", help_heading = "Viewers")]
    pub hls_url: Option<String>,
    /// HLS viewers, at most 20000 [default: 1 with --hls-url].
    #[arg(long, value_name = "K", value_parser = count, help_heading = "Viewers")]
    pub hls_viewers: Option<usize>,
    /// LL-HLS playlist URL (multivariant or media), e.g.
    /// http://127.0.0.1:8080/ll/{id}/index.m3u8: viewers that make blocking reloads and
    /// fetch parts like a low-latency player.
    #[arg(long, value_name = "URL", help_heading = "Viewers")]
    pub ll_url: Option<String>,
    /// LL-HLS viewers, at most 20000 [default: 1 with --ll-url].
    #[arg(long, value_name = "L", value_parser = count, help_heading = "Viewers")]
    pub ll_viewers: Option<usize>,
    /// RTMP play URL, e.g. rtmp://127.0.0.1:1935/live/{name}.
    #[arg(long, value_name = "URL", help_heading = "Viewers")]
    pub rtmp_play_url: Option<String>,
    /// RTMP players, at most 20000 [default: 1 with --rtmp-play-url].
    #[arg(long, value_name = "R", value_parser = count, help_heading = "Viewers")]
    pub rtmp_players: Option<usize>,
    /// Stream ids/names for the viewer URLs, comma-separated; viewers are spread over them
    /// round-robin [default: the publish keys].
    #[arg(
        long,
        value_name = "ID1,ID2",
        value_delimiter = ',',
        help_heading = "Viewers"
    )]
    pub ids: Vec<String>,
    /// File of stream ids/names, one per line (# comments).
    #[arg(long, value_name = "PATH", help_heading = "Viewers")]
    pub ids_file: Option<PathBuf>,

    /// Spread viewer starts evenly over this long.
    #[arg(long, default_value = "0s", value_parser = duration, help_heading = "Run")]
    pub ramp: Duration,
    /// With publishers: start viewers this long after every publisher is live (or failed).
    #[arg(long, default_value = "1s", value_parser = duration, help_heading = "Run")]
    pub viewer_delay: Duration,
    /// Connect timeout, and longest wait for any byte on an open connection.
    #[arg(long, default_value = "10s", value_parser = duration, help_heading = "Run")]
    pub io_timeout: Duration,
    /// Runtime threads; 1 runs everything on one current-thread runtime.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64), help_heading = "Run")]
    pub threads: u16,
    /// Write the JSON summary to PATH, or to stdout with "-"; may be repeated.
    #[arg(long, value_name = "PATH", action = ArgAction::Append, help_heading = "Output")]
    pub json: Vec<String>,
    /// No progress bars and no text report (errors still go to stderr).
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,
}

fn duration(text: &str) -> Result<Duration, String> {
    let parsed = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if parsed > MAX_DURATION {
        return Err(format!(
            "at most {}",
            humantime::format_duration(MAX_DURATION)
        ));
    }
    Ok(parsed)
}

fn count(text: &str) -> Result<usize, String> {
    let parsed: usize = text.parse().map_err(|_| format!("not a count: {text:?}"))?;
    if parsed > MAX_PER_ROLE {
        return Err(format!("at most {MAX_PER_ROLE}"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_parse_and_caps_hold() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "ferrocast-loadtest",
            "--duration",
            "8s",
            "--flv-url",
            "http://127.0.0.1:8080/live/{id}.flv",
            "--flv-viewers",
            "3",
            "--ids",
            "a,b",
            "--json",
            "-",
            "--json",
            "out.json",
        ])
        .unwrap();
        assert_eq!(cli.duration, Duration::from_secs(8));
        assert_eq!(cli.flv_viewers, Some(3));
        assert_eq!(cli.ids, ["a", "b"]);
        assert_eq!(cli.json, ["-", "out.json"]);
        for refused in [
            ["--flv-viewers", "20001"],
            ["--duration", "25h"],
            ["--threads", "0"],
            ["--duration", "soon"],
        ] {
            let parsed = Cli::try_parse_from(std::iter::once("ferrocast-loadtest").chain(refused));
            assert!(parsed.is_err(), "{refused:?}");
        }
    }
}
