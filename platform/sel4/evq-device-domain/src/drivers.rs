//! The UART and the clock, whichever chips the description names: each an
//! `evq-device` core over the device's registers or ports.

use evq_device::bcm2835_systimer::{self, SysTimer};
use evq_device::epoch_clock::EpochClock;
use evq_device::goldfish_rtc::GoldfishRtc;
use evq_device::ns16550::{ByteAccess, MmioPorts, Ns16550, WordAccess};
use evq_device::pl011::Pl011;
use evq_device::pl031::Pl031;
use evq_device::sifive_uart::SifiveUart;
use evq_sel4_runtime::info::DeviceInfo;
use evq_sel4_runtime::DomainInfo;
use evq_system::Driver;

#[cfg(target_arch = "x86_64")]
use crate::registers::Ports;
use crate::registers::RegisterPage;

/// The console UART's receive side.
pub enum Uart {
    Pl011(Pl011<RegisterPage>),
    Ns16550Bytes(Ns16550<MmioPorts<RegisterPage, ByteAccess>>),
    Ns16550Words(Ns16550<MmioPorts<RegisterPage, WordAccess>>),
    #[cfg(target_arch = "x86_64")]
    Ns16550Ports(Ns16550<Ports>),
    Sifive(SifiveUart<RegisterPage>),
}

impl Uart {
    /// The driver `device` names, over what it was granted.
    pub fn new(device: &DeviceInfo) -> Result<Self, &'static str> {
        if device.irq_slot == 0 {
            return Err("uart: it has no interrupt");
        }
        let regs = || RegisterPage::of(device).ok_or("uart: its driver needs registers, and it has none mapped");
        Ok(match Driver::from_code(device.driver) {
            Some(Driver::Pl011) => Uart::Pl011(Pl011::new(regs()?)),
            // The description's address is the first register's: the
            // mapping starts there (the Pi's mini UART is 0x40 into its page).
            Some(Driver::Ns16550Mmio8) => Uart::Ns16550Bytes(Ns16550::new(MmioPorts::bytes(regs()?, 0, 0))),
            Some(Driver::Ns16550Mmio32) => Uart::Ns16550Words(Ns16550::new(MmioPorts::words(regs()?, 0, 2))),
            Some(Driver::SifiveUart) => Uart::Sifive(SifiveUart::new(regs()?)),
            #[cfg(target_arch = "x86_64")]
            Some(Driver::Ns16550Ports) => {
                Uart::Ns16550Ports(Ns16550::new(Ports::of(device).ok_or("uart: no I/O ports granted")?))
            }
            _ => return Err("uart: the description names no UART driver this domain has for it"),
        })
    }

    /// Unmasks its receive interrupt.
    pub fn start(&mut self) {
        match self {
            Uart::Pl011(u) => u.enable_rx_interrupt(),
            Uart::Ns16550Bytes(u) => u.enable_rx_interrupt(),
            Uart::Ns16550Words(u) => u.enable_rx_interrupt(),
            #[cfg(target_arch = "x86_64")]
            Uart::Ns16550Ports(u) => u.enable_rx_interrupt(),
            Uart::Sifive(u) => u.enable_rx_interrupt(),
        }
    }

    /// Hands what it received to `out`.
    pub fn on_interrupt(&mut self, out: &mut impl FnMut(u8)) {
        match self {
            Uart::Pl011(u) => u.on_interrupt(out),
            Uart::Ns16550Bytes(u) => u.on_interrupt(out),
            Uart::Ns16550Words(u) => u.on_interrupt(out),
            #[cfg(target_arch = "x86_64")]
            Uart::Ns16550Ports(u) => u.on_interrupt(out),
            Uart::Sifive(u) => u.on_interrupt(out),
        };
    }
}

/// The wall clock, in seconds since the Unix epoch.
pub enum Clock {
    Pl031(Pl031<RegisterPage>),
    Goldfish(GoldfishRtc<RegisterPage>),
    #[cfg(target_arch = "x86_64")]
    Cmos(evq_device::cmos::CmosRtc<Ports>),
    /// The Pi's system timer (1 MHz) from the epoch the args set.
    SystemTimer(SysTimer<RegisterPage>, EpochClock),
    /// No clock device: the CPU's counter from the epoch the args set.
    Counter(EpochClock),
}

