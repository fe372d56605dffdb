//! 16550 UART on an x86 COM port, receive side.
//!
//! COM1 is ports `0x3F8`–`0x3FF`, ISA IRQ 4; offsets below are from the base
//! port. Registers and bits follow the National Semiconductor PC16550D
//! datasheet. The kernel prints through the same UART, so the driver touches
//! only the interrupt enable register and the OUT2 bit of the modem control
//! register: never the divisor latch (baud rate), the word format in `LCR`,
//! or the FIFO control register (write-only, and writing it can reset the
//! FIFOs).
//!
//! Limits: it assumes the UART was configured by the firmware or kernel.
//! Bytes received with a framing, parity or break error are read and
//! discarded (counted by [`Ns16550::errors`]).

use crate::{PortIo, RX_BUDGET};

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
    /// a line stuck high that never interrupts again.
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
