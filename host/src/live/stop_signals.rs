//! SIGINT, SIGTERM and SIGHUP end `lathe run` as `quit` does: the JACK client leaves the
//! server in order, the summary is printed, the exit status is 0.
//!
//! Why not let the signal kill the process: a client that vanishes makes the server clean
//! up after it, and a server stopped at that moment (a service manager stopping both, a
//! script's `kill` of both) can hang in that clean-up and never leave its registry. A
//! Ctrl-C in the terminal or `systemctl stop` should look to JACK like `quit`.
//!
//! The handler may only make async-signal-safe calls: it writes the signal's number to a
//! pipe and restores the default action, so a second signal ends a stop that hangs. A
//! thread reads the pipe and sends `quit` to the control loop. A signal found ignored
//! (started under `nohup`) stays ignored.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::Sender;

use super::console::Command;
use super::events::Event;

/// The write end of the pipe, for the handler; -1 before [`install`].
static PIPE_WRITE_FD: AtomicI32 = AtomicI32::new(-1);

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Installs the handlers; `quit` reaches `events` on the first of the signals. Once per
/// process (later calls do nothing). Without a pipe (out of descriptors) the signals keep
/// their default action and a notice says so.
pub fn install(events: Sender<Event>) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            eprintln!(
                "notice: no pipe for signals ({}); Ctrl-C ends lathe without leaving JACK in order",
                std::io::Error::last_os_error()
            );
            return;
        }
        let [read_fd, write_fd] = fds;
        PIPE_WRITE_FD.store(write_fd, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("lathe-signals".into())
            .spawn(move || forward(read_fd, &events));
        if spawned.is_err() {
            return;
        }
        for signal in SIGNALS {
            let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            // SAFETY: installing a handler that only makes async-signal-safe calls.
            let previous = unsafe { libc::signal(signal, handler) };
            if previous == libc::SIG_IGN {
                // SAFETY: restoring the disposition found (nohup asked for it).
                unsafe { libc::signal(signal, libc::SIG_IGN) };
            }
        }
    });
}

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = PIPE_WRITE_FD.load(Ordering::SeqCst);
    let byte = signal as u8;
    // SAFETY: write(2) and signal(2) are async-signal-safe; `byte` outlives the call.
    unsafe {
        libc::write(fd, (&byte as *const u8).cast(), 1);
        libc::signal(signal, libc::SIG_DFL);
    }
}

/// Reads signal numbers from the pipe and asks the control loop to quit.
fn forward(read_fd: libc::c_int, events: &Sender<Event>) {
    loop {
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into `byte`.
        let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
        if n == 1 {
            println!("\nlathe: {}, stopping as `quit` does", name(byte.into()));
            if events
                .send(Event::Command {
                    cmd: Command::Quit,
                    reply: None,
                })
                .is_err()
            {
                return;
            }
        } else if n == 0
            || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
        {
            return;
        }
    }
}

fn name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}
