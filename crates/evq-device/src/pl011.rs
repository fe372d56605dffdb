//! ARM PrimeCell UART (PL011), receive side.
//!
//! As on qemu-arm-virt: registers at `0x0900_0000`, SPI 1 = GIC IRQ 33.
//! Offsets and bits follow the PL011 Technical Reference Manual (ARM DDI
//! 0183). The kernel prints its own messages through the same UART, so the
//! driver only ever touches the receive side and the interrupt registers:
//! never the transmitter, the baud rate (`UARTIBRD`/`UARTFBRD`), the line
//! control (`UARTLCR_H`), the control register (`UARTCR`) or the FIFO levels
//! (`UARTIFLS`).
//!
//! Limits: it assumes the UART was enabled and configured by the firmware or
//! kernel (QEMU's is, at reset). Bytes received with a framing, parity or
//! break error are read and discarded (counted by [`Pl011::errors`]).

use crate::{Mmio, RX_BUDGET};

/// Data register: reading pops the receive FIFO. Bits 7:0 are the byte,
/// bits 11:8 its error flags.
pub const UARTDR: usize = 0x000;
/// Receive status / error clear register.
pub const UARTRSR: usize = 0x004;
/// Flag register.
pub const UARTFR: usize = 0x018;
/// Integer baud rate divisor.
pub const UARTIBRD: usize = 0x024;
/// Fractional baud rate divisor.
pub const UARTFBRD: usize = 0x028;
/// Line control.
pub const UARTLCR_H: usize = 0x02C;
/// Control register.
pub const UARTCR: usize = 0x030;
/// Interrupt FIFO level select.
pub const UARTIFLS: usize = 0x034;
/// Interrupt mask set/clear: a set bit lets that interrupt reach the line.
pub const UARTIMSC: usize = 0x038;
/// Raw interrupt status.
pub const UARTRIS: usize = 0x03C;
/// Masked interrupt status.
pub const UARTMIS: usize = 0x040;
/// Interrupt clear: writing a 1 clears that interrupt.
pub const UARTICR: usize = 0x044;

/// `UARTFR`: receive FIFO empty.
pub const FR_RXFE: u32 = 1 << 4;
/// `UARTFR`: transmit FIFO full.
pub const FR_TXFF: u32 = 1 << 5;

/// `UARTDR`: framing error.
pub const DR_FE: u32 = 1 << 8;
/// `UARTDR`: parity error.
pub const DR_PE: u32 = 1 << 9;
/// `UARTDR`: break error.
pub const DR_BE: u32 = 1 << 10;
/// `UARTDR`: overrun error (data was lost before this byte; the byte is good).
pub const DR_OE: u32 = 1 << 11;

/// Interrupt bit (in `UARTIMSC`, `UARTRIS`, `UARTMIS`, `UARTICR`): receive.
pub const INT_RX: u32 = 1 << 4;
/// Interrupt bit: transmit.
pub const INT_TX: u32 = 1 << 5;
/// Interrupt bit: receive timeout.
pub const INT_RT: u32 = 1 << 6;

/// A PL011's receive side.
#[derive(Debug)]
pub struct Pl011<R: Mmio> {
    regs: R,
    errors: u32,
    overruns: u32,
}

impl<R: Mmio> Pl011<R> {
    /// A driver over the UART's registers. Touches no register.
    pub fn new(regs: R) -> Self {
        Self { regs, errors: 0, overruns: 0 }
    }

    /// Unmasks the receive and receive-timeout interrupts (`UARTIMSC` RXIM|RTIM)
    /// without touching the transmitter or line settings (the kernel prints
    /// through the same UART).
    ///
    /// Read-modify-write, so interrupts someone else unmasked stay unmasked.
    /// Bytes already in the FIFO raise the interrupt at once; that is wanted.
    pub fn enable_rx_interrupt(&mut self) {
        let mask = self.regs.read32(UARTIMSC);
        self.regs.write32(UARTIMSC, mask | INT_RX | INT_RT);
    }

    /// Whether the receive FIFO holds a byte (`UARTFR.RXFE` clear).
    ///
    /// After [`on_interrupt`](Self::on_interrupt) returned [`RX_BUDGET`]
    /// bytes, the shell may publish them and call again while this holds.
    pub fn rx_ready(&mut self) -> bool {
        self.regs.read32(UARTFR) & FR_RXFE == 0
    }

    /// Drains the receive FIFO (while `UARTFR.RXFE` is clear, at most
    /// [`RX_BUDGET`] = 64 bytes per call so a stuck device cannot hold the
    /// domain), handing each byte to `out`, then clears the RX/RT interrupts
    /// (`UARTICR`). Returns how many bytes were handed to `out`.
    ///
    /// When the budget runs out with the FIFO still not empty, the interrupts
    /// are left pending rather than cleared: clearing would lose the
    /// interrupt for the bytes left behind (RX re-asserts only when the FIFO
    /// level next crosses its trigger), while pending it brings the domain
    /// straight back once the shell acknowledges the IRQ.
    pub fn on_interrupt(&mut self, out: &mut impl FnMut(u8)) -> usize {
        let mut read = 0;
        let mut handed = 0;
        loop {
            while read < RX_BUDGET && self.rx_ready() {
                let dr = self.regs.read32(UARTDR);
                read += 1;
                if dr & DR_OE != 0 {
                    self.overruns = self.overruns.saturating_add(1);
                }
                if dr & (DR_FE | DR_PE | DR_BE) != 0 {
                    // A garbled byte or a break is line noise, not input.
                    self.errors = self.errors.saturating_add(1);
                    continue;
                }
                out(dr as u8);
                handed += 1;
            }
            if read == RX_BUDGET && self.rx_ready() {
                return handed;
            }
            self.regs.write32(UARTICR, INT_RX | INT_RT);
            // A byte that landed between the last empty check and the clear
            // had its interrupt cleared with ours; take it now rather than
            // leave it until more input arrives.
            if read == RX_BUDGET || !self.rx_ready() {
                return handed;
            }
        }
    }

    /// Bytes read and discarded because of a framing, parity or break error.
    pub fn errors(&self) -> u32 {
        self.errors
    }

    /// Receive overruns seen: each means input was lost before a byte.
    pub fn overruns(&self) -> u32 {
        self.overruns
    }

    /// The registers, for the shell's other uses of the device.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.regs
    }

    /// Gives the registers back.
    pub fn into_inner(self) -> R {
        self.regs
    }
}
