//! The ring pool: frames the server retypes from the untyped memory the root
//! task gave it, mapped for the server's life over its ring window. A ring is
//! a run of whole frames; a client receives copies derived from the server's
//! capabilities, so revoking those capabilities takes every client copy (and
//! the client's mapping) back.

use core::ptr::NonNull;

use evq_abi::ring::RingGeometry;
use evq_abi::PAGE_SIZE;
use evq_sel4_runtime::{info, DomainInfo};
use evq_server::{AllocError, Badge, RingAllocation, RingHandle, RingMemory};
use sel4::CapTypeForObjectOfFixedSize;

/// The most frames a pool holds (`DomainInfo::ring_pool_pages` is capped here).
pub const MAX_POOL_PAGES: usize = 256;

/// The pool. A ring's handle is the index of its first frame.
pub struct FramePool {
    pages: usize,
    /// Slot of frame 0; frame `i` is in slot `first_slot + i`.
    first_slot: u64,
    /// Length in frames of the ring starting at each frame, or 0.
    run: [u8; MAX_POOL_PAGES],
    used: [bool; MAX_POOL_PAGES],
}

/// Why the pool could not be built.
#[derive(Debug)]
pub enum PoolError {
    /// The description asks for more frames than the untyped or the CNode holds.
    TooBig,
    /// The kernel refused a retype or a mapping.
    Kernel(sel4::Error),
}

impl core::fmt::Display for PoolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PoolError::TooBig => f.write_str("larger than the untyped memory, the ring window or the CNode"),
            PoolError::Kernel(e) => write!(f, "the kernel refused: {e:?}"),
        }
    }
}

impl FramePool {
    /// Retypes the pool's frames into the first free slots of the server's
    /// CNode and maps them over the ring window. Returns the pool and the
    /// first slot still free.
    pub fn new(info: &DomainInfo) -> Result<(Self, u64), PoolError> {
        let pages = info.ring_pool_pages as usize;
        let untyped_pages = 1usize.checked_shl(info.untyped_bits).unwrap_or(0) / PAGE_SIZE;
        let first_slot = info.first_free_slot;
        let slots_left = (1u64 << info.cnode_bits).saturating_sub(first_slot);
        if pages > MAX_POOL_PAGES
            || pages > untyped_pages
            || pages > info.ring_window_pages as usize
            || pages as u64 > slots_left
        {
            return Err(PoolError::TooBig);
        }
        let cnode = sel4::cap::CNode::from_bits(info::slot::CNODE);
        sel4::cap::Untyped::from_bits(info::slot::SIXTH)
            .untyped_retype(
                &sel4::cap_type::Granule::object_blueprint(),
                &cnode.absolute_cptr_for_self(),
                first_slot as usize,
                pages,
            )
            .map_err(PoolError::Kernel)?;
        let vspace = sel4::cap::VSpace::from_bits(info::slot::VSPACE);
        for i in 0..pages {
            sel4::cap::Granule::from_bits(first_slot + i as u64)
                .frame_map(
                    vspace,
                    info::RING_WINDOW_ADDR + i * PAGE_SIZE,
                    sel4::CapRights::read_write(),
                    sel4::VmAttributes::default(),
                )
                .map_err(PoolError::Kernel)?;
        }
        let pool = Self { pages, first_slot, run: [0; MAX_POOL_PAGES], used: [false; MAX_POOL_PAGES] };
        Ok((pool, first_slot + pages as u64))
    }

    /// The capability of frame `index` of ring `handle`, to send to its client.
    pub fn frame(&self, handle: RingHandle, index: u32) -> Option<sel4::CPtr> {
        let first = handle.0 as usize;
        let frames = u32::from(*self.run.get(first)?);
        (index < frames).then(|| sel4::CPtr::from_bits(self.first_slot + first as u64 + u64::from(index)))
    }
}

// SAFETY: each ring is a run of whole frames mapped read-write over the
// window for the server's life, page-aligned, `frames * 4096` bytes long, and
// granted to nobody but its client; `release` revokes every copy derived from
// its frames before they can be handed out again.
unsafe impl RingMemory for FramePool {
    fn allocate(&mut self, _client: Badge, geometry: RingGeometry) -> Result<RingAllocation, AllocError> {
        let frames = geometry.frames() as usize;
        let first = (0..=self.pages.saturating_sub(frames))
            .find(|&i| i + frames <= self.pages && self.used[i..i + frames].iter().all(|u| !u))
            .ok_or(AllocError::Exhausted)?;
        self.used[first..first + frames].fill(true);
        self.run[first] = frames as u8;
        let base =
            NonNull::new((info::RING_WINDOW_ADDR + first * PAGE_SIZE) as *mut u8).ok_or(AllocError::Exhausted)?;
        // A ring starts zeroed: a reused frame still holds its last ring.
        // SAFETY: the run is mapped read-write in this domain, and its client
        // copies were revoked when it was last released.
        unsafe { core::ptr::write_bytes(base.as_ptr(), 0, frames * PAGE_SIZE) };
        Ok(RingAllocation { handle: RingHandle(first as u32), base, len: frames * PAGE_SIZE })
    }

    fn release(&mut self, handle: RingHandle) {
        let first = handle.0 as usize;
        let Some(&frames) = self.run.get(first) else { return };
        let cnode = sel4::cap::CNode::from_bits(info::slot::CNODE);
        for i in first..first + usize::from(frames) {
            // Revoking the server's capability deletes every copy derived
            // from it: the client's capability, and with it its mapping.
            let frame = sel4::cap::Granule::from_bits(self.first_slot + i as u64);
            let _ = cnode.absolute_cptr(frame).revoke();
            self.used[i] = false;
        }
        self.run[first] = 0;
    }
}
