//! What a domain starts with: its capabilities at fixed descriptor numbers.
//!
//! The launcher and every domain compute the same [`layout`] from the
//! system description, so they agree on which descriptor is which without
//! saying it: descriptor 3 is the boot information (a sealed memfd holding
//! the description's text), and descriptor `4 + i` is the `i`-th capability
//! of [`evq_system::System::grants`] for the domain, followed by its ingest
//! capabilities (a source: its ring, its doorbell, its room notification;
//! the server: each source's doorbell and room notification, the root
//! task's first) and the host devices its image drives. Descriptors 0–2 are
//! the console (standard input is `/dev/null`); every other descriptor is
//! closed.
//!
//! A domain is not started holding those capabilities. `execve` makes a
//! process dumpable again, and until it has made itself non-dumpable any
//! process of its uid could take its descriptors (`pidfd_getfd`). So a
//! domain starts with only the boot information and a hand-off socket at
//! [`HANDOFF_FD`]; it makes itself non-dumpable, makes a fresh socket pair
//! and sends one end over the hand-off socket; the launcher accepts only an
//! end whose creator (`SO_PEERCRED`) is the domain's own process, and sends
//! the capabilities over it ([`receive_capabilities`], the launcher's
//! `hand_over`). What another process could take from the domain in the
//! moment before, the boot information and the hand-off socket, carries no
//! capability: the launcher never sends one on the hand-off socket.

use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};

use evq_system::{Domain, Grant, Role, System, ROOT_BADGE};

use crate::sys;

/// The boot information's descriptor.
pub const BOOT_FD: RawFd = 3;

/// The hand-off socket's descriptor, while a domain takes its capabilities
/// (afterwards, the number of its first capability).
pub const HANDOFF_FD: RawFd = BOOT_FD + 1;

/// What a domain sends on the hand-off socket, with its fresh socket's end.
pub const HANDOFF_ASK: &[u8] = b"evq-caps";

/// The images the `evq` binary runs as domains (`image = …` in the
/// description), and the one that marks a domain the launcher does not start.
pub mod image {
    /// The event server.
    pub const SERVER: &str = "evq-server";
    /// The device driver: a pseudo-terminal's input and a timer's ticks.
    pub const DEVICE: &str = "evq-device";
    /// The network driver: rtnetlink link changes and packet counters.
    pub const NETWORK: &str = "evq-network";
    /// The VFS domain: the file-system core behind a request endpoint.
    pub const VFS: &str = "evq-vfs";
    /// A client that prints every event it receives, one line each.
    pub const WATCH: &str = "evq-watch";
    /// A test domain that checks its own confinement and exits with what it
    /// found (`crate::domain` documents the code).
    pub const PROBE: &str = "evq-probe";
    /// Not started by the launcher: its capabilities are handed to an
    /// outside process that attaches over the console (`evq tail`, tests).
    pub const ATTACH: &str = "attach";
}

/// One capability in a domain's descriptor table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap<'a> {
    /// The boot information (always [`BOOT_FD`]).
    Boot,
    /// The server's own "endpoint": its supervisor channel from the
    /// launcher, which hands it one socket per badge ([`crate::admin`]).
    Admin,
    /// A capability the description grants ([`System::grants`]); for a
    /// source or client, its endpoint (a seqpacket socket) or a
    /// notification (an eventfd).
    Grant(Grant<'a>),
    /// Device driver: the master side of a raw pseudo-terminal.
    Pty,
    /// Device driver: a monotonic timerfd, armed by the driver.
    Timer,
    /// Network driver: an rtnetlink socket subscribed to link changes, in
    /// the namespace of the interface it watches.
    Netlink,
    /// VFS domain: the socket file-system requests arrive on.
    VfsRequests,
    /// A source: its ingest ring, a sealed memfd the launcher laid out
    /// ([`crate::ingest`]).
    IngestRing,
    /// A source: its doorbell, an eventfd it signals when the server sleeps.
    Doorbell,
    /// A source: its room notification, an eventfd it waits on when its
    /// ring is full.
    Room,
    /// The server: the doorbell of the source with `badge` (it waits on it).
    SourceDoorbell {
        /// The source's badge ([`ROOT_BADGE`] for the launcher's own).
        badge: u64,
    },
    /// The server: the room notification of the source with `badge` (it
    /// signals it).
    SourceRoom {
        /// The source's badge.
        badge: u64,
    },
}

/// Every capability of `domain`, in descriptor order from [`BOOT_FD`].
pub fn layout<'a>(system: &System<'a>, domain: &Domain<'a>) -> Vec<Cap<'a>> {
    let mut caps = vec![Cap::Boot];
    for grant in system.grants(domain) {
        caps.push(match grant {
            Grant::ServerEndpoint { .. } if matches!(domain.role, Role::Server { .. }) => Cap::Admin,
            g => Cap::Grant(g),
        });
    }
    match domain.role {
        Role::Source { .. } => caps.extend([Cap::IngestRing, Cap::Doorbell, Cap::Room]),
        Role::Server { .. } => {
            for badge in source_badges(system) {
                caps.extend([Cap::SourceDoorbell { badge }, Cap::SourceRoom { badge }]);
            }
        }
        _ => {}
    }
    match domain.image {
        image::DEVICE => caps.extend([Cap::Pty, Cap::Timer]),
        image::NETWORK => caps.push(Cap::Netlink),
        image::VFS => caps.push(Cap::VfsRequests),
        _ => {}
    }
    caps
}

