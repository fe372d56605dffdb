//! The page the root task maps read-only into every domain it builds, at
//! [`DOMAIN_INFO_ADDR`]: the domain's identity, where its capabilities sit in
//! its own CSpace, the windows of its address space whose page tables the
//! root task prepared, and, for the event server, the sources and clients it
//! serves. It plays the part seL4's `BootInfo` plays for the root task.
//!
//! A domain's CSpace is one CNode of `2^cnode_bits` slots whose guard makes a
//! capability pointer equal to its slot index. Fixed slots hold what every
//! domain has; the rest are listed here.
#![no_std]
#![deny(missing_docs)]

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

/// Where the page is mapped in every domain.
pub const DOMAIN_INFO_ADDR: usize = 0x1000_0000;

/// Where rings are mapped: the server maps its whole pool here, a client its
/// queues' rings one after another.
pub const RING_WINDOW_ADDR: usize = 0x2000_0000;

/// Pages in a client's ring window: one 64-page ring and its control page,
/// twice over, with room to spare.
pub const CLIENT_RING_WINDOW_PAGES: usize = 256;

/// Where a driver's device register pages are mapped, one page each, in the
/// order of [`DomainInfo::devices`], uncached.
pub const DEVICE_WINDOW_ADDR: usize = 0x3000_0000;

/// Where a driver's DMA memory is mapped.
pub const DMA_WINDOW_ADDR: usize = 0x4000_0000;

/// Where a source's ingest ring is mapped in the source; in the server,
/// ring `k`'s is at `INGEST_WINDOW_ADDR + k * INGEST_STRIDE` (ring 0 is the
/// root task's, then every source's in description order). A ring is an
/// evq ring (`docs/protocol.md` §2): its control page, then its data pages,
/// the source its producer and the server its consumer.
pub const INGEST_WINDOW_ADDR: usize = 0x5000_0000;
/// The distance between two ingest rings' windows in the server: room for
/// the largest ring, 64 data pages and the control page.
pub const INGEST_STRIDE: usize = 0x10_0000;
/// The bit of the server's notification word that says it was signalled,
/// not sent a message: badges lie below it (`evq_system::BADGE_LIMIT`).
/// A source's doorbell sets it and the source's own bit below it.
pub const INGEST_SIGNAL: u64 = 1 << 63;

/// `b"EVQDOMv1"`, little-endian.
pub const MAGIC: u64 = u64::from_le_bytes(*b"EVQDOMv1");

/// Fixed slots of every domain's CNode.
pub mod slot {
    /// The domain's own CNode: its receive path and retype destination.
    pub const CNODE: u64 = 1;
    /// The domain's own VSpace, to map granted frames.
    pub const VSPACE: u64 = 2;
    /// The domain's own TCB, to stop itself.
    pub const TCB: u64 = 3;
    /// The root task's fault endpoint, badged with the domain id: the kernel
    /// sends the domain's faults on it, and the domain reports its exit on it.
    pub const FAULT: u64 = 4;
    /// The event server's endpoint (the server's own, or a badged one), or
    /// the null slot for a domain that has none.
    pub const SERVER: u64 = 5;
    /// The server: its ring-pool untyped. A client: its own notification.
    pub const SIXTH: u64 = 6;
    /// The first slot of the grants listed in [`super::DomainInfo::named`]
    /// and [`super::DomainInfo::peers`].
    pub const FIRST_LISTED: u64 = 8;
}

/// The label a domain sends on its fault endpoint to exit, with its exit
/// code in message register 0. Faults the kernel sends carry seL4's fault
/// labels (1..=7), which this is well clear of.
pub const EXIT_LABEL: u64 = 0x4558; // "EX"

/// The most sources and clients a server is told of.
pub const MAX_PEERS: usize = 31;
/// The most described notifications and endpoints a domain is given.
pub const MAX_NAMED: usize = 8;
/// The most devices a driver is given.
pub const MAX_DEVICES: usize = 4;

/// What a domain is to the event server (`evq_system::Role`).
pub mod role {
    /// The event server.
    pub const SERVER: u32 = 0;
    /// A driver that publishes.
    pub const SOURCE: u32 = 1;
    /// A client that reads rings.
    pub const CLIENT: u32 = 2;
    /// Neither.
    pub const PLAIN: u32 = 3;
    /// The root task, as the server sees it: the supervisor source.
    pub const ROOT: u32 = 4;
}

