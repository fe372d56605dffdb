//! The probe domain, for the tests: it counts its descriptors, installs the
//! filter, tries to open a file, make a socket and start a program, and
//! exits with what succeeded.

use std::io;

use evq_system::{Domain, System};

use crate::{boot, seccomp, sys};

/// Exit-code bits of the probe domain: each set bit is a confinement that
/// did not hold.
pub mod probe_bits {
    /// It held descriptors beyond standard input, output and error and its
    /// capabilities.
    pub const EXTRA_FDS: i32 = 1;
    /// It could open a file.
    pub const OPENED_FILE: i32 = 2;
    /// It could make a socket.
    pub const MADE_SOCKET: i32 = 4;
    /// It could start a program.
    pub const RAN_PROGRAM: i32 = 8;
}

/// Runs the probe: exits with a code of [`probe_bits`] (0: everything was
/// refused).
pub(super) fn run(system: &System<'_>, me: &Domain<'_>) -> io::Result<()> {
    let caps = boot::layout(system, me);
    let mut code = 0;
    let open = sys::open_fd_count();
    if open != 3 + caps.len() {
        eprintln!("probe: {open} descriptors open, expected {}", 3 + caps.len());
        code |= probe_bits::EXTRA_FDS;
    }
    seccomp::confine(me.name)?;
    if std::fs::File::open("/proc/self/status").is_ok() {
        code |= probe_bits::OPENED_FILE;
    }
    if std::net::UdpSocket::bind("127.0.0.1:0").is_ok() {
        code |= probe_bits::MADE_SOCKET;
    }
    if std::process::Command::new("/bin/true").status().is_ok() {
        code |= probe_bits::RAN_PROGRAM;
    }
    std::process::exit(code)
}
