//! The network driver domain: a virtio-net NIC under QEMU's user network,
//! driven through the `virtio-drivers` crate over what the root task granted
//! (`evq-domain-info`): the NIC's registers (a virtio-mmio transport on
//! qemu-arm-virt and qemu-riscv-virt; on pc99 a modern virtio-pci function, found through PCI
//! configuration ports 0xCF8-0xCFF, with its BAR's pages), its interrupt,
//! and physically contiguous DMA memory. The `evq-net` core decides what
//! to publish: the link's state, and an RX or TX event with its counts per
//! frame (the server coalesces them per interface for clients that ask).
//!
//! It brings the link up when `net-go` is signalled (the system's `ifup`),
//! publishes the link's state, and asks the gateway (10.0.2.2, QEMU's user
//! network) for its address by ARP, which gives it traffic of its own: as
//! many requests as its argument says (`args` in the description), one
//! without. Its events go into its ingest ring, gathered per interrupt (an
//! `evq_source::Outbox`) and written together, so that the server is
//! signalled at most once per interrupt's worth, and only if it sleeps.
//!
//! Limits: on pc99 the BAR must be where the description says (the
//! firmware's choice for the QEMU command line; the driver checks and
//! refuses otherwise) and the function on bus 0; 8 receive buffers; a frame
//! the NIC hands over is counted and dropped, there being no stack above it.
#![no_std]
#![no_main]

mod dma;
#[cfg(target_arch = "x86_64")]
mod pci;

use evq_abi::event::CountersPayload;
use evq_abi::msg::Event;
use evq_net::{arp_request, parse_arp_reply, Interface};
use evq_sel4_runtime::info::DeviceInfo;
use evq_sel4_runtime::{domain_main, exit, info, DomainInfo, RingPublisher, WhenFull};
use evq_source::Outbox;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::Transport;

use dma::{Buffer, DmaHal};

domain_main!(main, stack = 128 * 1024);

/// The interface's object id in its events.
const INTERFACE: u64 = 1;
/// QEMU's user network: this guest, and the gateway that answers ARP.
const OWN_IP: [u8; 4] = [10, 0, 2, 15];
const GATEWAY_IP: [u8; 4] = [10, 0, 2, 2];
/// The virtio-net configuration's `status` (link up = bit 0), after the
/// 6-byte MAC.
const STATUS_OFFSET: usize = 6;
const RX_BUFFERS: usize = 8;
const QUEUE_SIZE: usize = 16;

fn main(info: &'static DomainInfo) -> ! {
    let (Some(virtio), Some(go)) = (info.device("virtio"), info.note("net-go", info::rights::WAIT)) else {
        sel4::debug_println!("evq-net: the description gives it no virtio device or net-go");
        exit(1)
    };
    if virtio.vaddr == 0 || virtio.irq_slot == 0 || !dma::init(info, virtio) {
        sel4::debug_println!("evq-net: no registers, interrupt or DMA memory");
        exit(1)
    }
    let irqs = sel4::cap::Notification::from_bits(info.irq_notification_slot);
    sel4::cap::Notification::from_bits(go).wait();

    let probes = info.args.as_str().parse::<u32>().unwrap_or(1).clamp(1, 64);
    let publisher = match evq_sel4_runtime::ring_publisher(info, WhenFull::Wait) {
        Ok(ring) => Publisher { ring, outbox: Outbox::new(), published: 0 },
        Err(e) => {
            sel4::debug_println!("evq-net: {e}");
            exit(1)
        }
    };
    match transport(info, virtio) {
        Ok(t) => run(t, virtio, irqs, publisher, probes),
        Err(why) => {
            sel4::debug_println!("evq-net: {why}");
            exit(1)
        }
    }
}

/// The virtio-mmio transport in the device's registers.
#[cfg(any(target_arch = "aarch64", target_arch = "riscv64"))]
fn transport(
    _info: &DomainInfo,
    virtio: &DeviceInfo,
) -> Result<virtio_drivers::transport::mmio::MmioTransport<'static>, &'static str> {
    use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
    /// A virtio-mmio transport's registers and device configuration.
    const TRANSPORT_BYTES: usize = 0x200;
    let header = core::ptr::NonNull::new(virtio.vaddr as *mut VirtIOHeader).ok_or("no registers")?;
    // SAFETY: the root task mapped the transport's page, uncached, for the
    // domain's life, and `vaddr` is the transport's offset in it; this
    // domain is its only driver.
    unsafe { MmioTransport::new(header, TRANSPORT_BYTES) }.map_err(|_| "no virtio-mmio transport in its registers")
}

/// The virtio-pci function on bus 0, its BAR checked against the description.
#[cfg(target_arch = "x86_64")]
fn transport(
    info: &DomainInfo,
    virtio: &DeviceInfo,
) -> Result<virtio_drivers::transport::pci::PciTransport, &'static str> {
    let config = info.device("pci").ok_or("the description gives it no PCI configuration ports")?;
    pci::transport(config, virtio)
}

