//! The system description: the one place that says which protection domains
//! exist, their priorities, which endpoints and notifications join them with
//! which badges and rights, and how much memory the server may spend on rings.
//!
//! Both platforms build the same system from it. The seL4 root task cannot
//! parse at run time, so its build script parses `images/<board>/system.toml`
//! with the `parse` feature and embeds [`System`] as a Rust constant
//! (`System::to_rust`, with the `parse` feature); the hosted launcher parses
//! the file when it starts.
//!
//! The capabilities a domain receives follow from its role, and from nothing
//! else ([`System::grants`]):
//!
//! | role   | endpoint to the server                 | notification                     |
//! |--------|----------------------------------------|----------------------------------|
//! | server | the endpoint itself, to receive        | a signal cap to each client's    |
//! | source | write + grant-reply, badged            | —                                |
//! | client | write + grant + grant-reply, badged    | its own, to wait on              |
//!
//! A client's endpoint carries grant because seL4 moves the ring's frame
//! capabilities in the reply to the client's call only when the caller's
//! endpoint capability may grant. The server never sets a receive slot, so
//! the client cannot use that right to push capabilities onto the server.
//!
//! Every domain also gets a badged capability to the root task's fault
//! endpoint as its fault handler (the badge is its domain id), and the
//! [`Notification`]s and [`Endpoint`]s the description lists: a domain that
//! serves an endpoint gets it to receive on (all rights), and each of its
//! callers a capability badged with the caller's badge (call, no
//! capabilities either way). No domain receives another's CSpace, VSpace or
//! TCB.
#![no_std]
#![deny(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "parse")]
mod parse;
#[cfg(feature = "parse")]
pub use parse::{parse, ParseError};

use evq_abi::event::{Category, CategorySet};

/// The badge the root task publishes process events with, on its own
/// capability to the server's endpoint. No domain may use it.
pub const ROOT_BADGE: u64 = 1;

/// The name the root task (the hosted launcher) is registered under as a
/// source: the supervisor.
pub const ROOT_NAME: &str = "root";

/// The categories the root task may publish: it reports the domains' lives
/// (process events) and the system's (system events).
pub const ROOT_CATEGORIES: CategorySet = CategorySet::of(&[Category::Process, Category::System]);

/// Domain id 0 is the root task; described domains are numbered from 1 in
/// the order the description lists them. Process events carry this id.
pub const ROOT_DOMAIN_ID: u32 = 0;

/// The most domains a description may list: room for the server, its
/// sources and as many clients as the server's client table holds
/// (`evq_server::limits::MAX_CLIENTS`, 64), with some to spare.
///
/// A platform may hold fewer: the seL4 root task tells the server of at
/// most `evq_domain_info::MAX_PEERS` − 1 sources and clients (the root task
/// itself is the first peer) and refuses a description with more when it
/// boots; the hosted server's tables hold `evq_server::limits::MAX_SOURCES`
/// sources (the launcher among them) and `MAX_CLIENTS` clients at a time.
pub const MAX_DOMAINS: usize = 96;

/// The most devices one domain may drive.
pub const MAX_DEVICES: usize = 4;

/// The most DMA memory one domain may have, in 4 KiB pages.
pub const MAX_DMA_PAGES: u32 = 256;

/// The most data pages a source's ingest ring may have (a ring's most).
pub const MAX_INGEST_PAGES: u32 = 64;

/// A source's ingest ring's data pages when its description gives none:
/// 2,048 slots, some 400 small events.
pub const DEFAULT_INGEST_PAGES: u32 = 4;

/// The root task's (the supervisor's) ingest ring's data pages: a domain's
/// start, fault and exit are few.
pub const ROOT_INGEST_PAGES: u32 = 1;

/// The most pages the server's ring pool may have (`ring_pool_pages`):
/// 1 GiB of rings. A pool is memory the server may spend on client rings,
/// and a description that offers more than a board could have is wrong.
pub const MAX_RING_POOL_PAGES: u32 = 1 << 18;

/// Badges are below this: the top bit is left to tell a signal on the
/// server's bound notification from a message (its ingest rings).
pub const BADGE_LIMIT: u64 = 1 << 63;

/// The highest priority a domain may have: the root task runs above all.
pub const MAX_PRIORITY: u8 = 254;

