//! Whether two paths name one file, for refusing an output over a file a command reads,
//! and the folder a file path lives in.

use std::fs;
use std::path::{Path, PathBuf};

/// Do `a` and `b` name the same file? A path that does not exist yet is compared through
/// its canonical parent directory.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Some(ca), Some(cb)) = (canonical(a), canonical(b))
        && ca == cb
    {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    false
}

fn canonical(path: &Path) -> Option<PathBuf> {
    if let Ok(c) = fs::canonicalize(path) {
        return Some(c);
    }
    let name = path.file_name()?;
    Some(fs::canonicalize(parent_dir(path)).ok()?.join(name))
}

/// The directory a file path lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_sees_through_dots_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.wav");
        fs::write(&a, b"x").unwrap();
        assert!(same_file(&a, &dir.path().join(".").join("a.wav")));
        assert!(!same_file(&a, &dir.path().join("b.wav")));
        #[cfg(unix)]
        {
            let hard = dir.path().join("hard.wav");
            fs::hard_link(&a, &hard).unwrap();
            assert!(same_file(&hard, &a));
            let soft = dir.path().join("soft.wav");
            std::os::unix::fs::symlink(&a, &soft).unwrap();
            assert!(same_file(&soft, &a));
        }
    }
}
