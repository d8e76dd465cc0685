//! Reads a media playlist's lines into [`Facts`], refusing what a player could not read.

use super::{Facts, PartFacts, SegmentFacts};

/// A decimal number of seconds in microseconds (`2.002` → 2 002 000); digits past the sixth
/// decimal are dropped.
fn micros(text: &str) -> Result<u64, String> {
    let bad = || format!("not a decimal number of seconds: {text:?}");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let mut digits: String = fraction.chars().take(6).collect();
    while digits.len() < 6 {
        digits.push('0');
    }
    let fraction: u64 = digits.parse().map_err(|_| bad())?;
    Ok(whole * 1_000_000 + fraction)
}

/// The value of `name` in an attribute list (quotes removed).
fn attribute<'a>(list: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = list;
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (
                &quoted[..end],
                quoted[end + 1..].strip_prefix(',').unwrap_or(""),
            )
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        if key == name {
            return Some(value);
        }
        rest = next;
    }
    None
}

fn required<'a>(list: &'a str, name: &str, tag: &str) -> Result<&'a str, String> {
    attribute(list, name).ok_or_else(|| format!("{tag} without {name}"))
}

fn once<T>(slot: &mut Option<T>, value: T, tag: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{tag} twice"));
    }
    *slot = Some(value);
    Ok(())
}

/// Reads `playlist` into facts without judging durations (see [`super::check`]).
pub(super) fn parse(playlist: &str) -> Result<Facts, String> {
    let mut lines = playlist.lines();
    if lines.next() != Some("#EXTM3U") {
        return Err("the first line is not #EXTM3U".into());
    }
    let (mut target, mut part_inf, mut control, mut sequence) = (None, None, None, None);
    let (mut discontinuity_sequence, mut skipped, mut hint) = (None, None, None);
    let mut ended = false;
    let mut segments = Vec::new();
    let mut parts = Vec::new();
    let mut extinf = None;
    let mut discontinuity = false;
    for line in lines {
        let line = line.trim_end();
        let (tag, value) = line.split_once(':').unwrap_or((line, ""));
        match tag {
            "#EXT-X-TARGETDURATION" => {
                let seconds = value.parse().map_err(|_| format!("{line}: not a number"))?;
                once(&mut target, seconds, tag)?;
            }
            "#EXT-X-PART-INF" => {
                let part_target = micros(required(value, "PART-TARGET", tag)?)?;
                once(&mut part_inf, part_target, tag)?;
            }
            "#EXT-X-SERVER-CONTROL" => once(&mut control, value.to_string(), tag)?,
            "#EXT-X-MEDIA-SEQUENCE" => {
                let msn = value.parse().map_err(|_| format!("{line}: not a number"))?;
                once(&mut sequence, msn, tag)?;
            }
            "#EXT-X-DISCONTINUITY-SEQUENCE" => {
                let number = value.parse().map_err(|_| format!("{line}: not a number"))?;
                once(&mut discontinuity_sequence, number, tag)?;
            }
            "#EXT-X-SKIP" => {
                let count = required(value, "SKIPPED-SEGMENTS", tag)?;
                let count = count.parse().map_err(|_| format!("{line}: not a number"))?;
                once(&mut skipped, count, tag)?;
            }
            "#EXT-X-PRELOAD-HINT" => {
                if required(value, "TYPE", tag)? == "PART" {
                    once(&mut hint, required(value, "URI", tag)?.to_string(), tag)?;
                }
            }
            "#EXT-X-DISCONTINUITY" => discontinuity = true,
            "#EXT-X-ENDLIST" => ended = true,
            "#EXT-X-PART" => parts.push(PartFacts {
                uri: required(value, "URI", tag)?.to_string(),
                duration_us: micros(required(value, "DURATION", tag)?)?,
                independent: attribute(value, "INDEPENDENT") == Some("YES"),
                gap: attribute(value, "GAP") == Some("YES"),
            }),
            "#EXTINF" => {
                let duration = value.split(',').next().unwrap_or("");
                extinf = Some(micros(duration)?);
            }
            _ if line.is_empty() || line.starts_with('#') => {}
            _ => {
                let Some(duration_us) = extinf.take() else {
                    return Err(format!("URI {line} without #EXTINF"));
                };
                segments.push(SegmentFacts {
                    msn: 0,
                    uri: Some(line.to_string()),
                    duration_us: Some(duration_us),
                    parts: std::mem::take(&mut parts),
                    discontinuity: std::mem::take(&mut discontinuity),
                });
            }
        }
    }
    if !parts.is_empty() {
        segments.push(SegmentFacts {
            msn: 0,
            uri: None,
            duration_us: None,
            parts,
            discontinuity,
        });
    }
    let target_duration_s = target.ok_or("no #EXT-X-TARGETDURATION")?;
    let part_target_us = part_inf.ok_or("no #EXT-X-PART-INF")?;
    let media_sequence = sequence.ok_or("no #EXT-X-MEDIA-SEQUENCE")?;
    let control = control.ok_or("no #EXT-X-SERVER-CONTROL")?;
    let hold_back = required(&control, "PART-HOLD-BACK", "#EXT-X-SERVER-CONTROL")?;
    let skipped_segments = skipped.unwrap_or(0);
    for (at, segment) in segments.iter_mut().enumerate() {
        segment.msn = media_sequence + skipped_segments + at as u64;
    }
    Ok(Facts {
        target_duration_s,
        part_target_us,
        part_hold_back_us: micros(hold_back)?,
        can_skip_until_us: attribute(&control, "CAN-SKIP-UNTIL")
            .map(micros)
            .transpose()?,
        can_block_reload: attribute(&control, "CAN-BLOCK-RELOAD") == Some("YES"),
        media_sequence,
        discontinuity_sequence: discontinuity_sequence.unwrap_or(0),
        skipped_segments,
        segments,
        preload_hint: hint,
        ended,
    })
}
