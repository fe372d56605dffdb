//! The network driver domain's core: sans-IO, `no_std`, no allocation.
//!
//! The domain's shell moves frames between this core and a real NIC (on
//! seL4, virtio-net through the `virtio-drivers` crate); this core decides
//! everything else:
//!
//! - [`Interface`] keeps the link state and the rx/tx counters of one
//!   interface and turns them into network events: `LINK_UP`/`LINK_DOWN` on
//!   a change, and `RX`/`TX` with a [`CountersPayload`], either per frame
//!   (a driver that moves the frames itself) or for what changed between
//!   two readings of a NIC's or kernel's running totals
//!   ([`Interface::totals`]: the hosted driver, which reads the kernel's
//!   link statistics). The server coalesces those per interface for a
//!   client that asks, summing the counts, so the driver does not batch
//!   them itself.
//! - [`arp_request`] builds the frame a freshly started interface sends to
//!   make traffic of its own: an ARP request for its gateway (QEMU's user
//!   network answers for 10.0.2.2), and [`parse_arp_reply`] recognises the
//!   answer.
//!
//! Limits: Ethernet II frames only; no VLAN tags; IPv4 ARP only.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use evq_abi::event::{network, Category, CountersPayload, Priority};
use evq_abi::msg::Event;
use zerocopy::IntoBytes;

/// An Ethernet (MAC) address.
pub type Mac = [u8; 6];
/// An IPv4 address.
pub type Ipv4 = [u8; 4];

/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// The length of an ARP request or reply frame for IPv4 over Ethernet,
/// without padding.
pub const ARP_FRAME_LEN: usize = 42;

const BROADCAST: Mac = [0xff; 6];

/// An ARP request from `mac`/`ip` asking who has `target`, broadcast.
pub fn arp_request(mac: Mac, ip: Ipv4, target: Ipv4) -> [u8; ARP_FRAME_LEN] {
    let mut f = [0u8; ARP_FRAME_LEN];
    f[0..6].copy_from_slice(&BROADCAST);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol: IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip);
    // The target hardware address is unknown: zero.
    f[38..42].copy_from_slice(&target);
    f
}

/// Who answered an ARP request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpReply {
    /// The answering host's MAC address.
    pub sender_mac: Mac,
    /// Its IPv4 address.
    pub sender_ip: Ipv4,
}

/// The ARP reply in `frame` addressed to `mac`, if it is one.
pub fn parse_arp_reply(frame: &[u8], mac: Mac) -> Option<ArpReply> {
    let f = frame.get(..ARP_FRAME_LEN)?;
    let be16 = |at: usize| u16::from_be_bytes([f[at], f[at + 1]]);
    let is_reply = f[0..6] == mac
        && be16(12) == ETHERTYPE_ARP
        && be16(14) == 1
        && be16(16) == 0x0800
        && f[18] == 6
        && f[19] == 4
        && be16(20) == 2
        && f[32..38] == mac;
    is_reply.then(|| ArpReply {
        sender_mac: f[22..28].try_into().unwrap_or_default(),
        sender_ip: f[28..32].try_into().unwrap_or_default(),
    })
}

/// Packets and bytes, as a NIC or a kernel counts them for one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Totals {
    /// What was counted since `earlier`. Counters that wrapped past
    /// `u64::MAX` are counted across the wrap.
    pub const fn since(self, earlier: Totals) -> Totals {
        Totals { packets: self.packets.wrapping_sub(earlier.packets), bytes: self.bytes.wrapping_sub(earlier.bytes) }
    }
}

/// One interface's state, and the events it owes the server.
#[derive(Clone, Debug)]
pub struct Interface {
    id: u64,
    link_up: Option<bool>,
    rx: CountersPayload,
    tx: CountersPayload,
    payload: CountersPayload,
    /// The last reading of the running totals, rx then tx.
    reading: Option<(Totals, Totals)>,
    /// The payloads of the last reading's events, rx then tx.
    deltas: [CountersPayload; 2],
}

impl Interface {
    /// Interface `id` (the events' object id), link state not yet known.
    pub fn new(id: u64) -> Self {
        Self {
            id,
            link_up: None,
            rx: CountersPayload::default(),
            tx: CountersPayload::default(),
            payload: CountersPayload::default(),
            reading: None,
            deltas: [CountersPayload::default(); 2],
        }
    }

    /// The link's state as the NIC reports it; a change (or the first
    /// report) is an event.
    pub fn link(&mut self, up: bool) -> Option<Event<'static>> {
        if self.link_up == Some(up) {
            return None;
        }
        self.link_up = Some(up);
        let kind = if up { network::LINK_UP } else { network::LINK_DOWN };
        Some(Event {
            category: Category::Network,
            kind,
            type_flags: 0,
            priority: Priority::Normal,
            object_id: self.id,
            payload: &[],
        })
    }

    /// A frame of `bytes` arrived: an `RX` event for one packet.
    pub fn received(&mut self, bytes: usize) -> Event<'_> {
        add(&mut self.rx, bytes);
        self.one(network::RX, bytes)
    }

    /// A frame of `bytes` was sent: a `TX` event for one packet.
    pub fn sent(&mut self, bytes: usize) -> Event<'_> {
        add(&mut self.tx, bytes);
        self.one(network::TX, bytes)
    }

    /// A reading of the interface's running totals, received (`rx`) and
    /// sent (`tx`), as a NIC or kernel keeps them: an `RX` event, then a
    /// `TX` event, for the packets and bytes counted since the last
    /// reading, each only if packets moved in its direction. The first
    /// reading is the baseline: what was counted before the interface was
    /// watched is not reported. What was counted since the baseline adds to
    /// [`rx_total`](Self::rx_total) and [`tx_total`](Self::tx_total).
    pub fn totals(&mut self, rx: Totals, tx: Totals) -> impl Iterator<Item = Event<'_>> + '_ {
        let last = self.reading.replace((rx, tx));
        let moved = match last {
            Some((last_rx, last_tx)) => [rx.since(last_rx), tx.since(last_tx)],
            None => [Totals::default(); 2],
        };
        for (i, delta) in moved.iter().enumerate() {
            self.deltas[i] = CountersPayload { packets: delta.packets.into(), bytes: delta.bytes.into() };
            let total = if i == 0 { &mut self.rx } else { &mut self.tx };
            total.packets = total.packets.get().saturating_add(delta.packets).into();
            total.bytes = total.bytes.get().saturating_add(delta.bytes).into();
        }
        let id = self.id;
        self.deltas.iter().zip([network::RX, network::TX]).filter(|(d, _)| d.packets.get() > 0).map(
            move |(payload, kind)| Event {
                category: Category::Network,
                kind,
                type_flags: 0,
                priority: Priority::Normal,
                object_id: id,
                payload: payload.as_bytes(),
            },
        )
    }

    /// Everything received so far.
    pub fn rx_total(&self) -> CountersPayload {
        self.rx
    }

    /// Everything sent so far.
    pub fn tx_total(&self) -> CountersPayload {
        self.tx
    }

    fn one(&mut self, kind: u8, bytes: usize) -> Event<'_> {
        self.payload = CountersPayload { packets: 1.into(), bytes: (bytes as u64).into() };
        Event {
            category: Category::Network,
            kind,
            type_flags: 0,
            priority: Priority::Normal,
            object_id: self.id,
            payload: self.payload.as_bytes(),
        }
    }
}

fn add(c: &mut CountersPayload, bytes: usize) {
    c.packets = c.packets.get().saturating_add(1).into();
    c.bytes = c.bytes.get().saturating_add(bytes as u64).into();
}
