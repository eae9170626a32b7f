//! The results manifest: one JSON line per finished unit, appended, flushed and fsynced
//! before the next unit starts, one file per task (`task-NNNN.jsonl` in the manifest
//! folder) so tasks never write the same file. A task killed mid-unit leaves at worst
//! a torn last line, which readers skip and the next writer closes with a newline.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use lathe_nodes::dsp::analysis::FileAnalysis;
use serde::{Deserialize, Serialize};

use crate::album::preset::Preset;
use crate::album::shard::Shard;
use crate::catalog::bounded_read::{Line, MAX_MANIFEST_RECORD_BYTES, read_line_bounded};

/// Whether a unit was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Done,
    Failed,
}

/// Loudness figures of one file, as the manifest keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    pub integrated_lufs: Option<f64>,
    pub loudness_range_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub sample_peak_dbfs: Option<f64>,
}

impl From<&FileAnalysis> for Loudness {
    fn from(a: &FileAnalysis) -> Self {
        Self {
            integrated_lufs: a.integrated_lufs,
            loudness_range_lu: a.loudness_range_lu,
            true_peak_dbtp: a.true_peak_dbtp,
            sample_peak_dbfs: a.sample_peak_dbfs,
        }
    }
}

/// What a delivered file read back as (`--verify`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodecCheck {
    pub decoded: bool,
    pub sample_rate_hz: Option<u32>,
    pub channels: Option<usize>,
    pub frames: Option<usize>,
    pub error: Option<String>,
}

/// One track of a unit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackRecord {
    /// Catalogue line of the track's row.
    pub line: u64,
    pub input: String,
    pub input_sha256: Option<String>,
    /// Relative to the output folder.
    pub output: String,
    pub output_sha256: Option<String>,
    pub title: Option<String>,
    pub track: Option<u32>,
    pub isrc: Option<String>,
    pub gain_db: Option<f64>,
    pub safety_gain_db: Option<f64>,
    pub before: Option<Loudness>,
    pub after: Option<Loudness>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_check: Option<CodecCheck>,
}

/// One line of a manifest: a unit and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    pub unit: String,
    pub status: Status,
    /// Why it failed, one line per reason.
    pub error: Option<String>,
    pub task: String,
    pub lathe_version: String,
    pub graph: String,
    pub graph_sha256: String,
    pub mode: String,
    pub format: String,
    pub preset: Preset,
    pub target_lufs: Option<f64>,
    pub passes: Option<usize>,
    pub album_before: Option<Loudness>,
    pub album_after: Option<Loudness>,
    pub tracks: Vec<TrackRecord>,
    pub seconds: f64,
    /// Unix time in seconds (with fraction) when the line was written.
    pub finished_at: f64,
}

/// The manifest file of task `shard.index`.
pub fn task_path(dir: &Path, shard: Shard) -> PathBuf {
    dir.join(format!("task-{:04}.jsonl", shard.index))
}

/// The append-only manifest of one task.
pub struct ManifestWriter {
    file: File,
    path: PathBuf,
}

impl ManifestWriter {
    /// Opens (or creates) `path` for appending; a torn last line left by a killed run is
    /// closed with a newline first so the next record starts on its own line.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let len = file.metadata()?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
                file.sync_data()?;
            }
        }
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends one record and makes it durable before returning.
    pub fn append(&mut self, record: &UnitRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The manifests in `dir` (every regular `*.jsonl` file), in name order; none when the
/// folder does not exist yet.
pub fn manifest_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        // Only lathe's own files: a FIFO would block the reader, a device never end.
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
        .collect();
    files.sort();
    Ok(files)
}

/// Every record of every `*.jsonl` manifest in `dir`, the latest per unit (by
/// `finished_at`), and the number of lines that could not be read (torn by a kill, or
/// longer than [`MAX_MANIFEST_RECORD_BYTES`]).
pub fn read_latest(dir: &Path) -> std::io::Result<(HashMap<String, UnitRecord>, usize)> {
    let mut latest: HashMap<String, UnitRecord> = HashMap::new();
    let mut torn = 0;
    let mut line = Vec::new();
    for path in manifest_files(dir)? {
        let mut reader = BufReader::new(File::open(&path)?);
        loop {
            match read_line_bounded(&mut reader, &mut line, MAX_MANIFEST_RECORD_BYTES)? {
                Line::End => break,
                Line::TooLong => {
                    torn += 1;
                    continue;
                }
                Line::Read => {}
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<UnitRecord>(&line) {
                Ok(r) => {
                    let newer = latest
                        .get(&r.unit)
                        .is_none_or(|old| r.finished_at >= old.finished_at);
                    if newer {
                        latest.insert(r.unit.clone(), r);
                    }
                }
                Err(_) => torn += 1,
            }
        }
    }
    Ok((latest, torn))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(unit: &str, at: f64) -> UnitRecord {
        UnitRecord {
            unit: unit.into(),
            status: Status::Done,
            error: None,
            task: "0/1".into(),
            lathe_version: "0".into(),
            graph: "g.ron".into(),
            graph_sha256: "00".into(),
            mode: "album".into(),
            format: "wav".into(),
            preset: Preset::plain(),
            target_lufs: None,
            passes: Some(1),
            album_before: None,
            album_after: None,
            tracks: Vec::new(),
            seconds: 0.0,
            finished_at: at,
        }
    }

    #[test]
    fn torn_lines_are_skipped_and_closed_before_the_next_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("task-0000.jsonl");
        let mut w = ManifestWriter::open(&path).unwrap();
        w.append(&record("a", 1.0)).unwrap();
        drop(w);
        // A kill in the middle of a write.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"unit\":\"b\",\"sta").unwrap();
        drop(f);
        let mut w = ManifestWriter::open(&path).unwrap();
        w.append(&record("a", 2.0)).unwrap();
        w.append(&record("c", 3.0)).unwrap();
        let (latest, torn) = read_latest(dir.path()).unwrap();
        assert_eq!(torn, 1);
        assert_eq!(latest.len(), 2);
        assert_eq!(latest["a"].finished_at, 2.0);
    }
}