/// A whole system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct System<'a> {
    /// The board it is built for (`qemu-arm-virt`, `pc99`, `hosted`).
    pub board: &'a str,
    /// Every domain, in start order. Domain `i` has id `i + 1`.
    pub domains: &'a [Domain<'a>],
    /// Notifications between domains, beyond the ones roles imply.
    pub notifications: &'a [Notification<'a>],
    /// Endpoints between domains other than the event server's: a driver's
    /// own protocol (the VFS domain's, for example).
    pub endpoints: &'a [Endpoint<'a>],
}

/// One protection domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Domain<'a> {
    /// Its name, unique in the system; at most 16 bytes.
    pub name: &'a str,
    /// The program it runs: an ELF embedded in the seL4 image, an
    /// executable on the hosted platform.
    pub image: &'a str,
    /// An argument for the program, empty for none; at most 32 bytes.
    pub args: &'a str,
    /// Its scheduling priority, 1..=[`MAX_PRIORITY`].
    pub priority: u8,
    /// What it is to the event server.
    pub role: Role,
    /// The devices it drives: registers and interrupts it is given.
    pub devices: &'a [Device<'a>],
    /// Pages of memory for its devices to reach by DMA: physically
    /// contiguous, mapped in the domain, their physical address told to it.
    /// 0 for none.
    pub dma_pages: u32,
    /// A source: data pages of its ingest ring, the ring in shared memory
    /// it publishes its events through (`docs/protocol.md` §8): a power of
    /// two from 1 to [`MAX_INGEST_PAGES`], or 0 for
    /// [`DEFAULT_INGEST_PAGES`]. Every source has one; other domains none.
    pub ingest_pages: u32,
    /// A client: its queues are lossless. Where one of them has no room for
    /// an event it subscribes to, the server holds the event back, and with
    /// it the source that published it, instead of dropping it
    /// (`docs/protocol.md` §5.12). Only the description can grant this: a
    /// slow lossless client slows every source whose events it takes.
    pub lossless: bool,
}

impl Domain<'_> {
    /// A source's ingest ring's data pages; `None` for a domain that is not
    /// a source.
    pub fn ingest_ring_pages(&self) -> Option<u32> {
        match self.role {
            Role::Source { .. } if self.ingest_pages == 0 => Some(DEFAULT_INGEST_PAGES),
            Role::Source { .. } => Some(self.ingest_pages),
            _ => None,
        }
    }
}

/// A device a driver domain is given: a page of its registers, a range of
/// its I/O ports (x86), and its interrupt, each where it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device<'a> {
    /// Its name, which the driver looks it up by; at most 16 bytes.
    pub name: &'a str,
    /// The physical address of its registers (a virtio-mmio transport is
    /// 512 bytes into its page, say).
    pub mmio: Option<u64>,
    /// How many 4 KiB pages its registers span from `mmio`'s page (1 for
    /// most devices; a PCI BAR may be larger).
    pub mmio_pages: u32,
    /// Its first I/O port and how many (x86).
    pub ioports: Option<(u16, u16)>,
    /// Its interrupt: the IRQ number on ARM, the ISA IRQ (I/O APIC pin) on x86.
    pub irq: Option<u32>,
    /// The interrupt is level-triggered (on x86 also active-low, as a PCI
    /// INTx line through the I/O APIC is); otherwise edge-triggered,
    /// active-high.
    pub level_triggered: bool,
    /// The chip behind it, which picks the driver core that runs it.
    pub driver: Driver,
}

/// The chip a device is, as the description names it (`driver = "…"`): the
/// device domain runs the `evq-device` core for it. The domain info page
/// carries it as [`Driver::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u32)]
pub enum Driver {
    /// None named: the domain knows the device by its name (the network
    /// domain's `virtio` and `pci`).
    #[default]
    Unnamed = 0,
    /// `pl011`: ARM PrimeCell UART, by its registers.
    Pl011 = 1,
    /// `pl031`: ARM PrimeCell real-time clock.
    Pl031 = 2,
    /// `ns16550`: a 16550 UART by its eight I/O ports (x86).
    Ns16550Ports = 3,
    /// `ns16550-mmio8`: a 16550 UART by memory-mapped byte registers
    /// (device-tree `reg-shift = 0`).
    Ns16550Mmio8 = 4,
    /// `ns16550-mmio32`: a 16550-style UART by memory-mapped 32-bit
    /// registers a word apart (`reg-shift = 2`, `reg-io-width = 4`): the
    /// DesignWare UARTs, the Raspberry Pi's mini UART.
    Ns16550Mmio32 = 5,
    /// `cmos`: the PC's CMOS real-time clock, by its two I/O ports.
    Cmos = 6,
    /// `goldfish-rtc`: the Goldfish real-time clock (QEMU riscv64 virt).
    GoldfishRtc = 7,
    /// `sifive-uart`: the SiFive UART (FU540, HiFive Unleashed).
    SifiveUart = 8,
    /// `bcm2835-systimer`: the Raspberry Pi's 1 MHz system timer.
    Bcm2835SystemTimer = 9,
}

