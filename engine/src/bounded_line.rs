//! Reading a line of user input with a bound on the memory it takes.
//!
//! A line-based input (a catalogue in JSON Lines, a task manifest, commands typed or
//! piped on stdin) may come from a file with no line breaks at all, a binary dump or a
//! link to `/dev/zero`; `BufRead::lines` would hold all of it as one line.

use std::io::{self, BufRead, Read};

/// What [`read_line_bounded`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The end of the input: nothing was read.
    End,
    /// A line, in the buffer without its line break.
    Read,
    /// A line longer than the limit, read past and dropped; the buffer is empty.
    TooLong,
}

/// Reads the next line of `reader` into `line` (cleared first), holding at most
/// `limit_bytes` of it in memory. A longer line is consumed to its end and reported as
/// [`Line::TooLong`], so the caller can go on with the next one.
pub fn read_line_bounded(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    limit_bytes: u64,
) -> io::Result<Line> {
    line.clear();
    // One byte past the limit tells a line of exactly the limit from a longer one.
    let n = (&mut *reader)
        .take(limit_bytes + 1)
        .read_until(b'\n', line)?;
    if n == 0 {
        return Ok(Line::End);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        return Ok(Line::Read);
    }
    if (line.len() as u64) <= limit_bytes {
        // The last line, without a line break.
        return Ok(Line::Read);
    }
    line.clear();
    skip_past_newline(reader)?;
    Ok(Line::TooLong)
}

fn skip_past_newline(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            reader.consume(i + 1);
            return Ok(());
        }
        let n = buf.len();
        reader.consume(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8], limit: u64) -> Vec<(Line, String)> {
        let mut reader = io::BufReader::with_capacity(4, text);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let l = read_line_bounded(&mut reader, &mut buf, limit).unwrap();
            if l == Line::End {
                return out;
            }
            out.push((l, String::from_utf8(buf.clone()).unwrap()));
        }
    }

    #[test]
    fn lines_past_the_limit_are_dropped_and_the_next_ones_read() {
        let got = lines(b"abc\r\nabcdefghij\nxy\n\nabcd", 4);
        assert_eq!(
            got,
            vec![
                (Line::Read, "abc".into()),
                (Line::TooLong, String::new()),
                (Line::Read, "xy".into()),
                (Line::Read, String::new()),
                (Line::Read, "abcd".into()),
            ]
        );
        // Exactly the limit, with and without a line break after it.
        assert_eq!(lines(b"abcd\n", 4), vec![(Line::Read, "abcd".into())]);
        assert_eq!(lines(b"abcde", 4), vec![(Line::TooLong, String::new())]);
    }
}
