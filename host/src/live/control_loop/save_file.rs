//! Writing the `save` command's file: never over a file the session reads, and never
//! half-written.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use lathe_engine::file_identity::{parent_dir, same_file};

/// The first of `protected` (role, path) that `target` would replace, if any.
pub fn replaces<'a>(
    target: &Path,
    protected: &'a [(&'a str, PathBuf)],
) -> Option<&'a (&'a str, PathBuf)> {
    protected.iter().find(|(_, p)| same_file(target, p))
}

/// Writes `text` to `path` through a temporary file beside it, renamed over `path` once
/// complete and synced: a failed save (a full disk) leaves the earlier file whole.
///
/// The temporary name follows lathe's own (`.lathe-tmp-PID-N-NAME`), so a later write to
/// the same path by `lathe render` or `album` sweeps one left by a killed process. No
/// signal handler removes it: `lathe run` handles its signals by ending in order.
pub fn write_replacing(path: &Path, text: &str) -> io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let (temp, mut file) = create_temp(dir, &name.to_string_lossy())?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    for n in 0u32.. {
        let temp = dir.join(format!(".lathe-tmp-{}-{n}-{name}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free temporary name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.saved.ron");
        std::fs::write(&path, "old").unwrap();
        write_replacing(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // A folder in the way: an error, and nothing left behind.
        let folder = dir.path().join("sub");
        std::fs::create_dir(&folder).unwrap();
        assert!(write_replacing(&folder, "x").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
