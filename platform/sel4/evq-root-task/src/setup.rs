//! Building the domains of the description: the objects that join them
//! (every ingest ring among them), then each domain with the capabilities
//! its role grants, one kind of grant per function: the server's own
//! resources, the described endpoints and notifications, devices, ingest
//! rings and DMA memory.

use evq_abi::PAGE_SIZE;
use evq_domain_info::{self as info, slot, DeviceInfo, DomainInfo, Name, NamedCap, Peer, MAX_NAMED, MAX_PEERS};
use evq_sel4_ipc::RingPublisher;
use evq_system::{Grant, Rights, Role, MAX_DOMAINS, ROOT_BADGE, ROOT_CATEGORIES, ROOT_INGEST_PAGES, ROOT_NAME};
use sel4::init_thread;

use crate::domain::{self, BuildError, Domain, Scratch};
use crate::error::{DeviceError, DomainError, Granted, SetupError};
use crate::ingest::IngestRing;
use crate::objects::{DeviceMemory, Objects};
use crate::{IMAGES, SYSTEM};

/// The server's CNode: its frames, one slot each, and room for its peers.
const SERVER_CNODE_BITS: u32 = 12;
/// Any other domain's CNode: a client's received frames land here.
const DOMAIN_CNODE_BITS: u32 = 10;

/// The root task's own capabilities to the objects it creates once.
struct Wiring {
    server_ep: sel4::cap::Endpoint,
    fault_ep: sel4::cap::Endpoint,
    /// Each client's notification, by domain index.
    client_notes: [Option<sel4::cap::Notification>; MAX_DOMAINS],
    /// Each described notification, by index in the description.
    notes: [Option<sel4::cap::Notification>; MAX_NAMED],
    /// Each described endpoint, by index in the description.
    endpoints: [Option<sel4::cap::Endpoint>; MAX_NAMED],
    /// How fast the counter user code reads runs.
    counter_hz: u64,
    /// The server's notification, bound to its thread: sources signal it
    /// when they have written into their ingest rings while it sleeps.
    ingest_notification: sel4::cap::Notification,
    /// The root task's own ingest ring: ring 0.
    root_ring: Option<IngestRing>,
    /// Each source's ingest ring, by domain index: rings 1.. in
    /// description order.
    rings: [Option<IngestRing>; MAX_DOMAINS],
}

impl Wiring {
    /// Makes the endpoints and notifications the description names.
    fn new(objects: &mut Objects, counter_hz: u64) -> Result<Self, SetupError> {
        let out = |e| SetupError::Wiring(BuildError::Out(e));
        let mut wiring = Wiring {
            server_ep: objects.fixed::<sel4::cap_type::Endpoint>().map_err(out)?,
            fault_ep: objects.fixed::<sel4::cap_type::Endpoint>().map_err(out)?,
            client_notes: [None; MAX_DOMAINS],
            notes: [None; MAX_NAMED],
            endpoints: [None; MAX_NAMED],
            counter_hz,
            ingest_notification: objects.fixed::<sel4::cap_type::Notification>().map_err(out)?,
            root_ring: None,
            rings: [None; MAX_DOMAINS],
        };
        if SYSTEM.notifications.len() > MAX_NAMED || SYSTEM.endpoints.len() > MAX_NAMED {
            return Err(SetupError::TooManyNamed);
        }
        for (i, d) in SYSTEM.domains.iter().enumerate() {
            if matches!(d.role, Role::Client { .. }) {
                wiring.client_notes[i] = Some(objects.fixed::<sel4::cap_type::Notification>().map_err(out)?);
            }
        }
        for i in 0..SYSTEM.notifications.len() {
            wiring.notes[i] = Some(objects.fixed::<sel4::cap_type::Notification>().map_err(out)?);
        }
        for i in 0..SYSTEM.endpoints.len() {
            wiring.endpoints[i] = Some(objects.fixed::<sel4::cap_type::Endpoint>().map_err(out)?);
        }
        Ok(wiring)
    }

    /// Makes every ingest ring: the root task's (ring 0), then each
    /// source's in description order, its control page laid out.
    fn make_rings(&mut self, objects: &mut Objects, scratch: &Scratch) -> Result<(), SetupError> {
        self.root_ring =
            Some(IngestRing::make(objects, scratch, ROOT_INGEST_PAGES, 0, false).map_err(SetupError::Rings)?);
        let mut index = 1;
        for (i, d) in SYSTEM.domains.iter().enumerate() {
            let Some(pages) = d.ingest_ring_pages() else { continue };
            // A bit of the notification word per ring, below INGEST_SIGNAL.
            if index >= 63 {
                return Err(SetupError::TooManyRings);
            }
            self.rings[i] = Some(IngestRing::make(objects, scratch, pages, index, true).map_err(SetupError::Rings)?);
            index += 1;
        }
        Ok(())
    }

