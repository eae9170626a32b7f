//! Watching the graph's files for hot reload. Directories are watched rather than files,
//! because editors often save by writing a new file and renaming it over the old one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use notify::{EventKind, RecursiveMode, Watcher};

use super::events::Event;

/// Sends [`Event::FilesChanged`] when one of the watched files changes.
pub struct FileWatcher {
    watcher: notify::RecommendedWatcher,
    dirs: Vec<PathBuf>,
    files: Arc<Mutex<HashSet<PathBuf>>>,
}

impl FileWatcher {
    pub fn new(events: Sender<Event>) -> notify::Result<Self> {
        let files: Arc<Mutex<HashSet<PathBuf>>> = Arc::default();
        let seen = files.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
                return;
            }
            let hit = seen
                .lock()
                .is_ok_and(|files| event.paths.iter().any(|p| files.contains(p)));
            if hit {
                let _ = events.send(Event::FilesChanged);
            }
        })?;
        Ok(Self {
            watcher,
            dirs: Vec::new(),
            files,
        })
    }

    /// Watches exactly these files from now on.
    pub fn set_files(&mut self, files: &[PathBuf]) -> notify::Result<()> {
        let canonical: HashSet<PathBuf> = files.iter().map(|f| canonical(f)).collect();
        let mut dirs: Vec<PathBuf> = canonical
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        dirs.sort();
        dirs.dedup();
        if dirs != self.dirs {
            for d in &self.dirs {
                let _ = self.watcher.unwatch(d);
            }
            for d in &dirs {
                self.watcher.watch(d, RecursiveMode::NonRecursive)?;
            }
            self.dirs = dirs;
        }
        if let Ok(mut set) = self.files.lock() {
            *set = canonical;
        }
        Ok(())
    }
}

/// The absolute, link-free path where possible (events name files that way).
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}
