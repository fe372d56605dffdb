//! Terminals: the device driver's raw pseudo-terminal, and the pipe that
//! stands in for one where none can be had.

use std::ffi::CString;
use std::io;
use std::mem::zeroed;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::{cvt, owned};

/// A new pseudo-terminal in raw mode: its master (the device side) and its
/// slave (where a user or a script types), and the slave's path.
pub(crate) fn raw_pty() -> io::Result<(OwnedFd, OwnedFd, String)> {
    // SAFETY: plain system calls on a descriptor we own; the path buffer is
    // live and NUL-terminated by ptsname_r.
    unsafe {
        let master = owned(libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC))?;
        cvt(libc::grantpt(master.as_raw_fd()))?;
        cvt(libc::unlockpt(master.as_raw_fd()))?;
        let mut name = [0 as libc::c_char; 128];
        let r = libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len());
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        let path = std::ffi::CStr::from_ptr(name.as_ptr()).to_string_lossy().into_owned();
        let cpath = CString::new(path.clone()).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        let slave = owned(libc::open(cpath.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC))?;
        let mut tio: libc::termios = zeroed();
        cvt(libc::tcgetattr(slave.as_raw_fd(), &mut tio))?;
        libc::cfmakeraw(&mut tio);
        cvt(libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &tio))?;
        Ok((master, slave, path))
    }
}

/// A pipe: its read end and its write end.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both are new descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
