//! The only code that touches ring memory.
//!
//! Every access is an atomic load, store or swap on a naturally aligned word,
//! so a peer that scribbles over the region concurrently can at worst make us
//! read a wrong value, never cause undefined behaviour.
//!
//! Built with `--cfg loom`, the region is instead an array of `loom`'s
//! atomics ([`crate::sync`]), so that the model checker can run the real
//! producer and consumer over it (`tests/loom.rs`).

#[cfg(not(loom))]
use core::ptr::NonNull;

use crate::sync::{AtomicU32, AtomicU64};

#[cfg(not(loom))]
use evq_abi::ring::SLOT_SIZE;
use evq_abi::PAGE_SIZE;

/// What a prefetched slot is wanted for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Access {
    /// The consumer will read it.
    Read,
    /// The producer will write it.
    Write,
}

/// A ring region: a base pointer and a length, checked once at construction.
#[cfg(not(loom))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct SharedRegion {
    base: NonNull<u8>,
    len: usize,
}

#[cfg(not(loom))]
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

/// The region under the model checker: the control page's 32-bit words,
/// its 64-bit words and the slots, each an atomic of its own (a model has
/// no raw memory to view both ways). Shared by the producer and consumer
/// of one model run through `Arc`.
#[cfg(loom)]
#[derive(Clone, Debug)]
pub(crate) struct SharedRegion {
    words32: loom::sync::Arc<std::vec::Vec<AtomicU32>>,
    words64: loom::sync::Arc<std::vec::Vec<AtomicU64>>,
    slots: loom::sync::Arc<std::vec::Vec<AtomicU64>>,
}

#[cfg(loom)]
impl SharedRegion {
    pub(crate) fn model(slot_count: u32) -> Self {
        let array32: std::vec::Vec<AtomicU32> = (0..PAGE_SIZE / 4).map(|_| AtomicU32::new(0)).collect();
        let array64: std::vec::Vec<AtomicU64> = (0..PAGE_SIZE / 8).map(|_| AtomicU64::new(0)).collect();
        let slots: std::vec::Vec<AtomicU64> = (0..slot_count).map(|_| AtomicU64::new(0)).collect();
        use loom::sync::Arc;
        Self { words32: Arc::new(array32), words64: Arc::new(array64), slots: Arc::new(slots) }
    }

    pub(crate) fn word32(&self, off: usize) -> &AtomicU32 {
        &self.words32[off / 4]
    }

    pub(crate) fn word64(&self, off: usize) -> &AtomicU64 {
        &self.words64[off / 8]
    }

    pub(crate) fn slots(&self, pos: u32, n: usize) -> &[AtomicU64] {
        &self.slots[pos as usize..pos as usize + n]
    }

    pub(crate) fn prefetch_slot(&self, _pos: u32, _access: Access) {}

    pub(crate) fn slot(&self, pos: u32) -> &AtomicU64 {
        &self.slots[pos as usize]
    }
}
