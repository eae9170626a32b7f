//! Removing temporary files that a write will never finish: on SIGINT, SIGTERM or SIGHUP
//! (the process's own), and those left by processes that died without a chance to clean
//! up (SIGKILL, a power cut), swept by the next write to the same target.
//!
//! The signal handler may only make async-signal-safe calls: it walks a fixed table of
//! C strings and `unlink`s each, then lets the signal take its default course (the
//! process ends as interrupted, exit status 128 + signal). A path stays allocated after
//! its write ends (a handler on another thread may be reading it): some bytes per
//! output file, for the life of the process.

use std::path::Path;

use super::TEMP_PREFIX;

/// Temporary files one process may have open at once with signal cleanup; more are
/// still removed on error and on drop, only not on a signal.
#[cfg(unix)]
const SLOTS: usize = 256;

#[cfg(unix)]
static TEMPS: [std::sync::atomic::AtomicPtr<libc::c_char>; SLOTS] =
    [const { std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];

/// A temporary file registered for removal on a signal, until dropped.
#[derive(Debug)]
pub struct Registered {
    #[cfg(unix)]
    slot: Option<usize>,
}

/// Registers `path` to be removed if the process is interrupted by a signal.
pub fn register(path: &Path) -> Registered {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        use std::sync::atomic::Ordering;
        install_handlers();
        let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
            return Registered { slot: None };
        };
        let raw = c_path.into_raw();
        for (i, slot) in TEMPS.iter().enumerate() {
            if slot
                .compare_exchange(
                    std::ptr::null_mut(),
                    raw,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_ok()
            {
                return Registered { slot: Some(i) };
            }
        }
        // SAFETY: `raw` came from `into_raw` above and was never shared.
        drop(unsafe { std::ffi::CString::from_raw(raw) });
        Registered { slot: None }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Registered {}
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(i) = self.slot {
            // Left allocated on purpose: see the module comment.
            TEMPS[i].store(std::ptr::null_mut(), std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[cfg(unix)]
extern "C" fn on_signal(signal: libc::c_int) {
    for slot in &TEMPS {
        let path = slot.load(std::sync::atomic::Ordering::SeqCst);
        if !path.is_null() {
            // SAFETY: a non-null slot holds a C string that is never freed.
            unsafe { libc::unlink(path) };
        }
    }
    // SAFETY: both are async-signal-safe; the default action ends the process.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

#[cfg(unix)]
fn install_handlers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            // SAFETY: installing a handler that only makes async-signal-safe calls.
            let previous = unsafe { libc::signal(signal, handler) };
            if previous == libc::SIG_IGN {
                // Ignored on purpose (nohup): keep it so.
                // SAFETY: restoring the disposition found.
                unsafe { libc::signal(signal, libc::SIG_IGN) };
            }
        }
    });
}

/// Removes the temporary files in `dir` for `file_name` left by processes that no longer
/// run. Only temporaries of the same target are touched: a live process's write to
/// another file is none of this write's business. Best effort.
pub fn sweep_stale(dir: &Path, file_name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let own_pid = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = stale_pid(name, file_name) else {
            continue;
        };
        if pid != own_pid && !process_exists(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The writer's pid in a temporary name `{TEMP_PREFIX}{pid}-{n}-{file_name}`.
fn stale_pid(name: &str, file_name: &str) -> Option<u32> {
    let rest = name.strip_prefix(TEMP_PREFIX)?;
    let (pid, rest) = rest.split_once('-')?;
    let (counter, target) = rest.split_once('-')?;
    (target == file_name && counter.bytes().all(|b| b.is_ascii_digit()))
        .then(|| pid.parse().ok())
        .flatten()
}

fn process_exists(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        // SAFETY: signal 0 only checks that the process exists.
        if unsafe { libc::kill(pid, 0) } == 0 {
            return true;
        }
        // EPERM: it exists but belongs to someone else.
        std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_of_dead_writers_of_the_same_target_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        // A pid far above any real one on Linux (pid_max is at most 2^22).
        let dead = format!("{TEMP_PREFIX}99999999-0-out.wav");
        let live = format!("{TEMP_PREFIX}{}-0-out.wav", std::process::id());
        let other = format!("{TEMP_PREFIX}99999999-0-other.wav");
        for name in [&dead, &live, &other] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        sweep_stale(dir.path(), "out.wav");
        assert!(!dir.path().join(&dead).exists());
        assert!(dir.path().join(&live).exists());
        assert!(dir.path().join(&other).exists());
    }

    #[test]
    fn names_parse_only_when_they_are_ours() {
        assert_eq!(stale_pid(".lathe-tmp-12-3-a-b.wav", "a-b.wav"), Some(12));
        assert_eq!(stale_pid(".lathe-tmp-12-x-a.wav", "a.wav"), None);
        assert_eq!(stale_pid("a.wav", "a.wav"), None);
    }
}
