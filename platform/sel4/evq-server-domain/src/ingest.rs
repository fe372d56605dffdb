//! The server's side of the sources' ingest rings (`sel4-shared-ring-buffer`,
//! the server in the `Provide` role): it puts every event buffer on a
//! source's free ring at start, and when the source signals, it takes each
//! descriptor off the used ring, copies the buffer out, hands it to the core
//! as a `Publish` from that source's badge, and gives the buffer back.
//!
//! Everything in the rings and buffers is the source's to write, so it is
//! checked: a descriptor must name one of the buffers by its index and
//! offset, with a length a `Publish` body can have; a body that does not
//! decode is refused and counted by the core like any malformed message. A
//! source whose ring indices are impossible loses its rings (the server
//! stops reading them) and says so. Back-pressure: an event the core answers
//! `Busy` is held, and the ring is not read further until a later tick
//! takes it.

use core::sync::atomic::{fence, Ordering};

use evq_abi::msg::MAX_MSG_BYTES;
use evq_sel4_runtime::info::{self, Peer};
use evq_sel4_runtime::ingest_region;
use sel4_shared_ring_buffer::roles::Provide;
use sel4_shared_ring_buffer::{Descriptor, RingBuffers};

/// What the core made of one event.
pub enum Taken {
    /// Accepted, or refused for good (counted by the core).
    Done,
    /// Held back by back-pressure: offer it again later.
    Busy,
}

/// One source's rings.
pub struct Ingest {
    rings: RingBuffers<'static, Provide, fn()>,
    data: usize,
    buffers: usize,
    /// The source's badge: who the events are from.
    pub badge: u64,
    /// Its name, for the log.
    pub name: &'static str,
    held: Option<Descriptor>,
    broken: bool,
    /// Events taken so far.
    pub taken: u64,
}

impl Ingest {
    /// The rings of `peer`, every buffer put on its free ring.
    pub fn new(peer: &'static Peer) -> Option<Self> {
        if peer.ingest_vaddr == 0 {
            return None;
        }
        // SAFETY: the root task maps this source's region here for the
        // server's life, shared with that source only.
        let (rings, data) = unsafe { ingest_region::<Provide>(peer.ingest_vaddr as usize) };
        let mut ingest = Self {
            rings,
            data,
            buffers: (peer.ingest_data_bytes as usize / info::INGEST_BUFFER_BYTES)
                .min(sel4_shared_ring_buffer::RING_BUFFER_SIZE - 1),
            badge: peer.badge,
            name: peer.name.as_str(),
            held: None,
            broken: false,
            taken: 0,
        };
        for i in 0..ingest.buffers {
            ingest.give_back(i);
        }
        Some(ingest)
    }

    fn give_back(&mut self, index: usize) {
        let desc = Descriptor::new(index * info::INGEST_BUFFER_BYTES, info::INGEST_BUFFER_BYTES as u32, index);
        if !matches!(self.rings.free_mut().enqueue_and_commit(desc), Ok(Ok(()))) {
            self.break_off("its free ring will not take a buffer back");
        }
    }

    fn break_off(&mut self, why: &str) {
        if !self.broken {
            sel4::debug_println!("evq-server: ingest rings of {}: {why}; no longer read", self.name);
        }
        self.broken = true;
    }

    /// Offers every event on the used ring to `deliver`, oldest first, until
    /// the ring is empty or the core pushes back. Returns how many it took.
    pub fn drain(&mut self, deliver: &mut impl FnMut(u64, &[u8]) -> Taken) -> usize {
        let mut count = 0;
        while !self.broken {
            let desc = match self.held.take() {
                Some(desc) => desc,
                None => match self.rings.used_mut().dequeue() {
                    Ok(Some(desc)) => desc,
                    Ok(None) => break,
                    Err(_) => {
                        self.break_off("its used ring's indices are impossible");
                        break;
                    }
                },
            };
            // The source's bytes are read only after its descriptor.
            fence(Ordering::Acquire);
            let index = desc.cookie();
            let len = desc.len() as usize;
            if index >= self.buffers
                || desc.encoded_addr() != index * info::INGEST_BUFFER_BYTES
                || len > MAX_MSG_BYTES.min(info::INGEST_BUFFER_BYTES)
            {
                // Not a buffer of ours: nothing to give back, and nothing
                // to read. The source has lost the buffer it meant.
                sel4::debug_println!(
                    "evq-server: ingest rings of {}: a descriptor names no buffer; dropped",
                    self.name
                );
                continue;
            }
            let mut body = [0u8; info::INGEST_BUFFER_BYTES];
            for (i, byte) in body[..len].iter_mut().enumerate() {
                // SAFETY: inside buffer `index` of the mapped event buffers.
                *byte = unsafe { core::ptr::read_volatile((self.data + desc.encoded_addr() + i) as *const u8) };
            }
            match deliver(self.badge, &body[..len]) {
                Taken::Done => {
                    self.give_back(index);
                    self.taken += 1;
                    count += 1;
                }
                Taken::Busy => {
                    self.held = Some(desc);
                    break;
                }
            }
        }
        count
    }
}
