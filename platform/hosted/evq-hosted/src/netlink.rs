//! Just enough rtnetlink: make a veth pair, set a link up or down, ask for
//! one link, and read link messages (flags and 64-bit counters).

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use evq_net::Totals;

use crate::sys;

const NLMSG_HDR: usize = 16;
const IFINFO: usize = 16;
const RTA_HDR: usize = 4;

const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_STATS64: u16 = 23;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const NLA_F_NESTED: u16 = 1 << 15;

/// A link as a `RTM_NEWLINK` message describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Link {
    /// Interface index.
    pub index: u32,
    /// Interface flags (`IFF_*`).
    pub flags: u32,
    /// Its name.
    pub name: String,
    /// Received and sent packets and bytes, if the message carried them.
    pub stats: Option<LinkStats>,
}

impl Link {
    /// Up and with carrier: `IFF_UP` and `IFF_RUNNING`.
    pub fn running(&self) -> bool {
        let want = (libc::IFF_UP | libc::IFF_RUNNING) as u32;
        self.flags & want == want
    }
}

/// A link's running totals, as the kernel counts them (`IFLA_STATS64`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LinkStats {
    /// Received.
    pub rx: Totals,
    /// Sent.
    pub tx: Totals,
}

/// A message being built.
pub(crate) struct Builder {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

impl Builder {
    /// A message of `ty` with `flags`, and an `ifinfomsg` for `index`.
    pub fn link(ty: u16, flags: u16, index: i32, ifi_flags: u32, ifi_change: u32) -> Builder {
        let mut buf = vec![0u8; NLMSG_HDR + IFINFO];
        buf[4..6].copy_from_slice(&ty.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | libc::NLM_F_REQUEST as u16).to_ne_bytes());
        buf[8..12].copy_from_slice(&1u32.to_ne_bytes());
        buf[NLMSG_HDR] = libc::AF_UNSPEC as u8;
        buf[NLMSG_HDR + 4..NLMSG_HDR + 8].copy_from_slice(&index.to_ne_bytes());
        buf[NLMSG_HDR + 8..NLMSG_HDR + 12].copy_from_slice(&ifi_flags.to_ne_bytes());
        buf[NLMSG_HDR + 12..NLMSG_HDR + 16].copy_from_slice(&ifi_change.to_ne_bytes());
        Builder { buf, nests: Vec::new() }
    }

    /// An attribute.
    pub fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Self {
        let len = RTA_HDR + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    /// A string attribute (NUL-terminated).
    pub fn name(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        self.attr(ty, &data)
    }

    /// Opens a nested attribute.
    pub fn nest(&mut self, ty: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.attr(ty | NLA_F_NESTED, &[])
    }

    /// Raw bytes inside the current nest (a peer's `ifinfomsg`).
    pub fn raw(&mut self, data: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(data);
        self
    }

    /// Closes the innermost nest.
    pub fn end(&mut self) -> &mut Self {
        if let Some(at) = self.nests.pop() {
            let len = (self.buf.len() - at) as u16;
            self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// The finished message.
    pub fn finish(&mut self) -> &[u8] {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        &self.buf
    }
}

/// A new `NETLINK_ROUTE` socket, joined to the link multicast group if
/// `watch_links`.
pub(crate) fn socket(watch_links: bool) -> io::Result<OwnedFd> {
    sys::netlink_route(if watch_links { libc::RTMGRP_LINK as u32 } else { 0 })
}

/// Sends a request that expects an acknowledgement, and waits for it.
pub(crate) fn request_ack(fd: BorrowedFd<'_>, msg: &[u8]) -> io::Result<()> {
    send(fd, msg)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = sys::read(fd, &mut buf)?;
        for (ty, payload) in messages(&buf[..n]) {
            if ty == libc::NLMSG_ERROR as u16 && payload.len() >= 4 {
                let code = i32::from_ne_bytes(payload[..4].try_into().unwrap_or_default());
                return if code == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(-code)) };
            }
        }
    }
}

/// Sends one message to the kernel.
pub(crate) fn send(fd: BorrowedFd<'_>, msg: &[u8]) -> io::Result<()> {
    sys::send_plain(fd, msg).map(drop)
}

/// The messages in a datagram: `(type, payload)`.
pub(crate) fn messages(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while data.len() >= NLMSG_HDR {
        let len = u32::from_ne_bytes(data[..4].try_into().unwrap_or_default()) as usize;
        let ty = u16::from_ne_bytes(data[4..6].try_into().unwrap_or_default());
        if len < NLMSG_HDR || len > data.len() {
            break;
        }
        out.push((ty, &data[NLMSG_HDR..len]));
        data = &data[align4(len).min(data.len())..];
    }
    out
}

