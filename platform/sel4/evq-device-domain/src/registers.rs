//! What the drivers reach their devices through: a page of registers the
//! root task mapped, and (x86) a range of I/O ports behind a capability.

use evq_sel4_runtime::info::DeviceInfo;

/// A device's registers, from where the root task mapped them (the page's
/// mapping plus the registers' offset in it) to the end of that page.
pub struct RegisterPage {
    base: usize,
    len: usize,
}

impl RegisterPage {
    /// The registers of `device`, or `None` if it has none mapped.
    pub fn of(device: &DeviceInfo) -> Option<Self> {
        let base = usize::try_from(device.vaddr).ok().filter(|&b| b != 0)?;
        Some(Self { base, len: 4096 - base % 4096 })
    }

    fn at(&self, offset: usize, size: usize) -> Option<usize> {
        (offset % size == 0 && offset.checked_add(size)? <= self.len).then_some(self.base + offset)
    }
}

impl evq_device::Mmio for RegisterPage {
    fn read32(&mut self, offset: usize) -> u32 {
        let Some(addr) = self.at(offset, 4) else { return 0 };
        // SAFETY: the root task maps this page of device registers here,
        // uncached, for the domain's life; `at` keeps the access aligned and
        // inside it; device registers are read with volatile accesses only.
        unsafe { core::ptr::read_volatile(addr as *const u32) }
    }

    fn write32(&mut self, offset: usize, value: u32) {
        let Some(addr) = self.at(offset, 4) else { return };
        // SAFETY: as for `read32`.
        unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
    }
}

impl evq_device::Mmio8 for RegisterPage {
    fn read8(&mut self, offset: usize) -> u8 {
        let Some(addr) = self.at(offset, 1) else { return 0xFF };
        // SAFETY: as for `read32`, a byte wide.
        unsafe { core::ptr::read_volatile(addr as *const u8) }
    }

    fn write8(&mut self, offset: usize, value: u8) {
        let Some(addr) = self.at(offset, 1) else { return };
        // SAFETY: as for `read32`, a byte wide.
        unsafe { core::ptr::write_volatile(addr as *mut u8, value) }
    }
}

/// A device's I/O ports, through its port capability.
#[cfg(target_arch = "x86_64")]
pub struct Ports {
    cap: u64,
    base: u16,
    count: u16,
}

#[cfg(target_arch = "x86_64")]
impl Ports {
    /// The ports of `device`, or `None` if it was granted none.
    pub fn of(device: &DeviceInfo) -> Option<Self> {
        (device.ioport_slot != 0).then_some(Self {
            cap: device.ioport_slot,
            base: device.ioport_base,
            count: device.ioport_count,
        })
    }
}

#[cfg(target_arch = "x86_64")]
impl evq_device::PortIo for Ports {
    fn inb(&mut self, offset: u16) -> u8 {
        if offset >= self.count {
            return 0xFF;
        }
        let port = self.base + offset;
        sel4::with_ipc_buffer_mut(|ipc| ipc.inner_mut().seL4_X86_IOPort_In8(self.cap, port).result)
    }

    fn outb(&mut self, offset: u16, value: u8) {
        if offset >= self.count {
            return;
        }
        let port = u64::from(self.base + offset);
        sel4::with_ipc_buffer_mut(|ipc| ipc.inner_mut().seL4_X86_IOPort_Out8(self.cap, port, value.into()));
    }
}