    /// Every ingest ring with its peer's badge: the root task's first.
    fn all_rings(&self) -> impl Iterator<Item = (u64, IngestRing)> + '_ {
        let root = self.root_ring.map(|r| (ROOT_BADGE, r));
        let sources = SYSTEM.domains.iter().zip(self.rings.iter()).filter_map(|(d, r)| Some((d.badge()?, (*r)?)));
        root.into_iter().chain(sources)
    }
}

/// What building domains takes: the kernel objects, the device memory, the
/// scratch page and the objects between domains.
pub struct Builder<'b> {
    bootinfo: &'b sel4::BootInfo,
    objects: Objects,
    devices: DeviceMemory,
    scratch: Scratch,
    wiring: Wiring,
}

/// A domain's capabilities as they are granted: the domain, its info page
/// as it is written, and the next free slot of its CNode.
struct Grants<'d> {
    domain: &'d Domain,
    page: DomainInfo,
    next: u64,
}

impl Grants<'_> {
    /// Takes the next free slot.
    fn take_slot(&mut self) -> u64 {
        let slot = self.next;
        self.next += 1;
        slot
    }

    /// Lists a described capability in the info page.
    fn list(&mut self, name: &str, slot: u64, rights: u32) -> Result<(), DomainError> {
        let n = self.page.named_count as usize;
        let named = self.page.named.get_mut(n).ok_or(DomainError::TooManyNamed)?;
        *named = NamedCap { slot, rights, reserved: 0, name: Name::new(name) };
        self.page.named_count += 1;
        Ok(())
    }
}

fn rights(r: Rights) -> sel4::CapRights {
    sel4::CapRights::new(r.grant_reply, r.grant, r.read, r.write)
}

fn role_code(role: &Role) -> u32 {
    match role {
        Role::Server { .. } => info::role::SERVER,
        Role::Source { .. } => info::role::SOURCE,
        Role::Client { .. } => info::role::CLIENT,
        Role::Plain => info::role::PLAIN,
    }
}

impl<'b> Builder<'b> {
    /// Takes the root task's memory and makes the objects between domains.
    pub fn new(bootinfo: &'b sel4::BootInfo, counter_hz: u64) -> Result<Self, SetupError> {
        let mut objects = Objects::new(bootinfo);
        let devices = DeviceMemory::new();
        let scratch = Scratch::new(bootinfo).map_err(SetupError::Scratch)?;
        let mut wiring = Wiring::new(&mut objects, counter_hz)?;
        wiring.make_rings(&mut objects, &scratch)?;
        Ok(Self { bootinfo, objects, devices, scratch, wiring })
    }

    /// The root task's publisher for the supervisor's events: its own
    /// ingest ring, which never blocks (a full ring drops and counts).
    pub fn root_publisher(&mut self) -> Result<RingPublisher, SetupError> {
        let ring = self.wiring.root_ring.ok_or(SetupError::Rings(BuildError::BadRing))?;
        crate::ingest::root_publisher(self.bootinfo, &mut self.objects, &ring, self.wiring.ingest_notification)
            .map_err(SetupError::Rings)
    }

    /// The fault endpoint every domain's faults and exits arrive on.
    pub fn fault_endpoint(&self) -> sel4::cap::Endpoint {
        self.wiring.fault_ep
    }

    /// The root task's own capability to the server's endpoint, badged
    /// [`ROOT_BADGE`]: the supervisor source's.
    pub fn publish_endpoint(&mut self) -> Result<sel4::cap::Endpoint, SetupError> {
        let index = self.objects.slot().map_err(|e| SetupError::Wiring(e.into()))?;
        let publish = init_thread::Slot::<sel4::cap_type::Endpoint>::from_index(index).cap();
        let root = init_thread::slot::CNODE.cap();
        root.absolute_cptr(publish)
            .mint(
                &root.absolute_cptr(self.wiring.server_ep),
                sel4::CapRights::new(true, false, false, true),
                ROOT_BADGE,
            )
            .map_err(SetupError::PublishCap)?;
        Ok(publish)
    }

