//! Goldfish real-time clock, as QEMU's riscv64 `virt` machine has it.
//!
//! On qemu-riscv-virt: registers at `0x0010_1000`, PLIC source 11. The
//! registers follow QEMU's `hw/rtc/goldfish_rtc.c` and Linux's
//! `drivers/rtc/rtc-goldfish.c`: a 64-bit count of nanoseconds since the
//! Unix epoch, read as two 32-bit halves, and one alarm in the same unit.
//!
//! Reading `TIME_LOW` latches the high half, which `TIME_HIGH` then gives,
//! so the low half must be read first; the alarm is armed by the write of
//! `ALARM_LOW`, so the high half must be written first. An alarm at a time
//! already past fires at once.
//!
//! Limits: the count wraps in the year 2554; [`GoldfishRtc::now`] reports
//! it as is. The alarm is one-shot: after [`GoldfishRtc::on_interrupt`] the
//! shell arms the next one.

use crate::Mmio;

/// The count's low 32 bits; reading it latches the high 32 bits.
pub const TIME_LOW: usize = 0x00;
/// The count's high 32 bits, as latched by the last read of `TIME_LOW`.
pub const TIME_HIGH: usize = 0x04;
/// The alarm's low 32 bits; writing it arms the alarm.
pub const ALARM_LOW: usize = 0x08;
/// The alarm's high 32 bits.
pub const ALARM_HIGH: usize = 0x0C;
/// Bit 0: the alarm raises the interrupt.
pub const IRQ_ENABLED: usize = 0x10;
/// Writing cancels the armed alarm.
pub const CLEAR_ALARM: usize = 0x14;
/// Bit 0: an alarm is armed and has not fired.
pub const ALARM_STATUS: usize = 0x18;
/// Writing lowers the interrupt.
pub const CLEAR_INTERRUPT: usize = 0x1C;

/// Nanoseconds in a second.
const NS_PER_S: u64 = 1_000_000_000;

/// A Goldfish real-time clock.
#[derive(Debug)]
pub struct GoldfishRtc<R: Mmio> {
    regs: R,
}

impl<R: Mmio> GoldfishRtc<R> {
    /// A driver over the clock's registers. Touches no register.
    pub fn new(regs: R) -> Self {
        Self { regs }
    }

    /// Nanoseconds since the Unix epoch: `TIME_LOW`, then the `TIME_HIGH`
    /// that read latched.
    pub fn now_ns(&mut self) -> u64 {
        let low = self.regs.read32(TIME_LOW);
        let high = self.regs.read32(TIME_HIGH);
        u64::from(high) << 32 | u64::from(low)
    }

    /// Seconds since the Unix epoch.
    pub fn now(&mut self) -> u64 {
        self.now_ns() / NS_PER_S
    }

    /// Arms the alarm `seconds` from now and enables its interrupt.
    ///
    /// A zero delay is taken as one second, as on the other clocks, so a
    /// shell that arms the next alarm from the interrupt of the last cannot
    /// make the clock interrupt it without end. A raised interrupt left
    /// over from before is lowered first, so it cannot be mistaken for
    /// this alarm.
    pub fn arm_alarm_in(&mut self, seconds: u32) {
        self.regs.write32(CLEAR_INTERRUPT, 1);
        let at = self.now_ns().saturating_add(u64::from(seconds.max(1)) * NS_PER_S);
        // The high half first: the write of the low half arms the alarm.
        self.regs.write32(ALARM_HIGH, (at >> 32) as u32);
        self.regs.write32(ALARM_LOW, at as u32);
        self.regs.write32(IRQ_ENABLED, 1);
    }

    /// Cancels the alarm and disables its interrupt, so none fires until
    /// the next [`arm_alarm_in`](Self::arm_alarm_in).
    pub fn disarm_alarm(&mut self) {
        self.regs.write32(IRQ_ENABLED, 0);
        self.regs.write32(CLEAR_ALARM, 1);
    }

    /// Whether an alarm is armed and has not yet fired (`ALARM_STATUS`).
    pub fn alarm_armed(&mut self) -> bool {
        self.regs.read32(ALARM_STATUS) & 1 != 0
    }

    /// Lowers the interrupt (`CLEAR_INTERRUPT`); returns the time read, in
    /// seconds since the Unix epoch.
    pub fn on_interrupt(&mut self) -> u64 {
        self.regs.write32(CLEAR_INTERRUPT, 1);
        self.now()
    }

    /// Gives the registers back.
    pub fn into_inner(self) -> R {
        self.regs
    }
}
