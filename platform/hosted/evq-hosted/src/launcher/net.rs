//! The network driver's interface, as the launcher provides it.
//!
//! Where the kernel permits (a user and network namespace, or a network
//! namespace for root), the launcher makes a namespace of its own with a
//! veth pair, `evq0` ⇄ the interface the description names (`args` of the
//! network domain, `evq1` by default), both up. The driver gets an rtnetlink
//! socket inside that namespace and watches the named end; the launcher keeps
//! a control socket to set the peer `evq0` up or down (the watched end then
//! loses or regains its carrier: real link events), a packet socket on
//! `evq0` to send frames the watched end receives (its RX counters), and a
//! packet socket on the watched end to send frames from it to `evq0` (its TX
//! counters). Every count is the kernel's own, read by the driver.
//!
//! Where namespaces are refused (a container without the privilege), the
//! driver watches loopback (`lo`) in the launcher's own namespace: counters
//! move with real loopback traffic (the launcher's `traffic` sends UDP
//! datagrams to itself, each counted by `lo` as sent and as received, so
//! either direction moves both), and the launcher never touches the host's
//! links, so there are no link changes to report. [`Net::describe`] says
//! which.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::domains::DEFAULT_IFACE;
use crate::{netlink, sys};

/// The peer of the watched interface, in the launcher's namespace.
pub(crate) const PEER: &str = "evq0";

enum Mode {
    Veth {
        control: OwnedFd,
        /// Sends from `evq0`: the watched end receives.
        to_watched: OwnedFd,
        /// Sends from the watched end: it transmits.
        from_watched: OwnedFd,
        peer_index: u32,
    },
    Loopback {
        reason: String,
        udp: OwnedFd,
    },
}

/// The interface the network driver watches, and the launcher's handles on it.
pub(crate) struct Net {
    iface: String,
    domain: OwnedFd,
    mode: Mode,
}

impl Net {
    /// Makes the namespace and veth pair if `try_netns` and permitted, else
    /// falls back to loopback.
    pub(crate) fn setup(iface: &str, try_netns: bool) -> io::Result<Net> {
        let iface = if iface.is_empty() { DEFAULT_IFACE } else { iface };
        let refused = if try_netns {
            match veth_namespace(iface) {
                Ok(net) => return Ok(net),
                Err(e) => format!("a network namespace with a veth pair was refused: {e}"),
            }
        } else {
            "network namespaces were not asked for".to_string()
        };
        let udp = sys::udp_loopback()?;
        Ok(Net { iface: "lo".into(), domain: netlink::socket(true)?, mode: Mode::Loopback { reason: refused, udp } })
    }

    /// The driver's rtnetlink socket.
    pub(crate) fn domain_socket(&self) -> BorrowedFd<'_> {
        self.domain.as_fd()
    }

    /// Which interface, and how it came to be.
    pub(crate) fn describe(&self) -> String {
        match &self.mode {
            Mode::Veth { .. } => format!("veth {} (peer {PEER}) in a network namespace of its own", self.iface),
            Mode::Loopback { reason, .. } => format!("loopback lo ({reason})"),
        }
    }

    /// Sets the peer's link up or down (veth only).
    pub(crate) fn set_link(&mut self, up: bool) -> io::Result<String> {
        match &self.mode {
            Mode::Veth { control, peer_index, .. } => {
                netlink::request_ack(control.as_fd(), &netlink::set_link(*peer_index, up))?;
                Ok(format!("{PEER} set {}", if up { "up" } else { "down" }))
            }
            Mode::Loopback { .. } => {
                Err(io::Error::other("the network driver watches loopback; the launcher does not change host links"))
            }
        }
    }

    /// Sends `packets` frames the watched interface will count: received
    /// by it, or, with `tx`, sent by it (veth: from its own packet socket
    /// to `evq0`). Over loopback every datagram is both, whichever `tx`.
    pub(crate) fn traffic(&mut self, packets: u32, tx: bool) -> io::Result<String> {
        match &self.mode {
            Mode::Veth { to_watched, from_watched, .. } => {
                let (socket, from, to) = if tx {
                    (from_watched, self.iface.as_str(), PEER)
                } else {
                    (to_watched, PEER, self.iface.as_str())
                };
                // Broadcast, from a locally administered address, with the
                // IEEE "local experimental" EtherType, padded to the minimum.
                let mut frame = [0u8; 60];
                frame[..6].copy_from_slice(&[0xff; 6]);
                frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, if tx { 2 } else { 1 }]);
                frame[12..14].copy_from_slice(&0x88B5u16.to_be_bytes());
                frame[14..18].copy_from_slice(b"evq!");
                for _ in 0..packets {
                    sys::write_all(socket.as_fd(), &frame)?;
                }
                Ok(format!("{packets} frames sent from {from} to {to}"))
            }
            Mode::Loopback { udp, .. } => {
                for _ in 0..packets {
                    sys::send_plain(udp.as_fd(), b"evq!")?;
                    let mut buf = [0u8; 16];
                    let _ = sys::read(udp.as_fd(), &mut buf);
                }
                Ok(format!("{packets} datagrams sent over loopback (lo counts each as sent and received)"))
            }
        }
    }
}

