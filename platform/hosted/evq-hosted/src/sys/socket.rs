//! Sockets: seqpacket endpoints and the descriptors they carry
//! (`SCM_RIGHTS`), the console's listening socket, and the network
//! driver's and launcher's netlink, packet and UDP sockets.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use super::{cvt, cvt_size, owned};

/// A connected pair of Unix `SOCK_SEQPACKET` sockets: an endpoint, one end
/// for the server and one for the domain it is badged for.
pub(crate) fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    cvt(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) })?;
    // SAFETY: both are new descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The most descriptors one message carries.
pub(crate) const MAX_FDS: usize = 4;

#[repr(C)]
union CmsgBuf {
    _align: libc::cmsghdr,
    bytes: [u8; 128],
}

/// Sends one datagram with `fds` attached (`SCM_RIGHTS`; more than
/// [`MAX_FDS`] is `InvalidInput`). Never raises `SIGPIPE`; with
/// `nonblocking`, a full socket is `WouldBlock`.
pub(crate) fn send(fd: BorrowedFd<'_>, data: &[u8], fds: &[BorrowedFd<'_>], nonblocking: bool) -> io::Result<usize> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "more descriptors than one message carries"));
    }
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    // SAFETY: an all-zero msghdr is valid.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    // SAFETY: an all-zero control buffer is valid.
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
pub(crate) struct Received {
    /// Bytes of it that fit in the buffer.
    pub(crate) len: usize,
    /// It was longer than the buffer (the rest is gone).
    pub(crate) truncated: bool,
    /// Descriptors that came with it (at most [`MAX_FDS`]; more are closed
    /// by the kernel, and so are all of them when `max_fds` was 0).
    pub(crate) fds: Vec<OwnedFd>,
}

/// Receives one datagram into `buf`, accepting up to `max_fds` descriptors
/// (0: the kernel closes any that were sent). `Ok(None)` is end of file.
pub(crate) fn recv(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    max_fds: usize,
    nonblocking: bool,
) -> io::Result<Option<Received>> {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: an all-zero msghdr is valid.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    // SAFETY: an all-zero control buffer is valid.
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

/// Whether the peer of a connected socket has hung up (without waiting).
pub(crate) fn peer_gone(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN | libc::POLLRDHUP, revents: 0 };
    // SAFETY: one valid pollfd.
    cvt(unsafe { libc::poll(&mut p, 1, 0) })?;
    Ok(p.revents & (libc::POLLHUP | libc::POLLRDHUP) != 0)
}

/// Sends `data` as one message on a connected socket, without descriptors
/// (netlink requests, UDP datagrams).
pub(crate) fn send_plain(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    // SAFETY: sends from a live buffer of the length given.
    cvt_size(unsafe { libc::send(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) })
}

