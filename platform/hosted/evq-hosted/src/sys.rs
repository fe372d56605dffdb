//! The system calls the hosted shell makes, each wrapped once, so that the
//! rest of the crate holds no `unsafe` of its own beyond mapping rings.
//!
//! Every descriptor made here is close-on-exec: a domain gets a descriptor
//! only by the launcher placing it at a fixed number on purpose
//! ([`crate::boot`]).

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::time::Duration;

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

/// A connected pair of Unix `SOCK_SEQPACKET` sockets: an endpoint, one end
/// for the server and one for the domain it is badged for.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    cvt(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) })?;
    // SAFETY: both are new descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The most descriptors one message carries.
pub const MAX_FDS: usize = 4;

#[repr(C)]
union CmsgBuf {
    _align: libc::cmsghdr,
    bytes: [u8; 128],
}

/// Sends one datagram with `fds` attached (`SCM_RIGHTS`). Never raises
/// `SIGPIPE`; with `nonblocking`, a full socket is `WouldBlock`.
pub fn send(fd: BorrowedFd<'_>, data: &[u8], fds: &[BorrowedFd<'_>], nonblocking: bool) -> io::Result<usize> {
    assert!(fds.len() <= MAX_FDS);
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    // SAFETY: an all-zero msghdr and control buffer are valid.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    let mut cmsg: CmsgBuf = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        let payload = (fds.len() * size_of::<RawFd>()) as u32;
        // SAFETY: CMSG_SPACE is a pure computation.
        let space = unsafe { libc::CMSG_SPACE(payload) } as usize;
        msg.msg_control = (&raw mut cmsg).cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer is 128 bytes, more than CMSG_SPACE of
        // MAX_FDS descriptors, so the first header and its data fit.
        unsafe {
            let hdr = libc::CMSG_FIRSTHDR(&msg);
            (*hdr).cmsg_level = libc::SOL_SOCKET;
            (*hdr).cmsg_type = libc::SCM_RIGHTS;
            (*hdr).cmsg_len = libc::CMSG_LEN(payload) as _;
            let data = libc::CMSG_DATA(hdr).cast::<RawFd>();
            for (i, f) in fds.iter().enumerate() {
                data.add(i).write_unaligned(f.as_raw_fd());
            }
        }
    }
    let flags = libc::MSG_NOSIGNAL | if nonblocking { libc::MSG_DONTWAIT } else { 0 };
    // SAFETY: `msg` points at live buffers for the duration of the call.
    cvt_size(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags) })
}

/// One datagram received.
#[derive(Debug)]
pub struct Received {
    /// Bytes of it that fit in the buffer.
    pub len: usize,
    /// It was longer than the buffer (the rest is gone).
    pub truncated: bool,
    /// Descriptors that came with it (at most [`MAX_FDS`]; more are closed
    /// by the kernel, and so are all of them when `max_fds` was 0).
    pub fds: Vec<OwnedFd>,
}

/// Receives one datagram into `buf`, accepting up to `max_fds` descriptors
/// (0: the kernel closes any that were sent). `Ok(None)` is end of file.
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], max_fds: usize, nonblocking: bool) -> io::Result<Option<Received>> {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: all-zero msghdr and control buffer are valid.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    let mut cmsg: CmsgBuf = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if max_fds > 0 {
        // SAFETY: pure computation.
        let space = unsafe { libc::CMSG_SPACE((max_fds.min(MAX_FDS) * size_of::<RawFd>()) as u32) } as usize;
        msg.msg_control = (&raw mut cmsg).cast();
        msg.msg_controllen = space as _;
    }
    let flags = libc::MSG_CMSG_CLOEXEC | if nonblocking { libc::MSG_DONTWAIT } else { 0 };
    // SAFETY: `msg` points at live buffers for the duration of the call.
    let n = cvt_size(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) })?;
    let mut fds = Vec::new();
    if max_fds > 0 {
        // SAFETY: the kernel filled `msg_controllen` bytes of our buffer with
        // well-formed control messages; we walk them with the CMSG macros.
        unsafe {
            let mut hdr = libc::CMSG_FIRSTHDR(&msg);
            while !hdr.is_null() {
                if (*hdr).cmsg_level == libc::SOL_SOCKET && (*hdr).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(hdr).cast::<RawFd>();
                    let count = ((*hdr).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / size_of::<RawFd>();
                    for i in 0..count {
                        fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                    }
                }
                hdr = libc::CMSG_NXTHDR(&msg, hdr);
            }
        }
    }
    if n == 0 && fds.is_empty() && msg.msg_flags & libc::MSG_TRUNC == 0 {
        // A zero-length datagram and end of file look alike on seqpacket;
        // tell them apart by whether the peer is still there.
        if peer_gone(fd)? {
            return Ok(None);
        }
    }
    Ok(Some(Received { len: n.min(buf.len()), truncated: msg.msg_flags & libc::MSG_TRUNC != 0, fds }))
}

