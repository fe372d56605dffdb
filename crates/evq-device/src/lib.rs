//! The device driver domain's core: register-level drivers for the UARTs and
//! real-time clocks of the boards evq runs on, and the events the domain
//! publishes from them.
//!
//! On seL4 the device driver domain's shell maps a device's registers (or is
//! granted its I/O ports), waits on its interrupt, and calls into this crate;
//! everything that knows how a chip behaves lives here, so the same code runs
//! on the host against fake devices that model the chips' documented
//! behaviour (`tests/`).
//!
//! | module | chip | where |
//! |---|---|---|
//! | [`pl011`] | ARM PrimeCell UART (PL011) | qemu-arm-virt `0x0900_0000`, IRQ 33 |
//! | [`pl031`] | ARM PrimeCell RTC (PL031) | qemu-arm-virt `0x0901_0000`, IRQ 34 |
//! | [`ns16550`] | 16550 UART | PC COM1, ports `0x3F8`–`0x3FF`, IRQ 4; qemu-riscv-virt `0x1000_0000`, PLIC source 10; Raspberry Pi 4 mini UART `0xFE21_5040`, GIC SPI 93 |
//! | [`cmos`] | PC CMOS RTC (MC146818) | ports `0x70`/`0x71`, IRQ 8 |
//! | [`goldfish_rtc`] | Goldfish RTC | qemu-riscv-virt `0x0010_1000`, PLIC source 11 |
//! | [`sifive_uart`] | SiFive UART (FU540) | HiFive Unleashed and QEMU `sifive_u`: UART0 `0x1001_0000`, PLIC source 4 |
//! | [`bcm2835_systimer`] | BCM2835/BCM2711 system timer | Raspberry Pi 4 `0xFE00_3000`, channel 1 GIC SPI 65 (IRQ 97) |
//! | [`epoch_clock`] | none: a free-running counter and a set epoch | boards without an RTC (the generic timer's count, RISC-V `time`) |
//!
//! A driver reaches its device only through [`Mmio`], [`Mmio8`] or
//! [`PortIo`], which the shell implements over the mapped frame or the I/O
//! port capability. Drivers
//! never spin without a bound and never panic on what a register reads: a
//! stuck or hostile device costs a bounded number of register accesses and at
//! worst yields no data.
//!
//! Bytes from a UART become events through [`LineAssembler`] and
//! [`input_event`]; clock readings through [`time_event`]. Both build
//! [`evq_abi::msg::Event`]s of category `Device` for the shell to publish.
//!
//! The crate is `no_std`, allocates nothing, has no `unsafe` and makes no
//! kernel or OS call.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bcm2835_systimer;
pub mod civil;
pub mod cmos;
pub mod epoch_clock;
mod event;
pub mod goldfish_rtc;
mod line;
pub mod ns16550;
pub mod pl011;
pub mod pl031;
pub mod sifive_uart;

pub use event::{input_event, state_event, time_event};
pub use line::{LineAssembler, MAX_INPUT};

/// 32-bit memory-mapped registers of one device, by byte offset.
///
/// The shell implements it over the device frame it mapped (uncached, with
/// volatile accesses); tests implement it with a model of the chip. Offsets
/// are those of the chip's datasheet and always 4-byte aligned.
pub trait Mmio {
    /// Reads the register at `offset`. May have side effects (reading a
    /// UART's data register pops its receive FIFO).
    fn read32(&mut self, offset: usize) -> u32;
    /// Writes `value` to the register at `offset`.
    fn write32(&mut self, offset: usize, value: u32);
}

/// 8-bit memory-mapped registers of one device, by byte offset.
///
/// For devices whose registers are bytes at consecutive addresses (QEMU
/// virt's 16550, `reg-io-width` 1), where a 32-bit access would reach the
/// neighbouring registers too or fault. The shell implements it over the
/// device frame it mapped (uncached, with volatile byte accesses); tests
/// implement it with a model of the chip. Offsets are those of the chip's
/// datasheet, scaled by the board's register spacing.
pub trait Mmio8 {
    /// Reads the byte register at `offset`. May have side effects (reading a
    /// UART's data register pops its receive FIFO).
    fn read8(&mut self, offset: usize) -> u8;
    /// Writes `value` to the byte register at `offset`.
    fn write8(&mut self, offset: usize, value: u8);
}

/// 8-bit I/O ports of one device, by offset from its base port.
///
/// The shell implements it over the I/O port capability for the device's
/// range (x86 `in`/`out`); tests implement it with a model of the chip.
pub trait PortIo {
    /// Reads the port at `offset` from the base. May have side effects.
    fn inb(&mut self, offset: u16) -> u8;
    /// Writes `value` to the port at `offset` from the base.
    fn outb(&mut self, offset: u16, value: u8);
}

// So a caller can lend registers to a driver and still inspect them after.
impl<T: Mmio + ?Sized> Mmio for &mut T {
    fn read32(&mut self, offset: usize) -> u32 {
        (**self).read32(offset)
    }
    fn write32(&mut self, offset: usize, value: u32) {
        (**self).write32(offset, value)
    }
}

impl<T: Mmio8 + ?Sized> Mmio8 for &mut T {
    fn read8(&mut self, offset: usize) -> u8 {
        (**self).read8(offset)
    }
    fn write8(&mut self, offset: usize, value: u8) {
        (**self).write8(offset, value)
    }
}

impl<T: PortIo + ?Sized> PortIo for &mut T {
    fn inb(&mut self, offset: u16) -> u8 {
        (**self).inb(offset)
    }
    fn outb(&mut self, offset: u16, value: u8) {
        (**self).outb(offset, value)
    }
}

/// The most bytes a UART driver reads per interrupt call.
///
/// A device whose "receive FIFO empty" flag never sets (broken, or hostile
/// in a test) would otherwise keep the domain in its interrupt handler
/// forever; with the bound the shell gets control back, publishes what was
/// read, and the next interrupt continues.
pub const RX_BUDGET: usize = 64;
