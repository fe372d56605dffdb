//! Events held back for coalescing, for every queue, in one bounded pool.
//!
//! A coalescing queue holds each event for its window so that a newer event
//! with the same key — (source, category, kind, object) — can replace it.
//! The pool is shared because few queues coalesce at once and a held event
//! needs room for a full payload: sizing a staging area per queue would
//! multiply that by every queue in the table.

use evq_abi::event::{network, Category, CountersPayload, MAX_PAYLOAD};
use heapless::Vec;
use zerocopy::{FromBytes, IntoBytes};

use crate::limits::MAX_STAGED_TOTAL;
use crate::origin::Stamped;

/// An event held back so newer events with the same key can replace it.
#[derive(Clone, Debug)]
pub(crate) struct Staged {
    queue: u8,
    pub source_id: u32,
    pub category: Category,
    pub kind: u8,
    pub type_flags: u8,
    pub object_id: u64,
    pub timestamp_ns: u64,
    pub staged_at_ns: u64,
    pub watch_id: u8,
    pub critical: bool,
    pub coalesced: u16,
    pub payload_len: u16,
    pub payload: [u8; MAX_PAYLOAD],
}

impl Staged {
    pub fn new(queue: u8, e: &Stamped<'_>, watch_id: u8, critical: bool, now_ns: u64) -> Self {
        let mut staged = Staged {
            queue,
            source_id: e.source_id,
            category: e.event.category,
            kind: e.event.kind,
            type_flags: e.event.type_flags,
            object_id: e.event.object_id,
            timestamp_ns: e.timestamp_ns,
            staged_at_ns: now_ns,
            watch_id,
            critical,
            coalesced: 0,
            payload_len: e.event.payload.len() as u16,
            payload: [0; MAX_PAYLOAD],
        };
        staged.payload[..e.event.payload.len()].copy_from_slice(e.event.payload);
        staged
    }

    fn same_key(&self, e: &Stamped<'_>) -> bool {
        self.source_id == e.source_id
            && self.category == e.event.category
            && self.kind == e.event.kind
            && self.object_id == e.event.object_id
    }

    /// Folds a newer event with the same key into this one. The newer
    /// payload and time win; type flags accumulate (an ATTRIB that changed
    /// the size then the mode says both); network rx/tx counters are summed,
    /// since each event counts only what happened since the previous one.
    pub fn replace_with(&mut self, e: &Stamped<'_>, watch_id: u8, critical: bool) {
        let summed = sum_counters(self, e.event.payload);
        self.type_flags |= e.event.type_flags;
        self.timestamp_ns = e.timestamp_ns;
        self.watch_id = watch_id;
        self.critical |= critical;
        self.coalesced = self.coalesced.saturating_add(1);
        match summed {
            Some(sum) => self.payload[..sum.len()].copy_from_slice(&sum),
            None => {
                self.payload_len = e.event.payload.len() as u16;
                self.payload[..e.event.payload.len()].copy_from_slice(e.event.payload);
            }
        }
    }
}

/// The sum of a held and a newer network rx/tx payload, if both are counters.
fn sum_counters(held: &Staged, newer: &[u8]) -> Option<[u8; COUNTERS_LEN]> {
    let is_counter = held.category == Category::Network && matches!(held.kind, network::RX | network::TX);
    let old = held.payload.get(..usize::from(held.payload_len))?;
    if !is_counter {
        return None;
    }
    let a = CountersPayload::read_from_bytes(old).ok()?;
    let b = CountersPayload::read_from_bytes(newer).ok()?;
    let sum = CountersPayload {
        packets: a.packets.get().saturating_add(b.packets.get()).into(),
        bytes: a.bytes.get().saturating_add(b.bytes.get()).into(),
    };
    let mut out = [0u8; COUNTERS_LEN];
    out.copy_from_slice(sum.as_bytes());
    Some(out)
}

const COUNTERS_LEN: usize = core::mem::size_of::<CountersPayload>();

impl Staged {}

/// The pool, in arrival order, so each queue's entries are in its order too.
#[derive(Default)]
pub(crate) struct Staging {
    entries: Vec<Staged, MAX_STAGED_TOTAL>,
}

impl Staging {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_full(&self) -> bool {
        self.entries.is_full()
    }

    pub fn count(&self, queue: u8) -> usize {
        self.entries.iter().filter(|s| s.queue == queue).count()
    }

    /// The held event of `queue` that `e` would replace.
    pub fn find_mut(&mut self, queue: u8, e: &Stamped<'_>) -> Option<&mut Staged> {
        self.entries.iter_mut().find(|s| s.queue == queue && s.same_key(e))
    }

    pub fn oldest(&self, queue: u8) -> Option<&Staged> {
        self.entries.iter().find(|s| s.queue == queue)
    }

    pub fn take_oldest(&mut self, queue: u8) -> Option<Staged> {
        let i = self.entries.iter().position(|s| s.queue == queue)?;
        Some(self.entries.remove(i))
    }

    /// Adds an entry; the caller has made room.
    pub fn push(&mut self, staged: Staged) {
        // Cannot fail: callers check `is_full` first.
        let _ = self.entries.push(staged);
    }

    /// Forgets everything `queue` held (the queue is gone); calls `dropped`
    /// with the source of each event forgotten, so none goes uncounted.
    pub fn discard(&mut self, queue: u8, mut dropped: impl FnMut(u32)) {
        self.entries.retain(|s| {
            if s.queue == queue {
                dropped(s.source_id);
            }
            s.queue != queue
        });
    }
}
