//! The catalogue file: one row per track, as CSV (with a header) or JSON Lines, read as
//! a stream so that a million rows never sit in memory at once.
//!
//! Columns (see docs/catalog.md): `path` and `album` are required; `album_id`,
//! `album_artist`, `artist`, `track`, `title`, `isrc`, `preset` and `target_lufs` are
//! optional. Unknown columns are errors (a misspelt `titel` would silently drop titles).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::catalog::bounded_read::{
    Line, MAX_ROW_BYTES, RowBudget, is_row_too_long, read_line_bounded,
};

/// Every column a catalogue may have.
pub const COLUMNS: [&str; 10] = [
    "path",
    "album",
    "album_id",
    "album_artist",
    "artist",
    "track",
    "title",
    "isrc",
    "preset",
    "target_lufs",
];

/// One track of the catalogue, as written in the file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// The input file, relative to the catalogue file's folder unless absolute.
    pub path: String,
    /// Album title.
    pub album: String,
    /// A stable album identifier (UPC/EAN, catalogue number); the album key when set.
    #[serde(default)]
    pub album_id: Option<String>,
    /// Album artist; defaults to `artist`. Part of the album key when there is no id.
    #[serde(default)]
    pub album_artist: Option<String>,
    #[serde(default)]
    pub artist: Option<String>,
    /// Position in the album, from 1; defaults to the row's order within its album.
    #[serde(default)]
    pub track: Option<u32>,
    /// Title; defaults to the input file's stem.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub isrc: Option<String>,
    /// A preset name or `.ron` file (relative to the catalogue's folder) for this
    /// track's album; overrides `--preset`.
    #[serde(default)]
    pub preset: Option<String>,
    /// Loudness target for this track's album (track mode: this track); overrides
    /// `--target-lufs` and the preset's.
    #[serde(default)]
    pub target_lufs: Option<f64>,
}

impl Row {
    /// Empty CSV cells and blank strings mean "not given".
    fn normalised(mut self) -> Self {
        for field in [
            &mut self.album_id,
            &mut self.album_artist,
            &mut self.artist,
            &mut self.title,
            &mut self.isrc,
            &mut self.preset,
        ] {
            if field.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *field = None;
            }
        }
        self
    }

    /// The album artist: `album_artist`, else `artist`.
    pub fn album_artist(&self) -> Option<&str> {
        self.album_artist.as_deref().or(self.artist.as_deref())
    }

    /// The album key: `id:ALBUM_ID`, or `ALBUM_ARTIST / ALBUM`.
    pub fn album_key(&self) -> String {
        match &self.album_id {
            Some(id) => format!("id:{id}"),
            None => format!("{} / {}", self.album_artist().unwrap_or(""), self.album),
        }
    }
}

/// A problem with the catalogue file, with its place.
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    #[error("cannot read catalogue `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "catalogue `{}`: the format is chosen by extension: .csv, .jsonl or .ndjson",
        path.display()
    )]
    Extension { path: PathBuf },
    #[error(
        "catalogue `{}`: it is {what}, not a regular file; give the path of a .csv or .jsonl file",
        path.display()
    )]
    NotRegular { path: PathBuf, what: &'static str },
    #[error(
        "{}:1: unknown column `{column}`; columns: {}",
        path.display(),
        COLUMNS.join(", ")
    )]
    UnknownColumn { path: PathBuf, column: String },
    #[error("{}:1: the required column `{column}` is missing", path.display())]
    MissingColumn { path: PathBuf, column: &'static str },
    #[error("{}:{line}: {message}", path.display())]
    Row {
        path: PathBuf,
        line: u64,
        message: String,
    },
}

enum Source {
    Csv(csv::DeserializeRecordsIntoIter<RowBudget<File>, Row>),
    Lines {
        reader: BufReader<File>,
        line_no: u64,
        line: Vec<u8>,
    },
}

/// The rows of a catalogue file in order, each with its line number.
///
/// Each row is read with at most [`MAX_ROW_BYTES`] in memory. A JSON Lines row past it is
/// an error at its line and reading goes on; a CSV record past it ends the rows there
/// (where a quoted field that never closes would end is unknown).
pub struct Rows {
    path: PathBuf,
    source: Source,
    ended: bool,
}

impl Rows {
    pub fn open(path: &Path) -> Result<Self, RowsError> {
        let read = |source| RowsError::Read {
            path: path.to_path_buf(),
            source,
        };
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        if !matches!(ext.as_deref(), Some("csv" | "jsonl" | "ndjson")) {
            return Err(RowsError::Extension {
                path: path.to_path_buf(),
            });
        }
        // Checked before opening: opening a FIFO blocks until somebody writes to it, and a
        // device such as /dev/zero never ends.
        let meta = std::fs::metadata(path).map_err(read)?;
        if !meta.is_file() {
            return Err(RowsError::NotRegular {
                path: path.to_path_buf(),
                what: lathe_engine::graph::source_file::file_type_name(&meta.file_type()),
            });
        }
        let file = File::open(path).map_err(read)?;
        let source = match ext.as_deref() {
            Some("csv") => {
                let mut reader = csv::ReaderBuilder::new()
                    .trim(csv::Trim::All)
                    .from_reader(RowBudget::new(file, MAX_ROW_BYTES));
                let headers = reader.headers().map_err(|e| RowsError::Row {
                    path: path.to_path_buf(),
                    line: 1,
                    message: e.to_string(),
                })?;
                if let Some(column) = headers.iter().find(|h| !COLUMNS.contains(h)) {
                    return Err(RowsError::UnknownColumn {
                        path: path.to_path_buf(),
                        column: column.to_string(),
                    });
                }
                for column in ["path", "album"] {
                    if !headers.iter().any(|h| h == column) {
                        return Err(RowsError::MissingColumn {
                            path: path.to_path_buf(),
                            column,
                        });
                    }
                }
                reader.get_mut().mark();
                Source::Csv(reader.into_deserialize())
            }
            _ => Source::Lines {
                reader: BufReader::new(file),
                line_no: 0,
                line: Vec::new(),
            },
        };
        Ok(Self {
            path: path.to_path_buf(),
            source,
            ended: false,
        })
    }

