//! 16550 UART, receive side: on a PC COM port, or memory-mapped.
//!
//! One register set, reached by ports, by bytes or by words:
//!
//! | where | registers | access |
//! |---|---|---|
//! | PC COM1 | ports `0x3F8`–`0x3FF`, ISA IRQ 4 | [`PortIo`] |
//! | qemu-riscv-virt (`ns16550a`) | bytes from `0x1000_0000`, PLIC source 10 | [`MmioPorts::bytes`], shift 0 |
//! | DesignWare APB UARTs | words, reg-shift 2, reg-io-width 4 | [`MmioPorts::words`], shift 2 |
//! | Raspberry Pi 4 mini UART (BCM2711 AUX) | words from byte `0x40` of the AUX block at `0xFE21_5000`, GIC SPI 93 (IRQ 125) | [`MmioPorts::words`], base [`BCM2835_AUX_MU_BASE`], shift 2 |
//!
//! The driver, [`Ns16550`], speaks [`PortIo`] and names registers by number
//! (0 to 7, the constants below); [`MmioPorts`] puts register `n` of a
//! memory-mapped UART at byte `base + (n << shift)` of its frame, as the
//! device tree's `reg-shift` and `reg-io-width` describe it, so the same
//! driver runs on all of them. Registers and bits follow the National
//! Semiconductor PC16550D datasheet; the mini UART's are those of the
//! BCM2711 ARM Peripherals manual's "Mini UART" section, which Linux drives
//! with the 8250 driver at regshift 2 (`8250_bcm2835aux`).
//!
//! The kernel prints through the same UART, so the driver touches only the
//! interrupt enable register and the OUT2 bit of the modem control
//! register: never the divisor latch (baud rate), the word format in `LCR`,
//! or the FIFO control register (write-only, and writing it can reset the
//! FIFOs).
//!
//! Limits: it assumes the UART was configured by the firmware or kernel.
//! Bytes received with a framing, parity or break error are read and
//! discarded (counted by [`Ns16550::errors`]). The mini UART has no parity
//! and reports no framing errors (those `LSR` bits read 0), its baud rate
//! follows the VPU clock the firmware set, and its interrupt is shared with
//! the AUX block's two SPI masters: an interrupt of theirs finds no byte and
//! reads nothing. A DesignWare UART raises a "busy" interrupt when `LCR` is
//! written while it is receiving, cleared only by its status register
//! (register 31, beyond the eight); the driver writes `LCR` only when the
//! firmware left `LCR.DLAB` set.

use core::marker::PhantomData;

use crate::{Mmio, Mmio8, PortIo, RX_BUDGET};

/// Receive buffer (read) / transmit holding (write) register; the divisor
/// latch low byte while `LCR.DLAB` is set.
pub const RBR: u16 = 0;
/// Transmit holding register (write side of offset 0).
pub const THR: u16 = 0;
/// Interrupt enable register; the divisor latch high byte while `LCR.DLAB`
/// is set.
pub const IER: u16 = 1;
/// Interrupt identification (read) / FIFO control (write).
pub const IIR: u16 = 2;
/// FIFO control register (write side of offset 2).
pub const FCR: u16 = 2;
/// Line control register.
pub const LCR: u16 = 3;
/// Modem control register.
pub const MCR: u16 = 4;
/// Line status register.
pub const LSR: u16 = 5;
/// Modem status register.
pub const MSR: u16 = 6;
/// Scratch register.
pub const SCR: u16 = 7;

/// `IER`: received data available (and, with FIFOs, character timeout).
pub const IER_RDA: u8 = 1 << 0;
/// `IER`: transmit holding register empty.
pub const IER_THRE: u8 = 1 << 1;
/// `IER`: receiver line status.
pub const IER_RLS: u8 = 1 << 2;
/// `IER`: modem status.
pub const IER_MS: u8 = 1 << 3;

/// `LCR`: divisor latch access bit.
pub const LCR_DLAB: u8 = 1 << 7;

/// `MCR`: data terminal ready.
pub const MCR_DTR: u8 = 1 << 0;
/// `MCR`: request to send.
pub const MCR_RTS: u8 = 1 << 1;
/// `MCR`: OUT2, which on PCs gates the UART's interrupt onto the IRQ line.
pub const MCR_OUT2: u8 = 1 << 3;