fn peer_gone(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN | libc::POLLRDHUP, revents: 0 };
    // SAFETY: one valid pollfd.
    cvt(unsafe { libc::poll(&mut p, 1, 0) })?;
    Ok(p.revents & (libc::POLLHUP | libc::POLLRDHUP) != 0)
}

/// Sets how long a blocking receive on `fd` waits before failing `WouldBlock`.
pub fn set_recv_timeout(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<()> {
    let tv = libc::timeval { tv_sec: timeout.as_secs() as _, tv_usec: timeout.subsec_micros() as _ };
    // SAFETY: a valid timeval of the size passed.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const tv).cast(),
            size_of::<libc::timeval>() as u32,
        )
    })?;
    Ok(())
}

/// The process id at the other end of a Unix socket.
pub fn peer_pid(fd: BorrowedFd<'_>) -> io::Result<i32> {
    // SAFETY: an all-zero ucred is valid.
    let mut cred: libc::ucred = unsafe { zeroed() };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` has room for `len` bytes.
    cvt(unsafe {
        libc::getsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_PEERCRED, (&raw mut cred).cast(), &mut len)
    })?;
    Ok(cred.pid)
}

// --- Shared memory ------------------------------------------------------------

/// A new memfd of `len` bytes, sealed so that nobody holding it can shrink
/// or grow it (a mapping of it can then never fault), and the seals sealed.
pub fn sealed_memfd(name: &str, len: usize) -> io::Result<OwnedFd> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid C string; flags as documented.
    let fd = owned(unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) })?;
    // SAFETY: a valid descriptor and length.
    cvt(unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) })?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on a valid descriptor.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) })?;
    Ok(fd)
}

/// Checks that `fd` is a memfd sealed against shrinking, of at least `len`
/// bytes: what a client checks before it maps a ring it was granted.
pub fn check_sealed(fd: BorrowedFd<'_>, len: usize) -> io::Result<()> {
    // SAFETY: fcntl on a valid descriptor.
    let seals = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) })?;
    if seals & libc::F_SEAL_SHRINK == 0 {
        return Err(io::Error::other("ring memory is not sealed against shrinking"));
    }
    // SAFETY: an all-zero stat is valid; fstat fills it.
    let mut st: libc::stat = unsafe { zeroed() };
    // SAFETY: valid descriptor and buffer.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    if (st.st_size as u64) < len as u64 {
        return Err(io::Error::other("ring memory is shorter than the ring"));
    }
    Ok(())
}

/// A shared read-write mapping of a file, unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; what may be done
// through its pointer is the holder's business (the ring crates use atomics).
unsafe impl Send for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of `fd`, shared and read-write.
    pub fn shared(fd: BorrowedFd<'_>, len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh mapping chosen by the kernel; it aliases nothing
        // of ours.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mapping { base, len })
    }

    /// Where it is mapped (page-aligned).
    pub fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty (never, for a mapping that succeeded).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: exactly the region `shared` mapped, unmapped once.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

// --- Notifications and timers --------------------------------------------------

/// A new eventfd: a notification.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain system call.
    owned(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })
}

/// Signals a notification (adds 1 to the eventfd's counter).
pub fn signal(fd: BorrowedFd<'_>) -> io::Result<()> {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64.
    cvt_size(unsafe { libc::write(fd.as_raw_fd(), (&raw const one).cast(), 8) }).map(drop)
}

/// Reads and clears an eventfd or timerfd counter; 0 if it was not signalled.
pub fn drain(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut n: u64 = 0;
    // SAFETY: reads at most 8 bytes into a live u64.
    match cvt_size(unsafe { libc::read(fd.as_raw_fd(), (&raw mut n).cast(), 8) }) {
        Ok(_) => Ok(n),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}

/// A new monotonic timerfd (non-blocking).
pub fn timerfd() -> io::Result<OwnedFd> {
    // SAFETY: plain system call.
    owned(unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) })
}

/// Arms a timerfd to fire after `first`, then every `period` (zero: once).
pub fn timer_set(fd: BorrowedFd<'_>, first: Duration, period: Duration) -> io::Result<()> {
    let ts = |d: Duration| libc::timespec { tv_sec: d.as_secs() as _, tv_nsec: d.subsec_nanos() as _ };
    // A zero first expiry would disarm it: fire at once instead.
    let first = if first.is_zero() { Duration::from_nanos(1) } else { first };
    let spec = libc::itimerspec { it_interval: ts(period), it_value: ts(first) };
    // SAFETY: valid descriptor and itimerspec.
    cvt(unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) })?;
    Ok(())
}

/// The monotonic clock, ns.
pub fn monotonic_ns() -> u64 {
    // SAFETY: an all-zero timespec is valid; clock_gettime fills it.
    let mut ts: libc::timespec = unsafe { zeroed() };
    // SAFETY: valid clock and buffer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The wall clock, seconds since the Unix epoch.
pub fn unix_seconds() -> u64 {
    // SAFETY: as for `monotonic_ns`.
    let mut ts: libc::timespec = unsafe { zeroed() };
    // SAFETY: valid clock and buffer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64
}

/// Waits until one of `fds` is readable (or hung up), or `timeout` passes
/// (`None`: forever). Returns, per descriptor, whether it is ready.
/// Interrupted waits return with nothing ready.
pub fn poll(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut p: Vec<libc::pollfd> =
        fds.iter().map(|f| libc::pollfd { fd: f.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    let ms = match timeout {
        None => -1,
        Some(d) => d.as_millis().min(i32::MAX as u128) as i32 + i32::from(d.subsec_nanos() % 1_000_000 != 0),
    };
    // SAFETY: `p` is a live array of `p.len()` pollfds.
    match cvt(unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, ms) }) {
        Ok(_) => Ok(p.iter().map(|p| p.revents != 0).collect()),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(vec![false; fds.len()]),
        Err(e) => Err(e),
    }
}

/// Makes `fd` non-blocking.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fcntl on a valid descriptor.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

/// Reads what is available from `fd` into `buf`; `Ok(0)` at end of file.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: reads at most `buf.len()` bytes into a live buffer.
    cvt_size(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// Writes all of `data` to `fd`.
pub fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
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

// --- Processes -------------------------------------------------------------------

/// Counts this process's open descriptors by asking the kernel about each
/// number below the descriptor limit (no file is opened, so this works under
/// the domain's seccomp filter).
pub fn open_fd_count() -> usize {
    // SAFETY: an all-zero rlimit is valid; getrlimit fills it.
    let mut lim: libc::rlimit = unsafe { zeroed() };
    // SAFETY: valid resource and buffer.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    let max = (lim.rlim_cur as usize).clamp(64, 1 << 16);
    // SAFETY: F_GETFD only asks whether the number is open.
    (0..max).filter(|&fd| unsafe { libc::fcntl(fd as RawFd, libc::F_GETFD) } >= 0).count()
}

/// The most descriptors [`place_fds`] places: enough for a server domain
/// of the largest description (its boot information, its supervisor
/// channel and a notification per client: at most
/// `evq_system::MAX_DOMAINS` + 1) with room for described notifications.
pub const MAX_PLACED_FDS: usize = 256;

const _: () = assert!(MAX_PLACED_FDS >= evq_system::MAX_DOMAINS + 8);

/// Places `fds[i]` at descriptor `first + i`, clears close-on-exec on
/// them, and closes every other descriptor from `first` up. Descriptors
/// below `first` (standard input, output and error) are left alone. More
/// than [`MAX_PLACED_FDS`] is `EMFILE`: check before the fork.
///
/// # Safety
///
/// Only between fork and exec (it closes descriptors that other owners in
/// this process believe they hold); it is async-signal-safe.
pub unsafe fn place_fds(fds: &[RawFd], first: RawFd) -> io::Result<()> {
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

/// Unblocks every signal and restores default dispositions (between fork
/// and exec: a domain starts with a clean signal state).
///
/// # Safety
///
/// Only between fork and exec; async-signal-safe.
pub unsafe fn reset_signals() {
    // SAFETY: an empty set, then the calls the man pages allow after fork.
    unsafe {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigprocmask(libc::SIG_SETMASK, set.as_ptr(), std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Asks the kernel to kill this process when its parent dies (so a domain
/// never outlives its launcher).
pub fn die_with_parent() -> io::Result<()> {
    // SAFETY: plain prctl.
    cvt(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) })?;
    Ok(())
}

/// Marks this process non-dumpable: no core files, and other processes of
/// the same user cannot open its `/proc/<pid>/fd` entries or attach to it.
pub fn set_undumpable() -> io::Result<()> {
    // SAFETY: plain prctl.
    cvt(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong, 0, 0, 0) })?;
    Ok(())
}

/// Blocks `SIGCHLD`, `SIGINT` and `SIGTERM` and returns a signalfd that
/// reports them: the launcher's way to learn of domain exits and of being
/// asked to stop, in its poll loop.
pub fn launcher_signalfd() -> io::Result<OwnedFd> {
    // SAFETY: the set is initialised by sigemptyset before use.
    unsafe {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        for s in [libc::SIGCHLD, libc::SIGINT, libc::SIGTERM] {
            libc::sigaddset(set.as_mut_ptr(), s);
        }
        cvt(libc::sigprocmask(libc::SIG_BLOCK, set.as_ptr(), std::ptr::null_mut()))?;
        owned(libc::signalfd(-1, set.as_ptr(), libc::SFD_CLOEXEC | libc::SFD_NONBLOCK))
    }
}

/// Empties a signalfd; returns the signal numbers read.
pub fn read_signals(fd: BorrowedFd<'_>) -> Vec<i32> {
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
pub enum Ended {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signalled(i32),
}

/// Reaps one ended child without blocking.
pub fn reap() -> Option<(i32, Ended)> {
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
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: plain kill.
    cvt(unsafe { libc::kill(pid, sig) })?;
    Ok(())
}

// --- Terminals ---------------------------------------------------------------------

/// A new pseudo-terminal in raw mode: its master (the device side) and its
/// slave (where a user or a script types), and the slave's path.
pub fn raw_pty() -> io::Result<(OwnedFd, OwnedFd, String)> {
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

/// Borrows a descriptor number this process was started with.
///
/// # Safety
///
/// `fd` must be open and stay open for `'static` (a capability the launcher
/// placed at a fixed number, never closed by the domain).
pub unsafe fn borrow_fixed(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the caller's contract.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Takes ownership of a descriptor number this process was started with.
///
/// # Safety
///
/// `fd` must be open and owned by nothing else in this process.
pub unsafe fn take_fixed(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only checks that it is open.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // Capabilities must not leak into anything a domain might start.
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    // SAFETY: the caller's contract.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A descriptor's raw number, for logs and bookkeeping.
pub fn raw(fd: &impl AsFd) -> RawFd {
    fd.as_fd().as_raw_fd()
}

/// Reads from `fd` at byte `offset` without moving its file offset (which a
/// descriptor shares with its copies in other processes).
pub fn read_at(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    // SAFETY: reads at most `buf.len()` bytes into a live buffer.
    cvt_size(unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), offset as libc::off_t) })
}

