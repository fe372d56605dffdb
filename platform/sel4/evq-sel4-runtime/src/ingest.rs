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

use evq_abi::msg::{Event, Request};
use sel4_shared_memory::SharedMemoryRef;
use sel4_shared_ring_buffer::roles::Use;
use sel4_shared_ring_buffer::{Descriptor, RawRingBuffer, RingBuffers};

use crate::{info, DomainInfo, PublishError};

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
        let ring_bytes = info::INGEST_RING_PAGES * 4096;
        // SAFETY: the root task maps the two rings here, shared with the
        // server only, for the domain's life; `sel4-shared-ring-buffer`
        // touches them through its shared-memory accessors only.
        let (free, used) = unsafe {
            (
                SharedMemoryRef::new(ring_ptr(base)),
                SharedMemoryRef::new(ring_ptr(base + ring_bytes)),
            )
        };
        Some(Self {
            rings: RingBuffers::from_ptrs_using_default_initialization_strategy_for_role(free, used, (|| ()) as fn()),
            data: base + 2 * ring_bytes,
            data_bytes: info.ingest_data_bytes as usize,
            signal: sel4::cap::Notification::from_bits(info.ingest_signal_slot),
            unsignalled: false,
        })
    }

    /// Puts one event on the used ring. When the server has no empty
    /// buffer to give, the source signals it and yields until it has: the
    /// rings are the back-pressure. The server is not signalled until
    /// [`IngestPublisher::flush`].
    pub fn publish(&mut self, event: Event<'_>) -> Result<(), PublishError> {
        let mut body = [0u8; info::INGEST_BUFFER_BYTES];
        let (_, len) = Request::Publish(event).encode(&mut body).map_err(|_| PublishError::Malformed)?;
        let desc = loop {
            match self.rings.free_mut().dequeue() {
                Ok(Some(desc)) => break desc,
                Ok(None) => {
                    self.flush();
                    sel4::r#yield();
                }
                Err(_) => return Err(PublishError::Malformed),
            }
        };
        let offset = desc.encoded_addr();
        if offset % info::INGEST_BUFFER_BYTES != 0 || offset + info::INGEST_BUFFER_BYTES > self.data_bytes {
            // The server handed out a buffer that is not one: it is the
            // server's to answer for, and this event goes no further.
            return Err(PublishError::Malformed);
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
                Err(_) => return Err(PublishError::Malformed),
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

fn ring_ptr(addr: usize) -> core::ptr::NonNull<RawRingBuffer<Descriptor>> {
    // The windows are far from address 0, so this never falls back.
    core::ptr::NonNull::new(addr as *mut RawRingBuffer<Descriptor>).unwrap_or(core::ptr::NonNull::dangling())
}