/// In a child process: a new network namespace (in a new user namespace if
/// need be) with a veth pair, and the four sockets the launcher needs from
/// it, sent back over a socket pair. The namespace lives as long as they do.
fn veth_namespace(iface: &str) -> io::Result<Net> {
    let (parent, child) = sys::seqpacket_pair()?;
    let helper = || match in_namespace(iface) {
        Ok(fds) => {
            let borrowed: Vec<_> = fds.iter().map(|f| f.as_fd()).collect();
            let sent = sys::send(child.as_fd(), b"ok", &borrowed, false);
            i32::from(sent.is_err())
        }
        Err(e) => {
            let _ = sys::send(child.as_fd(), e.to_string().as_bytes(), &[], false);
            1
        }
    };
    // SAFETY: the launcher is single-threaded when it sets up (it starts no
    // thread, and `Net::setup` runs before any domain), so the child may
    // allocate.
    let pid = unsafe { sys::fork_run(helper) }?;
    drop(child);
    let mut buf = [0u8; 512];
    let got = sys::recv(parent.as_fd(), &mut buf, 3, false);
    // Reaped here, not by the launcher's SIGCHLD handling: it is no domain.
    let _ = sys::wait_child(pid);
    let got = got?.ok_or_else(|| io::Error::other("the namespace helper died"))?;
    if &buf[..got.len] != b"ok" || got.fds.len() != 4 {
        return Err(io::Error::other(String::from_utf8_lossy(&buf[..got.len]).into_owned()));
    }
    let mut fds = got.fds.into_iter();
    let (control, domain, to_watched, from_watched) = match (fds.next(), fds.next(), fds.next(), fds.next()) {
        (Some(a), Some(b), Some(c), Some(d)) => (a, b, c, d),
        _ => return Err(io::Error::other("the namespace helper sent too few sockets")),
    };
    let peer_index = netlink::query(control.as_fd(), PEER)?.index;
    Ok(Net { iface: iface.into(), domain, mode: Mode::Veth { control, to_watched, from_watched, peer_index } })
}

fn in_namespace(iface: &str) -> io::Result<Vec<OwnedFd>> {
    if let Err(first) = sys::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) {
        // Without a user namespace (root where user namespaces are refused).
        if sys::unshare(libc::CLONE_NEWNET).is_err() {
            return Err(io::Error::other(format!("unshare: {first}")));
        }
    }
    // No IPv6 on the pair: no autoconfiguration chatter, so the watched
    // end counts exactly the frames the launcher sends. Where the sysctl is
    // not writable the counters just include that chatter.
    for knob in ["default", "all"] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{knob}/disable_ipv6"), "1");
    }
    let control = netlink::socket(false)?;
    netlink::request_ack(control.as_fd(), &netlink::new_veth(PEER, iface))?;
    let peer = netlink::query(control.as_fd(), PEER)?;
    let watched = netlink::query(control.as_fd(), iface)?;
    netlink::request_ack(control.as_fd(), &netlink::set_link(watched.index, true))?;
    netlink::request_ack(control.as_fd(), &netlink::set_link(peer.index, true))?;
    let domain = netlink::socket(true)?;
    let to_watched = sys::packet_socket(peer.index)?;
    let from_watched = sys::packet_socket(watched.index)?;
    Ok(vec![control, domain, to_watched, from_watched])
}
