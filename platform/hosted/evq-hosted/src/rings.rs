//! Ring memory on the hosted platform: one sealed memfd per ring.
//!
//! The server maps each ring and hands its memfd to the one client it is
//! for, with the reply to `CreateQueue` (`SCM_RIGHTS`). Releasing a ring
//! unmaps and closes the server's copy. Linux cannot take a mapping away
//! from another process, so a client may keep reading its old pages after
//! its queue is destroyed or revoked; but those pages belong to that memfd
//! alone and are never given to another ring or another client, which is
//! what the core's [`RingMemory`] contract asks: the memory is not used
//! again while any copy of it is held.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use evq_abi::ring::RingGeometry;
use evq_server::{AllocError, Badge, RingAllocation, RingHandle, RingMemory};

use crate::sys::{self, Mapping};

struct Ring {
    fd: OwnedFd,
    // Dropped after use ends: the core stops touching it before `release`.
    _map: Mapping,
}

/// The server's rings: memfds, mapped.
#[derive(Default)]
pub struct MemfdRings {
    rings: BTreeMap<u32, Ring>,
    next: u32,
    /// Allocations the host refused (memfd, truncate, seal or map failed).
    pub failures: u64,
}

impl MemfdRings {
    /// The memfd of a live ring, to grant to its client.
    pub fn fd(&self, handle: RingHandle) -> Option<BorrowedFd<'_>> {
        self.rings.get(&handle.0).map(|r| r.fd.as_fd())
    }

    /// Rings currently allocated.
    pub fn live(&self) -> usize {
        self.rings.len()
    }
}

// SAFETY: each ring is a fresh memfd mapped shared and read-write, page
// aligned, exactly `region_bytes` long and sealed so that no holder can
// shrink it (a mapping never faults). The shell sends its memfd only to the
// client it was allocated for (with the reply to that client's own
// `CreateQueue`). It stays mapped until `release`, which unmaps and closes
// it; its pages are never reused for another ring while the client still
// maps them (the kernel frees them only when the last mapping goes).
unsafe impl RingMemory for MemfdRings {
    fn allocate(&mut self, _client: Badge, geometry: RingGeometry) -> Result<RingAllocation, AllocError> {
        let len = geometry.region_bytes();
        let made = sys::sealed_memfd("evq-ring", len).and_then(|fd| Ok((Mapping::shared(fd.as_fd(), len)?, fd)));
        let Ok((map, fd)) = made else {
            self.failures += 1;
            return Err(AllocError::Exhausted);
        };
        let handle = RingHandle(self.next);
        self.next = self.next.wrapping_add(1);
        let base = map.base();
        self.rings.insert(handle.0, Ring { fd, _map: map });
        Ok(RingAllocation { handle, base, len })
    }

    fn release(&mut self, handle: RingHandle) {
        self.rings.remove(&handle.0);
    }
}