impl Driver {
    /// Every driver, in code order.
    pub const ALL: [Driver; 10] = [
        Driver::Unnamed,
        Driver::Pl011,
        Driver::Pl031,
        Driver::Ns16550Ports,
        Driver::Ns16550Mmio8,
        Driver::Ns16550Mmio32,
        Driver::Cmos,
        Driver::GoldfishRtc,
        Driver::SifiveUart,
        Driver::Bcm2835SystemTimer,
    ];

    /// Its name in the description; empty for [`Driver::Unnamed`].
    pub fn name(self) -> &'static str {
        match self {
            Driver::Unnamed => "",
            Driver::Pl011 => "pl011",
            Driver::Pl031 => "pl031",
            Driver::Ns16550Ports => "ns16550",
            Driver::Ns16550Mmio8 => "ns16550-mmio8",
            Driver::Ns16550Mmio32 => "ns16550-mmio32",
            Driver::Cmos => "cmos",
            Driver::GoldfishRtc => "goldfish-rtc",
            Driver::SifiveUart => "sifive-uart",
            Driver::Bcm2835SystemTimer => "bcm2835-systimer",
        }
    }

    /// The driver with this description name.
    pub fn from_name(name: &str) -> Option<Driver> {
        Self::ALL.into_iter().find(|d| *d != Driver::Unnamed && d.name() == name)
    }

    /// Its code on the domain info page.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The driver with this code; `None` for a code no driver has.
    pub fn from_code(code: u32) -> Option<Driver> {
        Self::ALL.get(usize::try_from(code).ok()?).copied()
    }

    /// Whether the chip is reached by I/O ports (else by registers in memory).
    pub fn by_ports(self) -> bool {
        matches!(self, Driver::Ns16550Ports | Driver::Cmos)
    }
}

/// What a domain is to the event server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The event server. Exactly one domain has this role.
    Server {
        /// 4 KiB frames it may spend on rings, control pages included.
        ring_pool_pages: u32,
    },
    /// A driver that publishes events.
    Source {
        /// The badge on its endpoint capability; the server knows it by this.
        badge: u64,
        /// What it may publish.
        categories: CategorySet,
        /// Events it may publish per server tick; 0 for no limit.
        budget_per_tick: u32,
    },
    /// A client that reads events from rings.
    Client {
        /// The badge on its endpoint capability.
        badge: u64,
    },
    /// Neither: a domain joined to others only by notifications.
    Plain,
}

/// A notification that some domains signal and one waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notification<'a> {
    /// Its name, which the waiter and signallers look it up by.
    pub name: &'a str,
    /// The domain that waits on it (read right).
    pub waiter: &'a str,
    /// The domains that signal it (write right).
    pub signallers: &'a [&'a str],
}

/// An endpoint that one domain serves and others call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint<'a> {
    /// Its name, which the server and callers look it up by.
    pub name: &'a str,
    /// The domain that receives on it.
    pub server: &'a str,
    /// The domains that call it, each with the badge it is known by.
    pub callers: &'a [Caller<'a>],
}

/// A domain that calls an [`Endpoint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller<'a> {
    /// The calling domain.
    pub domain: &'a str,
    /// The badge its calls arrive with: nonzero, unique on the endpoint.
    pub badge: u64,
}

/// Rights on a capability, as seL4 names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rights {
    /// Receive on an endpoint, wait on a notification.
    pub read: bool,
    /// Send on an endpoint, signal a notification.
    pub write: bool,
    /// Send capabilities, and (seL4) receive them in the reply to a call.
    pub grant: bool,
    /// Call: receive a reply.
    pub grant_reply: bool,
}

