//! Reading the text files a graph names (graph files, subgraphs, scripts, presets) with
//! a size limit, from regular files only.
//!
//! A path in a graph file is user input: it may name `/dev/zero`, a FIFO nobody writes
//! to, or a file of gigabytes. A plain `read_to_string` would read until memory runs out
//! or block forever. Here the file's type is checked before it is opened (opening a FIFO
//! blocks), at most [`MAX_SOURCE_FILE_BYTES`] are read, and text that is not UTF-8 is
//! reported with the line and column of its first bad byte.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The largest graph, subgraph, script or preset file read: 4 MiB, some hundred times
/// the largest real graph, small enough that reading it costs nothing.
pub const MAX_SOURCE_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Why a text file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceFileError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("it is {what}, not a regular file; give the path of a file")]
    NotRegular { what: &'static str },
    #[error("it is larger than the limit of {limit_bytes} bytes")]
    TooLarge { limit_bytes: u64 },
    #[error("it is not UTF-8 text: byte 0x{byte:02x} at line {line}, column {col}")]
    NotUtf8 { line: usize, col: usize, byte: u8 },
}

impl SourceFileError {
    /// Line and column (from 1) where the file went wrong, when known.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            SourceFileError::NotUtf8 { line, col, .. } => Some((*line, *col)),
            _ => None,
        }
    }
}

/// Reads `path` as UTF-8 text of at most [`MAX_SOURCE_FILE_BYTES`].
pub fn read_source_text(path: &Path) -> Result<String, SourceFileError> {
    read_text_limited(path, MAX_SOURCE_FILE_BYTES)
}

/// Reads `path` as UTF-8 text of at most `limit_bytes`, from a regular file only.
pub fn read_text_limited(path: &Path, limit_bytes: u64) -> Result<String, SourceFileError> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(SourceFileError::NotRegular {
            what: file_type_name(&meta.file_type()),
        });
    }
    if meta.len() > limit_bytes {
        return Err(SourceFileError::TooLarge { limit_bytes });
    }
    let mut bytes = Vec::new();
    // The file may have grown since its metadata was read: read one byte past the limit.
    File::open(path)?
        .take(limit_bytes + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit_bytes {
        return Err(SourceFileError::TooLarge { limit_bytes });
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let byte = e.as_bytes()[good.len()];
        // The prefix is valid UTF-8, so columns count characters.
        let text = std::str::from_utf8(good).expect("valid up to here");
        let line = text.matches('\n').count() + 1;
        let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        SourceFileError::NotUtf8 { line, col, byte }
    })
}

/// What a file that is not a regular file is, for messages: "a FIFO (named pipe)", "a
/// character device", "a folder" ...
pub fn file_type_name(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_text_and_refuses_what_is_not_a_small_text_file() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.ron");
        std::fs::write(&ok, "(nodes: [])").unwrap();
        assert_eq!(read_source_text(&ok).unwrap(), "(nodes: [])");

        let big = dir.path().join("big.ron");
        std::fs::write(&big, vec![b' '; 101]).unwrap();
        assert!(matches!(
            read_text_limited(&big, 100),
            Err(SourceFileError::TooLarge { limit_bytes: 100 })
        ));

        let bad = dir.path().join("bad.ron");
        std::fs::write(&bad, b"(\n  n\xc3\xa9: \xff)").unwrap();
        let err = read_source_text(&bad).unwrap_err();
        assert_eq!(err.position(), Some((2, 7)), "{err}");
        assert!(err.to_string().contains("0xff"), "{err}");

        let folder = read_source_text(dir.path()).unwrap_err();
        assert!(folder.to_string().contains("a folder"), "{folder}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_without_reading() {
        let err = read_source_text(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
    }
}
