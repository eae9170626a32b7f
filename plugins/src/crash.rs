//! Naming the plugin that crashed.
//!
//! A plugin runs in lathe's process: a plugin that writes through a bad pointer kills the
//! process, and nothing lathe does afterwards can be trusted. What lathe can do is say
//! which node's plugin it was, so the user knows what to remove from the graph. Each
//! plugin processor holds a [`CrashLabel`]; while the plugin's own code runs
//! ([`CrashLabel::running`]) the label is the thread's current one, and a handler for the
//! fatal signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) prints it before the process
//! ends as it would have. A fault outside plugin code goes to the handler that was there
//! before (Rust's stack-overflow report, or the default action).
//!
//! Marking and unmarking are two thread-local stores: nothing on the audio path
//! allocates, locks or makes a system call.

use std::cell::Cell;
use std::ffi::{CString, c_char};
use std::sync::Once;

thread_local! {
    /// The label of the plugin whose code runs on this thread now, or null.
    static CURRENT: Cell<*const c_char> = const { Cell::new(std::ptr::null()) };
}

/// What to print if the plugin crashes: the node id and the plugin.
pub struct CrashLabel(CString);

impl CrashLabel {
    /// A label for the plugin `plugin` (a URI or CLAP id) in node `node_id`. Installs the
    /// signal handlers the first time (off the audio thread: labels are made at build).
    pub fn new(node_id: &str, plugin: &str) -> Self {
        install_handlers();
        let text = format!(
            "\nlathe: the plugin of node `{node_id}` ({plugin}) crashed the process; \
             remove or replace it in the graph\n"
        );
        Self(CString::new(text.replace('\0', " ")).unwrap_or_default())
    }

    /// Marks this plugin's code as running on this thread until the guard drops.
    pub fn running(&self) -> Running {
        let previous = CURRENT.with(|c| c.replace(self.0.as_ptr()));
        Running { previous }
    }
}

/// While alive, a crash on this thread is reported with its label.
pub struct Running {
    previous: *const c_char,
}

impl Drop for Running {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

#[cfg(unix)]
mod handler {
    use super::CURRENT;
    use std::sync::Mutex;

    const SIGNALS: [libc::c_int; 5] = [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
        libc::SIGABRT,
    ];

    /// The actions that were installed before ours, by signal, to hand faults on to.
    static PREVIOUS: Mutex<Vec<(libc::c_int, libc::sigaction)>> = Mutex::new(Vec::new());

    pub fn install() {
        let mut previous = PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
        for sig in SIGNALS {
            // SAFETY: a zeroed sigaction is valid; `on_fatal` is async-signal-safe.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fatal as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &action, &mut old) == 0 {
                    previous.push((sig, old));
                }
            }
        }
    }

    /// Prints the running plugin's label, then puts the previous action back and returns:
    /// the faulting instruction runs again and the previous action (Rust's handler, or
    /// the default: the process ends with the signal) takes it from there. Only
    /// async-signal-safe calls: `write`, `sigaction`, `raise`; `try_lock` never blocks.
    extern "C" fn on_fatal(sig: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
        let label = CURRENT.with(|c| c.get());
        if !label.is_null() {
            // SAFETY: labels are NUL-terminated strings owned by a live processor.
            unsafe {
                libc::write(2, label.cast(), libc::strlen(label));
            }
        }
        let restored = PREVIOUS.try_lock().ok().and_then(|previous| {
            previous
                .iter()
                .find(|(s, _)| *s == sig)
                // SAFETY: restoring an action read back from sigaction.
                .map(|(_, old)| unsafe { libc::sigaction(sig, old, std::ptr::null_mut()) })
        });
        if restored != Some(0) {
            // SAFETY: setting the default action is always valid.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
        if sig == libc::SIGABRT {
            // abort() raised it once; raise it again for the restored action.
            // SAFETY: raise is async-signal-safe.
            unsafe { libc::raise(sig) };
        }
    }
}

fn install_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        handler::install();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_is_current_only_while_the_plugin_runs() {
        let a = CrashLabel::new("eq", "urn:a");
        let b = CrashLabel::new("limit", "urn:b");
        assert!(CURRENT.with(Cell::get).is_null());
        {
            let _a = a.running();
            assert_eq!(CURRENT.with(Cell::get), a.0.as_ptr());
            {
                let _b = b.running();
                assert_eq!(CURRENT.with(Cell::get), b.0.as_ptr());
            }
            assert_eq!(CURRENT.with(Cell::get), a.0.as_ptr());
        }
        assert!(CURRENT.with(Cell::get).is_null());
        assert!(a.0.to_str().unwrap().contains("node `eq` (urn:a)"));
    }
}
