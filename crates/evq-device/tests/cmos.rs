//! The CMOS RTC driver against a model of the MC146818 (datasheet): an
//! index port whose bit 7 is the PC's NMI mask, 128 bytes of registers, the
//! update-in-progress flag, an update that can land between reads, and
//! register C cleared by reading.

use evq_device::cmos::*;
use evq_device::PortIo;

struct FakeCmos {
    regs: [u8; 128],
    index: u8,
    /// Bit 7 of every index write.
    nmi_bits: Vec<bool>,
    /// Registers indexed, in order.
    indexed: Vec<u8>,
    /// Data writes, as (register, value).
    data_writes: Vec<(u8, u8)>,
    /// Register A reads that still see UIP set; `u32::MAX` for a stuck chip.
    uip_reads: u32,
    /// After this many more time-register reads, apply `update`.
    update_after: Option<u32>,
    update: Vec<(u8, u8)>,
    /// The seconds register changes on every read (a chip that never settles).
    chaos: bool,
}

/// 2024-12-31 23:59:59 in BCD, 24-hour mode, century 20.
const NEW_YEARS_EVE: [(u8, u8); 7] = [
    (REG_SECONDS, 0x59),
    (REG_MINUTES, 0x59),
    (REG_HOURS, 0x23),
    (REG_DAY, 0x31),
    (REG_MONTH, 0x12),
    (REG_YEAR, 0x24),
    (REG_CENTURY, 0x20),
];
/// 2025-01-01 00:00:00 in BCD.
const NEW_YEAR: [(u8, u8); 6] =
    [(REG_SECONDS, 0x00), (REG_MINUTES, 0x00), (REG_HOURS, 0x00), (REG_DAY, 0x01), (REG_MONTH, 0x01), (REG_YEAR, 0x25)];

impl FakeCmos {
    /// A chip in BCD, 24-hour mode (register B = 0x02) at `time`.
    fn new(time: &[(u8, u8)]) -> Self {
        let mut regs = [0u8; 128];
        regs[usize::from(REG_A)] = 0x26; // 32.768 kHz divider, 1024 Hz rate
        regs[usize::from(REG_B)] = B_24H;
        regs[usize::from(REG_D)] = 0x80; // valid RAM and time
        for &(r, v) in time {
            regs[usize::from(r)] = v;
        }
        Self {
            regs,
            index: 0,
            nmi_bits: Vec::new(),
            indexed: Vec::new(),
            data_writes: Vec::new(),
            uip_reads: 0,
            update_after: None,
            update: Vec::new(),
            chaos: false,
        }
    }

    fn set(&mut self, reg: u8, value: u8) {
        self.regs[usize::from(reg)] = value;
    }

    fn get(&self, reg: u8) -> u8 {
        self.regs[usize::from(reg)]
    }

    fn reads_of(&self, reg: u8) -> usize {
        self.indexed.iter().filter(|&&r| r == reg).count()
    }
}

impl PortIo for FakeCmos {
    fn inb(&mut self, offset: u16) -> u8 {
        assert_eq!(offset, DATA, "the index port is write-only");
        let reg = self.index;
        match reg {
            REG_A => {
                let uip = match self.uip_reads {
                    0 => 0,
                    u32::MAX => A_UIP,
                    _ => {
                        self.uip_reads -= 1;
                        A_UIP
                    }
                };
                self.get(REG_A) | uip
            }
            REG_C => std::mem::take(&mut self.regs[usize::from(REG_C)]),
            REG_SECONDS | REG_MINUTES | REG_HOURS | REG_DAY | REG_MONTH | REG_YEAR => {
                if self.chaos && reg == REG_SECONDS {
                    let s = self.get(REG_SECONDS);
                    self.set(REG_SECONDS, if s == 0x59 { 0 } else { s + 1 });
                }
                let v = self.get(reg);
                if let Some(n) = self.update_after.as_mut() {
                    *n -= 1;
                    if *n == 0 {
                        self.update_after = None;
                        for (r, v) in std::mem::take(&mut self.update) {
                            self.set(r, v);
                        }
                    }
                }
                v
            }
            _ => self.get(reg),
        }
    }

    fn outb(&mut self, offset: u16, value: u8) {
        match offset {
            INDEX => {
                self.nmi_bits.push(value & 0x80 != 0);
                self.index = value & 0x7F;
                self.indexed.push(self.index);
            }
            DATA => {
                self.data_writes.push((self.index, value));
                match self.index {
                    REG_A | REG_C | REG_D => {} // A's UIP and C, D are read-only
                    r => self.set(r, value),
                }
            }
            _ => panic!("port offset {offset} is not the RTC's"),
        }
    }
}

