//! The query of an LL-HLS media playlist request (RFC 8216bis §6.2.5): `_HLS_msn`,
//! `_HLS_part` and `_HLS_skip`. Pure, so every spelling a player or a CDN may send is tested
//! here.
//!
//! A malformed value, a repeated directive, `_HLS_part` without `_HLS_msn` or a skip value
//! other than `YES` is refused (the server answers 400), so a CDN never caches two answers
//! for one meaning. Other parameters (a CDN's or a player's own) are ignored: they do not
//! change the answer.

use ferrocast_base::Msn;
use ferrocast_media::ll::playlist::Request;

/// Why a query was refused: the reason sent with the 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub &'static str);

/// Parses the raw query string (without `?`) of a media playlist request.
pub fn parse(query: &str) -> Result<Request, Refused> {
    let mut request = Request::default();
    let mut skip_seen = false;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "_HLS_msn" => {
                if request.msn.is_some() {
                    return Err(Refused("_HLS_msn given twice"));
                }
                let msn = number(value).ok_or(Refused("_HLS_msn is not a number"))?;
                request.msn = Some(Msn(msn));
            }
            "_HLS_part" => {
                if request.part.is_some() {
                    return Err(Refused("_HLS_part given twice"));
                }
                let part = number(value).and_then(|part| u32::try_from(part).ok());
                request.part = Some(part.ok_or(Refused("_HLS_part is not a number"))?);
            }
            "_HLS_skip" => {
                if skip_seen {
                    return Err(Refused("_HLS_skip given twice"));
                }
                skip_seen = true;
                // `v2` also skips date ranges; this server lists none and does not offer it.
                if value != "YES" {
                    return Err(Refused("_HLS_skip must be YES"));
                }
                request.skip = true;
            }
            _ => {}
        }
    }
    if request.part.is_some() && request.msn.is_none() {
        return Err(Refused("_HLS_part needs _HLS_msn"));
    }
    Ok(request)
}

/// Decimal digits only: `u64::from_str` would also take a leading `+`.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_parse() {
        assert_eq!(parse(""), Ok(Request::default()));
        let blocking = parse("_HLS_msn=12&_HLS_part=3").unwrap_or_default();
        assert_eq!(blocking.msn, Some(Msn(12)));
        assert_eq!(blocking.part, Some(3));
        assert!(!blocking.skip);
        let delta = parse("_HLS_msn=12&_HLS_skip=YES").unwrap_or_default();
        assert_eq!(delta.msn, Some(Msn(12)));
        assert!(delta.skip);
        let plain_delta = parse("_HLS_skip=YES").unwrap_or_default();
        assert!(plain_delta.skip && plain_delta.msn.is_none());
        // A CDN's or a player's own parameters change nothing.
        assert_eq!(parse("cb=17&_HLS_msn=4"), parse("_HLS_msn=4"));
    }

    #[test]
    fn malformed_directives_are_refused() {
        for query in [
            "_HLS_msn=",
            "_HLS_msn=x",
            "_HLS_msn=+3",
            "_HLS_msn=-1",
            "_HLS_msn=1.5",
            "_HLS_msn=99999999999999999999",
            "_HLS_msn=1&_HLS_part=4294967296",
            "_HLS_msn=1&_HLS_part=",
            "_HLS_part=2",
            "_HLS_skip=NO",
            "_HLS_skip=v2",
            "_HLS_skip",
            "_HLS_msn=1&_HLS_msn=2",
            "_HLS_skip=YES&_HLS_skip=YES",
            "_HLS_msn=1&_HLS_part=1&_HLS_part=2",
        ] {
            assert!(parse(query).is_err(), "{query}");
        }
    }
}
