//! PC CMOS real-time clock (Motorola MC146818 and its compatibles).
//!
//! Ports `0x70` (index, offset 0) and `0x71` (data, offset 1), ISA IRQ 8.
//! Registers and bits follow the MC146818A datasheet; the century register
//! at `0x32` is the IBM PC/AT convention (ACPI's FADT `CENTURY` field names
//! it; QEMU keeps it there).
//!
//! Bit 7 of the index port is not part of the register number: on PCs it
//! disables NMIs for as long as it stays written. The port is write-only, so
//! the driver cannot preserve what someone else wrote; it writes the bit
//! from its own setting on every access ([`CmosRtc::set_nmi_disabled`]),
//! clear by default as Linux does, and never lets a register number reach
//! it.
//!
//! Limits: the clock is read as UTC (a PC set to local time reads skewed);
//! two-digit years are taken in the century register's century when it
//! reads 19 to 99, else (absent, garbage, or an unmaintained 0) in 20xx;
//! dates before 1970 are refused.

use crate::civil::DateTime;
use crate::PortIo;

/// The index port (`0x70`), as an offset from the base.
pub const INDEX: u16 = 0;
/// The data port (`0x71`), as an offset from the base.
pub const DATA: u16 = 1;
/// Index port bit 7: NMIs disabled while set.
pub const NMI_DISABLE: u8 = 1 << 7;

/// Seconds register.
pub const REG_SECONDS: u8 = 0x00;
/// Minutes register.
pub const REG_MINUTES: u8 = 0x02;
/// Hours register (bit 7 = PM in 12-hour mode).
pub const REG_HOURS: u8 = 0x04;
/// Day of the month register.
pub const REG_DAY: u8 = 0x07;
/// Month register.
pub const REG_MONTH: u8 = 0x08;
/// Year register (two digits).
pub const REG_YEAR: u8 = 0x09;
/// Register A: update in progress, divider, rate.
pub const REG_A: u8 = 0x0A;
/// Register B: mode and interrupt enables.
pub const REG_B: u8 = 0x0B;
/// Register C: interrupt flags, cleared by reading.
pub const REG_C: u8 = 0x0C;
/// Register D: valid RAM and time.
pub const REG_D: u8 = 0x0D;
/// The century register of the PC/AT convention.
pub const REG_CENTURY: u8 = 0x32;

/// Register A: update in progress; the time registers are not to be read.
pub const A_UIP: u8 = 1 << 7;
/// Register B: hours in 24-hour mode (else 12-hour with bit 7 = PM).
pub const B_24H: u8 = 1 << 1;
/// Register B: binary data mode (else BCD).
pub const B_BINARY: u8 = 1 << 2;
/// Register B: update-ended interrupt enable.
pub const B_UIE: u8 = 1 << 4;
/// Register B: alarm interrupt enable.
pub const B_AIE: u8 = 1 << 5;
/// Register B: periodic interrupt enable.
pub const B_PIE: u8 = 1 << 6;
/// Register B: updates inhibited while the time is being set.
pub const B_SET: u8 = 1 << 7;
/// Register C: update-ended interrupt flag.
pub const C_UF: u8 = 1 << 4;
/// Register C: alarm interrupt flag.
pub const C_AF: u8 = 1 << 5;
/// Register C: periodic interrupt flag.
pub const C_PF: u8 = 1 << 6;
/// Register C: interrupt request flag (any enabled flag is set).
pub const C_IRQF: u8 = 1 << 7;

/// Most polls of register A waiting for "update in progress" to clear.
///
/// UIP is set for at most 244 µs before an update plus the update itself
/// (1984 µs at most); a port read on the ISA/LPC bus takes about 1 µs and
/// longer under a hypervisor, so 10 000 polls outlast any real update while
/// a stuck chip costs about 10 ms.
pub const UIP_POLLS: u32 = 10_000;
/// Most times the date and time are read in one [`CmosRtc::now`], looking
/// for two consecutive reads that agree.
pub const MAX_READS: u32 = 5;

/// The default century when the century register is absent or implausible.
const DEFAULT_CENTURY: u32 = 20;

/// The raw time registers, as one read of them saw them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Snapshot {
    second: u8,
    minute: u8,
    hour: u8,
    day: u8,
    month: u8,
    year: u8,
    century: Option<u8>,
    b: u8,
}

/// A CMOS real-time clock.
#[derive(Debug)]
pub struct CmosRtc<P: PortIo> {
    ports: P,
    nmi: u8,
    century: Option<u8>,
}

impl<P: PortIo> CmosRtc<P> {
    /// A driver over ports `0x70`–`0x71`, NMIs left enabled, century at
    /// [`REG_CENTURY`]. Touches no port.
    pub fn new(ports: P) -> Self {
        Self { ports, nmi: 0, century: Some(REG_CENTURY) }
    }

    /// Sets the NMI-disable bit written with every register index from now
    /// on (`true`: NMIs masked while the driver's last index stands).
    pub fn set_nmi_disabled(&mut self, disabled: bool) {
        self.nmi = if disabled { NMI_DISABLE } else { 0 };
    }

    /// Whether the driver writes the NMI-disable bit.
    pub fn nmi_disabled(&self) -> bool {
        self.nmi != 0
    }