    fn row_error(&self, line: u64, message: String) -> RowsError {
        RowsError::Row {
            path: self.path.clone(),
            line,
            message,
        }
    }
}

impl Iterator for Rows {
    type Item = Result<(u64, Row), RowsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let item = match &mut self.source {
            Source::Csv(records) => next_csv(records),
            Source::Lines {
                reader,
                line_no,
                line,
            } => next_json_line(reader, line_no, line),
        }?;
        Some(item.map_err(|(line, message, fatal)| {
            self.ended = fatal;
            self.row_error(line, message)
        }))
    }
}

/// A row's problem: its line, the message, and whether reading cannot go on.
type RowProblem = (u64, String, bool);

fn next_csv(
    records: &mut csv::DeserializeRecordsIntoIter<RowBudget<File>, Row>,
) -> Option<Result<(u64, Row), RowProblem>> {
    // Where the next record starts, for a record too long to be parsed.
    let start_line = records.reader().position().line();
    let result = records.next()?;
    records.reader_mut().get_mut().mark();
    Some(match result {
        Ok(row) => {
            // The reader has just passed the record: its line is the one before.
            let line = records.reader().position().line().saturating_sub(1).max(2);
            Ok((line, row.normalised()))
        }
        Err(e) => {
            if let csv::ErrorKind::Io(io) = e.kind() {
                let message = if is_row_too_long(io) {
                    format!("{io}; is this a catalogue? (a row is one track's fields)")
                } else {
                    io.to_string()
                };
                return Some(Err((start_line, message, true)));
            }
            let line = e.position().map_or(start_line, |p| p.line());
            let message = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => match err.field() {
                    Some(i) => format!("column {}: {}", i + 1, err.kind()),
                    None => err.kind().to_string(),
                },
                _ => e.to_string(),
            };
            Err((line, message, false))
        }
    })
}

fn next_json_line(
    reader: &mut BufReader<File>,
    line_no: &mut u64,
    line: &mut Vec<u8>,
) -> Option<Result<(u64, Row), RowProblem>> {
    loop {
        *line_no += 1;
        let at = *line_no;
        match read_line_bounded(reader, line, MAX_ROW_BYTES) {
            Err(e) => return Some(Err((at, e.to_string(), true))),
            Ok(Line::End) => return None,
            Ok(Line::TooLong) => {
                let message = format!(
                    "the row is longer than {MAX_ROW_BYTES} bytes, the most one row may hold; is this a catalogue? (a row is one track's fields)"
                );
                return Some(Err((at, message, false)));
            }
            Ok(Line::Read) => {}
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        return Some(
            serde_json::from_slice::<Row>(line)
                .map(|r| (at, r.normalised()))
                .map_err(|e| (at, e.to_string(), false)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn csv_and_json_lines_give_the_same_rows() {
        let (_d1, csv) = write(
            "c.csv",
            "path,album,artist,track,title,isrc\na/01.wav,First,Band,1,Opening,\na/02.wav,First,Band,2,,GBAYE2400001\n",
        );
        let (_d2, jsonl) = write(
            "c.jsonl",
            "{\"path\":\"a/01.wav\",\"album\":\"First\",\"artist\":\"Band\",\"track\":1,\"title\":\"Opening\"}\n\n{\"path\":\"a/02.wav\",\"album\":\"First\",\"artist\":\"Band\",\"track\":2,\"isrc\":\"GBAYE2400001\"}\n",
        );
        let a: Vec<Row> = Rows::open(&csv).unwrap().map(|r| r.unwrap().1).collect();
        let b: Vec<Row> = Rows::open(&jsonl).unwrap().map(|r| r.unwrap().1).collect();
        assert_eq!(a, b);
        assert_eq!(a[1].title, None);
        assert_eq!(a[0].album_key(), "Band / First");
    }

    #[test]
    fn problems_name_the_line() {
        let (_d, csv) = write("c.csv", "path,album,track\na.wav,X,1\nb.wav,X,two\n");
        let results: Vec<_> = Rows::open(&csv).unwrap().collect();
        let e = results[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("c.csv:3:") && e.contains("column 3"), "{e}");
        let (_d, csv) = write("c.csv", "path,album,titel\n");
        let e = Rows::open(&csv).err().unwrap().to_string();
        assert!(e.contains("unknown column `titel`"), "{e}");
        let (_d, j) = write(
            "c.jsonl",
            "{\"path\":\"a\",\"album\":\"b\"}\n{\"path\":\"a\"}\n",
        );
        let results: Vec<_> = Rows::open(&j).unwrap().collect();
        let e = results[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("c.jsonl:2:") && e.contains("album"), "{e}");
    }
}