fn unix_addr(path: &std::path::Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut addr: libc::sockaddr_un = unsafe { zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "socket path too long"));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = (size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    Ok((addr, len))
}

/// A Unix seqpacket socket listening at `path` (an old socket file there is
/// replaced).
pub fn listen_seqpacket(path: &std::path::Path) -> io::Result<OwnedFd> {
    let (addr, len) = unix_addr(path)?;
    // SAFETY: plain system call.
    let fd = owned(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) })?;
    let _ = std::fs::remove_file(path);
    // SAFETY: `addr` is a valid sockaddr_un of `len` bytes.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) })?;
    // SAFETY: plain system call.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), 16) })?;
    Ok(fd)
}

/// Accepts one connection (non-blocking listener: `WouldBlock` if none).
pub fn accept(listener: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: plain system call; no address wanted.
    owned(unsafe {
        libc::accept4(listener.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC)
    })
}

/// Connects a Unix seqpacket socket to `path`.
pub fn connect_seqpacket(path: &std::path::Path) -> io::Result<OwnedFd> {
    let (addr, len) = unix_addr(path)?;
    // SAFETY: plain system call.
    let fd = owned(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `addr` is a valid sockaddr_un of `len` bytes.
    cvt(unsafe { libc::connect(fd.as_raw_fd(), (&raw const addr).cast(), len) })?;
    Ok(fd)
}

/// Restores the default action of the crash signals (`SIGSEGV`, `SIGBUS`),
/// which the Rust runtime handles itself to report stack overflows.
pub fn default_crash_signals() {
    for sig in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: plain signal(2) to the default disposition.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// A pipe: its read end and its write end.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both are new descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