fn now(fake: &mut FakeCmos) -> Option<u64> {
    CmosRtc::new(fake).now()
}

#[test]
fn bcd_24h() {
    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    assert_eq!(now(&mut fake), Some(1_735_689_599));
    assert!(fake.data_writes.is_empty(), "reading the time writes nothing");
}

#[test]
fn binary_24h() {
    let mut fake = FakeCmos::new(&[
        (REG_SECONDS, 30),
        (REG_MINUTES, 45),
        (REG_HOURS, 13),
        (REG_DAY, 29),
        (REG_MONTH, 2),
        (REG_YEAR, 24),
        (REG_CENTURY, 20),
    ]);
    fake.set(REG_B, B_24H | B_BINARY);
    assert_eq!(now(&mut fake), Some(1_709_214_330));
}

fn at_hour(b: u8, hour: u8) -> Option<u64> {
    let (min, sec) = if b & B_BINARY != 0 { (30, 0) } else { (0x30, 0) };
    let (day, month, year, century) = if b & B_BINARY != 0 { (15, 6, 25, 20) } else { (0x15, 0x06, 0x25, 0x20) };
    let mut fake = FakeCmos::new(&[
        (REG_SECONDS, sec),
        (REG_MINUTES, min),
        (REG_HOURS, hour),
        (REG_DAY, day),
        (REG_MONTH, month),
        (REG_YEAR, year),
        (REG_CENTURY, century),
    ]);
    fake.set(REG_B, b);
    now(&mut fake)
}

#[test]
fn twelve_hour_mode_bcd() {
    // 2025-06-15 00:30 is 1749947400.
    assert_eq!(at_hour(0, 0x12), Some(1_749_947_400), "12 AM is midnight");
    assert_eq!(at_hour(0, 0x80 | 0x12), Some(1_749_990_600), "12 PM is noon");
    assert_eq!(at_hour(0, 0x80 | 0x01), Some(1_749_990_600 + 3600), "1 PM");
    assert_eq!(at_hour(0, 0x80 | 0x11), Some(1_749_990_600 + 11 * 3600), "11 PM");
    assert_eq!(at_hour(0, 0x11), Some(1_749_947_400 + 11 * 3600), "11 AM");
    assert_eq!(at_hour(0, 0x00), None, "hour 0 does not exist in 12-hour mode");
    assert_eq!(at_hour(0, 0x13), None);
    assert_eq!(at_hour(0, 0x80 | 0x13), None);
}

#[test]
fn twelve_hour_mode_binary() {
    assert_eq!(at_hour(B_BINARY, 12), Some(1_749_947_400));
    assert_eq!(at_hour(B_BINARY, 0x80 | 12), Some(1_749_990_600));
    assert_eq!(at_hour(B_BINARY, 0x80 | 1), Some(1_749_990_600 + 3600));
    assert_eq!(at_hour(B_BINARY, 0x80), None);
}

#[test]
fn twenty_four_hour_mode_refuses_a_pm_bit() {
    assert_eq!(at_hour(B_24H, 0x23), Some(1_749_947_400 + 23 * 3600));
    assert_eq!(at_hour(B_24H, 0x24), None);
    assert_eq!(at_hour(B_24H, 0x81), None);
    assert_eq!(at_hour(B_24H | B_BINARY, 23), Some(1_749_947_400 + 23 * 3600));
    assert_eq!(at_hour(B_24H | B_BINARY, 24), None);
}

#[test]
fn century_register_absent_or_invalid_means_20xx() {
    for century in [0x00, 0xFF, 0x1A, 0x05, 0xA0] {
        let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
        fake.set(REG_CENTURY, century);
        assert_eq!(now(&mut fake), Some(1_735_689_599), "century {century:#x}");
    }
}

#[test]
fn century_register_is_used_when_valid() {
    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    fake.set(REG_CENTURY, 0x19);
    fake.set(REG_YEAR, 0x99);
    assert_eq!(now(&mut fake), Some(946_684_799), "1999-12-31 23:59:59");

    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    fake.set(REG_CENTURY, 0x19);
    fake.set(REG_YEAR, 0x69);
    assert_eq!(now(&mut fake), None, "1969 is before the epoch");

    // 2106-02-07 06:28:15, the end of 32-bit time, is past u32 but fine here.
    let mut fake = FakeCmos::new(&[
        (REG_SECONDS, 0x16),
        (REG_MINUTES, 0x28),
        (REG_HOURS, 0x06),
        (REG_DAY, 0x07),
        (REG_MONTH, 0x02),
        (REG_YEAR, 0x06),
        (REG_CENTURY, 0x21),
    ]);
    assert_eq!(now(&mut fake), Some(4_294_967_296));
}