    /// Builds domain `id` with the capabilities its role grants and starts it.
    pub fn domain(&mut self, id: u32) -> Result<sel4::cap::Tcb, DomainError> {
        let d = SYSTEM.domain_by_id(id).ok_or(DomainError::NoSuchDomain)?;
        let image = IMAGES
            .iter()
            .find(|(name, _)| *name == d.image)
            .map(|(_, bytes)| *bytes)
            .ok_or(DomainError::NoImage(d.image))?;
        let (cnode_bits, window_pages) = match d.role {
            Role::Server { ring_pool_pages } => (SERVER_CNODE_BITS, ring_pool_pages as usize),
            Role::Client { .. } => (DOMAIN_CNODE_BITS, info::CLIENT_RING_WINDOW_PAGES),
            _ => (DOMAIN_CNODE_BITS, 0),
        };
        let device_pages: u32 = d.devices.iter().filter(|dev| dev.mmio.is_some()).map(|dev| dev.mmio_pages).sum();
        let domain =
            Domain::build(&mut self.objects, &self.scratch, id, image, cnode_bits, window_pages, device_pages as usize)
                .map_err(DomainError::Image)?;
        domain.grant_own(self.wiring.fault_ep).map_err(DomainError::own)?;
        let mut page = DomainInfo::new(id, role_code(&d.role), d.name, d.args, cnode_bits);
        page.counter_hz = self.wiring.counter_hz;
        page.ring_window_pages = window_pages as u32;
        let mut grants = Grants { domain: &domain, page, next: slot::FIRST_LISTED };

        if let Role::Server { ring_pool_pages } = d.role {
            self.server_resources(&mut grants, ring_pool_pages)?;
        }
        self.described(&mut grants, d)?;
        if let Some(ring) = self.wiring.rings[id as usize - 1] {
            self.source_ingest(&mut grants, &ring)?;
        }
        if d.dma_pages > 0 {
            grants.page.dma_paddr =
                domain.map_dma(&mut self.objects, d.dma_pages as usize).map_err(DomainError::Dma)?;
            grants.page.dma_pages = d.dma_pages;
        }
        let Grants { mut page, next, .. } = grants;
        page.first_free_slot = next;
        domain.start(&self.scratch, &page, d.priority).map_err(DomainError::Start)
    }

    /// The server's own: untyped memory for its ring pool, its notification
    /// bound to its thread, every ingest ring mapped, its peers listed, and
    /// a capability to signal each source's room notification.
    fn server_resources(&mut self, g: &mut Grants<'_>, ring_pool_pages: u32) -> Result<(), DomainError> {
        // Untyped memory for the pool, rounded up to a power of two.
        let bits = (ring_pool_pages as usize * PAGE_SIZE).next_power_of_two().trailing_zeros();
        let untyped = self.objects.sized::<sel4::cap_type::Untyped>(bits as usize).map_err(DomainError::ring_pool)?;
        g.domain.give(slot::SIXTH, untyped).map_err(DomainError::ring_pool)?;
        g.page.untyped_bits = bits;
        g.page.ring_pool_pages = ring_pool_pages;
        g.domain.tcb.tcb_bind_notification(self.wiring.ingest_notification).map_err(DomainError::ingest)?;
        self.server_rings(g)?;
        list_peers(&mut g.page, &self.wiring)?;
        self.room_signals(g)
    }

    /// Every ingest ring, mapped read-write in the server's window for it.
    fn server_rings(&mut self, g: &mut Grants<'_>) -> Result<(), DomainError> {
        for (_, ring) in self.wiring.all_rings() {
            let base = ring.server_vaddr();
            if ring.bytes() > info::INGEST_STRIDE {
                return Err(DomainError::IngestWindow);
            }
            domain::map_tables(&mut self.objects, g.domain.vspace(), base..base + ring.bytes())
                .map_err(DomainError::Ingest)?;
            for f in 0..ring.frames() {
                ring.frame(f)
                    .frame_map(
                        g.domain.vspace(),
                        base + f * PAGE_SIZE,
                        sel4::CapRights::read_write(),
                        sel4::VmAttributes::default(),
                    )
                    .map_err(DomainError::ingest)?;
            }
        }
        Ok(())
    }

    /// A capability to signal each source's room notification, in the
    /// server's CNode, noted in the source's peer entry.
    fn room_signals(&mut self, g: &mut Grants<'_>) -> Result<(), DomainError> {
        for (badge, ring) in self.wiring.all_rings() {
            let Some(room) = ring.room else { continue };
            let slot = g.take_slot();
            g.domain.grant(slot, room, sel4::CapRights::write_only(), 0).map_err(DomainError::ingest)?;
            let peers = g.page.peer_count as usize;
            if let Some(p) = g.page.peers[..peers].iter_mut().find(|p| p.badge == badge) {
                p.room_slot = slot;
            }
        }
        Ok(())
    }

