//! Kernel objects for the domains: retyped one at a time from the largest
//! untyped the kernel gave the root task, into the root task's empty slots.

use core::ops::Range;

use sel4::init_thread::slot;

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

    /// A new object of `blueprint`.
    pub fn make(&mut self, blueprint: sel4::ObjectBlueprint) -> Result<sel4::cap::Unspecified, OutOf> {
        let index = self.slot()?;
        self.untyped
            .untyped_retype(&blueprint, &slot::CNODE.cap().absolute_cptr_for_self(), index, 1)
            .map_err(OutOf::Memory)?;
        Ok(sel4::init_thread::Slot::<sel4::cap_type::Unspecified>::from_index(index).cap())
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
