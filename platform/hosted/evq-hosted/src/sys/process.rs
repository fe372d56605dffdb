//! Processes: starting a domain with exactly its descriptors, reaping and
//! signalling it, the descriptors a domain starts with, the signal state,
//! the network namespace helper, and the seccomp filter's system calls.

use std::io;
use std::mem::{size_of, zeroed, MaybeUninit};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use super::{cvt, owned};

/// Counts this process's open descriptors by asking the kernel about each
/// number below the descriptor limit (no file is opened, so this works under
/// the domain's seccomp filter).
pub(crate) fn open_fd_count() -> usize {
    // SAFETY: an all-zero rlimit is valid; getrlimit fills it.
    let mut lim: libc::rlimit = unsafe { zeroed() };
    // SAFETY: valid resource and buffer.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    let max = (lim.rlim_cur as usize).clamp(64, 1 << 16);
    // SAFETY: F_GETFD only asks whether the number is open.
    (0..max).filter(|&fd| unsafe { libc::fcntl(fd as RawFd, libc::F_GETFD) } >= 0).count()
}

/// The most descriptors [`spawn_domain`] places: enough for a server domain
/// of the largest description (its boot information, its supervisor
/// channel, a notification per client and two per source, the root task
/// included: at most 2 × `evq_system::MAX_DOMAINS` + 2) with room for
/// described notifications.
pub(crate) const MAX_PLACED_FDS: usize = 256;

const _: () = assert!(MAX_PLACED_FDS >= 2 * evq_system::MAX_DOMAINS + 8);

