//! Every storage key layout in one place.
//!
//! Objects: `<prefix>/<stream>/<epoch>/<msn>.ts`. Keys are immutable: a (stream, epoch, msn)
//! triple is written once, because the epoch fences every other writer out.

use object_store::path::Path;

/// The object key of a media segment.
pub fn segment(prefix: &str, stream_id: &str, epoch: u64, msn: u64) -> Path {
    let name = format!("{stream_id}/{epoch}/{msn}.ts");
    if prefix.is_empty() {
        Path::from(name)
    } else {
        Path::from(format!("{prefix}/{name}"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn segment_key_layout() {
        assert_eq!(
            super::segment("live", "st_1", 3, 42).as_ref(),
            "live/st_1/3/42.ts"
        );
        assert_eq!(super::segment("", "st_1", 3, 42).as_ref(), "st_1/3/42.ts");
    }
}
