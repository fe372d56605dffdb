//! A source's side of its ingest rings: events published through shared
//! memory instead of a call per event. The server provides empty buffers on
//! the free ring (`sel4-shared-ring-buffer`, the source in the `Use` role);
//! the source writes an encoded `Publish` body into one, puts its
//! descriptor on the used ring, and signals the server once per batch
//! ([`IngestPublisher::flush`]).
//!
//! The buffers and descriptors are shared with the server: bytes go in with
//! volatile writes, and a descriptor the server hands over is checked
//! before it is used.

use core::sync::atomic::{fence, Ordering};

use evq_abi::msg::{EncodeError, Event, Request};
use sel4_shared_memory::SharedMemoryRef;
use sel4_shared_ring_buffer::roles::{RingBuffersRole, Use};
use sel4_shared_ring_buffer::{Descriptor, RawRingBuffer, RingBuffers};

use crate::{info, DomainInfo};

/// Why an event did not go onto the ingest rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngestError {
    /// The event does not encode as a `Publish` body.
    Encode(EncodeError),
    /// The free ring's indices are impossible (the server wrote them).
    FreeRing,
    /// The server handed out a buffer that is not one of the region's.
    NotABuffer {
        /// The buffer's offset, as its descriptor gave it.
        offset: usize,
    },
    /// The used ring's indices are impossible.
    UsedRing,
}

impl core::fmt::Display for IngestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IngestError::Encode(e) => write!(f, "the event does not encode: {e}"),
            IngestError::FreeRing => f.write_str("the free ring's indices are impossible"),
            IngestError::NotABuffer { offset } => {
                write!(f, "the server handed out a buffer at offset {offset:#x}, which is not one")
            }
            IngestError::UsedRing => f.write_str("the used ring's indices are impossible"),
        }
    }
}

/// The source's end of its ingest rings.
pub struct IngestPublisher {
    rings: RingBuffers<'static, Use, fn()>,
    data: usize,
    data_bytes: usize,
    signal: sel4::cap::Notification,
    unsignalled: bool,
}

impl IngestPublisher {
    /// The rings the root task mapped for this source, if it has them.
    pub fn new(info: &DomainInfo) -> Option<Self> {
        if info.ingest_vaddr == 0 || info.ingest_signal_slot == 0 {
            return None;
        }
        let base = info.ingest_vaddr as usize;
        // SAFETY: the root task maps this source's region here for the
        // domain's life, shared with the server only.
        let (rings, data) = unsafe { ingest_region(base) };
        Some(Self {
            rings,
            data,
            data_bytes: info.ingest_data_bytes as usize,
            signal: sel4::cap::Notification::from_bits(info.ingest_signal_slot),
            unsignalled: false,
        })
    }

    /// Puts one event on the used ring. When the server has no empty
    /// buffer to give, the source signals it and yields until it has: the
    /// rings are the back-pressure. The server is not signalled until
    /// [`IngestPublisher::flush`].
    pub fn publish(&mut self, event: Event<'_>) -> Result<(), IngestError> {
        let mut body = [0u8; info::INGEST_BUFFER_BYTES];
        let (_, len) = Request::Publish(event).encode(&mut body).map_err(IngestError::Encode)?;
        let desc = loop {
            match self.rings.free_mut().dequeue() {
                Ok(Some(desc)) => break desc,
                Ok(None) => {
                    self.flush();
                    sel4::r#yield();
                }
                Err(_) => return Err(IngestError::FreeRing),
            }
        };
        let offset = desc.encoded_addr();
        if offset % info::INGEST_BUFFER_BYTES != 0 || offset + info::INGEST_BUFFER_BYTES > self.data_bytes {
            // The server handed out a buffer that is not one: it is the
            // server's to answer for, and this event goes no further.
            return Err(IngestError::NotABuffer { offset });
        }
        for (i, byte) in body[..len].iter().enumerate() {
            // SAFETY: inside the buffer the descriptor names, which lies in
            // the mapped event buffers (checked above).
            unsafe { core::ptr::write_volatile((self.data + offset + i) as *mut u8, *byte) };
        }
        // The bytes are in the buffer before its descriptor is on the ring.
        fence(Ordering::Release);
        let used = Descriptor::new(offset, len as u32, desc.cookie());
        loop {
            match self.rings.used_mut().enqueue_and_commit(used) {
                Ok(Ok(())) => break,
                Ok(Err(_)) => {
                    self.flush();
                    sel4::r#yield();
                }
                Err(_) => return Err(IngestError::UsedRing),
            }
        }
        self.unsignalled = true;
        Ok(())
    }

    /// Signals the server if events were put on the ring since the last signal.
    pub fn flush(&mut self) {
        if self.unsignalled {
            self.unsignalled = false;
            self.signal.signal();
        }
    }
}

/// The rings of the ingest region mapped at `base`, in `R`'s role, and
/// where its event buffers start.
///
/// # Safety
///
/// A region laid out as `docs/protocol.md` §8 says is mapped at `base` for
/// the rest of the program, shared with the one peer in the other role, and
/// nothing else in this domain makes rings over it.
pub unsafe fn ingest_region<R: RingBuffersRole>(base: usize) -> (RingBuffers<'static, R, fn()>, usize) {
    let ring_bytes = info::INGEST_RING_PAGES * 4096;
    // SAFETY: forwarded from this function's contract; the ring crate
    // touches the rings through its shared-memory accessors only.
    let (free, used) =
        unsafe { (SharedMemoryRef::new(ring_ptr(base)), SharedMemoryRef::new(ring_ptr(base + ring_bytes))) };
    (
        RingBuffers::from_ptrs_using_default_initialization_strategy_for_role(free, used, (|| ()) as fn()),
        base + 2 * ring_bytes,
    )
}

fn ring_ptr(addr: usize) -> core::ptr::NonNull<RawRingBuffer<Descriptor>> {
    // The windows are far from address 0, so this never falls back.
    core::ptr::NonNull::new(addr as *mut RawRingBuffer<Descriptor>).unwrap_or(core::ptr::NonNull::dangling())
}