/// Reads a `RTM_NEWLINK` payload.
pub(crate) fn parse_link(payload: &[u8]) -> Option<Link> {
    if payload.len() < IFINFO {
        return None;
    }
    let index = i32::from_ne_bytes(payload[4..8].try_into().ok()?) as u32;
    let flags = u32::from_ne_bytes(payload[8..12].try_into().ok()?);
    let mut link = Link { index, flags, ..Link::default() };
    let mut attrs = &payload[IFINFO..];
    while attrs.len() >= RTA_HDR {
        let len = u16::from_ne_bytes(attrs[..2].try_into().ok()?) as usize;
        let ty = u16::from_ne_bytes(attrs[2..4].try_into().ok()?) & !NLA_F_NESTED;
        if len < RTA_HDR || len > attrs.len() {
            break;
        }
        let data = &attrs[RTA_HDR..len];
        match ty {
            IFLA_IFNAME => link.name = String::from_utf8_lossy(data.split(|b| *b == 0).next().unwrap_or(&[])).into(),
            IFLA_STATS64 if data.len() >= 32 => {
                let word = |i: usize| u64::from_ne_bytes(data[i * 8..i * 8 + 8].try_into().unwrap_or_default());
                // struct rtnl_link_stats64: rx_packets, tx_packets, rx_bytes, tx_bytes, …
                link.stats = Some(LinkStats {
                    rx: Totals { packets: word(0), bytes: word(2) },
                    tx: Totals { packets: word(1), bytes: word(3) },
                });
            }
            _ => {}
        }
        attrs = &attrs[align4(len).min(attrs.len())..];
    }
    Some(link)
}

/// A request for the link named `name`.
pub(crate) fn get_link_by_name(name: &str) -> Vec<u8> {
    Builder::link(libc::RTM_GETLINK, 0, 0, 0, 0).name(IFLA_IFNAME, name).finish().to_vec()
}

/// A request for link `index`.
pub(crate) fn get_link(index: u32) -> Vec<u8> {
    Builder::link(libc::RTM_GETLINK, 0, index as i32, 0, 0).finish().to_vec()
}

/// A request to set link `index` up or down.
pub(crate) fn set_link(index: u32, up: bool) -> Vec<u8> {
    let flag = libc::IFF_UP as u32;
    Builder::link(libc::RTM_NEWLINK, libc::NLM_F_ACK as u16, index as i32, if up { flag } else { 0 }, flag)
        .finish()
        .to_vec()
}

/// A request to make a veth pair `name` ⇄ `peer`.
pub(crate) fn new_veth(name: &str, peer: &str) -> Vec<u8> {
    let flags = (libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
    let mut b = Builder::link(libc::RTM_NEWLINK, flags, 0, 0, 0);
    b.name(IFLA_IFNAME, name);
    b.nest(IFLA_LINKINFO).name(IFLA_INFO_KIND, "veth").nest(IFLA_INFO_DATA).nest(VETH_INFO_PEER);
    b.raw(&[0u8; IFINFO]).name(IFLA_IFNAME, peer);
    b.end().end().end();
    b.finish().to_vec()
}

/// Asks for the link named `name` on `fd` and waits for the answer
/// (passing over link notifications about other links that arrive first).
pub(crate) fn query(fd: BorrowedFd<'_>, name: &str) -> io::Result<Link> {
    let request = get_link_by_name(name);
    send(fd, &request)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = sys::read(fd, &mut buf)?;
        for (ty, payload) in messages(&buf[..n]) {
            if ty == libc::RTM_NEWLINK {
                if let Some(link) = parse_link(payload).filter(|l| l.name == name) {
                    return Ok(link);
                }
            }
            if ty == libc::NLMSG_ERROR as u16 && payload.len() >= 4 {
                let code = i32::from_ne_bytes(payload[..4].try_into().unwrap_or_default());
                if code != 0 {
                    return Err(io::Error::from_raw_os_error(-code));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_message_reads_back() {
        let msg = get_link_by_name("lo");
        let parsed = messages(&msg);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].0, libc::RTM_GETLINK);
        let link = parse_link(parsed[0].1).expect("link");
        assert_eq!(link.name, "lo");
    }

    #[test]
    fn a_links_64_bit_statistics_read_as_rx_and_tx_totals() {
        // struct rtnl_link_stats64 starts rx_packets, tx_packets, rx_bytes,
        // tx_bytes; the rest of its words are not read.
        let words: Vec<u8> = [11u64, 22, 3300, 4400, 9, 9].iter().flat_map(|w| w.to_ne_bytes()).collect();
        let msg =
            Builder::link(libc::RTM_NEWLINK, 0, 5, libc::IFF_UP as u32, 0).attr(IFLA_STATS64, &words).finish().to_vec();
        let parsed = messages(&msg);
        let link = parse_link(parsed[0].1).expect("link");
        assert_eq!((link.index, link.running()), (5, false));
        let stats = link.stats.expect("stats");
        assert_eq!(stats.rx, Totals { packets: 11, bytes: 3300 });
        assert_eq!(stats.tx, Totals { packets: 22, bytes: 4400 });
    }

    #[test]
    fn truncated_messages_are_not_read_past_their_end() {
        let msg = get_link_by_name("lo");
        assert!(messages(&msg[..10]).is_empty());
        let mut bad = msg.clone();
        bad[..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(messages(&bad).is_empty());
    }
}
