//! evq's root task: the system initializer and every domain's fault monitor.
//!
//! It reads the system description embedded at build time
//! (`images/<board>/system.toml`, checked by `build.rs`) and builds each
//! domain it names from the domain's embedded ELF image: a VSpace with the
//! image loaded, an IPC buffer, a CNode holding exactly the capabilities its
//! role grants ([`evq_system::System::grants`]), an info page saying where
//! they are (`evq-domain-info`), and a TCB whose fault handler is the root
//! task. The event server starts first; it gets untyped memory for its ring
//! pool. The root task is a source of its own, the supervisor: it publishes
//! each domain's start, fault and exit as process events, and tells the
//! server when a client is gone, so that its rings are revoked.
#![no_std]
#![no_main]

mod domain;
mod elf;
mod objects;

use evq_abi::event::{process, system, Category, CategorySet, ExitPayload, FaultPayload, Priority};
use evq_abi::msg::{Event, Reply, Request, MAX_MSG_BYTES};
use evq_abi::PAGE_SIZE;
use evq_domain_info::{self as info, slot, DeviceInfo, DomainInfo, Name, NamedCap, Peer, MAX_NAMED, MAX_PEERS};
use evq_system::{Grant, Rights, Role, MAX_DOMAINS, ROOT_BADGE};
use sel4::init_thread;
use sel4_root_task::{root_task, Never};
use zerocopy::IntoBytes;

use domain::{BuildError, Domain, Scratch};
use objects::{DeviceMemory, Objects};

mod generated {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}
use generated::{IMAGES, SYSTEM};

/// The server's CNode: its frames, one slot each, and room for its peers.
const SERVER_CNODE_BITS: u32 = 12;
/// Any other domain's CNode: a client's received frames land here.
const DOMAIN_CNODE_BITS: u32 = 10;

#[root_task(stack_size = 256 * 1024)]
fn main(bootinfo: &sel4::BootInfoPtr) -> sel4::Result<Never> {
    sel4::debug_println!("evq: root task: building the {} system: {} domains", SYSTEM.board, SYSTEM.domains.len());
    match System::build(bootinfo, counter_hz(bootinfo)) {
        Ok(mut system) => system.monitor(),
        Err(why) => {
            sel4::debug_println!("TEST_FAIL: evq: root task: {why}");
            init_thread::suspend_self()
        }
    }
}

/// The objects that join domains, and each domain's TCB.
struct System {
    /// The server's endpoint, as the root task publishes on it (badged);
    /// `None` once the server has faulted or exited. A call to a server
    /// that will never answer would block the root task for good, and with
    /// it every later fault of every domain.
    publish: Option<sel4::cap::Endpoint>,
    fault: sel4::cap::Endpoint,
    tcbs: [Option<sel4::cap::Tcb>; MAX_DOMAINS],
}

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
    /// when their ingest rings hold events.
    ingest_notification: sel4::cap::Notification,
    /// Each ingest source's region (by domain index): its first frame's
    /// slot in the root task's CNode, and how many frames.
    ingest: [Option<(usize, usize)>; MAX_DOMAINS],
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

/// Domain `index`'s place among the sources with ingest rings (its window
/// in the server, its bit in the server's notification word), if it has them.
fn ingest_index(index: usize) -> Option<usize> {
    (SYSTEM.domains.get(index)?.ingest_pages > 0)
        .then(|| SYSTEM.domains[..index].iter().filter(|d| d.ingest_pages > 0).count())
}

/// Lists a described capability in the info page.
fn list(page: &mut DomainInfo, name: &str, slot: u64, rights: u32) -> Result<(), &'static str> {
    let n = page.named_count as usize;
    if n >= MAX_NAMED {
        return Err("more notifications and endpoints than a domain can be told of");
    }
    page.named[n] = NamedCap { slot, rights, reserved: 0, name: Name::new(name) };
    page.named_count += 1;
    Ok(())
}

