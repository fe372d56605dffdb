//! The few host calls that programs outside the crate need beside it: the
//! `evq` tool, the benchmark and the end-to-end tests (a clock every
//! process shares, waiting on and draining a notification, making a stray
//! descriptor, sending a signal). The rest of the crate's system calls are
//! its own (`sys`).

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::sys;

/// `CLOCK_MONOTONIC`, ns: the clock the server stamps events with, the
/// same in every process of the machine.
pub fn monotonic_ns() -> u64 {
    sys::monotonic_ns()
}

/// Waits until one of `fds` is readable (or hung up), or `timeout` passes
/// (`None`: forever). Returns, per descriptor, whether it is ready; an
/// interrupted wait returns with nothing ready.
pub fn poll(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    sys::poll(fds, timeout)
}

/// Reads and clears a notification's (eventfd's) counter; 0 if it was not
/// signalled.
pub fn drain(fd: BorrowedFd<'_>) -> io::Result<u64> {
    sys::drain(fd)
}

/// A new eventfd (close-on-exec, non-blocking): a notification.
pub fn eventfd() -> io::Result<OwnedFd> {
    sys::eventfd()
}

/// Sends signal `sig` to process `pid`.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    sys::kill(pid, sig)
}
