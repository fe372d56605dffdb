//! Host-side stand-ins for a platform shell: ring memory from the heap, and a
//! driver for an in-process [`Server`] that records its actions. For tests and
//! the single-process demo; the real shells live in `platform/`.

use std::collections::BTreeMap;
use std::ptr::NonNull;

use evq_abi::msg::{Reply, Request, MAX_MSG_BYTES};
use evq_abi::ring::RingGeometry;
use evq_client::EventQueue;
use evq_server::{Action, AllocError, Badge, RingAllocation, RingHandle, RingMemory, Server};

/// Ring memory from the heap. Each ring is its own 8-byte-aligned
/// allocation, so a released ring's memory is never handed to another client.
/// Released rings stay allocated (like a hosted client's mapping of a memfd
/// the server has let go) unless `free_released` is set, so a test reader
/// still attached to a revoked ring reads stale memory, never freed memory.
#[derive(Debug, Default)]
pub struct HeapRings {
    rings: BTreeMap<u32, Box<[u64]>>,
    retired: Vec<Box<[u64]>>,
    next: u32,
    /// Free released rings at once (for tests that create very many queues
    /// and attach no reader).
    pub free_released: bool,
    /// Allocations refused on purpose from now on (to test exhaustion).
    pub fail_allocations: bool,
    /// Every release, in order.
    pub released: Vec<RingHandle>,
}

impl HeapRings {
    /// Rings currently allocated.
    pub fn live(&self) -> usize {
        self.rings.len()
    }

    /// Where ring `handle` is, for a test client to attach to.
    pub fn region(&mut self, handle: RingHandle) -> Option<(NonNull<u8>, usize)> {
        let ring = self.rings.get_mut(&handle.0)?;
        let len = ring.len() * 8;
        Some((NonNull::new(ring.as_mut_ptr().cast::<u8>())?, len))
    }
}

// SAFETY: each ring is a separate heap allocation, 8-byte aligned, exactly
// `region_bytes` long, shared only with the in-process test client that
// attaches to it, and freed only on `release`.
unsafe impl RingMemory for HeapRings {
    fn allocate(&mut self, _client: Badge, geometry: RingGeometry) -> Result<RingAllocation, AllocError> {
        if self.fail_allocations {
            return Err(AllocError::Exhausted);
        }
        let mut ring = vec![0u64; geometry.region_bytes() / 8].into_boxed_slice();
        let base = NonNull::new(ring.as_mut_ptr().cast::<u8>()).ok_or(AllocError::Exhausted)?;
        let handle = RingHandle(self.next);
        self.next += 1;
        self.rings.insert(handle.0, ring);
        Ok(RingAllocation { handle, base, len: geometry.region_bytes() })
    }

    fn release(&mut self, handle: RingHandle) {
        if let Some(ring) = self.rings.remove(&handle.0) {
            if !self.free_released {
                self.retired.push(ring);
            }
        }
        self.released.push(handle);
    }
}

/// An in-process server with a clock, a log of its actions, and helpers that
/// go through the real message encoding on every call.
pub struct Harness {
    /// The server.
    pub server: Server<HeapRings>,
    /// The time passed with every input, ns.
    pub now_ns: u64,
    /// Every action the server asked for, in order.
    pub actions: Vec<Action>,
}

impl Harness {
    /// A harness around `server`.
    pub fn new(server: Server<HeapRings>) -> Self {
        Self { server, now_ns: 1, actions: Vec::new() }
    }

    /// Sends a request from `from` through encode → `Server::handle` → decode.
    pub fn call(&mut self, from: Badge, request: &Request<'_>) -> Reply {
        let mut body = [0u8; MAX_MSG_BYTES];
        let (label, len) = request.encode(&mut body).expect("request encodes");
        self.raw(from, label, &body[..len])
    }

    /// Sends raw bytes under `label` from `from`; decodes the reply.
    pub fn raw(&mut self, from: Badge, label: u32, body: &[u8]) -> Reply {
        let mut reply = [0u8; 64];
        let actions = &mut self.actions;
        let (reply_label, n) = self.server.handle(self.now_ns, from, label, body, &mut reply, &mut |a| actions.push(a));
        Reply::decode(label, reply_label, &reply[..n]).expect("server replies are well-formed")
    }

    /// Advances the clock by `ns` and ticks.
    pub fn tick(&mut self, ns: u64) {
        self.now_ns += ns;
        let actions = &mut self.actions;
        self.server.tick(self.now_ns, &mut |a| actions.push(a));
    }

    /// Takes the recorded actions.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// Attaches a client reader to the ring granted for `queue`.
    pub fn attach(&mut self, queue: u32) -> EventQueue {
        let ring = self
            .actions
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::GrantRing { queue: q, ring, .. } if *q == queue => Some(*ring),
                _ => None,
            })
            .expect("the queue's ring was granted");
        let (base, len) = self.server.memory_mut().region(ring).expect("ring is live");
        // SAFETY: the ring is a heap allocation owned by `HeapRings`, which
        // keeps it after release unless a test sets `free_released`, and such
        // tests attach no reader.
        unsafe { EventQueue::attach(base, len) }.expect("the granted ring attaches")
    }
}

/// A source's ingest ring on the heap, laid out as the supervisor lays one
/// out: the server attaches to it ([`Harness::attach_ingest`]) and a test
/// source writes it ([`IngestRegion::producer`]), in one process.
#[derive(Debug)]
pub struct IngestRegion {
    words: Box<[u64]>,
}

impl IngestRegion {
    /// A fresh ring of `geometry`.
    pub fn new(geometry: RingGeometry) -> Self {
        let mut words = vec![0u64; geometry.region_bytes() / 8].into_boxed_slice();
        let base = NonNull::new(words.as_mut_ptr().cast::<u8>()).expect("a box is not null");
        // SAFETY: the allocation's first page is the control page, 8-byte
        // aligned, and lives as long as `self`; every later access is
        // through a ring's atomics.
        unsafe { evq_ring::Producer::lay_out(base, geometry) }.expect("the region is aligned");
        Self { words }
    }

    /// Where it is.
    pub fn region(&mut self) -> (NonNull<u8>, usize) {
        let len = self.words.len() * 8;
        (NonNull::new(self.words.as_mut_ptr().cast::<u8>()).expect("a box is not null"), len)
    }

    /// The source's end of it.
    pub fn producer(&mut self) -> evq_ring::Producer {
        let (base, len) = self.region();
        // SAFETY: as in `new`; the test keeps the region while the producer lives.
        unsafe { evq_ring::Producer::attach(base, len) }.expect("a laid-out ring attaches")
    }

    /// A word of the region, to corrupt it as a hostile source would.
    pub fn word_mut(&mut self, byte_offset: usize) -> &mut u64 {
        &mut self.words[byte_offset / 8]
    }
}

impl Harness {
    /// Attaches `source`'s ingest ring.
    pub fn attach_ingest(&mut self, source: Badge, ring: &mut IngestRegion) {
        let (base, len) = ring.region();
        // SAFETY: the test keeps the region alive for the server's life.
        unsafe { self.server.attach_ingest(source, base, len) }.expect("the ring attaches");
    }

    /// One drain pass; returns whether a ring may hold more.
    pub fn drain(&mut self) -> bool {
        let actions = &mut self.actions;
        self.server.drain(self.now_ns, &mut |a| actions.push(a))
    }
}
