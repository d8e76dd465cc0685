//! A bounds-checked big-endian byte cursor shared by the parsers, so that no
//! parser has to index untrusted slices directly.

use crate::MediaError;

/// Reads big-endian fields from the front of a slice; every read is checked.
#[derive(Debug, Clone)]
pub(crate) struct ByteReader<'a> {
    rest: &'a [u8],
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    /// The bytes not consumed yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub(crate) fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], MediaError> {
        let Some((head, tail)) = self.rest.split_at_checked(len) else {
            return Err(MediaError::Truncated(what));
        };
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, MediaError> {
        let (&first, tail) = self.rest.split_first().ok_or(MediaError::Truncated(what))?;
        self.rest = tail;
        Ok(first)
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, MediaError> {
        let bytes = self.take(2, what)?;
        Ok(bytes.iter().fold(0, |acc, &b| (acc << 8) | u16::from(b)))
    }

    pub(crate) fn u24(&mut self, what: &'static str) -> Result<u32, MediaError> {
        let bytes = self.take(3, what)?;
        Ok(bytes.iter().fold(0, |acc, &b| (acc << 8) | u32::from(b)))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, MediaError> {
        let bytes = self.take(4, what)?;
        Ok(bytes.iter().fold(0, |acc, &b| (acc << 8) | u32::from(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_reports_truncation() {
        let mut r = ByteReader::new(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 0x0203);
        assert_eq!(r.u24("c").unwrap(), 0x040506);
        assert_eq!(r.u32("d").unwrap(), 0x0708090A);
        assert_eq!(r.u8("e"), Err(MediaError::Truncated("e")));
        assert!(r.rest().is_empty());
    }
}
