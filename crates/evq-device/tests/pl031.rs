//! The PL031 driver against a model of the chip (PL031 TRM): a 32-bit
//! seconds counter, the match register raising the interrupt when the count
//! reaches it, mask, raw and masked status, clear, and a start bit that
//! cannot be cleared once set.

use evq_device::pl031::*;
use evq_device::Mmio;

struct FakePl031 {
    count: u32,
    mr: u32,
    imsc: u32,
    ris: u32,
    started: bool,
    writes: Vec<(usize, u32)>,
}

impl FakePl031 {
    fn at(count: u32) -> Self {
        Self { count, mr: 0, imsc: 0, ris: 0, started: true, writes: Vec::new() }
    }

    /// Lets `seconds` pass, one tick at a time.
    fn tick(&mut self, seconds: u32) {
        for _ in 0..seconds {
            if self.started {
                self.count = self.count.wrapping_add(1);
                if self.count == self.mr {
                    self.ris |= INT_MATCH;
                }
            }
        }
    }

    fn irq(&self) -> bool {
        self.ris & self.imsc != 0
    }
}

impl Mmio for FakePl031 {
    fn read32(&mut self, offset: usize) -> u32 {
        match offset {
            RTCDR => self.count,
            RTCMR => self.mr,
            RTCCR => u32::from(self.started),
            RTCIMSC => self.imsc,
            RTCRIS => self.ris,
            RTCMIS => self.ris & self.imsc,
            _ => 0,
        }
    }

    fn write32(&mut self, offset: usize, value: u32) {
        self.writes.push((offset, value));
        match offset {
            RTCMR => self.mr = value,
            RTCLR => self.count = value,
            RTCCR => self.started |= value & CR_START != 0,
            RTCIMSC => self.imsc = value & 1,
            RTCICR => self.ris &= !(value & 1),
            _ => {}
        }
    }
}

#[test]
fn now_reads_the_data_register() {
    let mut fake = FakePl031::at(1_749_992_709);
    assert_eq!(Pl031::new(&mut fake).now(), 1_749_992_709);
    assert!(fake.writes.is_empty());
}

#[test]
fn alarm_fires_at_the_match_and_clears() {
    let mut fake = FakePl031::at(1_000);
    Pl031::new(&mut fake).arm_alarm_in(5);
    assert_eq!(fake.mr, 1_005);
    assert_eq!(fake.imsc, INT_MATCH);
    fake.tick(4);
    assert!(!fake.irq());
    fake.tick(1);
    assert!(fake.irq());

    let mut rtc = Pl031::new(&mut fake);
    assert!(rtc.alarm_pending());
    assert_eq!(rtc.on_interrupt(), 1_005);
    assert!(!rtc.alarm_pending());
    assert!(!fake.irq());
    assert_eq!(fake.ris, 0);
    assert_eq!(fake.writes.last(), Some(&(RTCICR, INT_MATCH)));
}

#[test]
fn rearming_each_second_gives_one_interrupt_per_second() {
    let mut fake = FakePl031::at(50);
    Pl031::new(&mut fake).arm_alarm_in(1);
    let mut seen = Vec::new();
    for _ in 0..3 {
        fake.tick(1);
        assert!(fake.irq());
        let mut rtc = Pl031::new(&mut fake);
        seen.push(rtc.on_interrupt());
        rtc.arm_alarm_in(1);
        assert!(!fake.irq());
    }
    assert_eq!(seen, [51, 52, 53]);
}

#[test]
fn a_stale_match_is_cleared_when_arming() {
    let mut fake = FakePl031::at(10);
    fake.ris = INT_MATCH;
    Pl031::new(&mut fake).arm_alarm_in(3);
    assert!(!fake.irq());
    fake.tick(3);
    assert!(fake.irq());
}

#[test]
fn zero_delay_is_one_second() {
    let mut fake = FakePl031::at(10);
    Pl031::new(&mut fake).arm_alarm_in(0);
    assert_eq!(fake.mr, 11);
    fake.tick(1);
    assert!(fake.irq());
}

#[test]
fn the_match_wraps_with_the_counter() {
    let mut fake = FakePl031::at(u32::MAX - 1);
    Pl031::new(&mut fake).arm_alarm_in(3);
    assert_eq!(fake.mr, 1);
    fake.tick(2);
    assert!(!fake.irq());
    fake.tick(1);
    assert!(fake.irq());
}

#[test]
fn a_stopped_clock_is_started_and_a_running_one_left_alone() {
    let mut fake = FakePl031::at(7);
    fake.started = false;
    Pl031::new(&mut fake).arm_alarm_in(1);
    assert!(fake.started);
    fake.tick(1);
    assert!(fake.irq());

    let mut running = FakePl031::at(7);
    Pl031::new(&mut running).arm_alarm_in(1);
    assert!(!running.writes.iter().any(|&(o, _)| o == RTCCR));
    assert!(!running.writes.iter().any(|&(o, _)| o == RTCLR), "never sets the time");
}

#[test]
fn disarm_masks_the_alarm() {
    let mut fake = FakePl031::at(0);
    let mut rtc = Pl031::new(&mut fake);
    rtc.arm_alarm_in(2);
    rtc.disarm_alarm();
    fake.tick(2);
    assert_eq!(fake.ris, INT_MATCH, "the match still happens");
    assert!(!fake.irq(), "but does not interrupt");
}

#[test]
fn register_offsets_match_the_trm() {
    assert_eq!(
        [RTCDR, RTCMR, RTCLR, RTCCR, RTCIMSC, RTCRIS, RTCMIS, RTCICR],
        [0x000, 0x004, 0x008, 0x00C, 0x010, 0x014, 0x018, 0x01C]
    );
}