    /// What the description grants the domain: its server endpoint, the
    /// notifications and endpoints it names, and its devices, with the
    /// interrupt notification they share.
    fn described(&mut self, g: &mut Grants<'_>, d: &'static evq_system::Domain<'static>) -> Result<(), DomainError> {
        // A driver's interrupts all arrive on one notification; each device
        // sets its own badge bit.
        let irq_notification = if d.devices.is_empty() { None } else { Some(self.irq_notification(g)?) };
        let mut device_page = 0usize;
        for grant in SYSTEM.grants(d) {
            match grant {
                Grant::ServerEndpoint { badge, rights: r } => {
                    g.domain
                        .grant(slot::SERVER, self.wiring.server_ep, rights(r), badge)
                        .map_err(DomainError::grant(Granted::ServerEndpoint))?;
                }
                Grant::ClientNotification { client, rights: r } => self.client_notification(g, client, r)?,
                Grant::Notification { name, rights: r } => self.notification(g, name, r)?,
                Grant::Endpoint { name, badge, rights: r } => self.endpoint(g, name, badge, r)?,
                Grant::Device(dev) => {
                    let index = g.page.device_count as usize;
                    if index >= g.page.devices.len() {
                        return Err(DomainError::TooManyDevices);
                    }
                    let device = self
                        .device(g, irq_notification, &dev, index, &mut device_page)
                        .map_err(|error| DomainError::Device { device: dev.name, error })?;
                    g.page.devices[index] = device;
                    g.page.device_count += 1;
                }
            }
        }
        Ok(())
    }

    /// A driver's interrupt notification, which it waits on.
    fn irq_notification(&mut self, g: &mut Grants<'_>) -> Result<sel4::cap::Notification, DomainError> {
        let what = Granted::IrqNotification;
        let n = self.objects.fixed::<sel4::cap_type::Notification>().map_err(DomainError::grant(what))?;
        let slot = g.take_slot();
        g.domain.grant(slot, n, sel4::CapRights::read_only(), 0).map_err(DomainError::grant(what))?;
        g.page.irq_notification_slot = slot;
        Ok(n)
    }

    /// A client's notification: to the client itself (wait, in its sixth
    /// slot), or to the server (signal, noted in the client's peer entry).
    fn client_notification(&mut self, g: &mut Grants<'_>, client: &'static str, r: Rights) -> Result<(), DomainError> {
        let what = Granted::ClientNotification(client);
        let (client_id, _) = SYSTEM.domain(client).ok_or(DomainError::Undescribed(what))?;
        let note = self.wiring.client_notes[client_id as usize - 1].ok_or(DomainError::Undescribed(what))?;
        if r == Rights::WAIT {
            return g.domain.grant(slot::SIXTH, note, rights(r), 0).map_err(DomainError::grant(what));
        }
        let slot = g.take_slot();
        g.domain.grant(slot, note, rights(r), 0).map_err(DomainError::grant(what))?;
        let peers = g.page.peer_count as usize;
        if let Some(p) = g.page.peers[..peers].iter_mut().find(|p| p.domain_id == client_id) {
            p.notification_slot = slot;
        }
        Ok(())
    }

    /// A described notification, listed by name.
    fn notification(&mut self, g: &mut Grants<'_>, name: &'static str, r: Rights) -> Result<(), DomainError> {
        let what = Granted::Notification(name);
        let index = SYSTEM.notifications.iter().position(|n| n.name == name).ok_or(DomainError::Undescribed(what))?;
        let note = self.wiring.notes[index].ok_or(DomainError::Undescribed(what))?;
        let code = if r == Rights::WAIT { info::rights::WAIT } else { info::rights::SIGNAL };
        let slot = g.take_slot();
        g.list(name, slot, code)?;
        g.domain.grant(slot, note, rights(r), 0).map_err(DomainError::grant(what))
    }

