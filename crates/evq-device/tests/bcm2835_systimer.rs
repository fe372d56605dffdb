//! The system timer driver against a model of the BCM2711's (ARM
//! Peripherals manual, "System Timer"): a 64-bit microsecond counter read
//! as two unlatched halves while it runs, four compare channels each
//! raising its match bit in `CS` when `CLO` comes to equal it, and match
//! bits cleared by writing 1.

use evq_device::bcm2835_systimer::*;
use evq_device::epoch_clock::EpochClock;
use evq_device::Mmio;

struct FakeSysTimer {
    count: u64,
    compare: [u32; 4],
    cs: u32,
    /// Microseconds that pass with each register access.
    per_access: u64,
    /// Microseconds that pass just before a write to `C1` lands.
    stall_before_c1: u64,
    /// `CHI` reads differently every time (a broken device).
    chi_spins: bool,
    reads: Vec<usize>,
    writes: Vec<(usize, u32)>,
}

impl FakeSysTimer {
    fn at(count: u64) -> Self {
        Self {
            count,
            compare: [0; 4],
            cs: 0,
            per_access: 0,
            stall_before_c1: 0,
            chi_spins: false,
            reads: Vec::new(),
            writes: Vec::new(),
        }
    }

    /// Lets `us` microseconds pass: a channel matches if `CLO` takes its
    /// compare value on the way.
    fn pass(&mut self, us: u64) {
        let low = self.count as u32;
        for (n, &c) in self.compare.iter().enumerate() {
            // CLO takes low + 1 ..= low + us.
            let steps = u64::from(c.wrapping_sub(low.wrapping_add(1)));
            if us > 0 && (us > u64::from(u32::MAX) || steps < us) {
                self.cs |= 1 << n;
            }
        }
        self.count = self.count.wrapping_add(us);
    }

    /// Channel 1's interrupt line (level).
    fn irq1(&self) -> bool {
        self.cs & CS_M1 != 0
    }

    fn assert_only_channel_1_written(&self) {
        for &(offset, value) in &self.writes {
            match offset {
                CS => assert_eq!(value, CS_M1, "a 1 written to another channel's match bit"),
                C1 => {}
                _ => panic!("wrote {value:#x} at {offset:#x}"),
            }
        }
    }
}

impl Mmio for FakeSysTimer {
    fn read32(&mut self, offset: usize) -> u32 {
        self.reads.push(offset);
        let value = match offset {
            CS => self.cs,
            CLO => self.count as u32,
            CHI if self.chi_spins => self.reads.len() as u32,
            CHI => (self.count >> 32) as u32,
            C0 | C1 | C2 | C3 => self.compare[(offset - C0) / 4],
            _ => 0,
        };
        self.pass(self.per_access);
        value
    }

    fn write32(&mut self, offset: usize, value: u32) {
        if offset == C1 {
            self.pass(self.stall_before_c1);
        }
        self.writes.push((offset, value));
        match offset {
            CS => self.cs &= !(value & 0xF),
            C0 | C1 | C2 | C3 => self.compare[(offset - C0) / 4] = value,
            _ => {}
        }
        self.pass(self.per_access);
    }
}

#[test]
fn counter_reads_high_low_high_and_touches_nothing() {
    let mut fake = FakeSysTimer::at(0x0000_0005_1234_5678);
    assert_eq!(SysTimer::new(&mut fake).counter(), 0x0000_0005_1234_5678);
    assert_eq!(fake.reads, [CHI, CLO, CHI]);
    assert!(fake.writes.is_empty());
}

#[test]
fn a_carry_during_the_read_is_read_again() {
    // The low half carries between the first CHI and CLO: CLO reads 0 and
    // CHI 5, a reading 71 minutes in the past if taken as it is.
    let mut fake = FakeSysTimer::at(5 << 32 | 0xFFFF_FFFF);
    fake.per_access = 1;
    let got = SysTimer::new(&mut fake).counter();
    assert_eq!(got, 6 << 32 | 2);
    assert_eq!(fake.reads, [CHI, CLO, CHI, CLO, CHI]);

    // Between CLO and the second CHI: 0xFFFF_FFFF with 6 would be 71
    // minutes in the future.
    let mut fake = FakeSysTimer::at(5 << 32 | 0xFFFF_FFFE);
    fake.per_access = 1;
    assert_eq!(SysTimer::new(&mut fake).counter(), 6 << 32 | 1);
}

#[test]
fn every_reading_across_a_carry_lies_between_the_read_s_start_and_end() {
    for per_access in [1, 2, 3, 7] {
        for before in 0..24 {
            let start = (9u64 << 32) - before;
            let mut fake = FakeSysTimer::at(start);
            fake.per_access = per_access;
            let got = SysTimer::new(&mut fake).counter();
            assert!((start..=fake.count).contains(&got), "{got:#x} outside {start:#x}..={:#x}", fake.count);
        }
    }
}

