//! ARM PrimeCell real-time clock (PL031).
//!
//! As on qemu-arm-virt: registers at `0x0901_0000`, SPI 2 = GIC IRQ 34.
//! Offsets and bits follow the PL031 Technical Reference Manual (ARM DDI
//! 0224). The clock is a 32-bit counter of seconds, which on qemu-arm-virt
//! and under Linux's convention holds Unix time; its one interrupt fires when
//! the counter reaches the match register.
//!
//! Limits: the counter is 32 bits, so it wraps in February 2106; [`Pl031::now`]
//! reports it as is. The alarm is one-shot: after [`Pl031::on_interrupt`]
//! the shell arms the next one.

use crate::Mmio;

/// Data register: the current count, in seconds.
pub const RTCDR: usize = 0x000;
/// Match register: the interrupt fires when the count reaches it.
pub const RTCMR: usize = 0x004;
/// Load register: writing sets the count.
pub const RTCLR: usize = 0x008;
/// Control register: bit 0 starts the clock.
pub const RTCCR: usize = 0x00C;
/// Interrupt mask set/clear.
pub const RTCIMSC: usize = 0x010;
/// Raw interrupt status.
pub const RTCRIS: usize = 0x014;
/// Masked interrupt status.
pub const RTCMIS: usize = 0x018;
/// Interrupt clear: writing bit 0 clears the match interrupt.
pub const RTCICR: usize = 0x01C;

/// `RTCCR`: the clock runs.
pub const CR_START: u32 = 1 << 0;
/// The match interrupt's bit in `RTCIMSC`, `RTCRIS`, `RTCMIS` and `RTCICR`.
pub const INT_MATCH: u32 = 1 << 0;

/// A PL031 real-time clock.
#[derive(Debug)]
pub struct Pl031<R: Mmio> {
    regs: R,
}

impl<R: Mmio> Pl031<R> {
    /// A driver over the clock's registers. Touches no register.
    pub fn new(regs: R) -> Self {
        Self { regs }
    }

    /// Seconds since the Unix epoch (`RTCDR`).
    pub fn now(&mut self) -> u64 {
        u64::from(self.regs.read32(RTCDR))
    }

    /// Arms the match interrupt `seconds` from now (`RTCMR`, `RTCIMSC`).
    ///
    /// A zero delay is taken as one second: a match on the current second
    /// may already be over, and would then not fire for 136 years. The match
    /// value wraps with the 32-bit counter. The clock is started first if
    /// firmware left it stopped (`RTCCR` can only be set, so this never
    /// disturbs a running clock), and a match left over from before is
    /// cleared so it cannot be mistaken for this alarm.
    pub fn arm_alarm_in(&mut self, seconds: u32) {
        if self.regs.read32(RTCCR) & CR_START == 0 {
            self.regs.write32(RTCCR, CR_START);
        }
        // Clear before setting the match, not after: the new match can come
        // due between the two writes, and clearing it then would lose it.
        self.regs.write32(RTCICR, INT_MATCH);
        let at = self.regs.read32(RTCDR).wrapping_add(seconds.max(1));
        self.regs.write32(RTCMR, at);
        let mask = self.regs.read32(RTCIMSC);
        self.regs.write32(RTCIMSC, mask | INT_MATCH);
    }

    /// Masks the match interrupt, so no alarm fires until the next
    /// [`arm_alarm_in`](Self::arm_alarm_in).
    pub fn disarm_alarm(&mut self) {
        let mask = self.regs.read32(RTCIMSC);
        self.regs.write32(RTCIMSC, mask & !INT_MATCH);
    }

    /// Whether the match interrupt is raised and unmasked (`RTCMIS`).
    pub fn alarm_pending(&mut self) -> bool {
        self.regs.read32(RTCMIS) & INT_MATCH != 0
    }

    /// Clears the interrupt (`RTCICR`); returns the time read.
    pub fn on_interrupt(&mut self) -> u64 {
        self.regs.write32(RTCICR, INT_MATCH);
        self.now()
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