/// `LSR`: data ready (the receive buffer or FIFO holds a byte).
pub const LSR_DR: u8 = 1 << 0;
/// `LSR`: overrun error.
pub const LSR_OE: u8 = 1 << 1;
/// `LSR`: parity error (of the byte at the head of the FIFO).
pub const LSR_PE: u8 = 1 << 2;
/// `LSR`: framing error (of the byte at the head of the FIFO).
pub const LSR_FE: u8 = 1 << 3;
/// `LSR`: break interrupt (the byte at the head of the FIFO is a break).
pub const LSR_BI: u8 = 1 << 4;
/// `LSR`: transmit holding register empty.
pub const LSR_THRE: u8 = 1 << 5;

/// A 16550's receive side.
#[derive(Debug)]
pub struct Ns16550<P: PortIo> {
    ports: P,
    errors: u32,
    overruns: u32,
}

impl<P: PortIo> Ns16550<P> {
    /// A driver over the UART's eight ports. Touches no port.
    pub fn new(ports: P) -> Self {
        Self { ports, errors: 0, overruns: 0 }
    }

    /// Enables the "received data available" interrupt (`IER` bit 0) and OUT2
    /// in `MCR` (needed on PCs to route the IRQ), without changing the baud
    /// rate or line settings.
    ///
    /// Both are read-modify-write, so other enabled interrupts and DTR/RTS
    /// stay as they were. If `LCR.DLAB` is set it is cleared first (keeping
    /// the word format): with it set, offset 1 is the divisor latch and the
    /// write would change the baud rate, and offset 0 would not be the
    /// receive buffer.
    pub fn enable_rx_interrupt(&mut self) {
        let lcr = self.ports.inb(LCR);
        if lcr & LCR_DLAB != 0 {
            self.ports.outb(LCR, lcr & !LCR_DLAB);
        }
        let ier = self.ports.inb(IER);
        self.ports.outb(IER, ier | IER_RDA);
        let mcr = self.ports.inb(MCR);
        self.ports.outb(MCR, mcr | MCR_OUT2);
    }

    /// Whether a received byte is waiting (`LSR.DR`).
    ///
    /// After [`on_interrupt`](Self::on_interrupt) returned [`RX_BUDGET`]
    /// bytes, the shell may publish them and call again while this holds.
    pub fn rx_ready(&mut self) -> bool {
        self.ports.inb(LSR) & LSR_DR != 0
    }

    /// Reads while `LSR.DR` is set (at most [`RX_BUDGET`] = 64 bytes),
    /// handing each byte to `out`; returns how many were handed to `out`.
    ///
    /// Reading the bytes is what clears the chip's receive interrupt. When
    /// the budget runs out with bytes still waiting, the interrupt stays
    /// asserted, and the PC's IRQ 4 is edge-triggered: the driver briefly
    /// disables and re-enables the receive interrupt so the line falls and
    /// rises again, giving the interrupt controller a fresh edge instead of
    /// a line stuck high that never interrupts again. (The PLIC and GIC
    /// lines of the memory-mapped UARTs are level-triggered, and the extra
    /// edge does them no harm.)
    pub fn on_interrupt(&mut self, out: &mut impl FnMut(u8)) -> usize {
        let mut read = 0;
        let mut handed = 0;
        while read < RX_BUDGET {
            // In FIFO mode the error bits describe the byte at the head of
            // the FIFO, the one about to be read, so LSR is read per byte.
            let lsr = self.ports.inb(LSR);
            if lsr & LSR_DR == 0 {
                return handed;
            }
            let byte = self.ports.inb(RBR);
            read += 1;
            if lsr & LSR_OE != 0 {
                self.overruns = self.overruns.saturating_add(1);
            }
            if lsr & (LSR_PE | LSR_FE | LSR_BI) != 0 {
                // A garbled byte or a break is line noise, not input.
                self.errors = self.errors.saturating_add(1);
                continue;
            }
            out(byte);
            handed += 1;
        }
        if self.rx_ready() {
            let ier = self.ports.inb(IER);
            self.ports.outb(IER, ier & !IER_RDA);
            self.ports.outb(IER, ier);
        }
        handed
    }

    /// Bytes read and discarded because of a framing, parity or break error.
    pub fn errors(&self) -> u32 {
        self.errors
    }

    /// Receive overruns seen: each means input was lost.
    pub fn overruns(&self) -> u32 {
        self.overruns
    }

    /// The ports, for the shell's other uses of the device.
    pub fn get_mut(&mut self) -> &mut P {
        &mut self.ports
    }

    /// Gives the ports back.
    pub fn into_inner(self) -> P {
        self.ports
    }
}

/// How many registers a 16550 has: [`MmioPorts`] reaches none beyond them.
pub const REGISTERS: u16 = 8;

/// The bytes of device frame a memory-mapped UART's registers lie in: one
/// 4 KiB page, which [`MmioPorts`] never reaches past.
pub const FRAME_SIZE: usize = 4096;