fn run<T: Transport>(
    transport: T,
    virtio: &DeviceInfo,
    irqs: sel4::cap::Notification,
    mut publisher: Publisher,
    probes: u32,
) -> ! {
    let link_up = transport.read_config_space::<u16>(STATUS_OFFSET).map(|s| s & 1 != 0).unwrap_or(true);
    let mut nic = match VirtIONetRaw::<DmaHal, T, QUEUE_SIZE>::new(transport) {
        Ok(n) => n,
        Err(e) => {
            sel4::debug_println!("evq-net: the NIC will not start: {e:?}");
            exit(1)
        }
    };
    let mut iface = Interface::new(INTERFACE);
    let mac = nic.mac_address();
    if let Some(e) = iface.link(link_up) {
        publisher.publish(e);
        publisher.flush();
    }
    sel4::debug_println!(
        "evq-net: up: mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5]
    );

    // Receive buffers, lent to the NIC until it fills them.
    let mut rx: [Option<Buffer>; RX_BUFFERS] = [const { None }; RX_BUFFERS];
    let mut lent: [Option<usize>; QUEUE_SIZE] = [None; QUEUE_SIZE];
    for (i, slot) in rx.iter_mut().enumerate() {
        let Some(mut buf) = Buffer::new() else {
            sel4::debug_println!("evq-net: out of DMA memory for receive buffers");
            exit(1)
        };
        // SAFETY: the buffer is DMA memory this domain does not touch again
        // until the NIC hands it back through `receive_complete`.
        match unsafe { nic.receive_begin(buf.bytes()) } {
            Ok(token) => lent[usize::from(token) % QUEUE_SIZE] = Some(i),
            Err(e) => sel4::debug_println!("evq-net: a receive buffer was refused: {e:?}"),
        }
        *slot = Some(buf);
    }
    nic.enable_interrupts();

    let Some(mut tx) = Buffer::new() else {
        sel4::debug_println!("evq-net: out of DMA memory for a transmit buffer");
        exit(1)
    };
    for _ in 0..probes {
        send(&mut nic, &mut tx, &arp_request(mac, OWN_IP, GATEWAY_IP), &mut iface, &mut publisher);
    }
    publisher.flush();

    loop {
        let (_, badge) = irqs.wait();
        if badge & u64::from(virtio.irq_bit) == 0 {
            continue;
        }
        nic.ack_interrupt();
        while let Some(token) = nic.poll_receive() {
            let Some(i) = lent[usize::from(token) % QUEUE_SIZE].take() else { break };
            let Some(buf) = rx[i].as_mut() else { break };
            // SAFETY: `buf` is the buffer lent with this token.
            match unsafe { nic.receive_complete(token, buf.bytes()) } {
                // The NIC says how long the frame is; it is held to the buffer.
                Ok((header_len, len)) => match buf.bytes().get(header_len..header_len.saturating_add(len)) {
                    Some(frame) => {
                        if let Some(reply) = parse_arp_reply(frame, mac) {
                            let [a, b, c, d] = reply.sender_ip;
                            sel4::debug_println!(
                                "evq-net: the gateway {a}.{b}.{c}.{d} answered ({} events so far through the ingest ring)",
                                publisher.published + publisher.outbox.len() as u64
                            );
                        }
                        publisher.publish(iface.received(len));
                    }
                    None => sel4::debug_println!("evq-net: the NIC reported a frame longer than its buffer; dropped"),
                },
                Err(e) => sel4::debug_println!("evq-net: a receive failed: {e:?}"),
            }
            // SAFETY: as above: the buffer is the NIC's again until it
            // hands it back.
            if let Ok(token) = unsafe { nic.receive_begin(buf.bytes()) } {
                lent[usize::from(token) % QUEUE_SIZE] = Some(i);
            }
        }
        // Everything this interrupt brought, into the ring together.
        publisher.flush();
        if let Err(e) = sel4::cap::IrqHandler::from_bits(virtio.irq_slot).irq_handler_ack() {
            sel4::debug_println!("evq-net: the interrupt will not acknowledge: {e:?}");
        }
    }
}

/// Sends `frame` and waits for the NIC to finish with the buffer.
fn send<T: Transport>(
    nic: &mut VirtIONetRaw<DmaHal, T, QUEUE_SIZE>,
    buf: &mut Buffer,
    frame: &[u8],
    iface: &mut Interface,
    publisher: &mut Publisher,
) {
    let Ok(header) = nic.fill_buffer_header(buf.bytes()) else { return };
    let len = header + frame.len();
    buf.bytes()[header..len].copy_from_slice(frame);
    let bytes = &buf.bytes()[..len];
    // SAFETY: the buffer is not touched until `transmit_complete`.
    let Ok(token) = (unsafe { nic.transmit_begin(bytes) }) else { return };
    // The NIC takes a frame off the queue at once under QEMU; polling
    // bounds the wait without an interrupt for the transmit queue.
    for _ in 0..1_000_000 {
        if nic.poll_transmit() == Some(token) {
            // SAFETY: the buffer passed to `transmit_begin` with `token`.
            if unsafe { nic.transmit_complete(token, bytes) }.is_ok() {
                publisher.publish(iface.sent(frame.len()));
            }
            return;
        }
        core::hint::spin_loop();
    }
    sel4::debug_println!("evq-net: the NIC never finished a transmit");
}

/// Where events go: gathered in an outbox, then into the ingest ring
/// together at [`Publisher::flush`] (one doorbell at most).
struct Publisher {
    ring: RingPublisher,
    outbox: Outbox<EVENTS_PER_FLUSH, { EVENTS_PER_FLUSH * core::mem::size_of::<CountersPayload>() }>,
    /// Events written into the ring so far (not those in the outbox).
    published: u64,
}

/// Events gathered before they are written: an interrupt's received
/// frames (at most the receive buffers) and more; a full outbox is
/// written out early.
const EVENTS_PER_FLUSH: usize = 2 * RX_BUFFERS;

impl Publisher {
    fn publish(&mut self, event: Event<'_>) {
        if self.outbox.push(&event).is_err() {
            self.flush();
            if self.outbox.push(&event).is_err() {
                sel4::debug_println!("evq-net: an event does not fit an empty outbox; dropped");
            }
        }
    }

    fn flush(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        match self.ring.publish(&self.outbox.events()) {
            Ok(()) => self.published += self.outbox.len() as u64,
            Err(e) => sel4::debug_println!("evq-net: events did not go into the ingest ring: {e}"),
        }
        self.outbox.clear();
    }
}
