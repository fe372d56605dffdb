//! The system calls of the hosted platform, each wrapped once, by job:
//! sockets and descriptor passing ([`socket`]), shared memory ([`memory`]),
//! notifications, timers, clocks and descriptor I/O ([`event`]), processes,
//! signals and confinement ([`process`]), terminals ([`pty`]).
//!
//! Every `libc` call of the crate is made here. Outside this module,
//! `unsafe` appears only where a caller vouches for a contract a wrapper
//! cannot check for it: that a descriptor number is a capability the
//! launcher placed ([`crate::boot`]), that ring memory is what the server
//! core's `RingMemory` contract asks ([`crate::rings`]), that an ingest
//! ring's mapping outlives the producer or consumer over it
//! ([`crate::ingest`], the server domain's `attach_ring`), and that the
//! launcher is single-threaded when it forks its namespace helper
//! (`launcher::net`), and that the descriptors a domain's start made are
//! still open when the launcher hands them over (`launcher::spawn`).
//!
//! Every descriptor made here is close-on-exec: a domain gets a descriptor
//! only by the launcher placing it at a fixed number on purpose
//! ([`crate::boot`]).
//!
//! The module is private to the crate; [`crate::host`] is the narrow part
//! of it that the benchmark and the end-to-end tests use.

mod event;
mod memory;
mod process;
mod pty;
mod socket;

pub(crate) use event::*;
pub(crate) use memory::*;
pub(crate) use process::*;
pub(crate) use pty::*;
pub(crate) use socket::*;

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

fn owned(fd: libc::c_int) -> io::Result<OwnedFd> {
    let fd = cvt(fd)?;
    // SAFETY: the kernel just returned `fd` as a new descriptor that nothing
    // else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
