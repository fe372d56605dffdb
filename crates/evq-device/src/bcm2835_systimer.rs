//! BCM2835/BCM2711 system timer: the Raspberry Pi's free-running 1 MHz
//! counter, and an alarm on one of its compare channels.
//!
//! On the Raspberry Pi 4 (BCM2711): registers at `0xFE00_3000` (the ARM's
//! address in low-peripheral mode; the VideoCore bus address is
//! `0x7E00_3000`); channel 1's interrupt is GIC SPI 65 (IRQ 97) and
//! channel 3's SPI 67 (IRQ 99), both level-triggered. Registers and bits
//! follow the BCM2711 ARM Peripherals manual's "System Timer" chapter and
//! Linux's `drivers/clocksource/bcm2835_timer.c`.
//!
//! The counter is 64 bits, read as two 32-bit halves (`CLO`, `CHI`) with no
//! latch between them, so [`SysTimer::counter`] reads the high half on both
//! sides of the low one. Each of the four compare registers `C0`–`C3`
//! raises its channel's match bit in `CS` when `CLO` comes to equal it;
//! writing 1 to the bit clears it. Channels 0 and 2 belong to the
//! VideoCore's firmware: the driver never writes their compare registers,
//! and never writes a 1 to their match bits. It uses channel 1; channel 3
//! is left to the shell's other uses.
//!
//! There is no time of day in the chip. The shell gets wall-clock time by
//! feeding [`SysTimer::counter`] to an
//! [`EpochClock`](crate::epoch_clock::EpochClock) running at [`HZ`]:
//!
//! ```
//! use evq_device::bcm2835_systimer::{SysTimer, HZ};
//! use evq_device::epoch_clock::EpochClock;
//! use evq_device::Mmio;
//!
//! /// On the timer's interrupt: the next alarm armed a second on, and the
//! /// time to publish if its second is new.
//! fn on_timer(timer: &mut SysTimer<impl Mmio>, clock: &mut EpochClock) -> Option<u64> {
//!     if timer.on_interrupt() && !timer.arm_in(1_000_000) {
//!         // Armed too late to match, it would not fire for 71 minutes.
//!         let _ = timer.arm_in(1_000_000);
//!     }
//!     clock.tick(timer.counter())
//! }
//!
//! // Set from the system description's `epoch=` and a counter reading.
//! let clock = EpochClock::new(HZ, 1_750_000_000, 0);
//! assert_eq!(clock.hz(), 1_000_000);
//! ```
//!
//! Limits: the compare registers hold 32 bits, so an alarm is at most
//! 2^32 µs (71 minutes) away, and one armed too late to match does not fire
//! until the counter comes round again ([`SysTimer::arm_in`] reports it).
//! A channel cannot be disabled: its match recurs every 71 minutes, which
//! the shell ignores or masks at the interrupt controller.

use crate::Mmio;

/// Control/status: bit n is channel n's match, write 1 to clear.
pub const CS: usize = 0x00;
/// The counter's low 32 bits.
pub const CLO: usize = 0x04;
/// The counter's high 32 bits.
pub const CHI: usize = 0x08;
/// Compare 0 (the VideoCore's).
pub const C0: usize = 0x0C;
/// Compare 1: the driver's alarm.
pub const C1: usize = 0x10;
/// Compare 2 (the VideoCore's).
pub const C2: usize = 0x14;
/// Compare 3 (free for the ARM; the driver leaves it alone).
pub const C3: usize = 0x18;

/// `CS`: channel 0 matched.
pub const CS_M0: u32 = 1 << 0;
/// `CS`: channel 1 matched.
pub const CS_M1: u32 = 1 << 1;
/// `CS`: channel 2 matched.
pub const CS_M2: u32 = 1 << 2;
/// `CS`: channel 3 matched.
pub const CS_M3: u32 = 1 << 3;

/// The counter's rate: one tick a microsecond.
pub const HZ: u64 = 1_000_000;

/// The shortest delay [`SysTimer::arm_in`] arms, in microseconds: Linux's
/// minimum for this timer, for a compare value the counter has not passed
/// before it is written.
pub const MIN_DELAY_MICROS: u32 = 15;

/// A BCM2835/BCM2711 system timer, its alarm on channel 1.
#[derive(Debug)]
pub struct SysTimer<R: Mmio> {
    regs: R,
}

impl<R: Mmio> SysTimer<R> {
    /// A driver over the timer's registers. Touches no register.
    pub fn new(regs: R) -> Self {
        Self { regs }
    }

    /// The 64-bit counter, in microseconds since the chip's reset.
    ///
    /// Reads `CHI`, `CLO`, then `CHI` again: if the high half is the same
    /// on both sides, the low half belongs to it. If it changed, the low
    /// half carried between the reads, and `CLO` and `CHI` are read once
    /// more against the new high half; the next carry is 71 minutes away,
    /// so the second try agrees. A device whose high half changes on both
    /// tries (no counter that carries every 71 minutes does) gets the last
    /// high half read with a low half of 0, after five reads in all.
    pub fn counter(&mut self) -> u64 {
        let mut high = self.regs.read32(CHI);
        for _ in 0..2 {
            let low = self.regs.read32(CLO);
            let again = self.regs.read32(CHI);
            if again == high {
                return u64::from(high) << 32 | u64::from(low);
            }
            high = again;
        }
        u64::from(high) << 32
    }

    /// Arms channel 1 to match `micros` microseconds from now (`C1` = `CLO`
    /// + `micros`, wrapping with the 32-bit `CLO`); returns whether it will.
    ///
    /// Delays shorter than [`MIN_DELAY_MICROS`] are lengthened to it. A
    /// match left over from before is cleared first, so it cannot be
    /// mistaken for this alarm. The match only happens if `C1` is written
    /// before `CLO` reaches it; if the counter had already passed it (the
    /// domain was held up between the read and the write) and the match
    /// bit is not set, this returns `false`: the alarm would not fire for
    /// 71 minutes, and the shell should act as if it had fired now.
    #[must_use = "a `false` alarm will not fire for 71 minutes"]
    pub fn arm_in(&mut self, micros: u32) -> bool {
        let delay = micros.max(MIN_DELAY_MICROS);
        // Clear before setting the compare, not after: the new match can
        // come due between the two writes, and clearing it then would lose it.
        self.regs.write32(CS, CS_M1);
        let start = self.regs.read32(CLO);
        self.regs.write32(C1, start.wrapping_add(delay));
        let elapsed = self.regs.read32(CLO).wrapping_sub(start);
        elapsed < delay || self.matched()
    }

    /// Whether channel 1 has matched and its bit is not yet cleared (`CS`
    /// bit 1).
    pub fn matched(&mut self) -> bool {
        self.regs.read32(CS) & CS_M1 != 0
    }

    /// Whether channel 1 matched; if so clears its bit (writing `CS_M1`
    /// alone to `CS`, so the other channels' matches stay as they are),
    /// which lowers its interrupt.
    pub fn on_interrupt(&mut self) -> bool {
        if !self.matched() {
            return false;
        }
        self.regs.write32(CS, CS_M1);
        true
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
