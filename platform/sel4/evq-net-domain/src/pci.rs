//! Finding the virtio-net function on PCI bus 0 through configuration
//! mechanism #1 (ports 0xCF8 address, 0xCFC data), checking its BAR is the
//! one the description granted, and enabling it.

use evq_sel4_runtime::info::DeviceInfo;
use virtio_drivers::transport::pci::bus::{BarInfo, Command, ConfigurationAccess, DeviceFunction, PciRoot};
use virtio_drivers::transport::pci::{virtio_device_type, PciTransport};
use virtio_drivers::transport::DeviceType;

use crate::dma::DmaHal;

/// Configuration space through the granted ports.
pub struct PortConfig {
    cap: u64,
    base: u16,
}

impl PortConfig {
    fn address(df: DeviceFunction, offset: u8) -> u32 {
        0x8000_0000
            | u32::from(df.bus) << 16
            | u32::from(df.device) << 11
            | u32::from(df.function) << 8
            | u32::from(offset & 0xFC)
    }

    fn out32(&self, offset: u16, value: u32) {
        sel4::with_ipc_buffer_mut(|ipc| {
            ipc.inner_mut().seL4_X86_IOPort_Out32(self.cap, u64::from(self.base + offset), value.into())
        });
    }

    fn in32(&self, offset: u16) -> u32 {
        sel4::with_ipc_buffer_mut(|ipc| ipc.inner_mut().seL4_X86_IOPort_In32(self.cap, self.base + offset).result)
    }
}

impl ConfigurationAccess for PortConfig {
    fn read_word(&self, df: DeviceFunction, offset: u8) -> u32 {
        self.out32(0, Self::address(df, offset));
        self.in32(4)
    }

    fn write_word(&mut self, df: DeviceFunction, offset: u8, data: u32) {
        self.out32(0, Self::address(df, offset));
        self.out32(4, data);
    }

    unsafe fn unsafe_clone(&self) -> Self {
        Self { cap: self.cap, base: self.base }
    }
}

/// The virtio-net function's transport.
pub fn transport(config: &DeviceInfo, nic: &DeviceInfo) -> Result<PciTransport, &'static str> {
    if config.ioport_slot == 0 || config.ioport_base != 0xCF8 || config.ioport_count < 8 {
        return Err("the PCI configuration ports are not 0xCF8-0xCFF");
    }
    let mut root = PciRoot::new(PortConfig { cap: config.ioport_slot, base: config.ioport_base });
    let (df, _) = root
        .enumerate_bus(0)
        .find(|(_, info)| virtio_device_type(info) == Some(DeviceType::Network))
        .ok_or("no virtio-net function on PCI bus 0")?;
    // The firmware placed the BARs; the description granted one of them.
    // The transport maps registers only through `DmaHal::mmio_phys_to_virt`,
    // which refuses anything outside that grant, so the check here is that
    // the granted BAR is really the NIC's.
    let granted = u64::from(nic.pages) * 4096;
    let found = (0..6).any(|bar| {
        matches!(root.bar_info(df, bar), Ok(Some(BarInfo::Memory { address, size, .. }))
            if address == nic.paddr && size <= granted)
    });
    if !found {
        sel4::debug_println!("evq-net: no BAR of the NIC is the granted {:#x}+{granted:#x}", nic.paddr);
        return Err("the NIC's registers are not where the description says");
    }
    root.set_command(df, Command::MEMORY_SPACE | Command::BUS_MASTER);
    PciTransport::new::<DmaHal, _>(&mut root, df)
        .map_err(|_| "the virtio-net function is not a modern virtio-pci device")
}