#[test]
fn a_high_half_that_never_settles_costs_five_reads() {
    let mut fake = FakeSysTimer::at(0x1234);
    fake.chi_spins = true;
    let got = SysTimer::new(&mut fake).counter();
    assert_eq!(fake.reads, [CHI, CLO, CHI, CLO, CHI]);
    assert_eq!(got, 5 << 32, "the last high half, low half 0");
}

#[test]
fn the_alarm_wraps_with_clo_and_fires_when_due() {
    let start = 3 << 32 | 0xFFFF_FF00;
    let mut fake = FakeSysTimer::at(start);
    assert!(SysTimer::new(&mut fake).arm_in(0x200));
    assert_eq!(fake.compare[1], 0x100, "CLO + 0x200, wrapped");
    fake.pass(0x1FF);
    assert!(!fake.irq1());
    fake.pass(1);
    assert!(fake.irq1());
    let mut timer = SysTimer::new(&mut fake);
    assert!(timer.matched());
    assert!(timer.on_interrupt());
    assert!(!timer.on_interrupt(), "cleared");
    assert!(!fake.irq1());
    fake.assert_only_channel_1_written();
}

#[test]
fn a_match_left_from_before_is_cleared_before_the_compare_is_written() {
    let mut fake = FakeSysTimer::at(1_000);
    fake.cs = CS_M1;
    assert!(SysTimer::new(&mut fake).arm_in(500));
    assert!(!fake.irq1(), "the old match would read as this alarm");
    assert_eq!(fake.writes, [(CS, CS_M1), (C1, 1_500)]);
    fake.pass(500);
    assert!(fake.irq1());
}

#[test]
fn a_short_delay_is_lengthened_to_the_minimum() {
    let mut fake = FakeSysTimer::at(1_000);
    assert!(SysTimer::new(&mut fake).arm_in(0));
    assert_eq!(fake.compare[1], 1_000 + MIN_DELAY_MICROS);
    assert_eq!(MIN_DELAY_MICROS, 15);
    let mut fake = FakeSysTimer::at(1_000);
    assert!(SysTimer::new(&mut fake).arm_in(16));
    assert_eq!(fake.compare[1], 1_016);
}

#[test]
fn an_alarm_armed_after_its_time_is_reported() {
    // The domain is held up between reading CLO and writing C1: the counter
    // passes the compare value before it is there to match.
    let mut fake = FakeSysTimer::at(1_000);
    fake.stall_before_c1 = 100;
    assert!(!SysTimer::new(&mut fake).arm_in(20));
    assert!(!fake.irq1());

    // Slow, but the write landed in time: the match is already raised.
    let mut fake = FakeSysTimer::at(1_000);
    fake.per_access = 10;
    assert!(SysTimer::new(&mut fake).arm_in(15));
    assert!(fake.irq1());
}

#[test]
fn on_interrupt_clears_only_channel_1() {
    let mut fake = FakeSysTimer::at(0);
    fake.cs = CS_M0 | CS_M1 | CS_M2 | CS_M3;
    assert!(SysTimer::new(&mut fake).on_interrupt());
    assert_eq!(fake.cs, CS_M0 | CS_M2 | CS_M3, "the VideoCore's and channel 3's matches stay");
    assert_eq!(fake.writes, [(CS, CS_M1)]);

    // Other channels' matches are not this driver's interrupt.
    fake.writes.clear();
    assert!(!SysTimer::new(&mut fake).on_interrupt());
    assert!(fake.writes.is_empty());
    assert_eq!(fake.cs, CS_M0 | CS_M2 | CS_M3);
}

#[test]
fn the_videocore_s_channels_are_never_written() {
    let mut fake = FakeSysTimer::at(7 << 32 | 0xFFFF_FFF0);
    fake.compare = [0xAAAA, 0, 0xBBBB, 0xCCCC];
    fake.per_access = 3;
    let mut timer = SysTimer::new(&mut fake);
    for _ in 0..50 {
        timer.counter();
        let _ = timer.arm_in(20);
        timer.get_mut().pass(25);
        timer.on_interrupt();
    }
    assert_eq!([fake.compare[0], fake.compare[2], fake.compare[3]], [0xAAAA, 0xBBBB, 0xCCCC]);
    fake.assert_only_channel_1_written();
}

#[test]
fn with_an_epoch_clock_at_one_megahertz_it_tells_the_time() {
    let mut fake = FakeSysTimer::at(3_000_000);
    let mut clock = EpochClock::new(HZ, 1_750_000_000, SysTimer::new(&mut fake).counter());
    fake.pass(2_500_000);
    assert_eq!(clock.tick(SysTimer::new(&mut fake).counter()), Some(1_750_000_002));
    fake.pass(400_000);
    assert_eq!(clock.tick(SysTimer::new(&mut fake).counter()), None);
    fake.pass(100_000);
    assert_eq!(clock.tick(SysTimer::new(&mut fake).counter()), Some(1_750_000_003));
}

#[test]
fn register_offsets_match_the_manual() {
    assert_eq!((CS, CLO, CHI, C0, C1, C2, C3), (0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18));
    assert_eq!((CS_M0, CS_M1, CS_M2, CS_M3), (1, 2, 4, 8));
    assert_eq!(HZ, 1_000_000);
}
