//! Standard output that may close under us: a line written to a closed
//! one is a quiet stop, never a panic, and `evq run` stops its system when
//! its reader goes.

use std::fmt;
use std::io::{self, Write as _};
use std::os::fd::AsRawFd as _;
use std::path::PathBuf;
use std::time::Duration;

use evq_hosted::console::{self, Console};

/// Standard output was closed under us (`evq tail | head -1`): the marker
/// inside the [`io::Error`] that says so, which `main` turns into a quiet
/// exit.
#[derive(Debug)]
pub(crate) struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("standard output is closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Whether `e` is standard output having been closed.
pub(crate) fn is_stdout_closed(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<StdoutClosed>())
}

/// Writes one line on standard output, flushed; a closed one is
/// [`StdoutClosed`], any other failure says it was standard output.
pub(crate) fn write_line(args: fmt::Arguments<'_>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{args}").and_then(|()| out.flush()).map_err(|e| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
        } else {
            io::Error::new(e.kind(), format!("standard output: {e}"))
        }
    })
}

/// `println!` that returns the error instead of panicking.
macro_rules! say {
    () => { $crate::output::write_line(format_args!("")) };
    ($($t:tt)*) => { $crate::output::write_line(format_args!($($t)*)) };
}

/// Whether standard output is a pipe or socket whose reader has gone, even
/// with nothing written yet (`poll` reports an error or hang-up on it).
pub(crate) fn stdout_gone() -> bool {
    let mut p = libc::pollfd { fd: io::stdout().as_raw_fd(), events: 0, revents: 0 };
    // SAFETY: `p` is one live pollfd; a zero timeout does not block.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && p.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

/// `evq run | head -1`: once standard output's reader has gone (the pipe
/// reports an error), a thread asks the system to stop over its console,
/// as `evq stop` would; the launcher then stops every domain and exits 0.
/// (A line written after that is refused by the launcher itself.)
///
/// The thread blocks every signal: the launcher learns of its signals
/// (SIGCHLD, SIGINT, SIGTERM) from a signalfd, which sees only those no
/// thread takes.
pub(crate) fn watch_stdout(console: PathBuf) -> io::Result<()> {
    // A thread starts with its maker's signal mask: all blocked, for it.
    let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `all` is initialised by sigfillset before use; `old` is
    // written by pthread_sigmask before it is read below.
    let blocked = unsafe {
        libc::sigfillset(all.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_BLOCK, all.as_ptr(), old.as_mut_ptr())
    };
    if blocked != 0 {
        return Err(io::Error::from_raw_os_error(blocked));
    }
    let spawned = std::thread::Builder::new().name("stdout-watch".into()).spawn(move || {
        let mut p = libc::pollfd { fd: io::stdout().as_raw_fd(), events: 0, revents: 0 };
        loop {
            // SAFETY: `p` is one live pollfd. With no events asked for, poll
            // returns only for an error or hang-up: a pipe whose reader
            // closed, a terminal hung up; never for a file or /dev/null.
            let n = unsafe { libc::poll(&mut p, 1, -1) };
            if n == 1 {
                break;
            }
            if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return;
            }
        }
        // The console opens once every domain runs; until then, keep trying.
        loop {
            if let Ok(c) = Console::connect(&console) {
                let _ = c.request(&console::Request::Shutdown);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    // SAFETY: `old` was written by the pthread_sigmask call above.
    let restored = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), std::ptr::null_mut()) };
    if restored != 0 {
        return Err(io::Error::from_raw_os_error(restored));
    }
    spawned.map(drop)
}