    /// A described endpoint, listed by name: all rights for the domain
    /// that serves it, a badged call capability for each caller.
    fn endpoint(&mut self, g: &mut Grants<'_>, name: &'static str, badge: u64, r: Rights) -> Result<(), DomainError> {
        let what = Granted::Endpoint(name);
        let index = SYSTEM.endpoints.iter().position(|e| e.name == name).ok_or(DomainError::Undescribed(what))?;
        let endpoint = self.wiring.endpoints[index].ok_or(DomainError::Undescribed(what))?;
        let code = if r == Rights::ALL { info::rights::RECEIVE } else { info::rights::CALL };
        let slot = g.take_slot();
        g.list(name, slot, code)?;
        g.domain.grant(slot, endpoint, rights(r), badge).map_err(DomainError::grant(what))
    }

    /// Gives the domain device `dev` as its device `index`: its register
    /// pages mapped, its I/O ports, and its interrupt handler, bound to the
    /// domain's interrupt notification with bit `index`.
    fn device(
        &mut self,
        g: &mut Grants<'_>,
        irq_notification: Option<sel4::cap::Notification>,
        dev: &evq_system::Device<'_>,
        index: usize,
        device_page: &mut usize,
    ) -> Result<DeviceInfo, DeviceError> {
        let root = init_thread::slot::CNODE.cap();
        let mut out = DeviceInfo {
            name: Name::new(dev.name),
            irq_bit: 1 << index,
            driver: dev.driver.code(),
            ..DeviceInfo::default()
        };
        if let Some(paddr) = dev.mmio {
            let first = paddr & !(PAGE_SIZE as u64 - 1);
            for p in 0..u64::from(dev.mmio_pages) {
                let page = first + p * PAGE_SIZE as u64;
                let frame = self
                    .devices
                    .frame_at(self.bootinfo, &mut self.objects, page)
                    .map_err(|_| DeviceError::NotDeviceMemory { paddr: page })?;
                let vaddr = g.domain.map_device(frame, *device_page).map_err(DeviceError::cap)? as u64;
                *device_page += 1;
                if p == 0 {
                    out.vaddr = vaddr + (paddr - first);
                }
            }
            out.paddr = paddr;
            out.pages = dev.mmio_pages;
        }
        if let Some((base, count)) = dev.ioports {
            let slot = self.objects.slot().map_err(DeviceError::cap)?;
            issue_ioports(base, count, &root.absolute_cptr_from_bits_with_depth(slot as u64, sel4::WORD_SIZE))?;
            let ports = g.take_slot();
            g.domain
                .give(ports, init_thread::Slot::<sel4::cap_type::Unspecified>::from_index(slot).cap())
                .map_err(DeviceError::cap)?;
            out.ioport_slot = ports;
            out.ioport_base = base;
            out.ioport_count = count;
        }
        if let Some(irq) = dev.irq {
            let notification = irq_notification.ok_or(DeviceError::NoIrqNotification)?;
            let handler_slot = self.objects.slot().map_err(DeviceError::cap)?;
            get_irq(
                irq,
                dev.level_triggered,
                &root.absolute_cptr_from_bits_with_depth(handler_slot as u64, sel4::WORD_SIZE),
            )
            .map_err(|error| DeviceError::Irq { irq, error })?;
            let handler = init_thread::Slot::<sel4::cap_type::IrqHandler>::from_index(handler_slot).cap();
            let badged_slot = self.objects.slot().map_err(DeviceError::cap)?;
            let badged = init_thread::Slot::<sel4::cap_type::Notification>::from_index(badged_slot).cap();
            root.absolute_cptr(badged)
                .mint(&root.absolute_cptr(notification), sel4::CapRights::write_only(), 1 << index)
                .map_err(DeviceError::cap)?;
            handler.irq_handler_set_notification(badged).map_err(DeviceError::cap)?;
            let slot = g.take_slot();
            g.domain.give(slot, handler).map_err(DeviceError::cap)?;
            out.irq_slot = slot;
        }
        Ok(out)
    }

    /// A source's ingest ring, mapped at its ingest window (copies of the
    /// frames the server maps), its doorbell (a badged capability to signal
    /// the server's notification) and its room notification (wait).
    fn source_ingest(&mut self, g: &mut Grants<'_>, ring: &IngestRing) -> Result<(), DomainError> {
        let base = info::INGEST_WINDOW_ADDR;
        domain::map_tables(&mut self.objects, g.domain.vspace(), base..base + ring.bytes())
            .map_err(DomainError::Ingest)?;
        for f in 0..ring.frames() {
            let copy = ring.copy_frame(&mut self.objects, f).map_err(DomainError::Ingest)?;
            copy.frame_map(
                g.domain.vspace(),
                base + f * PAGE_SIZE,
                sel4::CapRights::read_write(),
                sel4::VmAttributes::default(),
            )
            .map_err(DomainError::ingest)?;
        }
        let doorbell = g.take_slot();
        g.domain
            .grant(doorbell, self.wiring.ingest_notification, sel4::CapRights::write_only(), ring.doorbell_badge())
            .map_err(DomainError::ingest)?;
        let room_note = ring.room.ok_or(DomainError::Ingest(BuildError::BadRing))?;
        let room = g.take_slot();
        g.domain.grant(room, room_note, sel4::CapRights::read_only(), 0).map_err(DomainError::ingest)?;
        g.page.ingest_vaddr = base as u64;
        g.page.ingest_bytes = ring.bytes() as u32;
        g.page.ingest_signal_slot = doorbell;
        g.page.ingest_room_slot = room;
        Ok(())
    }
}

