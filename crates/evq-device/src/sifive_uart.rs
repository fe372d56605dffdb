//! SiFive UART, receive side, as on the SiFive FU540 (HiFive Unleashed).
//!
//! On the HiFive Unleashed and QEMU's `sifive_u` machine: UART0's registers
//! at `0x1001_0000`, PLIC source 4 (UART1 at `0x1001_1000`, source 5).
//! Offsets and bits follow the FU540-C000 manual's "UART" chapter and
//! Linux's `drivers/tty/serial/sifive.c`: 32-bit registers, an 8-entry
//! receive FIFO read one entry per read of `rxdata`, and two interrupt
//! conditions, the transmit and receive watermarks.
//!
//! `rxwm` is pending while the receive FIFO holds more entries than the
//! `rxcnt` field of `rxctrl`; with `rxcnt` 0, while it holds any. The
//! interrupt line is pending-and-enabled (`ip & ie`), level-triggered at
//! the PLIC: it stays raised until the FIFO is drained.
//!
//! The kernel and firmware print on the same UART, so the driver never
//! writes `txdata`, `txctrl` or `div` (the baud rate divisor), and changes
//! in `ie` only the receive watermark bit.
//!
//! Limits: it assumes the UART was configured by the firmware. The UART
//! reports no framing, parity or overrun errors: bytes lost to a full FIFO
//! are lost without a trace, and a garbled byte reads as a byte. If the
//! firmware left `ie.txwm` enabled, the transmit watermark holds the line
//! raised while the transmit FIFO is below its mark; that is the
//! transmitter's business, and the driver leaves it so.

use crate::{Mmio, RX_BUDGET};

/// Transmit data: writing queues a byte; bit 31 reads set while the
/// transmit FIFO is full.
pub const TXDATA: usize = 0x00;
/// Receive data: reading pops the receive FIFO. Bits 7:0 are the byte;
/// bit 31 is set (and the byte meaningless) if the FIFO was empty.
pub const RXDATA: usize = 0x04;
/// Transmit control: enable, stop bits, transmit watermark.
pub const TXCTRL: usize = 0x08;
/// Receive control: enable, receive watermark.
pub const RXCTRL: usize = 0x0C;
/// Interrupt enable.
pub const IE: usize = 0x10;
/// Interrupt pending (read-only): the watermark conditions, enabled or not.
pub const IP: usize = 0x14;
/// Baud rate divisor.
pub const DIV: usize = 0x18;

/// `txdata`: the transmit FIFO is full.
pub const TXDATA_FULL: u32 = 1 << 31;
/// `rxdata`: the receive FIFO was empty; no byte was read.
pub const RXDATA_EMPTY: u32 = 1 << 31;
/// `rxdata`: the byte.
pub const RXDATA_DATA: u32 = 0xFF;

/// `rxctrl`: the receiver is enabled.
pub const RXCTRL_RXEN: u32 = 1 << 0;
/// `rxctrl`: the receive watermark, bits 18:16: `rxwm` is pending while the
/// FIFO holds more entries than this.
pub const RXCTRL_RXCNT: u32 = 0b111 << 16;

/// `ie` and `ip`: the transmit watermark.
pub const INT_TXWM: u32 = 1 << 0;
/// `ie` and `ip`: the receive watermark.
pub const INT_RXWM: u32 = 1 << 1;

/// A SiFive UART's receive side.
#[derive(Debug)]
pub struct SifiveUart<R: Mmio> {
    regs: R,
}

impl<R: Mmio> SifiveUart<R> {
    /// A driver over the UART's registers. Touches no register.
    pub fn new(regs: R) -> Self {
        Self { regs }
    }

    /// Enables the receiver with a watermark of 0 (`rxctrl` `rxen`, `rxcnt`
    /// 0), so any byte received raises `rxwm`, and enables the `rxwm`
    /// interrupt (`ie` bit 1).
    ///
    /// Both are read-modify-write: the transmit watermark enable in `ie`
    /// stays as it was, and the transmit side and the divisor are not
    /// touched.
    pub fn enable_rx_interrupt(&mut self) {
        let rxctrl = self.regs.read32(RXCTRL);
        self.regs.write32(RXCTRL, (rxctrl & !RXCTRL_RXCNT) | RXCTRL_RXEN);
        let ie = self.regs.read32(IE);
        self.regs.write32(IE, ie | INT_RXWM);
    }

    /// Whether a received byte is waiting: `ip.rxwm`, which with the
    /// watermark of 0 that [`enable_rx_interrupt`](Self::enable_rx_interrupt)
    /// sets means the FIFO is not empty.
    ///
    /// It reads `ip` and not `rxdata`, because a read of `rxdata` takes the
    /// byte. After [`on_interrupt`](Self::on_interrupt) returned
    /// [`RX_BUDGET`] bytes, the shell may publish them and call again while
    /// this holds.
    pub fn rx_ready(&mut self) -> bool {
        self.regs.read32(IP) & INT_RXWM != 0
    }

    /// Reads `rxdata` until it reads empty (at most [`RX_BUDGET`] = 64
    /// times), handing each byte to `out`; returns how many were handed.
    ///
    /// Draining the FIFO is what lowers `rxwm`. When the budget runs out
    /// with bytes still waiting the condition stays pending, and the PLIC's
    /// level-triggered source interrupts again once the shell completes
    /// this one.
    pub fn on_interrupt(&mut self, out: &mut impl FnMut(u8)) -> usize {
        let mut handed = 0;
        while handed < RX_BUDGET {
            let rxdata = self.regs.read32(RXDATA);
            if rxdata & RXDATA_EMPTY != 0 {
                break;
            }
            out((rxdata & RXDATA_DATA) as u8);
            handed += 1;
        }
        handed
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
