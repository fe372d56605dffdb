//! The seccomp filter every domain installs once it holds its capabilities:
//! from then on it cannot open a file, make a socket, start a program, or
//! reach into another process; what it can touch is what it was given.
//!
//! The filter is a deny list over the calls that create new authority
//! (`open`, `openat`, `openat2`, `creat`, `socket`, `execve`, `execveat`,
//! `ptrace`, `process_vm_readv`/`writev`, `pidfd_open`, `pidfd_getfd`,
//! `open_by_handle_at`, `io_uring_setup`, and on x86_64 every x32 call):
//! each fails with `EPERM`. A call from another architecture's table kills
//! the process. Calls on descriptors already held (read, write, sendmsg,
//! mmap of a granted memfd, memfd_create for the server's own rings, …) are
//! allowed.
//!
//! Where the kernel has no seccomp filters, domains run without the filter
//! and the launcher says so ([`support`]); where it has them and installing
//! one fails, the domain refuses to run.

use std::io;

use crate::sys;

/// Whether the kernel offers seccomp filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Filters are available; every domain installs one.
    Available,
    /// The kernel (or the container) offers no seccomp filters.
    Unavailable,
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

#[cfg(target_arch = "x86_64")]
const DENIED: &[libc::c_long] = &[
    libc::SYS_open,
    libc::SYS_creat,
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_socket,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_open,
    libc::SYS_pidfd_getfd,
    libc::SYS_open_by_handle_at,
    libc::SYS_io_uring_setup,
];
#[cfg(target_arch = "aarch64")]
const DENIED: &[libc::c_long] = &[
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_socket,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_open,
    libc::SYS_pidfd_getfd,
    libc::SYS_open_by_handle_at,
    libc::SYS_io_uring_setup,
];

const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7FFF_0000;

const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The filter program.
fn program() -> Vec<libc::sock_filter> {
    let deny = SECCOMP_RET_ERRNO | libc::EPERM as u32;
    let mut p = vec![
        // seccomp_data.arch is at offset 4, .nr at offset 0.
        stmt(BPF_LD_W_ABS, 4),
        jump(BPF_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, 0),
    ];
    if cfg!(target_arch = "x86_64") {
        // The x32 table: nr | 0x40000000.
        p.push(jump(BPF_JGE_K, 0x4000_0000, 0, 1));
        p.push(stmt(BPF_RET_K, deny));
    }
    for &nr in DENIED {
        p.push(jump(BPF_JEQ_K, nr as u32, 0, 1));
        p.push(stmt(BPF_RET_K, deny));
    }
    p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    p
}

/// Whether this kernel offers seccomp filters (asked without installing one).
pub fn support() -> Support {
    if sys::seccomp_action_available(SECCOMP_RET_ERRNO) {
        Support::Available
    } else {
        Support::Unavailable
    }
}

/// The environment variable that lets the launcher tell domains to run
/// without the filter even where the kernel has one (`evq run
/// --no-seccomp`, for debugging).
pub const DISABLE_ENV: &str = "EVQ_NO_SECCOMP";

/// Installs the filter in this process (and its future threads). `who`
/// names the domain in messages. Succeeds without a filter only where the
/// kernel has none, or the launcher was told to run without one.
pub fn confine(who: &str) -> io::Result<()> {
    if std::env::var_os(DISABLE_ENV).is_some() {
        return Ok(());
    }
    if support() == Support::Unavailable {
        return Ok(());
    }
    sys::no_new_privs()
        .map_err(|e| io::Error::other(format!("{who}: seccomp is available but no_new_privs failed: {e}")))?;
    sys::seccomp_install(&program())
        .map_err(|e| io::Error::other(format!("{who}: seccomp is available but installing the filter failed: {e}")))
}