/// Sets how long a blocking receive on `fd` waits before failing `WouldBlock`.
pub(crate) fn set_recv_timeout(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<()> {
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
pub(crate) fn peer_pid(fd: BorrowedFd<'_>) -> io::Result<i32> {
    // SAFETY: an all-zero ucred is valid.
    let mut cred: libc::ucred = unsafe { zeroed() };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` has room for `len` bytes.
    cvt(unsafe {
        libc::getsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_PEERCRED, (&raw mut cred).cast(), &mut len)
    })?;
    Ok(cred.pid)
}

fn unix_addr(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
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

fn seqpacket() -> io::Result<OwnedFd> {
    // SAFETY: plain system call.
    owned(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) })
}

/// A Unix seqpacket socket listening at a path, which it removes when
/// dropped if the path is still this socket's.
pub(crate) struct Listener {
    fd: OwnedFd,
    path: std::path::PathBuf,
    /// The socket file's device and inode, as bound.
    file: (u64, u64),
}

impl Listener {
    /// The listening socket.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        use std::os::unix::fs::MetadataExt;
        // Another process may have replaced it since (a stale-socket
        // takeover after this one hung); that one is not ours to remove.
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.file) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Listens at `path`, a socket only its owner may connect to (mode 0600).
/// Something already there is replaced only if it is a
/// socket nothing answers on (one a dead process left); a socket something
/// answers on, or anything that is not a socket, is refused, in words
/// naming the path, and left as it is.
pub(crate) fn listen_seqpacket(path: &Path) -> io::Result<Listener> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let (addr, len) = unix_addr(path)?;
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        Ok(m) if !m.file_type().is_socket() => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket; it is left as it is (choose another --console path)", path.display()),
            ))
        }
        Ok(_) => match connect_seqpacket(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "a running system answers at {}; stop it first (evq stop --console {0}) or choose another --console path",
                        path.display()
                    ),
                ))
            }
            // Nothing listens: a dead system's socket, to be replaced.
            Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => std::fs::remove_file(path)?,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        },
    }
    let fd = seqpacket()?;
    // SAFETY: `addr` is a valid sockaddr_un of `len` bytes.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) })
        .map_err(|e| io::Error::new(e.kind(), format!("binding {}: {e}", path.display())))?;
    // Only the system's own uid may connect: whoever can connect drives
    // the system (attach, fs, shutdown).
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let m = std::fs::symlink_metadata(path)?;
    let listener = Listener { fd, path: path.to_path_buf(), file: (m.dev(), m.ino()) };
    // SAFETY: plain system call.
    cvt(unsafe { libc::listen(listener.fd.as_raw_fd(), 16) })?;
    Ok(listener)
}

/// Accepts one connection (non-blocking listener: `WouldBlock` if none).
pub(crate) fn accept(listener: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: plain system call; no address wanted.
    owned(unsafe {
        libc::accept4(listener.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC)
    })
}

/// Connects a Unix seqpacket socket to `path`.
pub(crate) fn connect_seqpacket(path: &Path) -> io::Result<OwnedFd> {
    let (addr, len) = unix_addr(path)?;
    let fd = seqpacket()?;
    // SAFETY: `addr` is a valid sockaddr_un of `len` bytes.
    cvt(unsafe { libc::connect(fd.as_raw_fd(), (&raw const addr).cast(), len) })?;
    Ok(fd)
}

/// A new `NETLINK_ROUTE` socket, joined to the multicast `groups` (0 for
/// none).
pub(crate) fn netlink_route(groups: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain system call.
    let fd =
        owned(unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) })?;
    // SAFETY: an all-zero sockaddr_nl is valid.
    let mut addr: libc::sockaddr_nl = unsafe { zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    addr.nl_groups = groups;
    // SAFETY: a valid sockaddr_nl of the size given.
    cvt(unsafe {
        libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), size_of::<libc::sockaddr_nl>() as libc::socklen_t)
    })?;
    Ok(fd)
}

/// A UDP socket on loopback connected to itself, non-blocking.
pub(crate) fn udp_loopback() -> io::Result<OwnedFd> {
    // SAFETY: plain system call.
    let fd =
        owned(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0) })?;
    // SAFETY: an all-zero sockaddr_in is valid.
    let mut addr: libc::sockaddr_in = unsafe { zeroed() };
    addr.sin_family = libc::AF_INET as u16;
    addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
    let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a valid sockaddr_in of `len` bytes.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) })?;
    let mut got = len;
    // SAFETY: `addr` has room for `got` bytes.
    cvt(unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut addr).cast(), &mut got) })?;
    // SAFETY: a valid sockaddr_in of `len` bytes: the socket's own address.
    cvt(unsafe { libc::connect(fd.as_raw_fd(), (&raw const addr).cast(), len) })?;
    Ok(fd)
}

/// A raw packet socket bound to interface `index`, to send Ethernet frames
/// from.
pub(crate) fn packet_socket(index: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain system call.
    let fd = owned(unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: an all-zero sockaddr_ll is valid.
    let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = 0;
    addr.sll_ifindex = index as i32;
    let len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: a valid sockaddr_ll of `len` bytes.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) })?;
    Ok(fd)
}