#[test]
fn without_a_century_register_it_is_never_read() {
    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    fake.set(REG_CENTURY, 0x19);
    let mut rtc = CmosRtc::new(&mut fake);
    rtc.set_century_register(None);
    assert_eq!(rtc.now(), Some(1_735_689_599));
    assert_eq!(fake.reads_of(REG_CENTURY), 0);
}

#[test]
fn another_century_register_can_be_named() {
    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    fake.set(REG_CENTURY, 0);
    fake.set(0x48, 0x20);
    fake.set(REG_YEAR, 0x38);
    fake.set(REG_MONTH, 0x01);
    fake.set(REG_DAY, 0x19);
    let mut rtc = CmosRtc::new(&mut fake);
    rtc.set_century_register(Some(0x48));
    rtc.set_century_register(Some(0x80)); // refused: the NMI bit
    assert_eq!(rtc.now(), Some(2_147_558_399), "2038-01-19 23:59:59");
    assert_eq!(fake.reads_of(REG_CENTURY), 0);
    assert!(fake.reads_of(0x48) > 0);
}

#[test]
fn invalid_values_give_none() {
    let cases: [(u8, u8); 12] = [
        (REG_SECONDS, 0x5A), // BCD nibble above 9
        (REG_SECONDS, 0x60),
        (REG_MINUTES, 0xF0),
        (REG_MINUTES, 0x60),
        (REG_HOURS, 0x2F),
        (REG_DAY, 0x00),
        (REG_DAY, 0x32),
        (REG_MONTH, 0x00),
        (REG_MONTH, 0x13),
        (REG_MONTH, 0x1A),
        (REG_YEAR, 0xA0),
        (REG_YEAR, 0xFF),
    ];
    for (reg, value) in cases {
        let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
        fake.set(reg, value);
        assert_eq!(now(&mut fake), None, "register {reg:#x} = {value:#x}");
    }
}

#[test]
fn impossible_dates_give_none() {
    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    fake.set(REG_MONTH, 0x02);
    fake.set(REG_DAY, 0x29);
    fake.set(REG_YEAR, 0x23);
    assert_eq!(now(&mut fake), None, "2023 is not a leap year");
    fake.set(REG_YEAR, 0x24);
    assert!(now(&mut fake).is_some(), "2024 is");
    fake.set(REG_MONTH, 0x04);
    fake.set(REG_DAY, 0x31);
    assert_eq!(now(&mut fake), None, "April has 30 days");
}

#[test]
fn binary_mode_refuses_out_of_range_values() {
    let mut fake = FakeCmos::new(&[
        (REG_SECONDS, 60),
        (REG_MINUTES, 0),
        (REG_HOURS, 0),
        (REG_DAY, 1),
        (REG_MONTH, 1),
        (REG_YEAR, 25),
    ]);
    fake.set(REG_B, B_24H | B_BINARY);
    assert_eq!(now(&mut fake), None);
    fake.set(REG_SECONDS, 0);
    fake.set(REG_YEAR, 100);
    assert_eq!(now(&mut fake), None);
    fake.set(REG_YEAR, 25);
    assert_eq!(now(&mut fake), Some(1_735_689_600));
}

#[test]
fn waits_for_update_in_progress_to_clear() {
    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    fake.uip_reads = 100;
    assert_eq!(now(&mut fake), Some(1_735_689_599));
    assert!(fake.reads_of(REG_A) > 100);
}

#[test]
fn a_chip_stuck_in_update_gives_none_after_bounded_polls() {
    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    fake.uip_reads = u32::MAX;
    assert_eq!(now(&mut fake), None);
    assert_eq!(fake.reads_of(REG_A), UIP_POLLS as usize);
    assert_eq!(fake.reads_of(REG_SECONDS), 0, "no time register read during an update");
}

#[test]
fn an_update_between_reads_is_not_torn() {
    // The update lands after seconds, minutes and hours were read: a single
    // read would give 2025-01-01 23:59:59, a day off.
    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    fake.update_after = Some(3);
    fake.update = NEW_YEAR.to_vec();
    assert_eq!(now(&mut fake), Some(1_735_689_600));
}

