//! Safe output files: atomic writes, and refusing to write over the files a command reads.
//!
//! A render can take minutes and may fail half-way (disk full, a bad graph change). The
//! output is built in a temporary file beside the target and renamed over it only once
//! complete and synced, so a failure never leaves a truncated output or destroys the
//! previous one. An interrupted process (SIGINT, SIGTERM, SIGHUP) removes its
//! temporary files as it ends, and the next write to a target sweeps the temporaries of
//! writers that died without a chance to ([`cleanup`]).

mod cleanup;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use lathe_engine::file_identity::parent_dir;
pub use lathe_engine::file_identity::same_file;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temp files of several writes in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Prefix of temporary files; they are hidden and name the process that wrote them.
pub const TEMP_PREFIX: &str = ".lathe-tmp-";

/// Writes `path` through `write`, atomically: the data goes to a temporary file in the
/// same directory, which is flushed, fsynced and renamed over `path`. On any error the
/// temporary file is removed and `path` is untouched.
pub fn write_atomically<F>(path: &Path, write: F) -> io::Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    let mut file = AtomicFile::create(path)?;
    write(file.writer())?;
    file.commit()
}

/// An output file being written: a temporary file beside `path` that becomes `path`
/// only on [`AtomicFile::commit`]. Dropping it uncommitted (an error, a panic) removes the
/// temporary file, so a stream that fails half-way leaves the previous output in place.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    writer: BufWriter<File>,
    guard: TempGuard,
    /// Dropped after `guard` has removed the file: a signal in between finds nothing.
    _on_signal: cleanup::Registered,
}

impl AtomicFile {
    /// Creates the temporary file for `path`; nothing named `path` is touched yet.
    pub fn create(path: &Path) -> io::Result<Self> {
        let dir = parent_dir(path);
        let file_name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
        if path.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is a directory",
            ));
        }
        let file_name = file_name.to_string_lossy();
        cleanup::sweep_stale(dir, &file_name);
        let (temp_path, file, on_signal) = create_temp(dir, &file_name)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: BufWriter::new(file),
            guard: TempGuard(Some(temp_path)),
            _on_signal: on_signal,
        })
    }

    /// Where the data goes (buffered; seekable, for headers patched at the end).
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.writer
    }

    /// Flushes and fsyncs the data and renames the temporary file over the target.
    pub fn commit(self) -> io::Result<()> {
        let Self {
            path,
            mut writer,
            guard,
            _on_signal,
        } = self;
        writer.flush()?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        let temp_path = guard.keep();
        if let Err(e) = fs::rename(&temp_path, &path) {
            let _ = fs::remove_file(&temp_path);
            return Err(e);
        }
        sync_dir(parent_dir(&path));
        Ok(())
    }
}

/// Creates a fresh temporary file beside the target, registered for removal on a signal
/// *before* it exists: a signal that lands between the two would otherwise leave it.
fn create_temp(dir: &Path, file_name: &str) -> io::Result<(PathBuf, File, cleanup::Registered)> {
    loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(
            "{TEMP_PREFIX}{}-{n}-{file_name}",
            std::process::id()
        ));
        let on_signal = cleanup::register(&temp);
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file, on_signal)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Makes the rename durable. Best effort: not every platform can sync a directory.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Removes the temporary file unless it was handed on.
#[derive(Debug)]
struct TempGuard(Option<PathBuf>);

impl TempGuard {
    fn keep(mut self) -> PathBuf {
        self.0.take().expect("a guard is kept at most once")
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// Why an output path was refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to write `{}`: it is the {role} `{}`; choose another output path",
    output.display(),
    other.display()
)]
pub struct OverwriteError {
    pub output: PathBuf,
    /// What the protected file is, e.g. "input file" or "graph file".
    pub role: String,
    pub other: PathBuf,
}

/// Refuses `output` when it is the same file as any of `protected` (role, path):
/// by canonical path, and on unix also by device and inode (hard links).
pub fn ensure_not_overwriting(
    output: &Path,
    protected: &[(&str, &Path)],
) -> Result<(), OverwriteError> {
    for (role, other) in protected {
        if same_file(output, other) {
            return Err(OverwriteError {
                output: output.to_path_buf(),
                role: role.to_string(),
                other: other.to_path_buf(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomically(&path, |w| w.write_all(b"one")).unwrap();
        write_atomically(&path, |w| w.write_all(b"two")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(entries(dir.path()), ["out.txt"]);
    }

    #[test]
    fn failure_leaves_old_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        fs::write(&path, b"old").unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(entries(dir.path()), ["out.txt"]);
    }
}
