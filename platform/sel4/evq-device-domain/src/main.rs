//! The device driver domain: a UART and a clock, driven by the `evq-device`
//! cores the system description names (`driver = "…"` on each device) over
//! what the root task granted (`evq-domain-info`): register pages mapped
//! uncached, I/O ports (x86), and interrupt handlers bound to one
//! notification, a badge bit per device.
//!
//! | board | UART (`uart`) | clock (`rtc`) |
//! |---|---|---|
//! | qemu-arm-virt | PL011 | PL031, an alarm each second |
//! | pc99 | 16550 on COM1, by ports | CMOS RTC, update-ended each second |
//! | qemu-riscv-virt | NS16550A, byte registers | Goldfish RTC, an alarm each second |
//! | rpi4 | the mini UART, word registers | the system timer from a set epoch, each second |
//! | hifive | SiFive UART0 | none: the `time` CSR from a set epoch |
//!
//! (Spike has no device domain: its kernel routes no interrupts.)
//!
//! The UART is the one the kernel or its firmware prints on: the drivers
//! unmask only its receive interrupts and never touch the transmitter or
//! line settings, so that output goes on. Each line typed is one device
//! INPUT event (object 1); each clock tick one TIME event (object 2). A
//! board with no clock device gives none: the clock is then the CPU's
//! free-running counter from the epoch the domain's `args` set
//! (`epoch=<unix seconds>`), and without an interrupt of its own it gives
//! the time at start and after each line typed.
//!
//! The events go into its ingest ring (`evq_sel4_runtime::ring_publisher`);
//! when the ring is full it waits for the server's room signal before it
//! takes the next interrupt.
#![no_std]
#![no_main]

mod drivers;
mod registers;

use evq_abi::event::TimePayload;
use evq_abi::msg::Event;
use evq_device::LineAssembler;
use evq_sel4_runtime::info::DeviceInfo;
use evq_sel4_runtime::{domain_main, exit, DomainInfo, RingPublisher, WhenFull};

use drivers::{Clock, Uart};

domain_main!(main, stack = 64 * 1024);

/// The object ids of the events, by device.
const UART_OBJECT: u64 = 1;
const RTC_OBJECT: u64 = 2;

fn main(info: &'static DomainInfo) -> ! {
    let Some(uart_info) = info.device("uart") else {
        sel4::debug_println!("evq-device: the description gives it no uart");
        exit(1)
    };
    let epoch = match evq_device::epoch_clock::parse_epoch(info.args.as_str()) {
        Ok(epoch) => epoch,
        Err(e) => {
            sel4::debug_println!("evq-device: its args {:?}: {e}", info.args.as_str());
            exit(1)
        }
    };
    let rtc_info = info.device("rtc");
    let (mut uart, mut clock) = match (Uart::new(uart_info), Clock::new(rtc_info, info, epoch)) {
        (Ok(u), Ok(c)) => (u, c),
        (Err(why), _) | (_, Err(why)) => {
            sel4::debug_println!("evq-device: {why}");
            exit(1)
        }
    };
    let irqs = sel4::cap::Notification::from_bits(info.irq_notification_slot);
    let mut publisher = match evq_sel4_runtime::ring_publisher(info, WhenFull::Wait) {
        Ok(p) => Publisher(p),
        Err(e) => {
            sel4::debug_println!("evq-device: {e}");
            exit(1)
        }
    };
    uart.start();
    if let Some(now) = clock.start() {
        publisher.time(now);
    }
    sel4::debug_println!("evq-device: ready: lines typed on the console become input events");
    let mut line = LineAssembler::new();
    loop {
        let (_, badge) = irqs.wait();
        if badge & u64::from(uart_info.irq_bit) != 0 {
            let mut lines = 0;
            uart.on_interrupt(&mut |byte| {
                if let Some(l) = line.push(byte) {
                    publisher.publish(evq_device::input_event(UART_OBJECT, l));
                    lines += 1;
                }
            });
            ack(uart_info);
            if lines > 0 {
                if let Some(now) = clock.after_input() {
                    publisher.time(now);
                }
            }
        }
        if let Some(rtc) = rtc_info.filter(|rtc| badge & u64::from(rtc.irq_bit) != 0) {
            if let Some(now) = clock.on_interrupt() {
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
