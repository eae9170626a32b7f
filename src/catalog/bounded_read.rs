//! Reading catalogue rows and manifest records with a bound on each one's size.
//!
//! A catalogue may hold a million rows, so it is streamed and has no size limit as a
//! whole; but one row is one track's fields, and a file with no line breaks (a binary
//! dump, a symbolic link to `/dev/zero`) must not be read into memory as one "row".
//! Line formats (JSON Lines, the manifests) read each line through
//! [`read_line_bounded`] (from `lathe_engine`), which skips the rest of a line past the
//! limit. CSV records may
//! span lines inside quotes, so the CSV parser reads through a [`RowBudget`], which
//! fails once a record has taken more than the limit.

use std::io::{self, Read};

pub use lathe_engine::bounded_line::{Line, read_line_bounded};

/// The longest catalogue row: 1 MiB. A real row is well under 1 KiB.
pub const MAX_ROW_BYTES: u64 = 1024 * 1024;

/// The longest manifest record: 64 MiB. A record holds one unit's tracks, about 2 KiB
/// each, so this is an album of some 30,000 tracks.
pub const MAX_MANIFEST_RECORD_BYTES: u64 = 64 * 1024 * 1024;

/// A row or record past its limit.
#[derive(Debug, thiserror::Error)]
#[error("the row is longer than {limit_bytes} bytes, the most one row may hold")]
pub struct RowTooLong {
    pub limit_bytes: u64,
}

/// A reader that fails with [`RowTooLong`] once more than `limit_bytes` have been read
/// since the last [`RowBudget::mark`]. The CSV parser reads ahead by its buffer (8 KiB),
/// so a record may pass the limit by that much before it is refused.
pub struct RowBudget<R> {
    inner: R,
    since_mark_bytes: u64,
    limit_bytes: u64,
}

impl<R> RowBudget<R> {
    pub fn new(inner: R, limit_bytes: u64) -> Self {
        Self {
            inner,
            since_mark_bytes: 0,
            limit_bytes,
        }
    }

    /// A record has ended: the next one starts with the whole budget.
    pub fn mark(&mut self) {
        self.since_mark_bytes = 0;
    }
}

impl<R: Read> Read for RowBudget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.since_mark_bytes > self.limit_bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                RowTooLong {
                    limit_bytes: self.limit_bytes,
                },
            ));
        }
        let n = self.inner.read(buf)?;
        self.since_mark_bytes += n as u64;
        Ok(n)
    }
}

/// Whether an I/O error is a [`RowTooLong`].
pub fn is_row_too_long(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<RowTooLong>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_fails_after_its_limit_until_marked() {
        let data = [b'x'; 100];
        let mut r = RowBudget::new(&data[..], 10);
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf).unwrap(), 8);
        assert_eq!(r.read(&mut buf).unwrap(), 8);
        let e = r.read(&mut buf).unwrap_err();
        assert!(is_row_too_long(&e), "{e}");
        assert!(e.to_string().contains("longer than 10 bytes"), "{e}");
        r.mark();
        assert_eq!(r.read(&mut buf).unwrap(), 8);
    }
}