fn fail(what: &'static str) -> impl Fn(BuildError) -> &'static str {
    move |e| {
        sel4::debug_println!("evq: root task: {what}: {e}");
        what
    }
}

impl System {
    fn build(bootinfo: &sel4::BootInfo, counter_hz: u64) -> Result<Self, &'static str> {
        let mut objects = Objects::new(bootinfo);
        let mut devices = DeviceMemory::new();
        let scratch = Scratch::new(bootinfo).map_err(|_| "the scratch page will not unmap")?;
        let out = |_| "out of memory or slots";
        let mut wiring = Wiring {
            server_ep: objects.fixed::<sel4::cap_type::Endpoint>().map_err(out)?,
            fault_ep: objects.fixed::<sel4::cap_type::Endpoint>().map_err(out)?,
            client_notes: [None; MAX_DOMAINS],
            notes: [None; MAX_NAMED],
            endpoints: [None; MAX_NAMED],
            counter_hz,
            ingest_notification: objects.fixed::<sel4::cap_type::Notification>().map_err(out)?,
            ingest: [None; MAX_DOMAINS],
        };
        if SYSTEM.notifications.len() > MAX_NAMED || SYSTEM.endpoints.len() > MAX_NAMED {
            return Err("the description has more notifications or endpoints than the root task holds");
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
        let publish_index = objects.slot().map_err(out)?;
        let publish = init_thread::Slot::<sel4::cap_type::Endpoint>::from_index(publish_index).cap();
        init_thread::slot::CNODE
            .cap()
            .absolute_cptr(publish)
            .mint(
                &init_thread::slot::CNODE.cap().absolute_cptr(wiring.server_ep),
                sel4::CapRights::new(true, false, false, true),
                ROOT_BADGE,
            )
            .map_err(|_| "cannot mint the root task's publishing capability")?;

        let mut system = System { publish: Some(publish), fault: wiring.fault_ep, tcbs: [None; MAX_DOMAINS] };
        // The server first: every other domain's start is published to it.
        let (server_id, _) = SYSTEM.server().ok_or("no server")?;
        let order = core::iter::once(server_id).chain((1..=SYSTEM.domains.len() as u32).filter(|&id| id != server_id));
        for id in order {
            let tcb = build_domain(bootinfo, &mut objects, &mut devices, &scratch, &mut wiring, id)?;
            system.tcbs[id as usize - 1] = Some(tcb);
            let name = SYSTEM.domain_by_id(id).map_or("?", |d| d.name);
            sel4::debug_println!("evq: root task: started domain {id} ({name})");
            system.publish(process::START, u64::from(id), &[]);
        }
        system.publish_as(Category::System, system::DOMAIN_SET_COMPLETE, 0, &[]);
        Ok(system)
    }

    fn publish(&mut self, kind: u8, domain: u64, payload: &[u8]) {
        self.publish_as(Category::Process, kind, domain, payload)
    }

    /// Publishes one event as the supervisor source. A refusal is logged,
    /// not fatal: the root task must go on monitoring whatever happens.
    /// With the server gone the event is only logged.
    fn publish_as(&mut self, category: Category, kind: u8, object_id: u64, payload: &[u8]) {
        if self.publish.is_none() {
            sel4::debug_println!(
                "evq: root task: no server to publish to: {category:?} event {kind} object {object_id}"
            );
            return;
        }
        let priority = if kind == process::FAULT { Priority::Critical } else { Priority::Normal };
        let event = Event { category, kind, type_flags: 0, priority, object_id, payload };
        let reply = self.call(&Request::Publish(event));
        if reply != Some(Reply::Published { accepted: 1 }) {
            sel4::debug_println!("evq: root task: the server refused a process event: {reply:?}");
        }
    }

    fn call(&mut self, request: &Request<'_>) -> Option<Reply> {
        let server = self.publish?;
        let mut body = [0u8; MAX_MSG_BYTES];
        let (label, len) = request.encode(&mut body).ok()?;
        sel4::with_ipc_buffer_mut(|ipc| ipc.msg_bytes_mut()[..len].copy_from_slice(&body[..len]));
        let reply_info = server.call(sel4::MessageInfo::new(label.into(), 0, 0, len / 8));
        let n = (reply_info.length() * 8).min(MAX_MSG_BYTES);
        sel4::with_ipc_buffer(|ipc| body[..n].copy_from_slice(&ipc.msg_bytes()[..n]));
        Reply::decode(label, u32::try_from(reply_info.label()).ok()?, &body[..n]).ok()
    }

    /// Waits for faults and exits, forever.
    fn monitor(&mut self) -> ! {
        loop {
            let (msg, badge) = self.fault.recv(());
            let id = badge as u32;
            let Some(tcb) = self.tcbs.get(id.wrapping_sub(1) as usize).copied().flatten() else {
                sel4::debug_println!("evq: root task: a message on the fault endpoint from unknown badge {badge}");
                continue;
            };
            let Some(domain) = SYSTEM.domain_by_id(id) else { continue };
            let _ = tcb.tcb_suspend();
            let server_gone = matches!(domain.role, Role::Server { .. });
            if server_gone {
                self.publish = None;
            }
            let code = if msg.label() == info::EXIT_LABEL {
                let code = sel4::with_ipc_buffer(|ipc| ipc.msg_regs()[0]) as i64;
                sel4::debug_println!("evq: root task: domain {id} ({}) exited with {code}", domain.name);
                code
            } else {
                let payload = fault_payload(&msg);
                sel4::debug_println!(
                    "evq: root task: domain {id} ({}) faulted: kind {} address {:#x} ip {:#x}",
                    domain.name,
                    payload.kind.get(),
                    payload.address.get(),
                    payload.ip.get()
                );
                self.publish(process::FAULT, u64::from(id), payload.as_bytes());
                // The shell's convention for a death by fault: 128 + kind.
                128 + i64::from(payload.kind.get())
            };
            if server_gone {
                sel4::debug_println!("evq: root task: the event server is gone; process events go to this log only");
            }
            if let Some(badge) = domain.badge().filter(|_| matches!(domain.role, Role::Client { .. })) {
                let _ = self.call(&Request::ClientGone { client: badge });
            }
            let exit = ExitPayload { code: (code as u64).into() };
            self.publish(process::EXIT, u64::from(id), exit.as_bytes());
            self.tcbs[id as usize - 1] = None;
        }
    }
}

/// The fault the kernel reported in `msg`. A domain can also send on its
/// own fault endpoint, so the label is checked before the message is
/// decoded as a fault (rust-sel4's decoder panics on a label it does not
/// know): anything but the faults the kernel sends for a thread like these
/// is reported as "other", and the domain is stopped all the same.
fn fault_payload(msg: &sel4::MessageInfo) -> FaultPayload {
    use sel4::sys::seL4_Fault_tag as tag;
    let known = [
        tag::seL4_Fault_CapFault,
        tag::seL4_Fault_UnknownSyscall,
        tag::seL4_Fault_UserException,
        tag::seL4_Fault_VMFault,
    ];
    let (kind, address, ip) = if !known.contains(&msg.label()) {
        (process::fault::OTHER, 0, 0)
    } else {
        match sel4::with_ipc_buffer(|ipc| sel4::Fault::new(ipc, msg)) {
            sel4::Fault::VmFault(f) => (process::fault::VM, f.inner().get_Addr(), f.inner().get_IP()),
            sel4::Fault::CapFault(f) => (process::fault::CAP, 0, f.inner().get_IP()),
            sel4::Fault::UnknownSyscall(f) => (process::fault::UNKNOWN_SYSCALL, 0, f.inner().get_FaultIP()),
            sel4::Fault::UserException(f) => (process::fault::USER_EXCEPTION, 0, f.inner().get_FaultIP()),
            _ => (process::fault::OTHER, 0, 0),
        }
    };
    FaultPayload { kind: kind.into(), reserved: 0.into(), address: address.into(), ip: ip.into() }
}

/// Builds domain `id` with the capabilities its role grants and starts it.
fn build_domain(
    bootinfo: &sel4::BootInfo,
    objects: &mut Objects,
    devices: &mut DeviceMemory,
    scratch: &Scratch,
    wiring: &mut Wiring,
    id: u32,
) -> Result<sel4::cap::Tcb, &'static str> {
    let d = SYSTEM.domain_by_id(id).ok_or("no such domain")?;
    let image =
        IMAGES.iter().find(|(name, _)| *name == d.image).map(|(_, bytes)| *bytes).ok_or("an image is missing")?;
    let (cnode_bits, window_pages) = match d.role {
        Role::Server { ring_pool_pages } => (SERVER_CNODE_BITS, ring_pool_pages as usize),
        Role::Client { .. } => (DOMAIN_CNODE_BITS, info::CLIENT_RING_WINDOW_PAGES),
        _ => (DOMAIN_CNODE_BITS, 0),
    };
    let device_pages: u32 = d.devices.iter().filter(|dev| dev.mmio.is_some()).map(|dev| dev.mmio_pages).sum();
    let domain = Domain::build(objects, scratch, id, image, cnode_bits, window_pages, device_pages as usize)
        .map_err(fail("building a domain"))?;
    let kernel = |_| "the kernel refused to hand out a capability";
    domain.grant_own(wiring.fault_ep).map_err(kernel)?;
    let mut page = DomainInfo::new(id, role_code(&d.role), d.name, d.args, cnode_bits);
    page.counter_hz = wiring.counter_hz;
    page.ring_window_pages = window_pages as u32;
    let mut next = slot::FIRST_LISTED;

    if let Role::Server { ring_pool_pages } = d.role {
        // Untyped memory for the pool, rounded up to a power of two.
        let bits = (ring_pool_pages as usize * PAGE_SIZE).next_power_of_two().trailing_zeros();
        let untyped =
            objects.sized::<sel4::cap_type::Untyped>(bits as usize).map_err(|_| "no memory for the ring pool")?;
        domain.give(slot::SIXTH, untyped).map_err(kernel)?;
        page.untyped_bits = bits;
        page.ring_pool_pages = ring_pool_pages;
        page.peers[0] = Peer {
            badge: ROOT_BADGE,
            role: info::role::ROOT,
            domain_id: 0,
            categories: CategorySet::of(&[Category::Process, Category::System]).0,
            name: Name::new("root"),
            ..Peer::default()
        };
        page.peer_count = 1;
        // Every source's ingest region is made now and mapped here, so that
        // the server can set up its rings before any source runs.
        domain.tcb.tcb_bind_notification(wiring.ingest_notification).map_err(kernel)?;
        for (i, other) in SYSTEM.domains.iter().enumerate() {
            let Some(k) = ingest_index(i) else { continue };
            let frames = 2 * info::INGEST_RING_PAGES + other.ingest_pages as usize;
            let base = info::INGEST_WINDOW_ADDR + k * info::INGEST_STRIDE;
            if frames * PAGE_SIZE > info::INGEST_STRIDE || k >= 63 {
                return Err("an ingest region larger than its window, or too many");
            }
            let first = objects.slots(frames).map_err(|_| "out of slots")?;
            domain::map_tables(objects, domain.vspace(), base..base + frames * PAGE_SIZE)
                .map_err(fail("ingest tables"))?;
            for f in 0..frames {
                let slot = init_thread::Slot::<sel4::cap_type::Granule>::from_index(first + f);
                objects
                    .fixed_into::<sel4::cap_type::Granule>(first + f)
                    .map_err(|_| "out of memory for ingest rings")?;
                slot.cap()
                    .frame_map(
                        domain.vspace(),
                        base + f * PAGE_SIZE,
                        sel4::CapRights::read_write(),
                        sel4::VmAttributes::default(),
                    )
                    .map_err(kernel)?;
            }
            wiring.ingest[i] = Some((first, frames));
        }
        for (i, other) in SYSTEM.domains.iter().enumerate() {
            let Some(badge) = other.badge() else { continue };
            let n = page.peer_count as usize;
            if n >= MAX_PEERS {
                return Err("more sources and clients than the server can be told of");
            }
            let (categories, budget_per_tick) = match other.role {
                Role::Source { categories, budget_per_tick, .. } => (categories.0, budget_per_tick),
                _ => (0, 0),
            };
            let (ingest_vaddr, ingest_data_bytes, ingest_bit) = match ingest_index(i) {
                Some(k) => (
                    (info::INGEST_WINDOW_ADDR + k * info::INGEST_STRIDE) as u64,
                    other.ingest_pages * PAGE_SIZE as u32,
                    k as u32,
                ),
                None => (0, 0, 0),
            };
            page.peers[n] = Peer {
                badge,
                notification_slot: 0,
                role: role_code(&other.role),
                domain_id: i as u32 + 1,
                categories,
                budget_per_tick,
                name: Name::new(other.name),
                ingest_vaddr,
                ingest_data_bytes,
                ingest_bit,
            };
            page.peer_count += 1;
        }
    }

    // A driver's interrupts all arrive on one notification; each device
    // sets its own badge bit.
    let mut device_page = 0usize;
    let irq_notification = if d.devices.is_empty() {
        None
    } else {
        let n = objects.fixed::<sel4::cap_type::Notification>().map_err(|_| "out of memory or slots")?;
        domain.grant(next, n, sel4::CapRights::read_only(), 0).map_err(kernel)?;
        page.irq_notification_slot = next;
        next += 1;
        Some(n)
    };

    for grant in SYSTEM.grants(d) {
        match grant {
            Grant::ServerEndpoint { badge, rights: r } => {
                domain.grant(slot::SERVER, wiring.server_ep, rights(r), badge).map_err(kernel)?;
            }
            Grant::ClientNotification { client, rights: r } => {
                let (client_id, _) = SYSTEM.domain(client).ok_or("no such client")?;
                let note = wiring.client_notes[client_id as usize - 1].ok_or("a client without a notification")?;
                if r == Rights::WAIT {
                    domain.grant(slot::SIXTH, note, rights(r), 0).map_err(kernel)?;
                } else {
                    domain.grant(next, note, rights(r), 0).map_err(kernel)?;
                    if let Some(p) =
                        page.peers[..page.peer_count as usize].iter_mut().find(|p| p.domain_id == client_id)
                    {
                        p.notification_slot = next;
                    }
                    next += 1;
                }
            }
            Grant::Notification { name, rights: r } => {
                let index = SYSTEM.notifications.iter().position(|n| n.name == name).ok_or("no such notification")?;
                let note = wiring.notes[index].ok_or("no such notification")?;
                let code = if r == Rights::WAIT { info::rights::WAIT } else { info::rights::SIGNAL };
                list(&mut page, name, next, code)?;
                domain.grant(next, note, rights(r), 0).map_err(kernel)?;
                next += 1;
            }
            Grant::Device(dev) => {
                let i = page.device_count as usize;
                let device = give_device(
                    bootinfo,
                    objects,
                    devices,
                    &domain,
                    irq_notification,
                    &dev,
                    i,
                    &mut device_page,
                    &mut next,
                )?;
                *page.devices.get_mut(i).ok_or("more devices than a domain can be told of")? = device;
                page.device_count += 1;
            }
            Grant::Endpoint { name, badge, rights: r } => {
                let index = SYSTEM.endpoints.iter().position(|e| e.name == name).ok_or("no such endpoint")?;
                let endpoint = wiring.endpoints[index].ok_or("no such endpoint")?;
                let code = if r == Rights::ALL { info::rights::RECEIVE } else { info::rights::CALL };
                list(&mut page, name, next, code)?;
                domain.grant(next, endpoint, rights(r), badge).map_err(kernel)?;
                next += 1;
            }
        }
    }
    if let Some((first, frames)) = wiring.ingest[id as usize - 1] {
        // The same frames as the server's, through copies of its
        // capabilities: a frame capability maps once.
        let base = info::INGEST_WINDOW_ADDR;
        domain::map_tables(objects, domain.vspace(), base..base + frames * PAGE_SIZE).map_err(fail("ingest tables"))?;
        let root = init_thread::slot::CNODE.cap();
        for f in 0..frames {
            let copy =
                init_thread::Slot::<sel4::cap_type::Granule>::from_index(objects.slot().map_err(|_| "out of slots")?)
                    .cap();
            let original = init_thread::Slot::<sel4::cap_type::Granule>::from_index(first + f).cap();
            root.absolute_cptr(copy)
                .copy(&root.absolute_cptr(original), sel4::CapRights::read_write())
                .map_err(kernel)?;
            copy.frame_map(
                domain.vspace(),
                base + f * PAGE_SIZE,
                sel4::CapRights::read_write(),
                sel4::VmAttributes::default(),
            )
            .map_err(kernel)?;
        }
        let k = ingest_index(id as usize - 1).ok_or("ingest rings without an index")? as u64;
        domain
            .grant(next, wiring.ingest_notification, sel4::CapRights::write_only(), info::INGEST_SIGNAL | 1 << k)
            .map_err(kernel)?;
        page.ingest_vaddr = base as u64;
        page.ingest_data_bytes = d.ingest_pages * PAGE_SIZE as u32;
        page.ingest_signal_slot = next;
        next += 1;
    }
    if d.dma_pages > 0 {
        page.dma_paddr = domain.map_dma(objects, d.dma_pages as usize).map_err(fail("DMA memory"))?;
        page.dma_pages = d.dma_pages;
    }
    page.first_free_slot = next;
    domain.start(scratch, &page, d.priority).map_err(fail("starting a domain"))
}