/// Every source's badge, the root task's ([`ROOT_BADGE`], the launcher)
/// first, then the described sources' in description order: the order of
/// the server's ingest capabilities.
pub fn source_badges<'s>(system: &'s System<'_>) -> impl Iterator<Item = u64> + 's {
    let described = system.domains.iter().filter_map(|d| match d.role {
        Role::Source { badge, .. } => Some(badge),
        _ => None,
    });
    core::iter::once(ROOT_BADGE).chain(described)
}

/// The descriptor of the first capability matching `want`.
pub fn fd_of(caps: &[Cap<'_>], want: impl Fn(&Cap<'_>) -> bool) -> Option<RawFd> {
    caps.iter().position(want).map(|i| BOOT_FD + i as RawFd)
}

/// Takes the capability matching `want` from this process's table.
pub fn take(caps: &[Cap<'_>], what: &str, want: impl Fn(&Cap<'_>) -> bool) -> io::Result<OwnedFd> {
    let fd = fd_of(caps, want).ok_or_else(|| io::Error::other(format!("this domain holds no {what}")))?;
    // SAFETY: the launcher placed the capability at this number, and the
    // layout gives each number to one capability, taken once.
    unsafe { sys::take_fixed(fd) }
}

/// The endpoint of a source or client.
pub fn is_endpoint(cap: &Cap<'_>) -> bool {
    matches!(cap, Cap::Grant(Grant::ServerEndpoint { .. }))
}

/// A client's own notification (the one it waits on).
pub fn is_own_notification(cap: &Cap<'_>) -> bool {
    matches!(cap, Cap::Grant(Grant::ClientNotification { rights, .. }) if rights.read)
}

/// Makes the boot information for a system: a sealed memfd with the
/// description's text.
pub fn make_boot_info(text: &str) -> io::Result<OwnedFd> {
    let fd = sys::sealed_memfd("evq-boot", text.len())?;
    sys::write_all(fd.as_fd(), text.as_bytes())?;
    Ok(fd)
}

/// Makes this domain non-dumpable, then takes its capabilities from the
/// launcher over a socket it made itself, and places them at their
/// descriptors from [`HANDOFF_FD`] up (the hand-off socket is closed). The
/// launcher sends first the count, as a little-endian `u32`, then the
/// descriptors in layout order, a few per datagram.
///
/// Call it once, first, while the process is single-threaded.
pub fn receive_capabilities() -> io::Result<()> {
    sys::set_undumpable().map_err(|e| io::Error::other(format!("becoming non-dumpable: {e}")))?;
    // SAFETY: the launcher placed the hand-off socket at this number; it is
    // used only here and closed by `place_received` below.
    let handoff = unsafe { sys::borrow_fixed(HANDOFF_FD) };
    let (mine, theirs) = sys::seqpacket_pair()?;
    sys::send(handoff, HANDOFF_ASK, &[theirs.as_fd()], false)
        .map_err(|e| io::Error::other(format!("asking the launcher for the capabilities: {e}")))?;
    drop(theirs);
    let lost = || io::Error::other("the launcher hung up before handing over the capabilities");
    let mut buf = [0u8; 4];
    let head = sys::recv(mine.as_fd(), &mut buf, 0, false)?.ok_or_else(lost)?;
    if head.len != 4 || head.truncated {
        return Err(io::Error::other("the launcher's capability count is not a u32"));
    }
    let count = u32::from_le_bytes(buf) as usize;
    if count >= sys::MAX_PLACED_FDS {
        return Err(io::Error::other(format!(
            "the launcher offered {count} capabilities, more than the {} a domain holds",
            sys::MAX_PLACED_FDS - 1
        )));
    }
    let mut fds = Vec::with_capacity(count);
    while fds.len() < count {
        let got = sys::recv(mine.as_fd(), &mut buf, sys::MAX_FDS, false)?.ok_or_else(lost)?;
        if got.fds.is_empty() || fds.len() + got.fds.len() > count {
            return Err(io::Error::other(format!(
                "the launcher sent {} capabilities after announcing {count}",
                fds.len() + got.fds.len()
            )));
        }
        fds.extend(got.fds);
    }
    drop(mine);
    // SAFETY: the domain is single-threaded here, and the only descriptors
    // it holds from HANDOFF_FD up are the hand-off socket (which this
    // closes) and `fds` (which this places).
    unsafe { sys::place_received(fds, HANDOFF_FD) }
}

/// Reads this domain's boot information: the system description's text.
pub fn read_boot_info() -> io::Result<String> {
    // SAFETY: descriptor 3 is the boot information, which the domain never
    // closes.
    let fd = unsafe { sys::borrow_fixed(BOOT_FD) };
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = sys::read_at(fd, &mut buf, text.len() as u64)?;
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(text).map_err(|_| io::Error::other("boot information is not UTF-8"))
}