impl Rights {
    /// Everything: the server's own endpoint.
    pub const ALL: Rights = Rights { read: true, write: true, grant: true, grant_reply: true };
    /// A source's endpoint: call, no capabilities either way.
    pub const CALL: Rights = Rights { read: false, write: true, grant: false, grant_reply: true };
    /// A client's endpoint: call, and receive ring frames in the reply.
    pub const CALL_RECEIVING_CAPS: Rights = Rights { read: false, write: true, grant: true, grant_reply: true };
    /// Signal a notification.
    pub const SIGNAL: Rights = Rights { read: false, write: true, grant: false, grant_reply: false };
    /// Wait on a notification.
    pub const WAIT: Rights = Rights { read: true, write: false, grant: false, grant_reply: false };
}

/// One capability the description gives a domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant<'a> {
    /// A capability to the server's endpoint.
    ServerEndpoint {
        /// Its badge (0 for the server's own, unbadged).
        badge: u64,
        /// Its rights.
        rights: Rights,
    },
    /// A capability to a client's notification.
    ClientNotification {
        /// The client.
        client: &'a str,
        /// Its rights: the client waits, the server signals.
        rights: Rights,
    },
    /// A capability to a described endpoint.
    Endpoint {
        /// Its name.
        name: &'a str,
        /// Its badge (0 for the serving domain's own).
        badge: u64,
        /// Its rights.
        rights: Rights,
    },
    /// A device's registers, I/O ports and interrupt handler (its
    /// interrupts arrive on the domain's interrupt notification).
    Device(Device<'a>),
    /// A capability to a described notification.
    Notification {
        /// Its name.
        name: &'a str,
        /// Its rights.
        rights: Rights,
    },
}