#[test]
fn a_chip_that_never_agrees_gives_none() {
    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    fake.chaos = true;
    assert_eq!(now(&mut fake), None);
    assert_eq!(fake.reads_of(REG_SECONDS), MAX_READS as usize);
}

#[test]
fn enable_update_interrupt_sets_uie_and_keeps_other_bits() {
    for b in [B_24H, B_24H | B_BINARY, B_BINARY | B_AIE, 0x01 | B_PIE | B_24H] {
        let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
        fake.set(REG_B, b);
        fake.set(REG_C, C_IRQF | C_AF); // a flag nobody acknowledged
        CmosRtc::new(&mut fake).enable_update_interrupt();
        assert_eq!(fake.get(REG_B), b | B_UIE, "B was {b:#x}");
        assert_eq!(fake.data_writes, vec![(REG_B, b | B_UIE)]);
        assert_eq!(fake.get(REG_C), 0, "register C read so IRQ 8 can fire again");
        assert_eq!(fake.indexed.last(), Some(&REG_C));
    }
}

#[test]
fn disable_update_interrupt_clears_only_uie() {
    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    fake.set(REG_B, B_24H | B_UIE | B_AIE);
    CmosRtc::new(&mut fake).disable_update_interrupt();
    assert_eq!(fake.get(REG_B), B_24H | B_AIE);
}

#[test]
fn on_interrupt_reads_register_c() {
    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    fake.set(REG_C, C_IRQF | C_UF);
    let mut rtc = CmosRtc::new(&mut fake);
    assert!(rtc.on_interrupt());
    assert!(!rtc.on_interrupt(), "reading C cleared it");
    fake.set(REG_C, C_IRQF | C_AF);
    assert!(!CmosRtc::new(&mut fake).on_interrupt(), "an alarm is not an update");
    assert_eq!(fake.get(REG_C), 0);
    assert_eq!(fake.reads_of(REG_C), 3);
}

#[test]
fn nmi_bit_follows_the_drivers_setting_on_every_index_write() {
    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    let mut rtc = CmosRtc::new(&mut fake);
    assert!(!rtc.nmi_disabled());
    rtc.now();
    rtc.enable_update_interrupt();
    rtc.on_interrupt();
    assert!(!fake.nmi_bits.is_empty());
    assert!(fake.nmi_bits.iter().all(|&b| !b), "NMIs left enabled by default");

    let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
    let mut rtc = CmosRtc::new(&mut fake);
    rtc.set_nmi_disabled(true);
    assert!(rtc.nmi_disabled());
    assert_eq!(rtc.now(), Some(1_735_689_599), "the NMI bit is not part of the register number");
    rtc.enable_update_interrupt();
    rtc.on_interrupt();
    rtc.read_register(0xFF); // a register number cannot clear it either
    assert!(fake.nmi_bits.iter().all(|&b| b), "every index write keeps NMIs masked");
    assert_eq!(fake.get(REG_B), B_24H | B_UIE);
}

#[test]
fn bcd_decoding() {
    assert_eq!(from_bcd(0x00), Some(0));
    assert_eq!(from_bcd(0x59), Some(59));
    assert_eq!(from_bcd(0x99), Some(99));
    assert_eq!(from_bcd(0x0A), None);
    assert_eq!(from_bcd(0xA0), None);
    assert_eq!(from_bcd(0xFF), None);
}

#[test]
fn hostile_register_contents_never_panic() {
    // Every value in every time register, in every mode, under a small
    // deterministic generator: the answer is a time or None, never a panic,
    // and a time is always one an RTC can show (1970..=9999).
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as u8
    };
    for _ in 0..20_000 {
        let mut fake = FakeCmos::new(&[]);
        for reg in [REG_SECONDS, REG_MINUTES, REG_HOURS, REG_DAY, REG_MONTH, REG_YEAR, REG_CENTURY, REG_B] {
            fake.set(reg, next());
        }
        if let Some(t) = now(&mut fake) {
            assert!(t < 253_402_300_800, "{t}");
        }
    }
    for v in 0..=255u8 {
        for b in [0, B_24H, B_BINARY, B_24H | B_BINARY] {
            for reg in [REG_SECONDS, REG_MINUTES, REG_HOURS, REG_DAY, REG_MONTH, REG_YEAR, REG_CENTURY] {
                let mut fake = FakeCmos::new(&NEW_YEARS_EVE);
                fake.set(REG_B, b);
                fake.set(reg, v);
                let _ = now(&mut fake);
            }
        }
    }
}