/// Places `fds[i]` at descriptor `first + i`, clears close-on-exec on
/// them, and closes every other descriptor from `first` up. Descriptors
/// below `first` (standard input, output and error) are left alone. More
/// than [`MAX_PLACED_FDS`] is `EMFILE`.
///
/// # Safety
///
/// Only between fork and exec (it closes descriptors that other owners in
/// this process believe they hold); it is async-signal-safe.
unsafe fn place_fds(fds: &[RawFd], first: RawFd) -> io::Result<()> {
    let n = fds.len() as RawFd;
    // First copy every source above both the targets and the sources, so
    // that placing one never overwrites another not yet placed.
    let above = fds.iter().copied().max().unwrap_or(0).max(first + n) + 1;
    let mut moved = [0 as RawFd; MAX_PLACED_FDS];
    if fds.len() > moved.len() {
        return Err(io::Error::from_raw_os_error(libc::EMFILE));
    }
    for (i, &fd) in fds.iter().enumerate() {
        // SAFETY: plain fcntl; `fd` is open (the caller's contract).
        moved[i] = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, above) })?;
    }
    for (i, &fd) in moved[..fds.len()].iter().enumerate() {
        // SAFETY: dup2 onto a number we own from here on; the copy it
        // makes is not close-on-exec.
        cvt(unsafe { libc::dup2(fd, first + i as RawFd) })?;
    }
    // SAFETY: closes descriptors no one will use after exec.
    if unsafe { libc::syscall(libc::SYS_close_range, (first + n) as libc::c_uint, libc::c_uint::MAX, 0) } < 0 {
        // An old kernel: close them one by one.
        for fd in (first + n)..4096 {
            // SAFETY: as above.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// Unblocks every signal and restores `SIGPIPE`'s default disposition
/// (between fork and exec: a domain starts with a clean signal state).
///
/// # Safety
///
/// Only between fork and exec; async-signal-safe.
unsafe fn reset_signals() {
    // SAFETY: an empty set, then the calls the man pages allow after fork.
    unsafe {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigprocmask(libc::SIG_SETMASK, set.as_ptr(), std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Starts `cmd` as a domain holding exactly `fds`, placed at descriptors
/// `first`, `first + 1`, …: between fork and exec the child resets its
/// signal state, asks the kernel to kill it when the launcher dies (and
/// exits at once if the launcher is already gone), places the descriptors
/// and closes every other one from `first` up. More than
/// [`MAX_PLACED_FDS`] is refused before the fork (`EMFILE`).
pub(crate) fn spawn_domain(cmd: &mut Command, fds: Vec<RawFd>, first: RawFd) -> io::Result<Child> {
    if fds.len() > MAX_PLACED_FDS {
        return Err(io::Error::from_raw_os_error(libc::EMFILE));
    }
    let launcher_pid = std::process::id() as i32;
    // SAFETY: the closure runs between fork and exec and makes only
    // async-signal-safe calls (sigprocmask, signal, prctl, getppid,
    // fcntl, dup2, close_range); `fds` was built before the fork and is
    // only read.
    unsafe {
        cmd.pre_exec(move || {
            reset_signals();
            cvt(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0))?;
            if libc::getppid() != launcher_pid {
                libc::_exit(1);
            }
            place_fds(&fds, first)
        });
    }
    cmd.spawn()
}

/// Blocks `SIGCHLD`, `SIGINT`, `SIGTERM` and `SIGHUP` and returns a signalfd that
/// reports them: the launcher's way to learn of domain exits and of being
/// asked to stop, in its poll loop.
pub(crate) fn launcher_signalfd() -> io::Result<OwnedFd> {
    // SAFETY: the set is initialised by sigemptyset before use.
    unsafe {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        for s in [libc::SIGCHLD, libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(set.as_mut_ptr(), s);
        }
        cvt(libc::sigprocmask(libc::SIG_BLOCK, set.as_ptr(), std::ptr::null_mut()))?;
        owned(libc::signalfd(-1, set.as_ptr(), libc::SFD_CLOEXEC | libc::SFD_NONBLOCK))
    }
}

/// Empties a signalfd; returns the signal numbers read.
pub(crate) fn read_signals(fd: BorrowedFd<'_>) -> Vec<i32> {
    let mut out = Vec::new();
    loop {
        // SAFETY: an all-zero siginfo is valid; read fills whole records.
        let mut info: libc::signalfd_siginfo = unsafe { zeroed() };
        let size = size_of::<libc::signalfd_siginfo>();
        // SAFETY: reads at most one record into `info`.
        let n = unsafe { libc::read(fd.as_raw_fd(), (&raw mut info).cast(), size) };
        if n != size as isize {
            return out;
        }
        out.push(info.ssi_signo as i32);
    }
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signalled(i32),
}

/// Reaps one ended child without blocking.
pub(crate) fn reap() -> Option<(i32, Ended)> {
    let mut status = 0;
    // SAFETY: plain waitpid.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    let how = if libc::WIFEXITED(status) {
        Ended::Exited(libc::WEXITSTATUS(status))
    } else {
        Ended::Signalled(libc::WTERMSIG(status))
    };
    Some((pid, how))
}

/// Sends `sig` to process `pid`.
pub(crate) fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: plain kill.
    cvt(unsafe { libc::kill(pid, sig) })?;
    Ok(())
}

/// Restores the default action of the crash signals (`SIGSEGV`, `SIGBUS`),
/// which the Rust runtime handles itself to report stack overflows.
pub(crate) fn default_crash_signals() {
    for sig in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: plain signal(2) to the default disposition.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// This process's user id.
pub(crate) fn uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// Borrows a descriptor number this process was started with.
///
/// # Safety
///
/// `fd` must be open and stay open for `'static` (a capability the launcher
/// placed at a fixed number, never closed by the domain).
pub(crate) unsafe fn borrow_fixed(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the caller's contract.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Takes ownership of a descriptor number this process was started with.
///
/// # Safety
///
/// `fd` must be open and owned by nothing else in this process.
pub(crate) unsafe fn take_fixed(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only checks that it is open.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // Capabilities must not leak into anything a domain might start.
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    // SAFETY: the caller's contract.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

// --- The network namespace helper ---------------------------------------------

/// Runs `child` in a forked child process, which then exits with the code
/// it returns, running no destructor of the parent's state; returns the
/// child's process id.
///
/// # Safety
///
/// The calling process must be single-threaded: the child may allocate,
/// and would deadlock on a lock another thread held at the fork.
pub(crate) unsafe fn fork_run(child: impl FnOnce() -> i32) -> io::Result<i32> {
    // SAFETY: the caller's contract.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let code = child();
        // SAFETY: leaves the child at once, running no destructors of the
        // parent's state.
        unsafe { libc::_exit(code) };
    }
    Ok(pid)
}

/// Waits for child `pid` to end.
pub(crate) fn wait_child(pid: i32) -> io::Result<()> {
    let mut status = 0;
    // SAFETY: plain waitpid on a child of this process.
    cvt(unsafe { libc::waitpid(pid, &mut status, 0) })?;
    Ok(())
}

/// Moves this process into new namespaces (`CLONE_NEW*` flags).
pub(crate) fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: plain unshare; what it changes is this process's own view.
    cvt(unsafe { libc::unshare(flags) })?;
    Ok(())
}

// --- seccomp ---------------------------------------------------------------------

const SECCOMP_SET_MODE_FILTER: libc::c_long = 1;
const SECCOMP_GET_ACTION_AVAIL: libc::c_long = 2;

/// Whether the kernel offers the seccomp filter return `action` (asked
/// without installing a filter).
pub(crate) fn seccomp_action_available(action: u32) -> bool {
    // SAFETY: SECCOMP_GET_ACTION_AVAIL reads one u32 from the pointer.
    unsafe { libc::syscall(libc::SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action as *const u32) == 0 }
}

/// Makes this process non-dumpable: from now on a process of the same uid
/// without `CAP_SYS_PTRACE` can neither open its `/proc/PID/fd` entries nor
/// take its descriptors with `pidfd_getfd` (nor ptrace it, nor read its
/// memory). `execve` resets the flag, so each process sets it itself, after
/// exec.
pub(crate) fn set_undumpable() -> io::Result<()> {
    // SAFETY: plain prctl on this process's own flag.
    cvt(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong, 0, 0, 0) })?;
    Ok(())
}

/// Places descriptors this process received at `first`, `first + 1`, … and
/// closes every other descriptor from `first` up, as [`spawn_domain`] does
/// between fork and exec: a domain's way to lay out the capabilities it was
/// handed after it started ([`crate::boot::receive_capabilities`]).
///
/// # Safety
///
/// Nothing else in this process may own or use a descriptor numbered
/// `first` or above, now or later, but through what this places: the
/// process must be single-threaded and hold no other such descriptor.
pub(crate) unsafe fn place_received(fds: Vec<OwnedFd>, first: RawFd) -> io::Result<()> {
    let raw: Vec<RawFd> = fds.into_iter().map(IntoRawFd::into_raw_fd).collect();
    // SAFETY: the caller's contract stands for "between fork and exec": no
    // other owner of a descriptor from `first` up; the raw descriptors were
    // released from their owners above, so none is closed twice.
    unsafe { place_fds(&raw, first) }
}

/// Sets `no_new_privs`, which an unprivileged process needs before it may
/// install a seccomp filter.
pub(crate) fn no_new_privs() -> io::Result<()> {
    // SAFETY: plain prctl.
    cvt(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) })?;
    Ok(())
}

/// Installs the seccomp filter `program` in this process and its future
/// threads.
pub(crate) fn seccomp_install(program: &[libc::sock_filter]) -> io::Result<()> {
    let len = u16::try_from(program.len()).map_err(|_| io::Error::other("the filter is too long"))?;
    let prog = libc::sock_fprog { len, filter: program.as_ptr() as *mut libc::sock_filter };
    // SAFETY: `prog` points at a live filter of `len` instructions for the
    // call; the kernel checks the program itself.
    let r = unsafe { libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog as *const libc::sock_fprog) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
