//! The stop signals (SIGINT, SIGHUP, SIGTERM) for a subcommand that must
//! undo something before it goes: `evq demo` stops its system and removes
//! its directory, `evq top` gives the terminal back. The handler only
//! records the signal; the subcommand's loop sees it, cleans up, and ends
//! by the signal's default action, as it would have ended had it not
//! caught it (a shell sees a job killed by SIGTERM).

use std::io::{self, Write as _};
use std::sync::atomic::{AtomicI32, Ordering};

/// The stop signal that came, or 0.
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP_SIGNAL.store(sig, Ordering::Relaxed);
}

/// From now on SIGINT (Ctrl-C), SIGHUP (the terminal gone) and SIGTERM only
/// record themselves for [`caught`]. Processes started after this run with
/// the default actions again (exec resets a handler).
pub(crate) fn catch() -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGHUP, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid one (empty mask, no flags)
        // before its fields are set; the handler only stores to an atomic,
        // which is async-signal-safe.
        let done = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut())
        };
        if done != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The stop signal that came since [`catch`], or 0.
pub(crate) fn caught() -> i32 {
    STOP_SIGNAL.load(Ordering::Relaxed)
}

/// Ends the process by `sig`, with its default action.
pub(crate) fn die_by(sig: i32) -> ! {
    let _ = io::stdout().flush();
    // SAFETY: plain signal(2) to the default action, then raise(3).
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}
