//! Ring memory for the in-root-task prototype: a page-aligned pool inside
//! the root task's image, which the kernel has already backed with frames
//! and mapped read-write. Its frame capabilities are in the boot info
//! (`user_image_frames`), ready to be granted once clients are domains of
//! their own.

use core::cell::UnsafeCell;
use core::ptr::NonNull;

use evq_abi::ring::RingGeometry;
use evq_abi::PAGE_SIZE;
use evq_server::{AllocError, Badge, RingAllocation, RingHandle, RingMemory};

/// Frames in the pool.
pub const POOL_PAGES: usize = 32;

#[repr(C, align(4096))]
struct PoolMemory(UnsafeCell<[u8; POOL_PAGES * PAGE_SIZE]>);

// SAFETY: the pool is handed out once (`FramePool::take`), and from then on
// reached only through the rings' atomics.
unsafe impl Sync for PoolMemory {}

static POOL: PoolMemory = PoolMemory(UnsafeCell::new([0; POOL_PAGES * PAGE_SIZE]));
static TAKEN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// First-fit page allocator over the pool. A ring's handle is its first page.
pub struct FramePool {
    base: NonNull<u8>,
    used: [bool; POOL_PAGES],
    /// Length in frames of the ring starting at each page.
    frames: [u8; POOL_PAGES],
}

impl FramePool {
    /// The pool; it exists once.
    pub fn take() -> Self {
        assert!(!TAKEN.swap(true, core::sync::atomic::Ordering::Relaxed), "the frame pool is taken once");
        let base = NonNull::new(POOL.0.get().cast::<u8>()).expect("static is not null");
        Self { base, used: [false; POOL_PAGES], frames: [0; POOL_PAGES] }
    }

    /// Where ring `handle` is mapped.
    pub fn region(&self, handle: RingHandle) -> Option<(NonNull<u8>, usize)> {
        let first = handle.0 as usize;
        let frames = usize::from(*self.frames.get(first)?);
        if frames == 0 {
            return None;
        }
        // SAFETY: `first < POOL_PAGES`, so the offset stays inside the pool.
        let base = unsafe { self.base.add(first * PAGE_SIZE) };
        Some((base, frames * PAGE_SIZE))
    }
}

// SAFETY: each ring is a run of whole pages of the static pool, page-aligned,
// `frames * 4096` bytes, handed to no one else until released; in this
// prototype no client outside the root task holds a copy to revoke.
unsafe impl RingMemory for FramePool {
    fn allocate(&mut self, _client: Badge, geometry: RingGeometry) -> Result<RingAllocation, AllocError> {
        let frames = geometry.frames() as usize;
        let first = (0..=POOL_PAGES.saturating_sub(frames))
            .find(|&i| self.used[i..i + frames].iter().all(|u| !u))
            .ok_or(AllocError::Exhausted)?;
        self.used[first..first + frames].fill(true);
        self.frames[first] = frames as u8;
        // SAFETY: `first + frames <= POOL_PAGES`.
        let base = unsafe { self.base.add(first * PAGE_SIZE) };
        Ok(RingAllocation { handle: RingHandle(first as u32), base, len: frames * PAGE_SIZE })
    }

    fn release(&mut self, handle: RingHandle) {
        let first = handle.0 as usize;
        if let Some(&frames) = self.frames.get(first) {
            self.used[first..first + usize::from(frames)].fill(false);
            self.frames[first] = 0;
        }
    }
}