/// Why a description is not a system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid<'a> {
    /// No domain, or more than [`MAX_DOMAINS`].
    DomainCount(usize),
    /// Not exactly one server.
    ServerCount(usize),
    /// Two domains share this name.
    DuplicateName(&'a str),
    /// A name is empty or longer than 16 bytes.
    BadName(&'a str),
    /// An image name is empty, or an argument longer than 32 bytes.
    BadImage(&'a str),
    /// A priority is 0 or above [`MAX_PRIORITY`].
    BadPriority(&'a str),
    /// A badge is 0, [`ROOT_BADGE`], or at or above [`BADGE_LIMIT`].
    BadBadge(&'a str),
    /// Two domains have the same badge.
    DuplicateBadge {
        /// The later domain.
        domain: &'a str,
        /// The earlier one with the badge.
        other: &'a str,
        /// The badge.
        badge: u64,
    },
    /// A domain that is not a source has an ingest ring, or its size is not
    /// a power of two up to [`MAX_INGEST_PAGES`].
    BadIngest(&'a str),
    /// A domain that is not a client is marked lossless.
    BadLossless(&'a str),
    /// A source may publish nothing, or may publish `Meta`.
    BadCategories(&'a str),
    /// The server's ring pool cannot hold even the smallest ring (2 pages),
    /// or is over [`MAX_RING_POOL_PAGES`].
    BadRingPool(u32),
    /// A notification or endpoint names a domain that does not exist.
    UnknownDomain(&'a str),
    /// Two notifications or endpoints share this name.
    DuplicateCapName(&'a str),
    /// An endpoint caller's badge is 0 or another caller's.
    BadCallerBadge(&'a str),
    /// A device is described badly: a bad or duplicate name, an empty port
    /// range, or no resource at all; or two devices are given the same
    /// register page, ports or interrupt; or a domain has more than
    /// [`MAX_DEVICES`], or more than [`MAX_DMA_PAGES`] of DMA memory.
    BadDevice(&'a str),
}

impl<'a> System<'a> {
    /// Checks the rules above; a system that passes can be built.
    pub fn validate(&self) -> Result<(), Invalid<'a>> {
        let n = self.domains.len();
        if n == 0 || n > MAX_DOMAINS {
            return Err(Invalid::DomainCount(n));
        }
        let servers = self.domains.iter().filter(|d| matches!(d.role, Role::Server { .. })).count();
        if servers != 1 {
            return Err(Invalid::ServerCount(servers));
        }
        for (i, d) in self.domains.iter().enumerate() {
            if d.name.is_empty() || d.name.len() > 16 {
                return Err(Invalid::BadName(d.name));
            }
            if self.domains[..i].iter().any(|e| e.name == d.name) {
                return Err(Invalid::DuplicateName(d.name));
            }
            if d.image.is_empty() || d.args.len() > 32 {
                return Err(Invalid::BadImage(d.name));
            }
            if d.priority == 0 || d.priority > MAX_PRIORITY {
                return Err(Invalid::BadPriority(d.name));
            }
            match d.role {
                Role::Server { ring_pool_pages } if !(2..=MAX_RING_POOL_PAGES).contains(&ring_pool_pages) => {
                    return Err(Invalid::BadRingPool(ring_pool_pages))
                }
                Role::Source { categories, .. }
                    if categories.0 == 0 || categories.contains(evq_abi::event::Category::Meta) =>
                {
                    return Err(Invalid::BadCategories(d.name))
                }
                _ => {}
            }
            self.validate_devices(i)?;
            let ingest_ok = d.ingest_pages == 0
                || (d.ingest_pages.is_power_of_two()
                    && d.ingest_pages <= MAX_INGEST_PAGES
                    && matches!(d.role, Role::Source { .. }));
            if !ingest_ok {
                return Err(Invalid::BadIngest(d.name));
            }
            if d.lossless && !matches!(d.role, Role::Client { .. }) {
                return Err(Invalid::BadLossless(d.name));
            }
            if let Some(badge) = d.badge() {
                if badge == 0 || badge == ROOT_BADGE || badge >= BADGE_LIMIT {
                    return Err(Invalid::BadBadge(d.name));
                }
                if let Some(other) = self.domains[..i].iter().find(|e| e.badge() == Some(badge)) {
                    return Err(Invalid::DuplicateBadge { domain: d.name, other: other.name, badge });
                }
            }
        }
        for (i, note) in self.notifications.iter().enumerate() {
            if note.name.is_empty() || note.name.len() > 16 {
                return Err(Invalid::BadName(note.name));
            }
            if self.notifications[..i].iter().any(|n| n.name == note.name) {
                return Err(Invalid::DuplicateCapName(note.name));
            }
            for who in core::iter::once(&note.waiter).chain(note.signallers) {
                if self.domain(who).is_none() {
                    return Err(Invalid::UnknownDomain(who));
                }
            }
        }
        for (i, ep) in self.endpoints.iter().enumerate() {
            if ep.name.is_empty() || ep.name.len() > 16 {
                return Err(Invalid::BadName(ep.name));
            }
            let taken = self.endpoints[..i].iter().map(|e| e.name).chain(self.notifications.iter().map(|n| n.name));
            if taken.clone().any(|n| n == ep.name) {
                return Err(Invalid::DuplicateCapName(ep.name));
            }
            if self.domain(ep.server).is_none() {
                return Err(Invalid::UnknownDomain(ep.server));
            }
            for (j, caller) in ep.callers.iter().enumerate() {
                if self.domain(caller.domain).is_none() {
                    return Err(Invalid::UnknownDomain(caller.domain));
                }
                if caller.badge == 0 || ep.callers[..j].iter().any(|c| c.badge == caller.badge) {
                    return Err(Invalid::BadCallerBadge(caller.domain));
                }
            }
        }
        Ok(())
    }

    fn validate_devices(&self, i: usize) -> Result<(), Invalid<'a>> {
        let d = &self.domains[i];
        if d.devices.len() > MAX_DEVICES || d.dma_pages > MAX_DMA_PAGES {
            return Err(Invalid::BadDevice(d.name));
        }
        for (j, dev) in d.devices.iter().enumerate() {
            let bad = dev.name.is_empty()
                || dev.name.len() > 16
                || d.devices[..j].iter().any(|o| o.name == dev.name)
                || dev.ioports.is_some_and(|(base, n)| n == 0 || u32::from(base) + u32::from(n) > 0x1_0000)
                || dev.mmio.is_some() && !(1..=16).contains(&dev.mmio_pages)
                || (dev.mmio.is_none() && dev.ioports.is_none() && dev.irq.is_none())
                || (dev.driver != Driver::Unnamed
                    && if dev.driver.by_ports() { dev.ioports.is_none() } else { dev.mmio.is_none() });
            if bad {
                return Err(Invalid::BadDevice(dev.name));
            }
            let earlier =
                self.domains[..=i].iter().flat_map(|e| e.devices.iter()).take_while(|o| !core::ptr::eq(*o, dev));
            for other in earlier {
                let pages = |d: &Device<'_>| d.mmio.map(|a| a / 4096..a / 4096 + u64::from(d.mmio_pages));
                let overlap = match (pages(dev), pages(other)) {
                    (Some(a), Some(b)) => a.start < b.end && b.start < a.end,
                    _ => false,
                } || (dev.irq.is_some() && dev.irq == other.irq)
                    || match (dev.ioports, other.ioports) {
                        (Some((a, n)), Some((b, m))) => {
                            u32::from(a) < u32::from(b) + u32::from(m) && u32::from(b) < u32::from(a) + u32::from(n)
                        }
                        _ => false,
                    };
                if overlap {
                    return Err(Invalid::BadDevice(dev.name));
                }
            }
        }
        Ok(())
    }

    /// The domain with this name, and its id.
    pub fn domain(&self, name: &str) -> Option<(u32, &Domain<'a>)> {
        self.domains.iter().enumerate().find(|(_, d)| d.name == name).map(|(i, d)| (i as u32 + 1, d))
    }

    /// The domain with this id.
    pub fn domain_by_id(&self, id: u32) -> Option<&Domain<'a>> {
        (id as usize).checked_sub(1).and_then(|i| self.domains.get(i))
    }

    /// The event server.
    pub fn server(&self) -> Option<(u32, &Domain<'a>)> {
        self.domains
            .iter()
            .enumerate()
            .find(|(_, d)| matches!(d.role, Role::Server { .. }))
            .map(|(i, d)| (i as u32 + 1, d))
    }

    /// The domain whose endpoint capability carries `badge`.
    pub fn by_badge(&self, badge: u64) -> Option<(u32, &Domain<'a>)> {
        self.domains.iter().enumerate().find(|(_, d)| d.badge() == Some(badge)).map(|(i, d)| (i as u32 + 1, d))
    }

    /// Every capability `domain` receives, in a fixed order: its endpoint
    /// capability, then (server) a signal capability per client in
    /// description order, or (client) its own notification, then the
    /// described notifications it waits on or signals, then the described
    /// endpoints it serves or calls, each in description order, then its
    /// devices.
    pub fn grants<'s>(&'s self, domain: &'s Domain<'a>) -> impl Iterator<Item = Grant<'a>> + 's {
        let endpoint = match domain.role {
            Role::Server { .. } => Some(Grant::ServerEndpoint { badge: 0, rights: Rights::ALL }),
            Role::Source { badge, .. } => Some(Grant::ServerEndpoint { badge, rights: Rights::CALL }),
            Role::Client { badge } => Some(Grant::ServerEndpoint { badge, rights: Rights::CALL_RECEIVING_CAPS }),
            Role::Plain => None,
        };
        let is_server = matches!(domain.role, Role::Server { .. });
        let client_notes = self.domains.iter().filter_map(move |d| match d.role {
            Role::Client { .. } if is_server => {
                Some(Grant::ClientNotification { client: d.name, rights: Rights::SIGNAL })
            }
            Role::Client { .. } if d.name == domain.name => {
                Some(Grant::ClientNotification { client: d.name, rights: Rights::WAIT })
            }
            _ => None,
        });
        let described = self.notifications.iter().filter_map(move |n| {
            let rights = if n.waiter == domain.name {
                Rights::WAIT
            } else if n.signallers.contains(&domain.name) {
                Rights::SIGNAL
            } else {
                return None;
            };
            Some(Grant::Notification { name: n.name, rights })
        });
        let endpoints = self.endpoints.iter().filter_map(move |e| {
            if e.server == domain.name {
                Some(Grant::Endpoint { name: e.name, badge: 0, rights: Rights::ALL })
            } else {
                let caller = e.callers.iter().find(|c| c.domain == domain.name)?;
                Some(Grant::Endpoint { name: e.name, badge: caller.badge, rights: Rights::CALL })
            }
        });
        let devices = domain.devices.iter().map(|d| Grant::Device(*d));
        endpoint.into_iter().chain(client_notes).chain(described).chain(endpoints).chain(devices)
    }
}

impl Domain<'_> {
    /// The badge on its endpoint capability, for sources and clients.
    pub fn badge(&self) -> Option<u64> {
        match self.role {
            Role::Source { badge, .. } | Role::Client { badge } => Some(badge),
            _ => None,
        }
    }
}
