//! The only code that touches ring memory.
//!
//! Every access is an atomic load, store or swap on a naturally aligned word,
//! so a peer that scribbles over the region concurrently can at worst make us
//! read a wrong value, never cause undefined behaviour.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64};

use evq_abi::{ring::SLOT_SIZE, PAGE_SIZE};

/// What a prefetched slot is wanted for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Access {
    /// The consumer will read it.
    Read,
    /// The producer will write it.
    Write,
}

/// A ring region: a base pointer and a length, checked once at construction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SharedRegion {
    base: NonNull<u8>,
    len: usize,
}

impl SharedRegion {
    /// # Safety
    ///
    /// `base..base + len` must stay valid for reads and writes, and 8-byte
    /// aligned, for as long as the returned value or any copy of it is used,
    /// and must be accessed by anyone else (peer included) only through
    /// atomic operations or from another address space.
    pub(crate) unsafe fn new(base: NonNull<u8>, len: usize) -> Self {
        Self { base, len }
    }

    pub(crate) fn is_aligned(base: NonNull<u8>) -> bool {
        (base.as_ptr() as usize).is_multiple_of(SLOT_SIZE)
    }

    /// The 32-bit word at byte offset `off` of the control page.
    #[inline(always)]
    pub(crate) fn word32(&self, off: usize) -> &AtomicU32 {
        debug_assert!(off.is_multiple_of(4) && off + 4 <= PAGE_SIZE.min(self.len));
        // SAFETY: `off` is one of the fixed control offsets, inside the first
        // page, which `new`'s caller guarantees valid and aligned; an atomic
        // is the one kind of reference that may alias memory a peer writes.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(off).cast()) }
    }

    /// The 64-bit word at byte offset `off` of the control page.
    #[inline(always)]
    pub(crate) fn word64(&self, off: usize) -> &AtomicU64 {
        debug_assert!(off.is_multiple_of(8) && off + 8 <= PAGE_SIZE.min(self.len));
        // SAFETY: as for `word32`.
        unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(off).cast()) }
    }

    /// Data slots `pos..pos + n`, contiguous: the caller has checked that
    /// they do not run past the end of the slot array.
    #[inline(always)]
    pub(crate) fn slots(&self, pos: u32, n: usize) -> &[AtomicU64] {
        let off = PAGE_SIZE + pos as usize * SLOT_SIZE;
        debug_assert!(off + n * SLOT_SIZE <= self.len);
        // SAFETY: as for `slot`, for each of the `n` slots, which callers
        // keep below the slot count; a slice of atomics may alias memory a
        // peer writes, as a single atomic may.
        unsafe { core::slice::from_raw_parts(self.base.as_ptr().add(off).cast::<AtomicU64>(), n) }
    }

    /// Hints to the CPU that data slot `pos` (reduced as for `slot`) will
    /// soon be read or written, so that its line, which the other side's
    /// core last touched, is on its way before it is needed.
    ///
    /// The consumer reads ahead: it learns where the next entry starts only
    /// from the header before it, so without a hint each entry's line is
    /// fetched only once the previous header has arrived, one cross-core
    /// miss after another. The producer writes ahead: each line it writes
    /// was last read by the consumer's core, and a store waits for that
    /// core to give the line up.
    #[inline(always)]
    pub(crate) fn prefetch_slot(&self, pos: u32, access: Access) {
        let ptr: *const AtomicU64 = self.slot(pos);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch reads nothing the program sees, writes nothing
        // the program or the peer can see, cannot fault even on an unmapped
        // address, and changes no flags.
        unsafe {
            match access {
                Access::Read => {
                    core::arch::asm!("prefetcht0 [{0}]", in(reg) ptr, options(nostack, readonly, preserves_flags))
                }
                Access::Write => {
                    core::arch::asm!("prefetchw [{0}]", in(reg) ptr, options(nostack, readonly, preserves_flags))
                }
            }
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above; `prfm` is likewise only a hint.
        unsafe {
            match access {
                Access::Read => {
                    core::arch::asm!("prfm pldl1keep, [{0}]", in(reg) ptr, options(nostack, readonly, preserves_flags))
                }
                Access::Write => {
                    core::arch::asm!("prfm pstl1keep, [{0}]", in(reg) ptr, options(nostack, readonly, preserves_flags))
                }
            }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        let _ = (ptr, access);
    }

    /// Data slot `pos`, which the caller has already reduced with its own
    /// mask, so it is below the slot count it checked against `len`.
    #[inline(always)]
    pub(crate) fn slot(&self, pos: u32) -> &AtomicU64 {
        let off = PAGE_SIZE + pos as usize * SLOT_SIZE;
        debug_assert!(off + SLOT_SIZE <= self.len);
        // SAFETY: callers pass `pos < slot_count` where
        // `PAGE_SIZE + slot_count * 8 <= len` was checked at construction.
        unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(off).cast()) }
    }
}