/// Gives `domain` device `dev` as its device `index`: its register page
/// mapped, its I/O ports, and its interrupt handler, bound to the domain's
/// interrupt notification with bit `index`.
#[allow(clippy::too_many_arguments)]
fn give_device(
    bootinfo: &sel4::BootInfo,
    objects: &mut Objects,
    devices: &mut DeviceMemory,
    domain: &Domain,
    irq_notification: Option<sel4::cap::Notification>,
    dev: &evq_system::Device<'_>,
    index: usize,
    device_page: &mut usize,
    next: &mut u64,
) -> Result<DeviceInfo, &'static str> {
    let kernel = |_| "the kernel refused a device capability";
    let root = init_thread::slot::CNODE.cap();
    let mut out = DeviceInfo { name: Name::new(dev.name), irq_bit: 1 << index, ..DeviceInfo::default() };
    if let Some(paddr) = dev.mmio {
        let first = paddr & !(PAGE_SIZE as u64 - 1);
        for p in 0..u64::from(dev.mmio_pages) {
            let frame = devices
                .frame_at(bootinfo, objects, first + p * PAGE_SIZE as u64)
                .map_err(|_| "a device's registers are not device memory the root task holds")?;
            let vaddr = domain.map_device(frame, *device_page).map_err(kernel)? as u64;
            *device_page += 1;
            if p == 0 {
                out.vaddr = vaddr + (paddr - first);
            }
        }
        out.paddr = paddr;
        out.pages = dev.mmio_pages;
    }
    if let Some((base, count)) = dev.ioports {
        let slot = objects.slot().map_err(|_| "out of slots")?;
        issue_ioports(base, count, &root.absolute_cptr_from_bits_with_depth(slot as u64, sel4::WORD_SIZE))?;
        domain.give(*next, init_thread::Slot::<sel4::cap_type::Unspecified>::from_index(slot).cap()).map_err(kernel)?;
        out.ioport_slot = *next;
        out.ioport_base = base;
        out.ioport_count = count;
        *next += 1;
    }
    if let Some(irq) = dev.irq {
        let notification = irq_notification.ok_or("a device without an interrupt notification")?;
        let handler_slot = objects.slot().map_err(|_| "out of slots")?;
        get_irq(
            irq,
            dev.level_triggered,
            &root.absolute_cptr_from_bits_with_depth(handler_slot as u64, sel4::WORD_SIZE),
        )?;
        let handler = init_thread::Slot::<sel4::cap_type::IrqHandler>::from_index(handler_slot).cap();
        let badged_slot = objects.slot().map_err(|_| "out of slots")?;
        let badged = init_thread::Slot::<sel4::cap_type::Notification>::from_index(badged_slot).cap();
        root.absolute_cptr(badged)
            .mint(&root.absolute_cptr(notification), sel4::CapRights::write_only(), 1 << index)
            .map_err(kernel)?;
        handler.irq_handler_set_notification(badged).map_err(kernel)?;
        domain.give(*next, handler).map_err(kernel)?;
        out.irq_slot = *next;
        *next += 1;
    }
    Ok(out)
}

