//! Turns the flags into a checked plan: every URL expanded, parsed and on loopback, the clip
//! loaded, counts within the caps and within the open-file limit. Nothing touches the network
//! before this succeeds.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail, ensure};

use crate::cli::{Cli, MAX_PER_ROLE};
use crate::clip::Clip;
use crate::publisher::Publisher;
use crate::target::{self, HttpTarget, RtmpTarget, expand, has_placeholder};

/// Shorter I/O timeouts would fail healthy connections.
const MIN_IO_TIMEOUT: Duration = Duration::from_millis(100);

/// Everything a run needs.
#[derive(Debug)]
pub struct Plan {
    /// How long to run.
    pub duration: Duration,
    /// Connect and stall timeout.
    pub io_timeout: Duration,
    /// Viewer starts are spread over this long.
    pub ramp: Duration,
    /// Pause between publishers going live and viewers starting.
    pub viewer_delay: Duration,
    /// Runtime threads.
    pub threads: usize,
    /// One per publisher.
    pub publishers: Vec<Publisher>,
    /// One per HTTP-FLV viewer.
    pub flv: Vec<HttpTarget>,
    /// One per HLS viewer.
    pub hls: Vec<HttpTarget>,
    /// One per RTMP player.
    pub rtmp: Vec<RtmpTarget>,
    /// One per LL-HLS viewer.
    pub ll: Vec<HttpTarget>,
}

/// Checks the flags and builds the plan.
pub fn build(cli: &Cli) -> anyhow::Result<Plan> {
    ensure!(!cli.duration.is_zero(), "--duration must be above zero");
    let keys = list(&cli.keys, cli.keys_file.as_deref()).context("reading --keys-file")?;
    let publishers = publishers(cli, &keys)?;
    let mut ids = list(&cli.ids, cli.ids_file.as_deref()).context("reading --ids-file")?;
    if ids.is_empty() {
        ids = keys;
    }
    let flv = viewers(
        &cli.flv_url,
        cli.flv_viewers,
        "--flv-url",
        &ids,
        target::http,
    )?;
    let hls = viewers(
        &cli.hls_url,
        cli.hls_viewers,
        "--hls-url",
        &ids,
        target::http,
    )?;
    let rtmp = viewers(
        &cli.rtmp_play_url,
        cli.rtmp_players,
        "--rtmp-play-url",
        &ids,
        target::rtmp,
    )?;
    let ll = viewers(&cli.ll_url, cli.ll_viewers, "--ll-url", &ids, target::http)?;
    let connections = publishers.len() + flv.len() + hls.len() + rtmp.len() + ll.len();
    ensure!(
        connections > 0,
        "nothing to do: give --publish-url, --flv-url, --hls-url, --ll-url or --rtmp-play-url"
    );
    check_open_files(connections)?;
    Ok(Plan {
        duration: cli.duration,
        io_timeout: cli.io_timeout.max(MIN_IO_TIMEOUT),
        ramp: cli.ramp,
        viewer_delay: cli.viewer_delay,
        threads: usize::from(cli.threads),
        publishers,
        flv,
        hls,
        rtmp,
        ll,
    })
}

fn publishers(cli: &Cli, keys: &[String]) -> anyhow::Result<Vec<Publisher>> {
    let Some(template) = &cli.publish_url else {
        ensure!(keys.is_empty(), "--keys needs --publish-url");
        return Ok(Vec::new());
    };
    let urls: Vec<String> = if has_placeholder(template) {
        ensure!(
            !keys.is_empty(),
            "--publish-url has {{key}}: give --keys or --keys-file"
        );
        keys.iter().map(|key| expand(template, key)).collect()
    } else {
        vec![template.clone()]
    };
    ensure!(
        urls.len() <= MAX_PER_ROLE,
        "{} publishers: at most {MAX_PER_ROLE}",
        urls.len()
    );
    let targets: Vec<RtmpTarget> = urls
        .iter()
        .map(|url| target::rtmp(url))
        .collect::<Result<_, _>>()?;
    let clip_path = cli
        .flv
        .as_deref()
        .context("publishers need a clip: give --flv clip.flv")?;
    let clip = Arc::new(Clip::load(clip_path)?);
    let publishers = targets
        .into_iter()
        .map(|target| Publisher {
            target,
            clip: clip.clone(),
            stamp: !cli.no_stamp,
            io_timeout: cli.io_timeout.max(MIN_IO_TIMEOUT),
        })
        .collect();
    Ok(publishers)
}

