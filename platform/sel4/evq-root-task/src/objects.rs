//! Kernel objects for the domains: retyped one at a time from the largest
//! untyped the kernel gave the root task, into the root task's empty slots.

use core::ops::Range;

use sel4::init_thread::slot;
use sel4::CapTypeForObjectOfFixedSize;

/// The allocator.
pub struct Objects {
    untyped: sel4::cap::Untyped,
    empty: Range<usize>,
}

/// Why an object could not be made.
#[derive(Clone, Copy, Debug)]
pub enum OutOf {
    /// The root task's CNode has no empty slot left.
    Slots,
    /// The kernel refused the retype (most likely: the untyped is used up).
    Memory(sel4::Error),
}

impl Objects {
    /// Allocates from the largest non-device untyped.
    pub fn new(bootinfo: &sel4::BootInfo) -> Self {
        let (index, _) = bootinfo
            .untyped_list()
            .iter()
            .enumerate()
            .filter(|(_, desc)| !desc.is_device())
            .max_by_key(|(_, desc)| desc.size_bits())
            .expect("the kernel hands the root task some memory");
        Self { untyped: bootinfo.untyped().index(index).cap(), empty: bootinfo.empty().range() }
    }

    /// An empty slot of the root task's CNode.
    pub fn slot(&mut self) -> Result<usize, OutOf> {
        self.empty.next().ok_or(OutOf::Slots)
    }

    /// `n` consecutive empty slots; returns the first.
    pub fn slots(&mut self, n: usize) -> Result<usize, OutOf> {
        let first = self.empty.start;
        if self.empty.len() < n {
            return Err(OutOf::Slots);
        }
        self.empty.start += n;
        Ok(first)
    }

    /// A new object of `blueprint`.
    pub fn make(&mut self, blueprint: sel4::ObjectBlueprint) -> Result<sel4::cap::Unspecified, OutOf> {
        let index = self.slot()?;
        self.untyped
            .untyped_retype(&blueprint, &slot::CNODE.cap().absolute_cptr_for_self(), index, 1)
            .map_err(OutOf::Memory)?;
        Ok(sel4::init_thread::Slot::<sel4::cap_type::Unspecified>::from_index(index).cap())
    }

    /// A new object of a fixed-size type in a slot taken with [`Objects::slots`].
    pub fn fixed_into<T: sel4::CapTypeForObjectOfFixedSize>(&mut self, slot_index: usize) -> Result<(), OutOf> {
        self.untyped
            .untyped_retype(&T::object_blueprint(), &slot::CNODE.cap().absolute_cptr_for_self(), slot_index, 1)
            .map_err(OutOf::Memory)
    }

    /// A new object of a fixed-size type.
    pub fn fixed<T: sel4::CapTypeForObjectOfFixedSize>(&mut self) -> Result<sel4::Cap<T>, OutOf> {
        Ok(self.make(T::object_blueprint())?.cast())
    }

    /// A new object of a variable-size type.
    pub fn sized<T: sel4::CapTypeForObjectOfVariableSize>(&mut self, size_bits: usize) -> Result<sel4::Cap<T>, OutOf> {
        Ok(self.make(T::object_blueprint(size_bits))?.cast())
    }
}

/// Frames of device memory at given physical addresses, retyped from the
/// device untypeds the kernel lists. An untyped hands out memory from a
/// watermark that only rises, so the untyped memory below a wanted page is
/// skipped in the largest aligned pieces that fit, and a page below the
/// watermark cannot be had: devices must be asked for in address order
/// within one untyped (the root task sorts them).
pub struct DeviceMemory {
    /// Per device untyped (by boot-info index): how far it has been used.
    watermark: [Option<u64>; MAX_UNTYPEDS],
}

const MAX_UNTYPEDS: usize = 256;

impl DeviceMemory {
    /// Nothing used yet.
    pub fn new() -> Self {
        Self { watermark: [None; MAX_UNTYPEDS] }
    }

    /// The frame at `paddr`.
    pub fn frame_at(
        &mut self,
        bootinfo: &sel4::BootInfo,
        objects: &mut Objects,
        paddr: u64,
    ) -> Result<sel4::cap::Granule, OutOf> {
        let (index, desc) = bootinfo
            .untyped_list()
            .iter()
            .enumerate()
            .find(|(_, d)| {
                let base = d.paddr() as u64;
                d.is_device() && base <= paddr && paddr < base + (1u64 << d.size_bits())
            })
            .ok_or(OutOf::Memory(sel4::Error::InvalidArgument))?;
        let untyped = bootinfo.untyped().index(index).cap();
        let mark = self.watermark.get_mut(index).ok_or(OutOf::Memory(sel4::Error::RangeError))?;
        let mut at = mark.unwrap_or(desc.paddr() as u64);
        if at > paddr {
            return Err(OutOf::Memory(sel4::Error::RangeError));
        }
        while at < paddr {
            // The largest piece that starts aligned at `at` and ends by `paddr`.
            let mut bits = at.trailing_zeros().min(63);
            while at + (1u64 << bits) > paddr {
                bits -= 1;
            }
            let piece = if bits as usize == 12 {
                sel4::cap_type::Granule::object_blueprint()
            } else {
                sel4::ObjectBlueprint::Untyped { size_bits: bits as usize }
            };
            let slot = objects.slot()?;
            untyped
                .untyped_retype(&piece, &slot::CNODE.cap().absolute_cptr_for_self(), slot, 1)
                .map_err(OutOf::Memory)?;
            at += 1u64 << bits;
        }
        let slot = objects.slot()?;
        untyped
            .untyped_retype(
                &sel4::cap_type::Granule::object_blueprint(),
                &slot::CNODE.cap().absolute_cptr_for_self(),
                slot,
                1,
            )
            .map_err(OutOf::Memory)?;
        *mark = Some(paddr + 4096);
        Ok(sel4::init_thread::Slot::<sel4::cap_type::Granule>::from_index(slot).cap())
    }
}