    /// Where the century is kept: `Some(register)` (from ACPI's FADT, or
    /// [`REG_CENTURY`] by default), or `None` when the machine has no century
    /// register and 20xx is to be assumed. Numbers above `0x7F` are refused
    /// (left as they were) since they would collide with the NMI bit.
    pub fn set_century_register(&mut self, register: Option<u8>) {
        if register.is_none_or(|r| r & NMI_DISABLE == 0) {
            self.century = register;
        }
    }

    /// Reads CMOS register `reg` (0..=0x7F; bit 7 is ignored, it is the NMI bit's).
    pub fn read_register(&mut self, reg: u8) -> u8 {
        self.ports.outb(INDEX, self.nmi | (reg & !NMI_DISABLE));
        self.ports.inb(DATA)
    }

    /// Writes CMOS register `reg` (0..=0x7F; bit 7 is ignored, it is the NMI bit's).
    pub fn write_register(&mut self, reg: u8, value: u8) {
        self.ports.outb(INDEX, self.nmi | (reg & !NMI_DISABLE));
        self.ports.outb(DATA, value);
    }

    /// Seconds since the Unix epoch, reading the date/time registers (BCD or
    /// binary per register B, 12/24h), waiting for "update in progress" to
    /// clear with a bounded number of polls ([`UIP_POLLS`]) and re-reading
    /// until two reads agree (at most [`MAX_READS`] reads); `None` if the
    /// chip never settles or the date is invalid.
    ///
    /// Waiting for UIP alone is not enough: it can set right after the poll
    /// and the update then changes registers between reads (59 s read, then
    /// minute already advanced). Two identical reads cannot straddle one.
    pub fn now(&mut self) -> Option<u64> {
        let mut previous = self.snapshot()?;
        for _ in 1..MAX_READS {
            let current = self.snapshot()?;
            if current == previous {
                return decode(&current);
            }
            previous = current;
        }
        None
    }

    /// Enables the update-ended interrupt (register B bit 4), once a second.
    /// Preserves the other register B bits and the NMI-disable setting.
    ///
    /// Then reads register C: a flag latched before (an interrupt nobody
    /// acknowledged) keeps IRQ 8 asserted, and the edge-triggered line would
    /// then never interrupt again.
    pub fn enable_update_interrupt(&mut self) {
        let b = self.read_register(REG_B);
        self.write_register(REG_B, b | B_UIE);
        self.read_register(REG_C);
    }

    /// Disables the update-ended interrupt, preserving the other B bits.
    pub fn disable_update_interrupt(&mut self) {
        let b = self.read_register(REG_B);
        self.write_register(REG_B, b & !B_UIE);
    }

    /// Reads register C (which the chip needs to raise the next interrupt);
    /// returns whether it was an update-ended interrupt.
    pub fn on_interrupt(&mut self) -> bool {
        self.read_register(REG_C) & C_UF != 0
    }

    /// The ports, for the shell's other uses of the device.
    pub fn get_mut(&mut self) -> &mut P {
        &mut self.ports
    }

    /// Gives the ports back.
    pub fn into_inner(self) -> P {
        self.ports
    }

    /// Waits (bounded) for no update in progress; whether it cleared.
    fn wait_update_done(&mut self) -> bool {
        (0..UIP_POLLS).any(|_| self.read_register(REG_A) & A_UIP == 0)
    }

    /// One read of the time registers, after any update in progress.
    fn snapshot(&mut self) -> Option<Snapshot> {
        if !self.wait_update_done() {
            return None;
        }
        Some(Snapshot {
            second: self.read_register(REG_SECONDS),
            minute: self.read_register(REG_MINUTES),
            hour: self.read_register(REG_HOURS),
            day: self.read_register(REG_DAY),
            month: self.read_register(REG_MONTH),
            year: self.read_register(REG_YEAR),
            century: self.century.map(|reg| self.read_register(reg)),
            b: self.read_register(REG_B),
        })
    }
}

/// A BCD byte's value; `None` if either digit is above 9.
pub const fn from_bcd(v: u8) -> Option<u8> {
    let (hi, lo) = (v >> 4, v & 0x0F);
    if hi > 9 || lo > 9 {
        None
    } else {
        Some(hi * 10 + lo)
    }
}

/// Seconds since the epoch from one consistent read, or `None`.
fn decode(s: &Snapshot) -> Option<u64> {
    let binary = s.b & B_BINARY != 0;
    let field = |v: u8| if binary { Some(v) } else { from_bcd(v) };
    let hour = if s.b & B_24H != 0 {
        field(s.hour)?
    } else {
        let h = field(s.hour & 0x7F)?;
        if !(1..=12).contains(&h) {
            return None;
        }
        // 12 AM is midnight and 12 PM noon.
        h % 12 + if s.hour & 0x80 != 0 { 12 } else { 0 }
    };
    let year = field(s.year)?;
    if year > 99 {
        return None;
    }
    let century = s.century.and_then(field).map(u32::from).filter(|c| (19..=99).contains(c)).unwrap_or(DEFAULT_CENTURY);
    DateTime {
        year: (century * 100 + u32::from(year)) as i32,
        month: u32::from(field(s.month)?),
        day: u32::from(field(s.day)?),
        hour: u32::from(hour),
        minute: u32::from(field(s.minute)?),
        second: u32::from(field(s.second)?),
    }
    .unix_seconds()
}
