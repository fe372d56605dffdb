//! The Goldfish RTC driver against a model of the device as QEMU's
//! `hw/rtc/goldfish_rtc.c` behaves: a 64-bit nanosecond count read low half
//! first (the read latches the high half), an alarm armed by the write of
//! its low half that fires at once when already past, the interrupt raised
//! only while enabled, and the registers that cancel and clear.

use evq_device::goldfish_rtc::*;
use evq_device::Mmio;

const NS: u64 = 1_000_000_000;

struct FakeGoldfish {
    now_ns: u64,
    latched_high: u32,
    alarm_next: u64,
    alarm_running: bool,
    irq_pending: bool,
    irq_enabled: bool,
    writes: Vec<(usize, u32)>,
}

impl FakeGoldfish {
    fn at(now_ns: u64) -> Self {
        Self {
            now_ns,
            latched_high: 0,
            alarm_next: 0,
            alarm_running: false,
            irq_pending: false,
            irq_enabled: false,
            writes: Vec::new(),
        }
    }

    /// What arming does in the device: fire at once if the alarm is due.
    fn set_alarm(&mut self) {
        if self.alarm_next <= self.now_ns {
            self.alarm_running = false;
            self.irq_pending = true;
        } else {
            self.alarm_running = true;
        }
    }

    /// Lets `ns` pass.
    fn pass(&mut self, ns: u64) {
        self.now_ns += ns;
        if self.alarm_running && self.alarm_next <= self.now_ns {
            self.alarm_running = false;
            self.irq_pending = true;
        }
    }

    fn irq(&self) -> bool {
        self.irq_pending && self.irq_enabled
    }
}

impl Mmio for FakeGoldfish {
    fn read32(&mut self, offset: usize) -> u32 {
        match offset {
            TIME_LOW => {
                self.latched_high = (self.now_ns >> 32) as u32;
                self.now_ns as u32
            }
            TIME_HIGH => self.latched_high,
            ALARM_LOW => self.alarm_next as u32,
            ALARM_HIGH => (self.alarm_next >> 32) as u32,
            IRQ_ENABLED => u32::from(self.irq_enabled),
            ALARM_STATUS => u32::from(self.alarm_running),
            _ => 0,
        }
    }

    fn write32(&mut self, offset: usize, value: u32) {
        self.writes.push((offset, value));
        match offset {
            ALARM_LOW => {
                self.alarm_next = self.alarm_next & !0xffff_ffff | u64::from(value);
                self.set_alarm();
            }
            ALARM_HIGH => self.alarm_next = self.alarm_next & 0xffff_ffff | u64::from(value) << 32,
            IRQ_ENABLED => self.irq_enabled = value & 1 != 0,
            CLEAR_ALARM => self.alarm_running = false,
            CLEAR_INTERRUPT => self.irq_pending = false,
            _ => {}
        }
    }
}

#[test]
fn now_reads_the_low_half_first_and_touches_nothing() {
    // Past 2^32 ns, so a driver that read the high half first would get
    // the high half of whatever the last read latched (here 0).
    let mut fake = FakeGoldfish::at(1_749_992_709 * NS + 123);
    let mut rtc = GoldfishRtc::new(&mut fake);
    assert_eq!(rtc.now_ns(), 1_749_992_709 * NS + 123);
    assert_eq!(rtc.now(), 1_749_992_709);
    assert!(fake.writes.is_empty());
}

#[test]
fn the_alarm_is_armed_high_half_first_and_fires_when_due() {
    let start = 1_000 * NS + 5;
    let mut fake = FakeGoldfish::at(start);
    GoldfishRtc::new(&mut fake).arm_alarm_in(5);
    assert_eq!(fake.alarm_next, start + 5 * NS);
    let order: Vec<usize> = fake.writes.iter().map(|&(o, _)| o).collect();
    assert_eq!(order, [CLEAR_INTERRUPT, ALARM_HIGH, ALARM_LOW, IRQ_ENABLED]);
    assert!(GoldfishRtc::new(&mut fake).alarm_armed());
    fake.pass(5 * NS - 1);
    assert!(!fake.irq());
    fake.pass(1);
    assert!(fake.irq());
    assert!(!GoldfishRtc::new(&mut fake).alarm_armed());
    assert_eq!(GoldfishRtc::new(&mut fake).on_interrupt(), 1_005);
    assert!(!fake.irq());
}

#[test]
fn a_zero_delay_is_one_second_not_an_alarm_already_due() {
    let mut fake = FakeGoldfish::at(7 * NS);
    GoldfishRtc::new(&mut fake).arm_alarm_in(0);
    // An alarm at the current count fires at once; a second on, it waits.
    assert!(!fake.irq());
    assert_eq!(fake.alarm_next, 8 * NS);
}

#[test]
fn an_interrupt_left_from_before_is_lowered_before_the_new_alarm() {
    let mut fake = FakeGoldfish::at(10 * NS);
    fake.irq_pending = true;
    fake.irq_enabled = true;
    GoldfishRtc::new(&mut fake).arm_alarm_in(3);
    assert!(!fake.irq(), "the old interrupt would read as this alarm");
    fake.pass(3 * NS);
    assert!(fake.irq());
}

#[test]
fn disarming_cancels_the_alarm_and_its_interrupt() {
    let mut fake = FakeGoldfish::at(NS);
    let mut rtc = GoldfishRtc::new(&mut fake);
    rtc.arm_alarm_in(2);
    rtc.disarm_alarm();
    assert!(!rtc.alarm_armed());
    fake.pass(10 * NS);
    assert!(!fake.irq());
}

#[test]
fn an_alarm_past_the_count_s_end_does_not_wrap_to_the_past() {
    let mut fake = FakeGoldfish::at(u64::MAX - NS / 2);
    GoldfishRtc::new(&mut fake).arm_alarm_in(5);
    assert_eq!(fake.alarm_next, u64::MAX);
    assert!(!fake.irq());
}
