//! The device driver domain: a UART and a real-time clock, driven by the
//! `evq-device` drivers over what the root task granted (`evq-domain-info`):
//! register pages mapped uncached, I/O ports (x86), and interrupt handlers
//! bound to one notification, a badge bit per device.
//!
//! | | UART (`uart`) | clock (`rtc`) |
//! |---|---|---|
//! | aarch64 (qemu-arm-virt) | PL011, registers at 0x0900_0000, IRQ 33 | PL031, 0x0901_0000, IRQ 34, an alarm each second |
//! | x86_64 (pc99) | 16550 on COM1, ports 0x3F8, IRQ 4 | CMOS RTC, ports 0x70, IRQ 8, update-ended each second |
//!
//! The UART is the one the kernel prints on: the driver unmasks only its
//! receive interrupts and never touches the transmitter or line settings,
//! so the kernel's output goes on. Each line typed is one device INPUT event
//! (object 1); each clock interrupt one TIME event (object 2). The events go
//! into its ingest ring (`evq_sel4_runtime::ring_publisher`); when the ring
//! is full it waits for the server's room signal before it takes the next
//! interrupt.
#![no_std]
#![no_main]

use evq_abi::event::TimePayload;
use evq_abi::msg::Event;
use evq_device::LineAssembler;
use evq_sel4_runtime::info::DeviceInfo;
use evq_sel4_runtime::{domain_main, exit, DomainInfo, RingPublisher, WhenFull};

domain_main!(main, stack = 64 * 1024);

/// The object ids of the events, by device.
const UART_OBJECT: u64 = 1;
const RTC_OBJECT: u64 = 2;

fn main(info: &'static DomainInfo) -> ! {
    let (Some(uart), Some(rtc)) = (info.device("uart"), info.device("rtc")) else {
        sel4::debug_println!("evq-device: the description gives it no uart and rtc");
        exit(1)
    };
    let irqs = sel4::cap::Notification::from_bits(info.irq_notification_slot);
    let mut publisher = match evq_sel4_runtime::ring_publisher(info, WhenFull::Wait) {
        Ok(p) => Publisher(p),
        Err(e) => {
            sel4::debug_println!("evq-device: {e}");
            exit(1)
        }
    };
    let mut drivers = match Drivers::new(uart, rtc) {
        Some(d) => d,
        None => {
            sel4::debug_println!("evq-device: a device lacks the registers, ports or interrupt it needs");
            exit(1)
        }
    };
    if let Some(now) = drivers.start() {
        publisher.time(now);
    }
    sel4::debug_println!("evq-device: ready: lines typed on the console become input events");
    let mut line = LineAssembler::new();
    loop {
        let (_, badge) = irqs.wait();
        if badge & u64::from(uart.irq_bit) != 0 {
            drivers.uart_interrupt(&mut |byte| {
                if let Some(l) = line.push(byte) {
                    publisher.publish(evq_device::input_event(UART_OBJECT, l));
                }
            });
            ack(uart);
        }
        if badge & u64::from(rtc.irq_bit) != 0 {
            if let Some(now) = drivers.rtc_interrupt() {
                publisher.time(now);
            }
            ack(rtc);
        }
    }
}

fn ack(device: &DeviceInfo) {
    if let Err(e) = sel4::cap::IrqHandler::from_bits(device.irq_slot).irq_handler_ack() {
        sel4::debug_println!(
            "evq-device: {}: the kernel refused the interrupt acknowledgement: {e:?}",
            device.name.as_str()
        );
    }
}

/// The domain's publisher (its ingest ring), with what it publishes.
struct Publisher(RingPublisher);

impl Publisher {
    fn time(&mut self, unix_seconds: u64) {
        let payload = TimePayload { unix_seconds: unix_seconds.into() };
        self.publish(evq_device::time_event(RTC_OBJECT, &payload));
    }

    /// Publishes one event into the ring, waiting for room when it is
    /// full; an event that cannot go in is reported, not dropped silently.
    fn publish(&mut self, event: Event<'_>) {
        if let Err(e) = self.0.publish_one(event) {
            sel4::debug_println!("evq-device: an event did not go into the ring: {e}");
        }
    }
}

/// A device's register page, as the root task mapped it.
#[cfg(target_arch = "aarch64")]
struct RegisterPage(usize);

