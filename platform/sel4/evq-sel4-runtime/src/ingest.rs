//! A source's ingest ring: its events go into shared memory, an evq ring
//! (`docs/protocol.md` §2) the root task laid out and mapped into this
//! domain and the server, with no call per event. The source is the ring's
//! producer, through `evq_source::RingLink`; it signals the server only
//! when the server has said it is going to sleep, and waits for room on
//! its room notification when the ring is full.

use core::ptr::NonNull;

use evq_source::{RingLink, WhenFull};

use crate::{DomainInfo, RingPublisher, Sel4Doorbell};

/// Why a domain has no ingest ring to publish through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// Its info page names no ring, doorbell or room notification (the
    /// domain is not a source).
    NoRing,
    /// The memory the info page names does not hold a ring.
    NotARing(evq_ring::AttachError),
}

impl core::fmt::Display for RingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RingError::NoRing => f.write_str("its info page names no ingest ring, doorbell and room notification"),
            RingError::NotARing(e) => write!(f, "its ingest ring does not attach: {e}"),
        }
    }
}

/// The publisher of a source domain: `evq_source::Publisher` over its
/// ingest ring, as its info page describes it. `when_full` says what a
/// full ring does: [`WhenFull::Wait`] for a driver (back-pressure: it
/// waits for the server's room signal), [`WhenFull::Drop`] for a path that
/// must not block (the drops are counted, and the server makes them loss
/// that clients see).
pub fn ring_publisher(info: &DomainInfo, when_full: WhenFull) -> Result<RingPublisher, RingError> {
    if info.ingest_vaddr == 0 || info.ingest_signal_slot == 0 || info.ingest_room_slot == 0 {
        return Err(RingError::NoRing);
    }
    let base = NonNull::new(info.ingest_vaddr as *mut u8).ok_or(RingError::NoRing)?;
    // SAFETY: the root task maps this source's ring here, read-write, for
    // the domain's life, and shares it with the server only, which is in
    // another address space; nothing else in this domain touches it, and
    // the producer reaches it through atomics only.
    let producer =
        unsafe { evq_ring::Producer::attach(base, info.ingest_bytes as usize) }.map_err(RingError::NotARing)?;
    let doorbell = Sel4Doorbell::new(
        sel4::cap::Notification::from_bits(info.ingest_signal_slot),
        Some(sel4::cap::Notification::from_bits(info.ingest_room_slot)),
    );
    Ok(evq_source::Publisher::new(RingLink::new(producer, doorbell, when_full)))
}