/// What a domain may do with a described notification or endpoint.
pub mod rights {
    /// Wait on the notification.
    pub const WAIT: u32 = 1;
    /// Signal the notification.
    pub const SIGNAL: u32 = 2;
    /// Receive on the endpoint: the domain serves it.
    pub const RECEIVE: u32 = 3;
    /// Call the endpoint (badged).
    pub const CALL: u32 = 4;
}

/// A name in a fixed field: UTF-8, zero-padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct Name<const N: usize>(pub [u8; N]);

impl<const N: usize> Default for Name<N> {
    fn default() -> Self {
        Self([0; N])
    }
}

impl<const N: usize> Name<N> {
    /// `s`, cut to `N` bytes.
    pub fn new(s: &str) -> Self {
        let mut bytes = [0; N];
        let n = s.len().min(N);
        bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
        Self(bytes)
    }

    /// The name, up to its first zero byte; empty if that is not UTF-8.
    pub fn as_str(&self) -> &str {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(N);
        core::str::from_utf8(&self.0[..end]).unwrap_or("")
    }
}

/// A source or client the server serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct Peer {
    /// The badge its messages arrive with.
    pub badge: u64,
    /// A client: the server's slot holding a signal capability to its
    /// notification. Otherwise 0.
    pub notification_slot: u64,
    /// [`role`] `SOURCE`, `CLIENT` or `ROOT`.
    pub role: u32,
    /// Its domain id (0 for the root task).
    pub domain_id: u32,
    /// A source: the categories it may publish, as `CategorySet` bits.
    pub categories: u32,
    /// A source: events per tick, 0 for no limit.
    pub budget_per_tick: u32,
    /// Its name.
    pub name: Name<16>,
    /// A source (the root task included): where its ingest ring is mapped
    /// in the server, or 0 for none.
    pub ingest_vaddr: u64,
    /// Bytes of its ingest ring: the control page and the data pages.
    pub ingest_bytes: u32,
    /// Its bit in the server's notification word (below [`INGEST_SIGNAL`]),
    /// which its doorbell sets. The server passes over every ring on any
    /// signal, so the bit only tells who rang.
    pub ingest_bit: u32,
    /// A source that waits for room in its ring: the server's slot holding
    /// a signal capability to its room notification, or 0 (the root task,
    /// which never waits).
    pub room_slot: u64,
    /// A client: 1 if the description marks it lossless, else 0.
    pub lossless: u32,
    /// Zero.
    pub reserved: u32,
}

/// A described notification or endpoint the domain holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct NamedCap {
    /// The slot holding it.
    pub slot: u64,
    /// What it allows: one of [`rights`].
    pub rights: u32,
    /// Zero.
    pub reserved: u32,
    /// Its name in the system description.
    pub name: Name<16>,
}

/// A device a driver domain is given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct DeviceInfo {
    /// Where its registers are mapped (its first page's mapping plus their
    /// offset in the page), or 0 for none.
    pub vaddr: u64,
    /// Their physical address (what a bus master or a BAR names them by).
    pub paddr: u64,
    /// The slot of its I/O port capability (x86), or 0.
    pub ioport_slot: u64,
    /// The slot of its IRQ handler capability, to acknowledge, or 0.
    pub irq_slot: u64,
    /// Its first I/O port, and how many.
    pub ioport_base: u16,
    /// How many I/O ports.
    pub ioport_count: u16,
    /// The bit its interrupts set in the badge of the domain's interrupt
    /// notification ([`DomainInfo::irq_notification_slot`]).
    pub irq_bit: u32,
    /// Pages of registers mapped from `vaddr`'s page on.
    pub pages: u32,
    /// The chip it is, as the description names it: an
    /// `evq_system::Driver` code (0 for none named).
    pub driver: u32,
    /// Its name in the system description.
    pub name: Name<16>,
}