#[cfg(target_arch = "aarch64")]
fn get_irq(irq: u32, level: bool, dst: &sel4::AbsoluteCPtr) -> Result<(), &'static str> {
    init_thread::slot::IRQ_CONTROL
        .cap()
        .irq_control_get_trigger(irq.into(), !level, dst)
        .map_err(|_| "the kernel refused an interrupt")
}

/// An interrupt through the first I/O APIC: pin = IRQ, delivered on the
/// vector of the same number; an ISA line is edge-triggered and active
/// high, a PCI INTx line level-triggered and active low.
#[cfg(target_arch = "x86_64")]
fn get_irq(irq: u32, level: bool, dst: &sel4::AbsoluteCPtr) -> Result<(), &'static str> {
    init_thread::slot::IRQ_CONTROL
        .cap()
        .irq_control_get_ioapic(0, irq.into(), level.into(), level.into(), irq.into(), dst)
        .map_err(|_| "the kernel refused an interrupt")
}

#[cfg(target_arch = "x86_64")]
fn issue_ioports(base: u16, count: u16, dst: &sel4::AbsoluteCPtr) -> Result<(), &'static str> {
    let last = u32::from(base) + u32::from(count) - 1;
    init_thread::slot::IO_PORT_CONTROL
        .cap()
        .ioport_control_issue(base.into(), last.into(), dst)
        .map_err(|_| "the kernel refused I/O ports")
}

#[cfg(not(target_arch = "x86_64"))]
fn issue_ioports(_: u16, _: u16, _: &sel4::AbsoluteCPtr) -> Result<(), &'static str> {
    Err("I/O ports are an x86 thing: describe the device's registers with mmio")
}

/// How fast the counter user code reads runs: the generic timer's frequency
/// register on aarch64.
#[cfg(target_arch = "aarch64")]
fn counter_hz(_bootinfo: &sel4::BootInfoPtr) -> u64 {
    let hz: u64;
    // SAFETY: reading the counter frequency has no side effect; the kernel
    // lets EL0 read it with the count (`KernelArmExportVCNTUser`).
    unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) hz, options(nomem, nostack)) };
    hz
}

/// How fast the TSC runs, as the kernel measured it at boot (boot-info
/// extra `X86TscFreq`, in MHz); 0 if it did not say.
#[cfg(target_arch = "x86_64")]
fn counter_hz(bootinfo: &sel4::BootInfoPtr) -> u64 {
    bootinfo
        .extra()
        .find(|e| e.id == sel4::BootInfoExtraId::X86TscFreq)
        .and_then(|e| e.content().get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .map_or(0, |mhz| u64::from(mhz) * 1_000_000)
}