#[cfg(target_arch = "aarch64")]
impl evq_device::Mmio for RegisterPage {
    fn read32(&mut self, offset: usize) -> u32 {
        if offset % 4 != 0 || offset >= 4096 {
            return 0;
        }
        // SAFETY: the root task maps this page of device registers here,
        // uncached, for the domain's life; the offset is an aligned word
        // inside it; device registers are read with volatile accesses only.
        unsafe { core::ptr::read_volatile((self.0 + offset) as *const u32) }
    }

    fn write32(&mut self, offset: usize, value: u32) {
        if offset % 4 != 0 || offset >= 4096 {
            return;
        }
        // SAFETY: as for `read32`.
        unsafe { core::ptr::write_volatile((self.0 + offset) as *mut u32, value) }
    }
}

#[cfg(target_arch = "aarch64")]
struct Drivers {
    uart: evq_device::pl011::Pl011<RegisterPage>,
    rtc: evq_device::pl031::Pl031<RegisterPage>,
}

#[cfg(target_arch = "aarch64")]
impl Drivers {
    fn new(uart: &DeviceInfo, rtc: &DeviceInfo) -> Option<Self> {
        let ok = uart.vaddr != 0 && rtc.vaddr != 0 && uart.irq_slot != 0 && rtc.irq_slot != 0;
        ok.then(|| Self {
            uart: evq_device::pl011::Pl011::new(RegisterPage(uart.vaddr as usize)),
            rtc: evq_device::pl031::Pl031::new(RegisterPage(rtc.vaddr as usize)),
        })
    }

    fn start(&mut self) -> Option<u64> {
        self.uart.enable_rx_interrupt();
        self.rtc.arm_alarm_in(1);
        Some(self.rtc.now())
    }

    fn uart_interrupt(&mut self, out: &mut impl FnMut(u8)) {
        self.uart.on_interrupt(out);
    }

    fn rtc_interrupt(&mut self) -> Option<u64> {
        let now = self.rtc.on_interrupt();
        self.rtc.arm_alarm_in(1);
        Some(now)
    }
}

/// A device's I/O ports, through its port capability.
#[cfg(target_arch = "x86_64")]
struct Ports {
    cap: u64,
    base: u16,
    count: u16,
}

#[cfg(target_arch = "x86_64")]
impl evq_device::PortIo for Ports {
    fn inb(&mut self, offset: u16) -> u8 {
        if offset >= self.count {
            return 0xFF;
        }
        let port = self.base + offset;
        sel4::with_ipc_buffer_mut(|ipc| ipc.inner_mut().seL4_X86_IOPort_In8(self.cap, port).result)
    }

    fn outb(&mut self, offset: u16, value: u8) {
        if offset >= self.count {
            return;
        }
        let port = u64::from(self.base + offset);
        sel4::with_ipc_buffer_mut(|ipc| ipc.inner_mut().seL4_X86_IOPort_Out8(self.cap, port, value.into()));
    }
}

#[cfg(target_arch = "x86_64")]
struct Drivers {
    uart: evq_device::ns16550::Ns16550<Ports>,
    rtc: evq_device::cmos::CmosRtc<Ports>,
}

#[cfg(target_arch = "x86_64")]
impl Drivers {
    fn new(uart: &DeviceInfo, rtc: &DeviceInfo) -> Option<Self> {
        let ports = |d: &DeviceInfo| Ports { cap: d.ioport_slot, base: d.ioport_base, count: d.ioport_count };
        let ok = uart.ioport_slot != 0 && rtc.ioport_slot != 0 && uart.irq_slot != 0 && rtc.irq_slot != 0;
        ok.then(|| Self {
            uart: evq_device::ns16550::Ns16550::new(ports(uart)),
            rtc: evq_device::cmos::CmosRtc::new(ports(rtc)),
        })
    }

    fn start(&mut self) -> Option<u64> {
        self.uart.enable_rx_interrupt();
        self.rtc.enable_update_interrupt();
        self.rtc.now()
    }

    fn uart_interrupt(&mut self, out: &mut impl FnMut(u8)) {
        self.uart.on_interrupt(out);
    }

    fn rtc_interrupt(&mut self) -> Option<u64> {
        if self.rtc.on_interrupt() {
            self.rtc.now()
        } else {
            None
        }
    }
}