impl Clock {
    /// The driver `device` names, or the counter clock if there is none;
    /// `epoch` is what the domain's args set (the Unix epoch if nothing).
    pub fn new(device: Option<&DeviceInfo>, info: &DomainInfo, epoch: Option<u64>) -> Result<Self, &'static str> {
        let epoch = epoch.unwrap_or(0);
        let Some(device) = device else {
            if info.counter_hz == 0 {
                return Err("rtc: there is none, and the root task could not say how fast the counter runs");
            }
            let now = evq_sel4_runtime::counter();
            return Ok(Clock::Counter(EpochClock::new(info.counter_hz, epoch, now)));
        };
        if device.irq_slot == 0 {
            return Err("rtc: it has no interrupt");
        }
        let regs = || RegisterPage::of(device).ok_or("rtc: its driver needs registers, and it has none mapped");
        Ok(match Driver::from_code(device.driver) {
            Some(Driver::Pl031) => Clock::Pl031(Pl031::new(regs()?)),
            Some(Driver::GoldfishRtc) => Clock::Goldfish(GoldfishRtc::new(regs()?)),
            Some(Driver::Bcm2835SystemTimer) => {
                let mut timer = SysTimer::new(regs()?);
                let now = timer.counter();
                Clock::SystemTimer(timer, EpochClock::new(bcm2835_systimer::HZ, epoch, now))
            }
            #[cfg(target_arch = "x86_64")]
            Some(Driver::Cmos) => {
                Clock::Cmos(evq_device::cmos::CmosRtc::new(Ports::of(device).ok_or("rtc: no I/O ports granted")?))
            }
            _ => return Err("rtc: the description names no clock driver this domain has for it"),
        })
    }

    /// Starts its ticks; the time now, if it can tell.
    pub fn start(&mut self) -> Option<u64> {
        match self {
            Clock::Pl031(c) => {
                c.arm_alarm_in(1);
                Some(c.now())
            }
            Clock::Goldfish(c) => {
                c.arm_alarm_in(1);
                Some(c.now())
            }
            #[cfg(target_arch = "x86_64")]
            Clock::Cmos(c) => {
                c.enable_update_interrupt();
                c.now()
            }
            Clock::SystemTimer(t, epoch) => {
                arm_second(t);
                epoch.tick(t.counter())
            }
            Clock::Counter(epoch) => epoch.tick(evq_sel4_runtime::counter()),
        }
    }

    /// Its interrupt came: the time, if this was a tick.
    pub fn on_interrupt(&mut self) -> Option<u64> {
        match self {
            Clock::Pl031(c) => {
                let now = c.on_interrupt();
                c.arm_alarm_in(1);
                Some(now)
            }
            Clock::Goldfish(c) => {
                let now = c.on_interrupt();
                c.arm_alarm_in(1);
                Some(now)
            }
            #[cfg(target_arch = "x86_64")]
            Clock::Cmos(c) => c.on_interrupt().then(|| c.now()).flatten(),
            Clock::SystemTimer(t, epoch) => {
                if !t.on_interrupt() {
                    return None;
                }
                arm_second(t);
                epoch.tick(t.counter())
            }
            Clock::Counter(_) => None,
        }
    }

    /// A line was typed: the counter clock, which has no interrupt of its
    /// own, gives the time after each one; the others tick by themselves.
    pub fn after_input(&mut self) -> Option<u64> {
        match self {
            Clock::Counter(epoch) => Some(epoch.now(evq_sel4_runtime::counter())),
            _ => None,
        }
    }
}

/// Arms the system timer's alarm a second from now; should the counter pass
/// it before the write lands (the domain preempted between the two), the
/// next try comes from the later reading.
fn arm_second(timer: &mut SysTimer<RegisterPage>) {
    for _ in 0..3 {
        if timer.arm_in(bcm2835_systimer::HZ as u32) {
            return;
        }
    }
    sel4::debug_println!("evq-device: rtc: the system timer's alarm would not arm; its ticks stop");
}
