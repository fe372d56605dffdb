//! Where ring memory comes from: the shell's side of a queue's ring.

use core::ptr::NonNull;

use evq_abi::ring::RingGeometry;

use crate::origin::Badge;

/// The shell's name for one ring's memory: its frames on seL4, its memfd on
/// the hosted platform. The core only hands it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RingHandle(pub u32);

/// A ring's memory, mapped into the server.
#[derive(Clone, Copy, Debug)]
pub struct RingAllocation {
    /// The shell's handle for it.
    pub handle: RingHandle,
    /// Where the server has it mapped (control page first).
    pub base: NonNull<u8>,
    /// Its length: at least `geometry.region_bytes()`.
    pub len: usize,
}

/// Why the shell could not provide a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// Out of memory (untyped, frames, or file descriptors).
    Exhausted,
}

/// The shell's ring allocator, which the core calls during `CreateQueue` and
/// when a queue goes away, in the manner of smoltcp's `Device`: the core
/// decides, the shell does the kernel work.
///
/// # Safety
///
/// An implementation must return, from `allocate`, memory that is valid for
/// reads and writes, 8-byte aligned, at least `geometry.region_bytes()` long,
/// shared with nobody but the client it is granted to, and kept mapped until
/// `release` is called with its handle. `release` must take away every copy
/// of the ring granted to the client before the memory is used again.
pub unsafe trait RingMemory {
    /// Provides memory for a ring of `geometry` for `client`.
    fn allocate(&mut self, client: Badge, geometry: RingGeometry) -> Result<RingAllocation, AllocError>;
    /// Takes the ring back: revoke the client's copies, then reuse.
    fn release(&mut self, handle: RingHandle);
}