/// The page. Everything is written once by the root task before the domain
/// starts, and the domain maps it read-only.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct DomainInfo {
    /// [`MAGIC`].
    pub magic: u64,
    /// The domain's id: 1.. in description order.
    pub domain_id: u32,
    /// Its [`role`].
    pub role: u32,
    /// Its name.
    pub name: Name<16>,
    /// Its argument from the description, empty for none.
    pub args: Name<32>,
    /// Its CNode has `2^cnode_bits` slots.
    pub cnode_bits: u32,
    /// Pages mapped-ready (page tables present) at [`RING_WINDOW_ADDR`].
    pub ring_window_pages: u32,
    /// The server: `2^untyped_bits` bytes of untyped memory at
    /// [`slot::SIXTH`], for `ring_pool_pages` frames.
    pub untyped_bits: u32,
    /// The server: frames it may spend on rings.
    pub ring_pool_pages: u32,
    /// The first empty slot; every slot from here to the end is empty.
    pub first_free_slot: u64,
    /// Entries used in `named`.
    pub named_count: u32,
    /// Entries used in `peers`.
    pub peer_count: u32,
    /// Described notifications and endpoints.
    pub named: [NamedCap; MAX_NAMED],
    /// The server: its sources and clients, the root task first.
    pub peers: [Peer; MAX_PEERS],
    /// A driver: the slot of the notification its devices' interrupts
    /// arrive on (each device sets its own bit of the badge), or 0.
    pub irq_notification_slot: u64,
    /// Entries used in `devices`.
    pub device_count: u32,
    /// Zero.
    pub reserved: u32,
    /// A driver: its devices.
    pub devices: [DeviceInfo; MAX_DEVICES],
    /// A driver: the physical address of its DMA memory, mapped at
    /// [`DMA_WINDOW_ADDR`]; its pages are physically contiguous.
    pub dma_paddr: u64,
    /// Pages of DMA memory, 0 for none.
    pub dma_pages: u32,
    /// Zero.
    pub reserved2: u32,
    /// Ticks per second of the CPU's free-running counter that user code
    /// may read (aarch64: the generic timer's virtual count; riscv64: the
    /// `time` CSR, at the kernel's configured timebase; x86_64: the TSC), as
    /// the kernel measured or the hardware reports it; 0 if unknown.
    pub counter_hz: u64,
    /// A source: where its ingest ring is mapped ([`INGEST_WINDOW_ADDR`]), or 0.
    pub ingest_vaddr: u64,
    /// Bytes of its ingest ring: the control page and the data pages.
    pub ingest_bytes: u32,
    /// Zero.
    pub reserved3: u32,
    /// A source: the slot of its doorbell, a capability to signal the
    /// server's notification (badged [`INGEST_SIGNAL`] and its own bit),
    /// or 0.
    pub ingest_signal_slot: u64,
    /// A source: the slot of its room notification, which it waits on when
    /// its ring is full and the server signals when it frees slots, or 0.
    pub ingest_room_slot: u64,
}

impl DomainInfo {
    /// An empty page for `domain_id`.
    pub fn new(domain_id: u32, role: u32, name: &str, args: &str, cnode_bits: u32) -> Self {
        let mut info = Self::new_zeroed();
        info.magic = MAGIC;
        info.domain_id = domain_id;
        info.role = role;
        info.name = Name::new(name);
        info.args = Name::new(args);
        info.cnode_bits = cnode_bits;
        info
    }

    /// The slot of the described notification or endpoint `name`, if the
    /// domain holds it with `rights`.
    pub fn named(&self, name: &str, rights: u32) -> Option<u64> {
        self.named[..(self.named_count as usize).min(MAX_NAMED)]
            .iter()
            .find(|n| n.name.as_str() == name && n.rights == rights)
            .map(|n| n.slot)
    }

    /// The slot of the described notification `name`, held to `WAIT` or `SIGNAL`.
    pub fn note(&self, name: &str, rights: u32) -> Option<u64> {
        self.named(name, rights)
    }

    /// The slot of the described endpoint `name`, held to `RECEIVE` or `CALL`.
    pub fn endpoint(&self, name: &str, rights: u32) -> Option<u64> {
        self.named(name, rights)
    }

    /// The device named `name`.
    pub fn device(&self, name: &str) -> Option<&DeviceInfo> {
        self.devices[..(self.device_count as usize).min(MAX_DEVICES)].iter().find(|d| d.name.as_str() == name)
    }

    /// The listed peers.
    pub fn peers(&self) -> &[Peer] {
        &self.peers[..(self.peer_count as usize).min(MAX_PEERS)]
    }
}

const _: () = assert!(core::mem::size_of::<DomainInfo>() <= 4096);