/// The byte offset in the Raspberry Pi's AUX block (BCM2835/BCM2711) of the
/// mini UART's 16550-style registers: `AUX_MU_IO_REG` at `0x40`, then
/// `IER` `0x44`, `IIR` `0x48`, `LCR` `0x4C`, `MCR` `0x50`, `LSR` `0x54`, a
/// word each (shift 2).
pub const BCM2835_AUX_MU_BASE: usize = 0x40;

/// [`MmioPorts`] with 8-bit accesses ([`Mmio8`]).
#[derive(Clone, Copy, Debug)]
pub struct ByteAccess;

/// [`MmioPorts`] with 32-bit accesses ([`Mmio`]) of which the low byte is
/// the register.
#[derive(Clone, Copy, Debug)]
pub struct WordAccess;

/// A memory-mapped 16550 as the eight ports [`Ns16550`] drives.
///
/// Register `n` (the port offset) is at byte `base + (n << shift)` of the
/// device frame, read and written with the access width `W` says:
/// [`ByteAccess`] ([`MmioPorts::bytes`]) or [`WordAccess`]
/// ([`MmioPorts::words`]). A register the layout puts outside the frame's
/// [`FRAME_SIZE`] bytes, a word register not 4-byte aligned (which
/// [`Mmio`] never asks of the shell), and any port number from
/// [`REGISTERS`] on (on the mini UART these would be the AUX block's
/// receiver and transmitter enables) are not reached: reading one gives
/// `0xFF`, as a port with no device behind it does, and writing one does
/// nothing.
#[derive(Debug)]
pub struct MmioPorts<M, W> {
    regs: M,
    base: usize,
    shift: u32,
    /// Bytes per access, which a register's offset is aligned to.
    access: usize,
    width: PhantomData<W>,
}

impl<M: Mmio8> MmioPorts<M, ByteAccess> {
    /// Registers that are bytes, register `n` at `base + (n << shift)`
    /// (qemu-riscv-virt's `ns16550a`: base 0, shift 0). Touches no register.
    pub fn bytes(regs: M, base: usize, shift: u32) -> Self {
        Self { regs, base, shift, access: 1, width: PhantomData }
    }
}

impl<M: Mmio> MmioPorts<M, WordAccess> {
    /// Registers that are 32-bit words of which the low byte counts,
    /// register `n` at `base + (n << shift)` (a DesignWare UART: base 0,
    /// shift 2; the Pi's mini UART: base [`BCM2835_AUX_MU_BASE`], shift 2).
    /// Reads ignore the upper 24 bits; writes put 0 in them. Touches no
    /// register.
    pub fn words(regs: M, base: usize, shift: u32) -> Self {
        Self { regs, base, shift, access: 4, width: PhantomData }
    }
}

impl<M, W> MmioPorts<M, W> {
    /// The byte offset of register `register` in the frame, or `None` if the
    /// adapter does not reach it (see [`MmioPorts`]).
    pub fn register_offset(&self, register: u16) -> Option<usize> {
        if register >= REGISTERS {
            return None;
        }
        let stride = 1usize.checked_shl(self.shift)?;
        let at = usize::from(register).checked_mul(stride)?.checked_add(self.base)?;
        let aligned = at % self.access == 0;
        (aligned && at.checked_add(self.access)? <= FRAME_SIZE).then_some(at)
    }

    /// The registers, for the shell's other uses of the device.
    pub fn get_mut(&mut self) -> &mut M {
        &mut self.regs
    }

    /// Gives the registers back.
    pub fn into_inner(self) -> M {
        self.regs
    }
}

impl<M: Mmio8> PortIo for MmioPorts<M, ByteAccess> {
    fn inb(&mut self, offset: u16) -> u8 {
        match self.register_offset(offset) {
            Some(at) => self.regs.read8(at),
            None => 0xFF,
        }
    }

    fn outb(&mut self, offset: u16, value: u8) {
        if let Some(at) = self.register_offset(offset) {
            self.regs.write8(at, value);
        }
    }
}

impl<M: Mmio> PortIo for MmioPorts<M, WordAccess> {
    fn inb(&mut self, offset: u16) -> u8 {
        match self.register_offset(offset) {
            // The register is the low byte; the rest is reserved.
            Some(at) => self.regs.read32(at) as u8,
            None => 0xFF,
        }
    }

    fn outb(&mut self, offset: u16, value: u8) {
        if let Some(at) = self.register_offset(offset) {
            self.regs.write32(at, u32::from(value));
        }
    }
}