/// One target per viewer, spread round-robin over `ids` when the template has a placeholder.
fn viewers<T: Clone>(
    template: &Option<String>,
    count: Option<usize>,
    flag: &str,
    ids: &[String],
    parse: impl Fn(&str) -> Result<T, target::TargetError>,
) -> anyhow::Result<Vec<T>> {
    let Some(template) = template else {
        ensure!(count.unwrap_or(0) == 0, "a viewer count needs {flag}");
        return Ok(Vec::new());
    };
    let count = count.unwrap_or(1);
    let distinct: Vec<T> = if has_placeholder(template) {
        ensure!(
            !ids.is_empty(),
            "{flag} has a placeholder: give --ids, --ids-file or --keys"
        );
        ids.iter()
            .map(|id| parse(&expand(template, id)))
            .collect::<Result<_, _>>()?
    } else {
        vec![parse(template)?]
    };
    Ok((0..count)
        .map(|index| distinct[index % distinct.len()].clone())
        .collect())
}

fn list(inline: &[String], file: Option<&Path>) -> anyhow::Result<Vec<String>> {
    let mut items: Vec<String> = inline
        .iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect();
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        items.extend(
            text.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_owned),
        );
    }
    Ok(items)
}

/// Refuses a run that would hit the open-file limit halfway (Linux; skipped elsewhere).
fn check_open_files(connections: usize) -> anyhow::Result<()> {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return Ok(());
    };
    let soft = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|value| value.parse::<usize>().ok());
    let Some(soft) = soft else {
        return Ok(());
    };
    let needed = connections * 2 + 64; // HLS may hold a second connection briefly
    if needed > soft {
        bail!(
            "{connections} connections need about {needed} open files but the limit is {soft}: \
             raise it first (ulimit -n {needed})"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use clap::Parser;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        let cli =
            Cli::try_parse_from(std::iter::once("ferrocast-loadtest").chain(args.iter().copied()))?;
        build(&cli)
    }

    #[test]
    fn spreads_viewers_over_ids() {
        let plan = plan(&[
            "--flv-url",
            "http://127.0.0.1:8080/live/{id}.flv",
            "--flv-viewers",
            "5",
            "--ids",
            "a,b",
            "--hls-url",
            "http://127.0.0.1:8080/hls/x/index.m3u8",
            "--ll-url",
            "http://127.0.0.1:8080/ll/{id}/index.m3u8",
            "--ll-viewers",
            "3",
        ])
        .unwrap();
        let paths: Vec<&str> = plan.flv.iter().map(|t| t.path_and_query.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/live/a.flv",
                "/live/b.flv",
                "/live/a.flv",
                "/live/b.flv",
                "/live/a.flv"
            ]
        );
        assert_eq!(plan.hls.len(), 1);
        let ll: Vec<&str> = plan.ll.iter().map(|t| t.path_and_query.as_str()).collect();
        assert_eq!(
            ll,
            ["/ll/a/index.m3u8", "/ll/b/index.m3u8", "/ll/a/index.m3u8"]
        );
        assert!(plan.publishers.is_empty() && plan.rtmp.is_empty());
    }

    #[test]
    fn refuses_non_loopback_targets_before_anything_runs() {
        let refused = plan(&["--flv-url", "http://10.0.0.5:8080/live/x.flv"]).unwrap_err();
        assert!(refused.to_string().contains("non-loopback"), "{refused:#}");
        let refused = plan(&["--rtmp-play-url", "rtmp://example.com/live/x"]).unwrap_err();
        assert!(refused.to_string().contains("non-loopback"), "{refused:#}");
        let refused = plan(&[
            "--publish-url",
            "rtmp://192.168.0.2/live/{key}",
            "--keys",
            "k",
            "--flv",
            "/nonexistent.flv",
        ])
        .unwrap_err();
        assert!(refused.to_string().contains("non-loopback"), "{refused:#}");
    }

    #[test]
    fn refuses_incomplete_requests() {
        assert!(plan(&[]).is_err());
        assert!(plan(&["--flv-viewers", "3"]).is_err());
        assert!(plan(&["--ll-viewers", "3"]).is_err());
        assert!(plan(&["--ll-url", "http://10.1.1.1/ll/x/index.m3u8"]).is_err());
        assert!(plan(&["--flv-url", "http://127.0.0.1/live/{id}.flv"]).is_err());
        assert!(plan(&["--publish-url", "rtmp://127.0.0.1/live/k"]).is_err()); // no --flv
        assert!(plan(&["--hls-url", "http://127.0.0.1/a.m3u8", "--duration", "0s"]).is_err());
    }
}