/// The server's peers: the root task (the supervisor source, with the
/// system's identity for it), then every source and client by badge, each
/// source with its ingest ring (where it is in the server, how long, its
/// bit), each client with whether it is lossless.
fn list_peers(page: &mut DomainInfo, wiring: &Wiring) -> Result<(), DomainError> {
    let ring_fields = |ring: Option<IngestRing>| match ring {
        Some(r) => (r.server_vaddr() as u64, r.bytes() as u32, r.index as u32),
        None => (0, 0, 0),
    };
    let (ingest_vaddr, ingest_bytes, ingest_bit) = ring_fields(wiring.root_ring);
    page.peers[0] = Peer {
        badge: ROOT_BADGE,
        role: info::role::ROOT,
        domain_id: evq_system::ROOT_DOMAIN_ID,
        categories: ROOT_CATEGORIES.0,
        name: Name::new(ROOT_NAME),
        ingest_vaddr,
        ingest_bytes,
        ingest_bit,
        ..Peer::default()
    };
    page.peer_count = 1;
    for (i, other) in SYSTEM.domains.iter().enumerate() {
        let Some(badge) = other.badge() else { continue };
        let n = page.peer_count as usize;
        if n >= MAX_PEERS {
            return Err(DomainError::TooManyPeers);
        }
        let (categories, budget_per_tick) = match other.role {
            Role::Source { categories, budget_per_tick, .. } => (categories.0, budget_per_tick),
            _ => (0, 0),
        };
        let (ingest_vaddr, ingest_bytes, ingest_bit) = ring_fields(wiring.rings[i]);
        page.peers[n] = Peer {
            badge,
            notification_slot: 0,
            role: role_code(&other.role),
            domain_id: i as u32 + 1,
            categories,
            budget_per_tick,
            name: Name::new(other.name),
            ingest_vaddr,
            ingest_bytes,
            ingest_bit,
            room_slot: 0,
            lossless: u32::from(other.lossless),
            reserved: 0,
        };
        page.peer_count += 1;
    }
    Ok(())
}

/// An interrupt through the GIC (aarch64) or the PLIC (riscv64), by its
/// number there, with the trigger the description gives.
#[cfg(any(target_arch = "aarch64", target_arch = "riscv64"))]
fn get_irq(irq: u32, level: bool, dst: &sel4::AbsoluteCPtr) -> sel4::Result<()> {
    init_thread::slot::IRQ_CONTROL.cap().irq_control_get_trigger(irq.into(), !level, dst)
}

/// An interrupt through the first I/O APIC: pin = IRQ, delivered on the
/// vector of the same number; an ISA line is edge-triggered and active
/// high, a PCI INTx line level-triggered and active low.
#[cfg(target_arch = "x86_64")]
fn get_irq(irq: u32, level: bool, dst: &sel4::AbsoluteCPtr) -> sel4::Result<()> {
    init_thread::slot::IRQ_CONTROL.cap().irq_control_get_ioapic(
        0,
        irq.into(),
        level.into(),
        level.into(),
        irq.into(),
        dst,
    )
}

#[cfg(target_arch = "x86_64")]
fn issue_ioports(base: u16, count: u16, dst: &sel4::AbsoluteCPtr) -> Result<(), DeviceError> {
    let last = u32::from(base) + u32::from(count) - 1;
    init_thread::slot::IO_PORT_CONTROL
        .cap()
        .ioport_control_issue(base.into(), last.into(), dst)
        .map_err(|error| DeviceError::IoPorts { base, error })
}

#[cfg(not(target_arch = "x86_64"))]
fn issue_ioports(_: u16, _: u16, _: &sel4::AbsoluteCPtr) -> Result<(), DeviceError> {
    Err(DeviceError::NoIoPorts)
}
