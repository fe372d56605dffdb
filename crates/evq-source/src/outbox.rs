//! Events gathered to be published together.

use evq_abi::event::{Category, Priority, MAX_PAYLOAD};
use evq_abi::msg::Event;
use heapless::Vec;

/// No room for another event: more than `N` events, or more than `BYTES`
/// bytes of payload. The outbox is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxFull;

#[derive(Clone, Copy, Debug)]
struct Held {
    category: Category,
    kind: u8,
    type_flags: u8,
    priority: Priority,
    object_id: u64,
    start: usize,
    len: usize,
}

/// Up to `N` events with up to `BYTES` bytes of payload between them,
/// copied in as a core publishes them (each payload may live only for its
/// call), to be published together: `publisher.publish(&outbox.events())`.
#[derive(Debug)]
pub struct Outbox<const N: usize, const BYTES: usize = { 2 * MAX_PAYLOAD }> {
    held: Vec<Held, N>,
    bytes: [u8; BYTES],
    used: usize,
}

impl<const N: usize, const BYTES: usize> Default for Outbox<N, BYTES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const BYTES: usize> Outbox<N, BYTES> {
    /// An empty outbox.
    pub const fn new() -> Self {
        Self { held: Vec::new(), bytes: [0; BYTES], used: 0 }
    }

    /// Copies `event` in, after the ones already held.
    pub fn push(&mut self, event: &Event<'_>) -> Result<(), OutboxFull> {
        let len = event.payload.len();
        let end = self.used.checked_add(len).filter(|&end| end <= BYTES).ok_or(OutboxFull)?;
        let held = Held {
            category: event.category,
            kind: event.kind,
            type_flags: event.type_flags,
            priority: event.priority,
            object_id: event.object_id,
            start: self.used,
            len,
        };
        self.held.push(held).map_err(|_| OutboxFull)?;
        self.bytes[self.used..end].copy_from_slice(event.payload);
        self.used = end;
        Ok(())
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The events held, in order, borrowing their payloads from the outbox.
    pub fn events(&self) -> Vec<Event<'_>, N> {
        self.held
            .iter()
            .map(|h| Event {
                category: h.category,
                kind: h.kind,
                type_flags: h.type_flags,
                priority: h.priority,
                object_id: h.object_id,
                payload: &self.bytes[h.start..h.start + h.len],
            })
            .collect()
    }

    /// Empties it.
    pub fn clear(&mut self) {
        self.held.clear();
        self.used = 0;
    }
}
