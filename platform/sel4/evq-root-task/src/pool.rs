//! The event server's ring pool on seL4: frames retyped from untyped memory,
//! mapped into a reserved window of the server's address space, with the
//! capability copies a client would be granted made on allocation and
//! revoked on release.
//!
//! The window is a page-aligned region of the root task's image whose own
//! frames are unmapped first, so that the page tables covering it already
//! exist and new frames can be mapped straight in.

use core::cell::UnsafeCell;
use core::ops::Range;
use core::ptr::NonNull;

use evq_abi::ring::RingGeometry;
use evq_abi::PAGE_SIZE;
use evq_server::{AllocError, Badge, RingAllocation, RingHandle, RingMemory};
use sel4::init_thread::{slot, Slot};
use sel4::CapTypeForObjectOfFixedSize;

/// Frames in the pool.
pub const POOL_PAGES: usize = 32;

#[repr(C, align(4096))]
struct Window(UnsafeCell<[u8; POOL_PAGES * PAGE_SIZE]>);

// SAFETY: the window is only reached through raw pointers handed to the
// rings, whose accesses are atomic.
unsafe impl Sync for Window {}

static WINDOW: Window = Window(UnsafeCell::new([0; POOL_PAGES * PAGE_SIZE]));

/// The pool. A ring's handle is the index of its first frame.
pub struct FramePool {
    base: NonNull<u8>,
    /// The server's capabilities to the pool's frames: the originals.
    frames: [sel4::cap::Granule; POOL_PAGES],
    /// One slot per frame for the copy granted with a ring.
    grant_slots: Range<usize>,
    /// Length in frames of the ring starting at each frame, or 0.
    run: [u8; POOL_PAGES],
    used: [bool; POOL_PAGES],
}

impl FramePool {
    /// Retypes the pool's frames from the largest non-device untyped and
    /// maps them over the window.
    pub fn new(bootinfo: &sel4::BootInfo) -> sel4::Result<Self> {
        let mut empty = bootinfo.empty().range();
        let untyped = largest_untyped(bootinfo);
        let window = WINDOW.0.get() as usize;
        for i in 0..POOL_PAGES {
            image_frame(bootinfo, window + i * PAGE_SIZE).cap().frame_unmap()?;
        }
        let first = empty.start;
        empty.start += POOL_PAGES;
        let cnode = slot::CNODE.cap();
        untyped.untyped_retype(
            &sel4::cap_type::Granule::object_blueprint(),
            &cnode.absolute_cptr_for_self(),
            first,
            POOL_PAGES,
        )?;
        let frames: [sel4::cap::Granule; POOL_PAGES] =
            core::array::from_fn(|i| Slot::<sel4::cap_type::Granule>::from_index(first + i).cap());
        for (i, frame) in frames.iter().enumerate() {
            frame.frame_map(
                slot::VSPACE.cap(),
                window + i * PAGE_SIZE,
                sel4::CapRights::read_write(),
                sel4::VmAttributes::default(),
            )?;
        }
        let grant_slots = empty.start..empty.start + POOL_PAGES;
        let base = NonNull::new(window as *mut u8).expect("the window is not at address 0");
        Ok(Self { base, frames, grant_slots, run: [0; POOL_PAGES], used: [false; POOL_PAGES] })
    }

    /// Where ring `handle` is mapped in the server.
    pub fn region(&self, handle: RingHandle) -> Option<(NonNull<u8>, usize)> {
        let first = handle.0 as usize;
        let frames = usize::from(*self.run.get(first)?);
        if frames == 0 {
            return None;
        }
        // SAFETY: `first < POOL_PAGES`: the offset stays inside the window.
        Some((unsafe { self.base.add(first * PAGE_SIZE) }, frames * PAGE_SIZE))
    }

    /// The capability that would go to the client for frame `i`.
    pub fn grant(&self, i: usize) -> sel4::cap::Granule {
        Slot::<sel4::cap_type::Granule>::from_index(self.grant_slots.start + i).cap()
    }

    /// Whether the kernel still holds a granted copy of frame `i`: asks it to
    /// unmap the copy, which fails with `InvalidCapability` on an empty slot.
    pub fn grant_is_live(&self, i: usize) -> bool {
        self.grant(i).frame_unmap() != Err(sel4::Error::InvalidCapability)
    }

    fn copy_grant(&self, i: usize) -> sel4::Result<()> {
        let cnode = slot::CNODE.cap();
        cnode.absolute_cptr(self.grant(i)).copy(&cnode.absolute_cptr(self.frames[i]), sel4::CapRights::read_write())
    }
}

// SAFETY: each ring is a run of whole frames mapped read-write over the
// window for the pool's life, page-aligned, `frames * 4096` bytes long, and
// granted to nobody but its client; `release` revokes every copy derived
// from its frames before they can be handed out again.
unsafe impl RingMemory for FramePool {
    fn allocate(&mut self, _client: Badge, geometry: RingGeometry) -> Result<RingAllocation, AllocError> {
        let frames = geometry.frames() as usize;
        let first = (0..=POOL_PAGES.saturating_sub(frames))
            .find(|&i| self.used[i..i + frames].iter().all(|u| !u))
            .ok_or(AllocError::Exhausted)?;
        for i in first..first + frames {
            if self.copy_grant(i).is_err() {
                for j in first..i {
                    let _ = slot::CNODE.cap().absolute_cptr(self.frames[j]).revoke();
                }
                return Err(AllocError::Exhausted);
            }
        }
        self.used[first..first + frames].fill(true);
        self.run[first] = frames as u8;
        // SAFETY: `first + frames <= POOL_PAGES`.
        let base = unsafe { self.base.add(first * PAGE_SIZE) };
        Ok(RingAllocation { handle: RingHandle(first as u32), base, len: frames * PAGE_SIZE })
    }

    fn release(&mut self, handle: RingHandle) {
        let first = handle.0 as usize;
        let Some(&frames) = self.run.get(first) else { return };
        for i in first..first + usize::from(frames) {
            // Revoking the original deletes every copy derived from it: the
            // client's mapping goes with its capability.
            let _ = slot::CNODE.cap().absolute_cptr(self.frames[i]).revoke();
            self.used[i] = false;
        }
        self.run[first] = 0;
    }
}

fn largest_untyped(bootinfo: &sel4::BootInfo) -> sel4::cap::Untyped {
    let (index, _) = bootinfo
        .untyped_list()
        .iter()
        .enumerate()
        .filter(|(_, desc)| !desc.is_device())
        .max_by_key(|(_, desc)| desc.size_bits())
        .expect("the kernel hands the root task some memory");
    bootinfo.untyped().index(index).cap()
}

/// The boot-info slot of the image frame mapped at `addr`.
fn image_frame(bootinfo: &sel4::BootInfo, addr: usize) -> Slot<sel4::cap_type::Granule> {
    unsafe extern "C" {
        static __executable_start: usize;
    }
    let image_start = core::ptr::addr_of!(__executable_start) as usize;
    bootinfo.user_image_frames().index(addr / PAGE_SIZE - image_start / PAGE_SIZE)
}
