//! Standard output that may close under us: a line written to a closed
//! one is a quiet stop, never a panic. (`evq run` stops its system when
//! its reader goes: the launcher watches it in its own poll loop.)

use std::fmt;
use std::io::{self, Write as _};
use std::os::fd::AsRawFd as _;

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
    writeln!(out, "{args}").and_then(|()| out.flush()).map_err(stdout_error)
}

/// A failed write to standard output: [`StdoutClosed`] for a closed one,
/// else the error, saying it was standard output.
fn stdout_error(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        io::Error::new(e.kind(), format!("standard output: {e}"))
    }
}

/// Writes `bytes` on standard output as they are, flushed; failures as
/// [`write_line`]'s.
pub(crate) fn write_bytes(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush()).map_err(stdout_error)
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
