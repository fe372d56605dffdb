//! Notifications (eventfds), timers (timerfds), clocks, and waiting on and
//! reading descriptors.

use std::io;
use std::mem::zeroed;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use super::{cvt, cvt_size, owned};

/// A new eventfd: a notification.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain system call.
    owned(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })
}

/// Signals a notification (adds 1 to the eventfd's counter).
pub(crate) fn signal(fd: BorrowedFd<'_>) -> io::Result<()> {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64.
    cvt_size(unsafe { libc::write(fd.as_raw_fd(), (&raw const one).cast(), 8) }).map(drop)
}

/// Reads and clears an eventfd or timerfd counter; 0 if it was not signalled.
pub(crate) fn drain(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut n: u64 = 0;
    // SAFETY: reads at most 8 bytes into a live u64.
    match cvt_size(unsafe { libc::read(fd.as_raw_fd(), (&raw mut n).cast(), 8) }) {
        Ok(_) => Ok(n),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}

/// A new monotonic timerfd (non-blocking).
pub(crate) fn timerfd() -> io::Result<OwnedFd> {
    // SAFETY: plain system call.
    owned(unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) })
}

/// Arms a timerfd to fire after `first`, then every `period` (zero: once).
pub(crate) fn timer_set(fd: BorrowedFd<'_>, first: Duration, period: Duration) -> io::Result<()> {
    let ts = |d: Duration| libc::timespec { tv_sec: d.as_secs() as _, tv_nsec: d.subsec_nanos() as _ };
    // A zero first expiry would disarm it: fire at once instead.
    let first = if first.is_zero() { Duration::from_nanos(1) } else { first };
    let spec = libc::itimerspec { it_interval: ts(period), it_value: ts(first) };
    // SAFETY: valid descriptor and itimerspec.
    cvt(unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) })?;
    Ok(())
}

fn clock(id: libc::clockid_t) -> libc::timespec {
    // SAFETY: an all-zero timespec is valid; clock_gettime fills it.
    let mut ts: libc::timespec = unsafe { zeroed() };
    // SAFETY: a valid clock and buffer (it cannot fail for these clocks).
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts
}

/// The monotonic clock, ns.
pub(crate) fn monotonic_ns() -> u64 {
    let ts = clock(libc::CLOCK_MONOTONIC);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The wall clock, ns since the Unix epoch.
pub(crate) fn realtime_ns() -> u64 {
    let ts = clock(libc::CLOCK_REALTIME);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The wall clock, seconds since the Unix epoch.
pub(crate) fn unix_seconds() -> u64 {
    clock(libc::CLOCK_REALTIME).tv_sec as u64
}

/// Waits until one of `fds` is readable (or hung up), or `timeout` passes
/// (`None`: forever). Returns, per descriptor, whether it is ready.
/// Interrupted waits return with nothing ready.
pub(crate) fn poll(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    poll_or_hangup(fds, None, timeout).map(|(ready, _)| ready)
}

/// [`poll`], also watching `hangup` for an error or hang-up only (a pipe
/// whose reader has gone, a terminal hung up; never readability, and never
/// anything for a file or `/dev/null`): the second value says it happened.
pub(crate) fn poll_or_hangup(
    fds: &[BorrowedFd<'_>],
    hangup: Option<BorrowedFd<'_>>,
    timeout: Option<Duration>,
) -> io::Result<(Vec<bool>, bool)> {
    let mut p: Vec<libc::pollfd> =
        fds.iter().map(|f| libc::pollfd { fd: f.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    if let Some(h) = hangup {
        p.push(libc::pollfd { fd: h.as_raw_fd(), events: 0, revents: 0 });
    }
    let ms = match timeout {
        None => -1,
        Some(d) => d.as_millis().min(i32::MAX as u128) as i32 + i32::from(d.subsec_nanos() % 1_000_000 != 0),
    };
    // SAFETY: `p` is a live array of `p.len()` pollfds.
    match cvt(unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, ms) }) {
        Ok(_) => {
            let hung = hangup.is_some() && p.last().is_some_and(|h| h.revents & (libc::POLLERR | libc::POLLHUP) != 0);
            Ok((p[..fds.len()].iter().map(|p| p.revents != 0).collect(), hung))
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok((vec![false; fds.len()], false)),
        Err(e) => Err(e),
    }
}

/// Makes `fd` non-blocking.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fcntl on a valid descriptor.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

/// Reads what is available from `fd` into `buf`; `Ok(0)` at end of file.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: reads at most `buf.len()` bytes into a live buffer.
    cvt_size(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// Reads from `fd` at byte `offset` without moving its file offset (which a
/// descriptor shares with its copies in other processes).
pub(crate) fn read_at(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    // SAFETY: reads at most `buf.len()` bytes into a live buffer.
    cvt_size(unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), offset as libc::off_t) })
}

/// Writes all of `data` to `fd`.
pub(crate) fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: writes from a live buffer.
        match cvt_size(unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) }) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
